package main

// memory.go is row 5: time and peak memory of a large list, against the
// same run to one recipient, and where the memory goes: the Go heap (from
// the runtime's own GC trace), other anonymous memory (stacks, runtime, the
// heap's not yet returned pages), the state database's mapped pages, and the
// binary's own pages.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// flatGoal is how much more a 10,000-recipient run may hold at its peak than
// a 1-recipient one.
const flatGoal = 8 << 20

// memPeak is a process's resident memory at its peak, split by kind.
type memPeak struct {
	rss, anon, file int64 // VmRSS, RssAnon, RssFile
	db              int64 // resident pages of state.db's mapping
	heap            int64 // the Go heap's peak, from gctrace
	gcs             int
	dbPages         int64 // state.db's pages in use after the run
}

// memWatch samples a child's memory: /proc/PID/status every 2 ms, and
// /proc/PID/smaps (for state.db's share) whenever the resident set has
// grown by 64 KiB since the last look.
type memWatch struct {
	mu   sync.Mutex
	peak memPeak
}

func (m *memWatch) watch(pid int) func() {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		var lastSmaps int64
		for {
			st, ok := readStatus(pid)
			if ok {
				m.mu.Lock()
				if st.rss > m.peak.rss {
					db := m.peak.db
					if st.rss-lastSmaps >= 64<<10 {
						db, lastSmaps = mappedDB(pid), st.rss
					}
					st.db = db
					st.heap, st.gcs = m.peak.heap, m.peak.gcs
					m.peak = st
				}
				m.mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

func readStatus(pid int) (memPeak, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memPeak{}, false
	}
	var p memPeak
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			p.rss = n << 10
		case "RssAnon":
			p.anon = n << 10
		case "RssFile":
			p.file = n << 10
		}
	}
	return p, p.rss > 0
}

// mappedDB is the resident size of the mappings of state.db.
func mappedDB(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	var (
		total int64
		inDB  bool
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if f := strings.Fields(l); len(f) >= 5 && strings.Contains(f[0], "-") {
			inDB = strings.HasSuffix(l, "/state.db")
			continue
		}
		if v, ok := strings.CutPrefix(l, "Rss:"); ok && inDB {
			if f := strings.Fields(v); len(f) == 2 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				total += n << 10
			}
		}
	}
	return total
}

// gcLine is one line of GODEBUG=gctrace=1: "… 4->4->1 MB, 5 MB goal, …".
var gcLine = regexp.MustCompile(`(?m)^gc \d+ @.* (\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

// heapPeak reads the largest heap at the start of a collection from a
// gctrace, and how many collections there were.
func heapPeak(stderr []byte) (int64, int) {
	var peak int64
	ms := gcLine.FindAllSubmatch(stderr, -1)
	for _, m := range ms {
		if n, err := strconv.ParseInt(string(m[1]), 10, 64); err == nil && n<<20 > peak {
			peak = n << 20
		}
	}
	return peak, len(ms)
}

// memRuns is how many times row 5 measures each size (3 with -quick); it
// reports the run with the median peak. One run's peak moves by a MiB or
// two with where the collector happens to be when the resident set tops
// out.
const memRuns = 5

// row5: scale. Time and peak memory of a large list with no latency, and of
// one recipient the same way: the difference is what the list costs. A
// middle size splits that into what running 64 sends at once costs and
// what each further recipient adds.
func (b *bencher) row5(ctx context.Context) error {
	n, mid := 10_000, 1000
	if b.cfg.Quick {
		n, mid = 1000, 100
	}
	times := memRuns
	if b.cfg.Quick {
		times = 3
	}
	config := fmt.Sprintf("N=%d via --to-file, C=64, no latency, first send", n)
	// The sizes take turns (1, mid, n, 1, mid, n, …), so that whatever else
	// the machine does in the meantime weighs on each of them alike.
	sizes := []int{1, mid, n}
	runs := make([][]memPeak, len(sizes))
	results := make([][]*result, len(sizes))
	for range times {
		for k, size := range sizes {
			p, res, problem, err := b.memRun(ctx, size, n)
			if err != nil {
				return err
			}
			if problem != "" {
				b.errorLine(5, config, "time", "", problem)
				b.errorLine(5, config, "peak RSS", "", fmt.Sprintf("the %d-recipient run: %s", size, problem))
				return nil
			}
			runs[k], results[k] = append(runs[k], p), append(results[k], res)
		}
	}
	// median returns size k's run with the median peak and every peak in
	// order.
	median := func(k int) (memPeak, *result, []int64) {
		order := make([]int, len(runs[k]))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(i, j int) bool { return runs[k][order[i]].rss < runs[k][order[j]].rss })
		var all []int64
		for _, i := range order {
			all = append(all, runs[k][i].rss)
		}
		m := order[len(order)/2]
		return runs[k][m], results[k][m], all
	}
	one, _, oneAll := median(0)
	middle, _, midAll := median(1)
	big, res, bigAll := median(2)
	b.rep.add(Line{Row: 5, Config: config, Metric: "time", Measured: secs(res.Wall), Ideal: "—",
		Note: fmt.Sprintf("%.0f µs per recipient; engine %s; the median run by peak RSS%s", float64(res.Wall.Microseconds())/float64(n),
			secs(time.Duration(res.Summary.DurationMS)*time.Millisecond), warnings(res))})
	extra := big.rss - one.rss
	list := func(v []int64) string {
		var s []string
		for _, x := range v {
			s = append(s, strings.TrimSuffix(mib(x), " MiB"))
		}
		return "[" + strings.Join(s, " ") + "] MiB"
	}
	b.rep.add(Line{Row: 5, Config: config, Metric: "peak RSS − peak RSS of 1 recipient", Measured: mib(extra), Ideal: "0",
		Goal: "≤ " + mib(flatGoal), Met: met(extra <= flatGoal),
		Note: fmt.Sprintf("medians of %d runs each: %s for %d recipients %s, %s for 1 %s", times, mib(big.rss), n, list(bigAll), mib(one.rss), list(oneAll))})
	slope := float64(big.rss-middle.rss) / float64(n-mid) / 1024
	b.rep.add(Line{Row: 5, Config: config, Metric: fmt.Sprintf("peak RSS per recipient from %d to %d recipients", mid, n),
		Measured: fmt.Sprintf("%.2f KiB", slope), Ideal: "0",
		Note: fmt.Sprintf("%s at %d recipients %s: %s more than 1 recipient before the list's size counts", mib(middle.rss), mid, list(midAll), mib(middle.rss-one.rss))})
	split := func(p memPeak) string {
		return fmt.Sprintf("Go heap %s (gctrace, %d collections), other anonymous memory %s, state.db's mapped pages %s, the binary and other files %s",
			mib(p.heap), p.gcs, mib(max(p.anon-p.heap, 0)), mib(p.db), mib(max(p.file-p.db, 0)))
	}
	b.rep.note(5, "Where the memory goes, at the median run's peak resident set: %d recipients: %s; %d recipients: %s; 1 recipient: %s. "+
		"Read from /proc/PID/status (RssAnon, RssFile) and /proc/PID/smaps (the state.db mapping) while the child runs, "+
		"and from the Go runtime's own trace (GODEBUG=gctrace=1: the heap when each collection starts, in whole MB).", n, split(big), mid, split(middle), split(one))
	b.rep.note(5, "What each further recipient costs (%.2f KiB between %d and %d): its journal entry and peer-cache record in state.db's pages "+
		"(%s of pages in use after %d: about 33 bytes an entry, 65 a peer and 4 for each name it is known by, as CBOR; bbolt maps the file and reads "+
		"those pages while it writes, so they count in the resident set, though they are clean file pages the kernel can reclaim), and about 70 bytes "+
		"of live heap (the recipient as given, its target and its claim), which the collector's target (GOGC=100) doubles. Running 64 sends at once "+
		"costs %s before the list's size counts (%d recipients against 1): a goroutine stack for each send in flight (runtime.MemStats.StackInuse, "+
		"read by hand on this machine on 2026-12-02: 0.9 MiB for 1 recipient, 2.5 to 2.9 MiB with 64 in flight), more of the binary's pages, and a "+
		"heap that now reaches the collector's target.", slope, mid, n, mib(big.dbPages), n, mib(middle.rss-one.rss), mid)
	b.rep.note(5, "What was cut to get here (the goal was missed at +22.6 MiB before): journal entries and peers as CBOR with a peer stored once, "+
		"not JSON under its name and again under its id, and the broadcast record holding the list once (state.db after 10,000 first sends: "+
		"9.95 → 2.67 MB); gotd's per-request child loggers, which wrapped and copied attributes even for a discarded log (a third of all bytes "+
		"allocated); a goroutine parked in bbolt's Batch for every journal mark, about 200 at once, replaced by one commit queue; and what the run "+
		"held for each recipient for its whole length (a whole resolved peer, the parsed list beside the list as given, the list again as keys, "+
		"the spec's copy, the config's lists). The binary before and after, run by hand on this machine on 2026-12-02, three times each, "+
		"alternating, as go build made them, 10,000 recipients as here: live heap after a collection 5-6 → 2 MiB, peak RSS (ru_maxrss) 48.9-52.3 → 38.4-40.7 MiB, "+
		"wall time 1.87-1.89 → 1.47-1.58 s, CPU 1.6-1.7 → 1.1-1.2 s, collections about 100 → 130 (a smaller heap is collected more often, each time for less).")
	if extra > flatGoal {
		b.rep.note(5, "Why the goal is missed here, measured: of the %s more, %s is anonymous memory and %s state.db's pages; see above for what "+
			"each part is. What is left would take fewer sends in flight or a tighter collector, which costs CPU (by hand: GOGC=70 saved 1 MiB and "+
			"cost 9%% of the time at this size). Proposed goal that holds: memory flat in the list's size, at most 1 KiB per recipient beyond the "+
			"first %d (%.2f KiB measured).", mib(extra), mib(big.anon-one.anon), mib(big.db-one.db), mid, slope)
	}
	b.rep.note(5, "Peak RSS is the child's VmHWM from /proc/PID/status, polled every 2 ms while it runs (ru_maxrss from wait4 said %s). "+
		"ru_maxrss is not used: Go starts children with vfork, and Linux folds the parent's peak RSS into the child's maxrss at exec, "+
		"so it reports the bench's own peak whenever that is larger (a parent that has touched 200 MiB sees /bin/true \"use\" 203 MiB).", mib(res.RusageMaxRSS))
	b.rep.note(5, "Every run is a first send on a fresh sandbox and state dir (every peer resolved and cached): "+
		"--json --rate 0 --concurrency 64, recipients from --to-file; stdout (one JSON line per recipient) is read by the bench. "+
		"The binary is a copy written 4 KiB at a time (bench/harness.go): the page cache keeps a file written in large chunks in large folios, "+
		"which a process maps whole, so the same binary's 1-recipient run measured 28.6 MiB copied this way, 30.8 MiB as the Go linker wrote it, and "+
		"43.5 MiB copied 1 MiB at a time (by hand on this machine on 2026-12-02, median of 3) — the kernel's doing, not the tool's. "+
		"Each size runs %d times, the sizes taking turns (1, %d, %d, 1, …) so that whatever else the machine does weighs on each alike, "+
		"and the run with the median peak is reported.", times, mid, n)
	return nil
}

// memRun sends to n friends on a fresh sandbox of users friends (the same
// for both runs: the config the sandbox writes lists every friend) and
// measures the peak.
func (b *bencher) memRun(ctx context.Context, n, users int) (memPeak, *result, string, error) {
	e, err := b.newEnv(ctx, sandbox.Options{Users: users})
	if err != nil {
		return memPeak{}, nil, "", err
	}
	defer e.close()
	file, err := e.recipients(n)
	if err != nil {
		return memPeak{}, nil, "", err
	}
	var m memWatch
	e.watch = m.watch
	before := e.srv.Delivered()
	res, err := e.run(ctx, time.Duration(n)*15*time.Millisecond+30*time.Second, []string{"GODEBUG=gctrace=1"},
		"send", "--json", "--rate", "0", "--concurrency", "64", "--to-file", file, "scale")
	if err != nil {
		return memPeak{}, nil, "", err
	}
	if res.Exit != 0 || res.Summary == nil || e.srv.Delivered()-before != n {
		return memPeak{}, res, fmt.Sprintf("ERROR: exit %d, %d of %d delivered: %s", res.Exit, e.srv.Delivered()-before, n, oneLine(tail(res.Stderr, 3))), nil
	}
	m.mu.Lock()
	p := m.peak
	m.mu.Unlock()
	p.rss = max(p.rss, res.MaxRSS) // VmHWM may have caught a peak between polls
	p.heap, p.gcs = heapPeak(res.Stderr)
	st, err := store.Open(filepath.Join(e.dir, "state"), store.Options{})
	if err != nil {
		return p, res, "", err
	}
	defer st.Close()
	sp, err := st.Space()
	p.dbPages = sp.Pages - sp.Free
	return p, res, "", err
}
