// Command bench measures how close `broadcast` comes to the limits set by
// physics and by Telegram. It builds the real binary once, starts a fresh
// sandbox server (internal/sandbox, 127.0.0.1 only) in this process for every
// configuration, logs a bot in (not timed), times `broadcast send` as a
// subprocess, and prints a markdown table that it also writes to
// docs/BENCHMARKS.md with the machine it ran on.
//
//	go run ./bench                # the full run, about 3 minutes
//	go run ./bench -quick         # CI size, well under a minute; prints only
//	go run ./bench -rows 1,4      # some rows only
//
// Exit status is non-zero only when the tooling fails (build, sandbox, login,
// output file); a missed goal is marked MISS in the table.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	var (
		quick   = flag.Bool("quick", false, "CI size: about a tenth of every configuration; finishes in well under a minute")
		out     = flag.String("out", "docs/BENCHMARKS.md", "markdown file to write, relative to the module root; empty: print only (with -quick the default is to print only)")
		rows    = flag.String("rows", defaultRows, "comma-separated rows to run; 7 is the soak (about 2 minutes), run with -rows 7; 8 is retract and edit; 9 is a year of daily broadcasts")
		bin     = flag.String("bin", "", "use this broadcast binary instead of building ./cmd/broadcast")
		verbose = flag.Bool("v", false, "log every subprocess and its stderr tail")
	)
	flag.Parse()
	sel, err := parseRows(*rows)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	outSet := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "out" {
			outSet = true
		}
	})
	outPath := *out
	if *quick && !outSet {
		outPath = "" // a CI-size run must not overwrite the committed full results
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := Config{Quick: *quick, Rows: sel, Bin: *bin, Verbose: *verbose, Log: os.Stderr}
	start := time.Now()
	rep, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	md := rep.Markdown()
	fmt.Print(md)
	if outPath != "" {
		path := outPath
		if !filepath.IsAbs(path) {
			path = filepath.Join(rep.Root, path)
		}
		if err := writeReport(path, md); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s\n", path)
	}
	fmt.Fprintf(os.Stderr, "bench: done in %s\n", time.Since(start).Round(time.Second))
}

// defaultRows is what a plain `go run ./bench` measures: all but the soak.
const defaultRows = "1,2,3,4,5,6,8,9"

func parseRows(s string) (map[int]bool, error) {
	sel := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 9 {
			return nil, fmt.Errorf("-rows: %q is not a row number 1 to 9", f)
		}
		sel[n] = true
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("-rows: no rows selected")
	}
	return sel, nil
}

// writeReport writes the markdown, creating its directory.
func writeReport(path, md string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(md), 0o644)
}
