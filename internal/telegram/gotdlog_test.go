package telegram

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/gotd/log"
)

func TestGotdLogSilentMakesNoChildren(t *testing.T) {
	h := log.For(gotdLog(slog.New(slog.DiscardHandler)))
	allocs := testing.AllocsPerRun(100, func() {
		h.With(log.Int64("msg_id", 1)).Debug(context.Background(), "sent")
	})
	// log.With on gotd's own Nop allocated a wrapper and a copy of the
	// attrs for each child; the variadic attrs themselves are the caller's.
	if allocs > 1 {
		t.Errorf("a child logger of a silent log costs %v allocations, want at most 1", allocs)
	}
}

func TestGotdLogKeepsChildAttrsWhenShown(t *testing.T) {
	var buf bytes.Buffer
	h := log.For(gotdLog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	child := h.With(log.Int64("msg_id", 42))
	child.Debug(context.Background(), "hidden")
	child.Warn(context.Background(), "shown")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, "shown") || !strings.Contains(out, "msg_id=42") {
		t.Errorf("log output %q: want only the warning, with its child's msg_id", out)
	}
}
