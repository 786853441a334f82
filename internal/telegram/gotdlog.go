package telegram

import (
	"context"
	"log/slog"
	"math"

	"github.com/gotd/log"
	"github.com/gotd/log/logslog"
)

// gotdLog adapts l for gotd. A logger that records nothing (the default:
// gotd's log is shown only with -vv) becomes silent, which also ignores
// log.With. gotd derives a child logger for every request and message, and
// log.With wraps the logger and copies the attrs even for gotd's own Nop,
// which does not implement log.Wither: at 10,000 sends that was a third of
// every byte the run allocated, and as much more work for the collector.
func gotdLog(l *slog.Logger) log.Logger {
	if !l.Enabled(context.Background(), slog.Level(math.MaxInt)) {
		return silent{}
	}
	return logslog.New(l)
}

// silent is a log.Logger that records nothing and makes no children.
type silent struct{}

func (silent) Enabled(context.Context, log.Level) bool             { return false }
func (silent) Log(context.Context, log.Level, string, ...log.Attr) {}
func (s silent) With(...log.Attr) log.Logger                       { return s }
func (s silent) Named(string) log.Logger                           { return s }
