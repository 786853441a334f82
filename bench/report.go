package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Report is the benchmark's outcome: one line per figure, and notes.
type Report struct {
	Root    string
	Quick   bool
	Rows    map[int]bool
	Started time.Time
	Took    time.Duration
	Machine Machine
	Lines   []Line
	// LoadStart and LoadEnd are /proc/loadavg's first three fields.
	LoadStart, LoadEnd string
	Notes              map[int][]string // per row
	Misses             int
}

// Line is one figure of the table.
type Line struct {
	Row      int
	Config   string
	Metric   string
	Measured string
	Ideal    string
	Ratio    string // efficiency = ideal / measured, or measured / ideal for ratios
	Goal     string // "" when the issue sets none
	Met      *bool  // nil: no goal
	Note     string
}

func (r *Report) add(l Line) {
	if l.Met != nil && !*l.Met {
		r.Misses++
	}
	r.Lines = append(r.Lines, l)
}

func (r *Report) note(row int, format string, args ...any) {
	if r.Notes == nil {
		r.Notes = map[int][]string{}
	}
	r.Notes[row] = append(r.Notes[row], fmt.Sprintf(format, args...))
}

func met(ok bool) *bool { return &ok }

func (l Line) goalCell() string {
	switch {
	case l.Goal == "":
		return ""
	case l.Met == nil:
		return l.Goal
	case *l.Met:
		return l.Goal + " ok"
	default:
		return l.Goal + " **MISS**"
	}
}

// Markdown is the report as docs/BENCHMARKS.md holds it.
func (r *Report) Markdown() string {
	var sb strings.Builder
	sb.WriteString("# Benchmarks\n\n")
	sb.WriteString("How close `broadcast` comes to the limits set by physics and by Telegram, measured by driving\n")
	sb.WriteString("the built binary as a subprocess against the local sandbox server (127.0.0.1 only), a fresh\n")
	sb.WriteString("sandbox and a freshly logged-in bot for every configuration; the login is not timed.\n\n")
	cmd := "go run ./bench"
	if r.Quick {
		cmd += " -quick"
	}
	if rows := rowList(r.Rows); rows != defaultRows {
		cmd += " -rows " + rows
	}
	fmt.Fprintf(&sb, "Command: `%s`", cmd)
	if r.Quick {
		sb.WriteString(" (**quick**: CI size, not the issue's configurations)")
	}
	fmt.Fprintf(&sb, ", run %s, took %s.\n\n", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Took.Round(time.Second))
	m := r.Machine
	sb.WriteString("| machine | |\n| --- | --- |\n")
	fmt.Fprintf(&sb, "| CPU | %s |\n| CPUs (nproc) | %d |\n| memory | %s |\n| OS | %s |\n| Go | %s |\n",
		m.CPU, m.NProc, m.Memory, m.OS, m.Go)
	fmt.Fprintf(&sb, "| load average (1, 5, 15 min) | %s at the start, %s at the end |\n\n", r.LoadStart, r.LoadEnd)
	if loadHigh(r.LoadStart, m.NProc) || loadHigh(r.LoadEnd, m.NProc) {
		sb.WriteString("The load average was above the number of CPUs: other processes competed for the CPUs and the disk, so times are pessimistic.\n\n")
	}

	sb.WriteString("| row | configuration | metric | measured | ideal | efficiency | goal |\n")
	sb.WriteString("| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, l := range r.Lines {
		measured := l.Measured
		if l.Note != "" {
			measured += " (" + l.Note + ")"
		}
		fmt.Fprintf(&sb, "| %d | %s | %s | %s | %s | %s | %s |\n", l.Row, l.Config, l.Metric, measured, l.Ideal, l.Ratio, l.goalCell())
	}
	if r.Misses > 0 {
		fmt.Fprintf(&sb, "\n%d goal(s) missed (MISS); the notes below show where the time went.\n", r.Misses)
	} else {
		sb.WriteString("\nEvery goal shown was met.\n")
	}
	sb.WriteString("\nEfficiency is ideal / measured (1.0 is the limit; for the upload row it is file size / bytes uploaded). Row 1's\n")
	sb.WriteString("\"engine ÷ bare gotd\" is bare gotd's time over the engine's (1.0: as fast as gotd alone); row 9's ratio is day 365's\n")
	sb.WriteString("figure over day 90's (1.0: no growth).\n")
	sb.WriteString("Times are the wall clock of the whole `broadcast send` process, from exec to exit: starting,\n")
	sb.WriteString("opening the state database, connecting with the saved session, sending and journaling.\n")
	grace := "20 s"
	if r.Quick {
		grace = "8 s"
	}
	fmt.Fprintf(&sb, "A run that takes longer than twice its ideal plus %s is declared hung: it gets SIGQUIT, so that its\n", grace)
	sb.WriteString("goroutine dump is saved (the bench's log names the file), is killed, and its row shows ERROR.\n")
	rows := make([]int, 0, len(r.Notes))
	for row := range r.Notes {
		rows = append(rows, row)
	}
	sort.Ints(rows)
	if len(rows) > 0 {
		sb.WriteString("\n## Notes\n")
	}
	for _, row := range rows {
		fmt.Fprintf(&sb, "\n**Row %d.**\n", row)
		for _, n := range r.Notes[row] {
			fmt.Fprintf(&sb, "- %s\n", n)
		}
	}
	return sb.String()
}

func rowList(rows map[int]bool) string {
	var s []string
	for i := 1; i <= 9; i++ {
		if rows[i] {
			s = append(s, strconv.Itoa(i))
		}
	}
	return strings.Join(s, ",")
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPU    string
	NProc  int
	Memory string
	OS     string
	Go     string
}

func machineInfo() Machine {
	m := Machine{CPU: "unknown", NProc: runtime.NumCPU(), Memory: "unknown", OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if out, err := exec.Command("nproc").Output(); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil {
			m.NProc = n
		}
	}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.CPU = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		if f := strings.Fields(v); len(f) == 2 && f[1] == "kB" {
			if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				v = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
		m.Memory = v
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.OS += ", Linux " + strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		m.Go = strings.TrimPrefix(strings.TrimSpace(string(out)), "go version ")
	}
	return m
}

// procField is the first "key: value" of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}

// loadAvg is the 1, 5 and 15 minute load averages, "unknown" off Linux.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

// loadHigh reports whether the 1-minute load average exceeds the CPUs.
func loadHigh(load string, cpus int) bool {
	first, _, _ := strings.Cut(load, ",")
	v, err := strconv.ParseFloat(first, 64)
	return err == nil && v > float64(cpus)
}
