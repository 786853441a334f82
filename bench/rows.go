package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

const (
	resolveCall = "contacts.resolveUsername"
	sendCall    = "messages.sendMessage"
)

// errorLine puts a failed measurement in the table instead of a figure.
func (b *bencher) errorLine(row int, config, metric, goal, problem string) {
	l := Line{Row: row, Config: config, Metric: metric, Measured: problem, Ideal: "", Ratio: ""}
	if goal != "" {
		l.Goal, l.Met = goal, met(false)
	}
	b.rep.add(l)
}

// allowance is how long a run with this ideal may take before it is
// declared hung and killed.
func (b *bencher) allowance(ideal time.Duration) time.Duration {
	if b.cfg.Quick {
		return 2*ideal + 8*time.Second
	}
	return 2*ideal + 20*time.Second
}

func efficiency(ideal, measured time.Duration) float64 {
	if measured <= 0 {
		return 0
	}
	return float64(ideal) / float64(measured)
}

func secs(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
}

// hasFlag reports whether `broadcast CMD --help` lists flag.
func (b *bencher) hasFlag(ctx context.Context, cmd, flag string) (bool, error) {
	c := exec.CommandContext(ctx, b.bin, cmd, "--help")
	c.Env = []string{"HOME=" + b.tmp, "PATH=" + os.Getenv("PATH")}
	out, err := c.CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("broadcast %s --help: %v: %s", cmd, err, tail(out, 3))
	}
	return bytes.Contains(out, []byte(flag+" ")) || bytes.Contains(out, []byte(flag+"\t")), nil
}

// row3: an attachment is uploaded once, then sent to every recipient.
func (b *bencher) row3(ctx context.Context) error {
	n, size := 100, int64(20<<20)
	if b.cfg.Quick {
		n, size = 10, 2<<20
	}
	config := fmt.Sprintf("%s attachment, N=%d, C=8, no latency", mib(size), n)
	ok, err := b.hasFlag(ctx, "send", "--attach")
	if err != nil {
		return err
	}
	if !ok {
		b.rep.add(Line{Row: 3, Config: config, Metric: "bytes uploaded / file size", Measured: "skipped: --attach not available",
			Ideal: "1.0", Goal: "= 1.0"})
		b.rep.note(3, "`broadcast send --help` does not list --attach in this build, so the row was skipped; it runs as soon as the flag exists.")
		return nil
	}
	e, err := b.newEnv(ctx, sandbox.Options{Users: n})
	if err != nil {
		return err
	}
	defer e.close()
	file, err := e.recipients(n)
	if err != nil {
		return err
	}
	att := filepath.Join(e.dir, "attachment.bin")
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		return err
	}
	if err := os.WriteFile(att, data, 0o600); err != nil {
		return err
	}
	before := e.srv.CallCounts()
	up0 := e.srv.UploadedBytes()
	res, problem, err := e.send(ctx, 2*time.Minute, n, "--rate", "0", "--concurrency", "8", "--attach", att, "--to-file", file, "see attached")
	if err != nil {
		return err
	}
	uploaded := e.srv.UploadedBytes() - up0
	_, names := callDiff(before, e.srv.CallCounts())
	if problem != "" {
		b.errorLine(3, config, "bytes uploaded / file size", "= 1.0", problem)
		return nil
	}
	ratio := float64(uploaded) / float64(size)
	b.rep.add(Line{Row: 3, Config: config, Metric: "bytes uploaded / file size", Measured: fmt.Sprintf("%.2f", ratio),
		Ideal: "1.0", Ratio: fmt.Sprintf("%.2f", 1/math.Max(ratio, 1e-9)), Goal: "= 1.0", Met: met(uploaded == size),
		Note: fmt.Sprintf("%s uploaded", mib(uploaded))})
	b.rep.add(Line{Row: 3, Config: config, Metric: "time", Measured: secs(res.Wall), Ideal: "—",
		Note: fmt.Sprintf("peak RSS %s", mib(res.MaxRSS))})
	b.rep.note(3, "Uploaded bytes are what the sandbox received through upload.saveFilePart and upload.saveBigFilePart. Calls: %s.", strings.Join(names, ", "))
	return nil
}

// row4: the cron case, one recipient with a saved session and a cached peer.
func (b *bencher) row4(ctx context.Context) error {
	runs := 5
	if b.cfg.Quick {
		runs = 3
	}
	config := "1 recipient, saved session, cached peer, no latency"
	e, err := b.newEnv(ctx, sandbox.Options{Users: 3})
	if err != nil {
		return err
	}
	defer e.close()
	if _, problem, err := e.send(ctx, 30*time.Second, 1, "--to", "@friend1", "warm-up: resolve and cache"); err != nil {
		return err
	} else if problem != "" {
		b.errorLine(4, config, "process wall time", "", "warm-up run: "+problem)
		return nil
	}
	var (
		walls    []time.Duration
		rss      int64
		rpcs     []int
		names    []string
		resolves int
	)
	for i := 1; i <= runs; i++ {
		before := e.srv.CallCounts()
		res, problem, err := e.send(ctx, 30*time.Second, 1, "--to", "@friend1", fmt.Sprintf("good morning, run %d", i))
		if err != nil {
			return err
		}
		after := e.srv.CallCounts()
		if problem != "" {
			b.errorLine(4, config, "process wall time", "", problem)
			return nil
		}
		total, ns := callDiff(before, after)
		walls = append(walls, res.Wall)
		rpcs = append(rpcs, total)
		names = ns
		resolves += after[resolveCall] - before[resolveCall]
		rss = max(rss, res.MaxRSS)
	}
	sorted := append([]time.Duration(nil), walls...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	median := sorted[len(sorted)/2]
	b.rep.add(Line{Row: 4, Config: config, Metric: "process wall time", Measured: secs(median),
		Ideal: "—", Note: fmt.Sprintf("median of %d; min %s, max %s; peak RSS %s", runs, secs(sorted[0]), secs(sorted[len(sorted)-1]), mib(rss))})
	rpc := rpcs[len(rpcs)-1]
	same := true
	for _, r := range rpcs {
		same = same && r == rpc
	}
	measured := strconv.Itoa(rpc)
	if !same {
		measured = fmt.Sprintf("%v", rpcs)
	}
	b.rep.add(Line{Row: 4, Config: config, Metric: "RPCs made", Measured: measured, Ideal: "2",
		Ratio: fmt.Sprintf("%.2f", 2/float64(max(rpc, 1))), Goal: "no " + resolveCall, Met: met(resolves == 0),
		Note: strings.Join(names, ", ")})
	b.rep.note(4, "RPCs are the sandbox's per-method call counts (srv.CallCounts()) before and after each run. "+
		"Ideal 2: help.getConfig, which gotd's connection setup sends wrapped in initConnection, and the messages.sendMessage itself; "+
		"the saved session needs no key exchange (which the sandbox does not count as RPCs anyway).")
	b.rep.note(4, "Each run sends a new message to @friend1 after an unmeasured first run that cached the peer: `broadcast send --json --to @friend1 MESSAGE`, default pacing.")
	return nil
}

// row6: the fan-out engine alone, through its own Go benchmark.
func (b *bencher) row6(ctx context.Context) error {
	const benchRecipients = 10_000 // BenchmarkRun in internal/fanout/fanout_test.go
	args := []string{"test", "-run", "^$", "-bench", "BenchmarkRun", "-benchmem"}
	if b.cfg.Quick {
		args = append(args, "-benchtime", "20x")
	}
	args = append(args, "./internal/fanout/")
	c := exec.CommandContext(ctx, "go", args...)
	c.Dir = b.root
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	vals := parseBenchLine(out, "BenchmarkRun")
	nsOp, nsRec, allocs, bytesOp := vals["ns/op"], vals["ns/recipient"], vals["allocs/op"], vals["B/op"]
	if nsOp == 0 || nsRec == 0 {
		return fmt.Errorf("no BenchmarkRun result with ns/op and ns/recipient in:\n%s", out)
	}
	// The recipients per op follow from the two metrics; they must agree
	// with the benchmark's list size, or the allocs per recipient are wrong.
	perOp := nsOp / nsRec
	if math.Abs(perOp-benchRecipients)/benchRecipients > 0.02 {
		return fmt.Errorf("BenchmarkRun sends to %.0f recipients per op, not %d: update benchRecipients", perOp, benchRecipients)
	}
	config := fmt.Sprintf("internal/fanout BenchmarkRun: %d recipients, C=64, no-op Sender", benchRecipients)
	b.rep.add(Line{Row: 6, Config: config, Metric: "time per recipient", Measured: fmt.Sprintf("%.0f ns", nsRec), Ideal: "—",
		Note: fmt.Sprintf("%.1f ms per %d", nsOp/1e6, benchRecipients)})
	b.rep.add(Line{Row: 6, Config: config, Metric: "allocations per recipient", Measured: fmt.Sprintf("%.1f", allocs/benchRecipients), Ideal: "—",
		Note: fmt.Sprintf("%.0f B per recipient", bytesOp/benchRecipients)})
	b.rep.note(6, "`go %s`, run in the module root; allocations and bytes per recipient are allocs/op and B/op over the %d recipients of one op.", strings.Join(args, " "), benchRecipients)
	return nil
}

// parseBenchLine returns the metrics of the last result line of benchmark
// name in `go test -bench` output, by unit: "ns/op", "B/op", "allocs/op" and
// custom ones such as "ns/recipient". It is nil when there is none.
func parseBenchLine(out []byte, name string) map[string]float64 {
	var vals map[string]float64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// BenchmarkRun-2   60   16875205 ns/op   1688 ns/recipient ...
		if len(f) < 4 || (f[0] != name && !strings.HasPrefix(f[0], name+"-")) {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		vals = map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				vals[f[i+1]] = v
			}
		}
	}
	return vals
}

// warnings is a note on log warnings in a run's stderr, if any.
func warnings(res *result) string {
	if res.Warnings == 0 {
		return ""
	}
	return fmt.Sprintf("; %d warnings on stderr", res.Warnings)
}
