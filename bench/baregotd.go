package main

// baregotd.go runs the ceiling of row 1: bench/baregotd, a minimal gotd
// client (no journal, no engine), as a subprocess against a sandbox, so that
// the tool's engine time can be given as a ratio to what gotd alone needs for
// the same sends under the same conditions.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// bareBuild builds bench/baregotd once per bench run.
type bareBuild struct {
	once sync.Once
	path string
	err  error
}

func (b *bencher) bareBinary(ctx context.Context) (string, error) {
	b.bare.once.Do(func() {
		b.bare.path = filepath.Join(b.tmp, "baregotd")
		fmt.Fprintln(b.log, "bench: go build -o", b.bare.path, "./bench/baregotd")
		build := exec.CommandContext(ctx, "go", "build", "-o", b.bare.path, "./bench/baregotd")
		build.Dir = b.root
		if out, err := build.CombinedOutput(); err != nil {
			b.bare.err = fmt.Errorf("build baregotd: %v\n%s", err, out)
		}
	})
	return b.bare.path, b.bare.err
}

// bareResult is what one baregotd run printed.
type bareResult struct {
	Mode       string `json:"mode"`
	Sent       int    `json:"sent"`
	Resolves   int    `json:"resolves"`
	DurationUS int64  `json:"duration_us"`
}

func (r bareResult) took() time.Duration { return time.Duration(r.DurationUS) * time.Microsecond }

// bare runs baregotd against e's sandbox: n friends, c in flight, mode
// "cached" (sends to peers resolved beforehand, only the sends timed) or
// "first" (resolve + send timed). It checks that the sandbox received every
// message.
func (e *env) bare(ctx context.Context, timeout time.Duration, n, c int, mode string) (bareResult, error) {
	bin, err := e.b.bareBinary(ctx)
	if err != nil {
		return bareResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	before := e.srv.Delivered()
	cmd := exec.CommandContext(ctx, bin, "-addr", e.srv.Addr(), "-key", filepath.Join(e.dir, "server.pem"),
		"-dc", strconv.Itoa(e.srv.DC()), "-n", strconv.Itoa(n), "-c", strconv.Itoa(c), "-mode", mode,
		"-text", "bare gotd "+mode+" "+strconv.FormatInt(time.Now().UnixNano(), 36))
	cmd.Env = append(append([]string(nil), e.environ...), "BAREGOTD_BOT_TOKEN="+botToken)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return bareResult{}, fmt.Errorf("baregotd -c %d -mode %s: %v: %s", c, mode, err, tail(stderr.Bytes(), 3))
	}
	var r bareResult
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return r, fmt.Errorf("baregotd output %q: %w", stdout.String(), err)
	}
	if got := e.srv.Delivered() - before; got != n || r.Sent != n {
		return r, fmt.Errorf("baregotd: %d of %d delivered", got, n)
	}
	return r, nil
}
