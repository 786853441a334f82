package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// wallGoal: a run that must learn the server's rate takes at most this
// factor of the (N − R) / R the sandbox's full bucket allows.
const wallGoal = 1.05

// maxFloods is the most FLOOD_WAIT answers a run that learns the rate may
// receive: one wall, met once.
const maxFloods = 2

// row2: rate-bound. The sandbox answers FLOOD_WAIT above R sends a second;
// with --rate 0 the tool is not told R and must learn it from the first
// wall, then keep under it.
func (b *bencher) row2(ctx context.Context) error {
	n := 500
	if b.cfg.Quick {
		n = 200
	}
	type rcase struct {
		rate  float64
		label string
		args  []string
		goal  bool
	}
	cases := []rcase{
		{20, "--rate 0 (the tool is not told the rate)", []string{"--rate", "0"}, true},
		{50, "--rate 0 (the tool is not told the rate)", []string{"--rate", "0"}, true},
		{100, "--rate 0 (the tool is not told the rate)", []string{"--rate", "0"}, true},
		{50, "--rate 50 (the user sets the known rate)", []string{"--rate", "50"}, true},
	}
	if b.cfg.Quick {
		cases = cases[1:3]
	} else {
		cases = append(cases, rcase{50, "no --rate (the bot default, 25/s)", nil, false})
	}
	for _, cs := range cases {
		if err := b.row2Case(ctx, n, cs.rate, cs.label, cs.args, cs.goal); err != nil {
			return err
		}
	}
	b.rep.note(2, "How the tool keeps to one wall without being told R (internal/fanout): it counts the sends the server took that started before the first "+
		"flood wait, over the time from the run's start to that wall plus the wait asked for (the server refills during the wait), and from the gate's "+
		"reopening paces at 0.99 of that, letting the sends the wait refilled go at once. At the wall itself only the requests already on the wire earn "+
		"a flood wait too: the engine lets onto the wire only as many as the workers need by Little's law (their share of time on the wire; here the "+
		"journal's commits take most of a send's time, so 2 of 8), and a flood wait closes the gate before its slot is free (internal/fanout/wire.go). "+
		"With no rate given, a learned rate is raised by half after 30 s without a flood wait, so a server that raises its limit is found again "+
		"(TestRaisedLimitIsFoundAgain); these runs end before that.")
	b.rep.note(2, "Ideal = (N − R) / R: the sandbox's bucket starts full with one second's worth (R sends) and refills at R a second, "+
		"so R sends go at once and the other N − R take (N − R) / R. FLOOD_WAIT answers are counted by the sandbox (srv.FloodWaits()); "+
		"it answers FLOOD_WAIT_X with X rounded up to whole seconds, at least 1. Time is the whole process, from exec to exit. Flags: --json --concurrency 8 --to-file F.")
	return nil
}

func (b *bencher) row2Case(ctx context.Context, n int, rate float64, label string, extra []string, withGoal bool) error {
	config := fmt.Sprintf("server rate %g/s, N=%d, C=8, %s", rate, n, label)
	ideal := time.Duration(float64(n-int(rate)) / rate * float64(time.Second))
	e, err := b.newEnv(ctx, sandbox.Options{Users: n, SendRate: rate})
	if err != nil {
		return err
	}
	defer e.close()
	file, err := e.recipients(n)
	if err != nil {
		return err
	}
	fw0 := e.srv.FloodWaits()
	args := append(append([]string{}, extra...), "--concurrency", "8", "--to-file", file, "rate-bound")
	res, problem, err := e.send(ctx, b.allowance(ideal)+10*time.Second, n, args...)
	if err != nil {
		return err
	}
	floods := e.srv.FloodWaits() - fw0
	goal, floodGoal := "", "fewer is better"
	if withGoal {
		goal, floodGoal = fmt.Sprintf("≤ %.2f × ideal", wallGoal), fmt.Sprintf("≤ %d", maxFloods)
	}
	if problem != "" {
		b.errorLine(2, config, "time", goal, problem)
		return nil
	}
	ratio := float64(res.Wall) / float64(ideal)
	l := Line{Row: 2, Config: config, Metric: "time", Measured: secs(res.Wall), Ideal: secs(ideal),
		Ratio: fmt.Sprintf("%.2f", efficiency(ideal, res.Wall)), Goal: goal}
	l.Note = fmt.Sprintf("%.3f × ideal; engine %s", ratio, secs(time.Duration(res.Summary.DurationMS)*time.Millisecond))
	if withGoal {
		l.Met = met(ratio <= wallGoal)
	} else {
		l.Note += "; no goal: the default is deliberately below this server's rate"
	}
	b.rep.add(l)
	note := fmt.Sprintf("%d waits announced on stderr", strings.Count(string(res.Stderr), "flood wait"))
	fl := Line{Row: 2, Config: config, Metric: "FLOOD_WAIT answers received", Measured: strconv.Itoa(floods), Ideal: "0",
		Goal: floodGoal, Note: note}
	if withGoal {
		fl.Met = met(floods <= maxFloods)
	}
	b.rep.add(fl)
	return nil
}
