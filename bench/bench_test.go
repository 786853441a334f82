package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQuickRows runs two rows of the benchmark at CI size, end to end: the
// build, a sandbox, a login, timed subprocesses, the sandbox's counters and
// the markdown. It keeps the tooling from rotting; goals are not checked
// (a MISS is a finding, not a failure), but every figure must be measured.
// A few seconds on an idle machine; skipped with -short.
func TestQuickRows(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it against a sandbox; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Config{Quick: true, Rows: map[int]bool{3: true, 4: true}})
	if err != nil {
		t.Fatal(err)
	}
	md := rep.Markdown()
	t.Log("\n" + md)
	metrics := map[string]bool{}
	for _, l := range rep.Lines {
		metrics[l.Metric] = true
		if strings.HasPrefix(l.Measured, "ERROR") {
			t.Errorf("row %d %s: %s", l.Row, l.Metric, l.Measured)
		}
	}
	for _, m := range []string{"process wall time", "RPCs made", "bytes uploaded / file size"} {
		if !metrics[m] {
			t.Errorf("no %q figure in the report", m)
		}
	}
	for _, want := range []string{"| 3 | 2.0 MiB attachment", "| 4 | 1 recipient", "messages.sendMessage×1", "peak RSS", "CPUs (nproc)", "-quick -rows 3,4"} {
		if !strings.Contains(md, want) {
			t.Errorf("the markdown lacks %q", want)
		}
	}
	out := filepath.Join(t.TempDir(), "docs", "BENCHMARKS.md")
	if err := writeReport(out, md); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != md {
		t.Fatalf("written report differs: %v", err)
	}
}

func TestParseBenchLine(t *testing.T) {
	out := []byte(`goos: linux
goarch: amd64
pkg: github.com/broadcast-cli/broadcast/internal/fanout
cpu: AMD EPYC
BenchmarkRun-2   	      60	  16875205 ns/op	      1688 ns/recipient	  802173 B/op	   30012 allocs/op
PASS
ok  	github.com/broadcast-cli/broadcast/internal/fanout	1.053s
`)
	v := parseBenchLine(out, "BenchmarkRun")
	want := map[string]float64{"ns/op": 16875205, "ns/recipient": 1688, "B/op": 802173, "allocs/op": 30012}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("%s = %v, want %v", k, v[k], w)
		}
	}
	if parseBenchLine(out, "BenchmarkRunFast") != nil {
		t.Error("matched another benchmark's name")
	}
}

func TestParseRows(t *testing.T) {
	sel, err := parseRows("1, 3,6")
	if err != nil || len(sel) != 3 || !sel[1] || !sel[3] || !sel[6] {
		t.Fatalf("parseRows = %v, %v", sel, err)
	}
	for _, bad := range []string{"", "0", "10", "x", "1,,10"} {
		if _, err := parseRows(bad); err == nil {
			t.Errorf("parseRows(%q) accepted", bad)
		}
	}
}
