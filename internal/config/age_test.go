package config

import (
	"testing"
	"time"
)

func TestHistoryKeep(t *testing.T) {
	for _, tc := range []struct {
		in   string
		keep time.Duration
	}{
		{"history:\n  keep: 90d\n", 90 * 24 * time.Hour},
		{"history:\n  keep: 0\n", 0},
		{"history:\n  keep: 36h\n", 36 * time.Hour},
	} {
		cfg, err := Parse([]byte(tc.in), "c.yaml")
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !cfg.History.HasKeep || cfg.History.Keep != tc.keep {
			t.Errorf("%q: keep %v (set %v), want %v", tc.in, cfg.History.Keep, cfg.History.HasKeep, tc.keep)
		}
	}
	cfg, err := Parse([]byte("api_id: 1\n"), "c.yaml")
	if err != nil || cfg.History.HasKeep {
		t.Errorf("no history section: %+v, %v", cfg.History, err)
	}
	for _, tc := range []struct{ in, msg string }{
		{"history:\n  keep: 3 months\n", `c.yaml:2: history.keep: expected a number of days such as 90d, or a duration such as 36h, got "3 months"`},
		{"history:\n  keep: -5d\n", `c.yaml:2: history.keep: expected a number of days such as 90d, or a duration such as 36h, got "-5d"`},
		{"history:\n  kept: 9d\n", "c.yaml:2: history.kept: unknown key"},
		{"history: 90d\n", "c.yaml:1: history: expected a mapping, got \"90d\""},
	} {
		_, err := Parse([]byte(tc.in), "c.yaml")
		if err == nil || err.Error() != tc.msg {
			t.Errorf("%q: error %v, want %s", tc.in, err, tc.msg)
		}
	}
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "1d": 24 * time.Hour, "0": 0, "0d": 0, "12h": 12 * time.Hour, " 7d ": 7 * 24 * time.Hour} {
		if got, err := ParseAge(in); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "1.5d", "-1d", "-1h", "forever", "90 days"} {
		if _, err := ParseAge(in); err == nil {
			t.Errorf("ParseAge(%q) accepted", in)
		}
	}
}
