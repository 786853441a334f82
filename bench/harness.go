package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gotd/td/crypto"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// botToken is a token of Telegram's shape that the sandbox accepts.
const botToken = sandbox.BotToken

// Config selects what Run measures.
type Config struct {
	Quick   bool         // CI size
	Rows    map[int]bool // rows 1 to 9 (7: the soak; 8: retract and edit; 9: a year of history)
	Bin     string       // a prebuilt broadcast binary; empty: build ./cmd/broadcast
	Verbose bool
	Log     io.Writer // progress; nil: discard
}

// bencher is one benchmark run: the binary, the shared server key, the table.
type bencher struct {
	cfg  Config
	root string // module root
	bin  string
	key  *rsa.PrivateKey
	tmp  string
	log  io.Writer
	rep  *Report

	row1Baseline time.Duration // row 1's naive run, for the speed-up note
	bare         bareBuild     // bench/baregotd, built on first use (row 1)
}

// Run builds the binary, runs the selected rows and returns the report. Its
// error means the tooling failed, never that a goal was missed.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "broadcast-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	b := &bencher{cfg: cfg, root: root, tmp: tmp, log: log}
	b.rep = &Report{Root: root, Quick: cfg.Quick, Started: time.Now(), Machine: machineInfo(), Rows: cfg.Rows, LoadStart: loadAvg()}

	built := cfg.Bin
	if built == "" {
		built = filepath.Join(tmp, "broadcast-built")
		fmt.Fprintln(log, "bench: go build -o", built, "./cmd/broadcast")
		build := exec.CommandContext(ctx, "go", "build", "-o", built, "./cmd/broadcast")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build broadcast: %v\n%s", err, out)
		}
	}
	// Runs use a copy of the binary written 4 KiB at a time. How a file was
	// written decides how the kernel caches it: written in large chunks (as
	// the Go linker writes) it is cached in large folios, which a process
	// maps whole, so more of the binary counts in its resident set than it
	// touches. That is the page cache, not the tool (row 5's notes).
	b.bin = filepath.Join(tmp, "broadcast")
	if err := copyFile(built, b.bin); err != nil {
		return nil, err
	}
	if b.key, err = rsa.GenerateKey(rand.Reader, crypto.RSAKeyBits); err != nil {
		return nil, fmt.Errorf("generate server key: %w", err)
	}

	rows := []func(context.Context) error{b.row1, b.row2, b.row3, b.row4, b.row5, b.row6, b.row7, b.row8, b.row9}
	for i, f := range rows {
		if !cfg.Rows[i+1] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "bench: row %d\n", i+1)
		if err := f(ctx); err != nil {
			return nil, fmt.Errorf("row %d: %w", i+1, err)
		}
	}
	b.rep.Took = time.Since(b.rep.Started)
	b.rep.LoadEnd = loadAvg()
	return b.rep, nil
}

// moduleRoot is the directory of the go.mod that holds this module.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the broadcast repository")
	}
	return filepath.Dir(mod), nil
}

// env is one sandbox, a config pointing at it and a logged-in state dir.
type env struct {
	b       *bencher
	srv     *sandbox.Server
	dir     string
	environ []string
	// watch, when set, watches each child from its start; what it returns
	// is called when the child has exited (row 5's memory breakdown).
	watch func(pid int) func()
}

// newEnv starts a sandbox, writes a config for it and logs a bot in.
func (b *bencher) newEnv(ctx context.Context, opts sandbox.Options) (*env, error) {
	opts.Key = b.key
	opts.Addr = "127.0.0.1:0"
	srv, err := sandbox.Start(opts)
	if err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	dir, err := os.MkdirTemp(b.tmp, "env-")
	if err != nil {
		srv.Close()
		return nil, err
	}
	e := &env{b: b, srv: srv, dir: dir}
	if err := e.writeConfig(); err != nil {
		e.close()
		return nil, err
	}
	// The caller's BROADCAST_* and XDG_* settings must not leak in.
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "BROADCAST_") || strings.HasPrefix(kv, "XDG_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		e.environ = append(e.environ, kv)
	}
	e.environ = append(e.environ,
		"HOME="+dir,
		"XDG_CONFIG_HOME="+filepath.Join(dir, ".config"),
		"XDG_STATE_HOME="+filepath.Join(dir, ".state"),
		"BROADCAST_CONFIG="+filepath.Join(dir, "config.yaml"),
		"BROADCAST_STATE_DIR="+filepath.Join(dir, "state"),
	)
	// The token goes in the environment, not in argv.
	res, err := e.run(ctx, time.Minute, []string{"BROADCAST_BOT_TOKEN=" + botToken}, "login")
	if err != nil {
		e.close()
		return nil, err
	}
	if res.Exit != 0 {
		e.close()
		return nil, fmt.Errorf("login: exit %d: %s", res.Exit, tail(res.Stderr, 10))
	}
	return e, nil
}

func (e *env) close() {
	e.srv.Close()
	os.RemoveAll(e.dir)
}

// writeConfig writes the key and a config, as `broadcast sandbox` does.
func (e *env) writeConfig() error {
	_, err := e.srv.WriteConfig(e.dir)
	return err
}

// recipients writes friend1 … friendN to a --to-file and returns its path.
func (e *env) recipients(n int) (string, error) {
	var sb strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&sb, "@friend%d\n", i)
	}
	path := filepath.Join(e.dir, fmt.Sprintf("recipients-%d.txt", n))
	return path, os.WriteFile(path, []byte(sb.String()), 0o600)
}

// result is one finished subprocess.
type result struct {
	Args []string
	Wall time.Duration
	Exit int
	// MaxRSS is the child's peak resident set (VmHWM), in bytes.
	MaxRSS int64
	// RusageMaxRSS is ru_maxrss from wait4. On Linux it is not the child's
	// own peak: Go starts children with vfork (CLONE_VM), and exec folds the
	// old mm's high-water mark, the bench's own peak, into the child's
	// maxrss. It is kept for comparison only.
	RusageMaxRSS int64
	Stdout       []byte
	Stderr       []byte
	Summary      *summary
	Lines        map[string]int // per-recipient lines by status
	// Hung is the timeout the child overran (it was killed); 0 otherwise.
	Hung     time.Duration
	DumpFile string // where its goroutine dump was saved
	// Warnings counts level=WARN log lines on stderr (gotd's, for instance
	// "rpc callback not set" when it re-sent a request it thought lost).
	Warnings int
}

type summary struct {
	BroadcastID string `json:"broadcast_id"`
	Total       int    `json:"total"`
	Sent        int    `json:"sent"`
	Failed      int    `json:"failed"`
	Skipped     int    `json:"skipped"`
	DurationMS  int64  `json:"duration_ms"`
}

// run runs the binary to its end or for at most timeout. The error is for
// a subprocess that could not be run; a non-zero exit or a hang is in the
// result. A hung child gets SIGQUIT, so that Go prints every goroutine's
// stack on its stderr, and is killed 3 s later; the stack dump is kept in a
// file named in the bench's log.
func (e *env) run(ctx context.Context, timeout time.Duration, extraEnv []string, args ...string) (*result, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := exec.CommandContext(ctx, e.b.bin, args...)
	c.Cancel = func() error { return c.Process.Signal(syscall.SIGQUIT) }
	c.WaitDelay = 3 * time.Second
	c.Env = append(append([]string(nil), e.environ...), extraEnv...)
	c.Dir = e.dir
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	start := time.Now()
	err := c.Start()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", e.b.bin, err)
	}
	peak := watchPeakRSS(c.Process.Pid)
	if e.watch != nil {
		defer e.watch(c.Process.Pid)()
	}
	err = c.Wait()
	wall := time.Since(start)
	res := &result{Args: args, Wall: wall, Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Lines: map[string]int{}}
	res.MaxRSS = peak()
	if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.RusageMaxRSS = ru.Maxrss * 1024 // KiB on Linux
	}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		res.Hung, res.Exit = timeout, -1
		if f, ferr := os.CreateTemp("", "broadcast-bench-hang-*.txt"); ferr == nil {
			fmt.Fprintf(f, "broadcast %s\nno exit within %s; SIGQUIT\n\n--- stdout (tail)\n%s\n\n--- stderr\n%s", strings.Join(args, " "), timeout, tail(res.Stdout, 20), res.Stderr)
			f.Close()
			res.DumpFile = f.Name()
			fmt.Fprintf(e.b.log, "bench:   broadcast %s: no exit within %s; its goroutine dump is in %s\n", shortArgs(args), timeout, f.Name())
		}
	case ctx.Err() != nil:
		return nil, ctx.Err() // the bench itself was interrupted
	case errors.As(err, &exitErr):
		res.Exit = exitErr.ExitCode()
	case err != nil:
		return nil, fmt.Errorf("broadcast %s: %w", shortArgs(args), err)
	}
	res.Warnings = bytes.Count(res.Stderr, []byte("level=WARN"))
	for _, l := range bytes.Split(res.Stdout, []byte("\n")) {
		if len(l) == 0 || l[0] != '{' {
			continue
		}
		var j struct {
			Status  string   `json:"status"`
			Summary *summary `json:"summary"`
		}
		if json.Unmarshal(l, &j) != nil {
			continue
		}
		if j.Summary != nil {
			res.Summary = j.Summary
		} else if j.Status != "" {
			res.Lines[j.Status]++
		}
	}
	if e.b.cfg.Verbose {
		fmt.Fprintf(e.b.log, "bench:   broadcast %s: exit %d in %s, peak RSS %s (rusage %s)\n", shortArgs(args), res.Exit, wall.Round(time.Millisecond), mib(res.MaxRSS), mib(res.RusageMaxRSS))
		if t := tail(res.Stderr, 5); t != "" {
			fmt.Fprintf(e.b.log, "bench:   stderr: %s\n", strings.ReplaceAll(t, "\n", "\n bench:   stderr: "))
		}
	}
	return res, nil
}

// send runs `broadcast send --json ARGS` and checks that every one of n
// recipients got the message; a failure is returned as a note for the table.
func (e *env) send(ctx context.Context, timeout time.Duration, n int, args ...string) (*result, string, error) {
	before := e.srv.Delivered()
	res, err := e.run(ctx, timeout, nil, append([]string{"send", "--json"}, args...)...)
	if err != nil {
		return nil, "", err
	}
	delivered := e.srv.Delivered() - before
	var problem string
	switch {
	case res.Hung > 0:
		problem = fmt.Sprintf("ERROR: hung: no exit within %s, killed; %d of %d delivered, %d FLOOD_WAITs so far", secs(res.Hung), delivered, n, e.srv.FloodWaits())
	case res.Exit != 0:
		problem = fmt.Sprintf("ERROR: exit %d, %d of %d delivered: %s", res.Exit, delivered, n, oneLine(tail(res.Stderr, 3)))
	case res.Summary == nil:
		problem = "ERROR: no summary line on stdout"
	case delivered != n || res.Summary.Sent != n:
		problem = fmt.Sprintf("ERROR: %d of %d delivered, summary says %d sent", delivered, n, res.Summary.Sent)
	}
	return res, problem, nil
}

// callDiff is what a run added to the sandbox's call counters.
func callDiff(before, after map[string]int) (total int, names []string) {
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			total += d
			names = append(names, fmt.Sprintf("%s×%d", k, d))
		}
	}
	sort.Strings(names)
	return total, names
}

func shortArgs(args []string) string {
	s := strings.Join(args, " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "|", "/")
	return strings.Join(strings.Fields(s), " ")
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// watchPeakRSS polls the high-water mark of a running process's resident set
// (VmHWM in /proc/PID/status) until the returned function is called, which
// returns the highest value seen, in bytes. c.Start returns after the exec,
// so the mm read is the child's own. A peak in the last poll interval before
// exit can be missed; the interval is short next to any run measured here.
func watchPeakRSS(pid int) func() int64 {
	path := fmt.Sprintf("/proc/%d/status", pid)
	var peak atomic.Int64
	read := func() {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				f := strings.Fields(v)
				if len(f) == 2 && f[1] == "kB" {
					if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil && kb*1024 > peak.Load() {
						peak.Store(kb * 1024)
					}
				}
				return
			}
		}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			read()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		<-stopped
		return peak.Load()
	}
}

// copyFile copies src to a new executable dst, 4 KiB a write, so that the
// page cache holds it in single pages.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o700)
	if err != nil {
		return err
	}
	// Wrapped, so that io.CopyBuffer cannot hand the copy to the kernel
	// (copy_file_range): the point is how the file is written.
	_, err = io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, make([]byte, 4<<10))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
