package config

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultKeep is how long the journal of a finished broadcast is kept when
// history.keep is not set: long enough to look back on a season of daily
// broadcasts, short enough that the state does not grow without end.
const DefaultKeep = 90 * 24 * time.Hour

// HistoryDefaults is the history section: how long the journal keeps what.
type HistoryDefaults struct {
	// Keep is how long a finished broadcast's journal is kept after it
	// finished; 0 keeps everything.
	Keep time.Duration
	// HasKeep reports whether keep was set.
	HasKeep bool
}

// errAge is ParseAge's complaint, without the value (callers name it).
var errAge = errors.New("expected a number of days such as 90d, or a duration such as 36h")

// ParseAge reads an age as retention is thought of: whole days ("90d"), or a
// Go duration ("36h", "90m"), or "0". Negative ages are refused.
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*365 {
			return 0, errAge
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errAge
	}
	return d, nil
}

func (p *parser) history(v *yaml.Node) error {
	h := &p.cfg.History
	return p.section(v, "history", false, func(key string, k, v *yaml.Node) error {
		switch key {
		case "history.keep":
			s, err := p.str(v, key)
			if err != nil {
				return err
			}
			d, err := ParseAge(s)
			if err != nil {
				return p.errorf(v, key, "%v, got %q", err, s)
			}
			h.Keep, h.HasKeep = d, true
			return nil
		}
		return p.errorf(k, key, "unknown key")
	})
}
