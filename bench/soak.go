package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// row7: the soak. Consecutive broadcasts through lost, acknowledged answers
// (which gotd cannot resend by itself) and a server-enforced rate: every
// recipient must hold exactly one copy of every broadcast.
func (b *bencher) row7(ctx context.Context) error {
	runs, n := 20, 500
	if b.cfg.Quick {
		runs, n = 3, 100
	}
	const drop, rate = 0.1, 100.0
	config := fmt.Sprintf("%d broadcasts × %d recipients, %.0f%% of answers lost after an ack, server rate %.0f/s, --rate %.0f", runs, n, drop*100, rate, rate)
	e, err := b.newEnv(ctx, sandbox.Options{Users: n, DropAnswer: drop, AckBeforeDrop: true, SendRate: rate, Seed: 7})
	if err != nil {
		return err
	}
	defer e.close()
	file, err := e.recipients(n)
	if err != nil {
		return err
	}
	var (
		dups, losses, failedRuns int
		took                     time.Duration
		ideal                    = time.Duration(float64(runs*n) / rate * float64(time.Second))
	)
	for i := 1; i <= runs; i++ {
		text := "soak " + strconv.Itoa(i)
		res, err := e.run(ctx, b.allowance(time.Duration(float64(n)/rate*float64(time.Second))), nil,
			"send", "--json", "--rate", strconv.FormatFloat(rate, 'f', -1, 64), "--concurrency", "16", "--to-file", file, text)
		if err != nil {
			return err
		}
		took += res.Wall
		if res.Exit != 0 || res.Hung > 0 {
			failedRuns++
		}
		for f := 1; f <= n; f++ {
			copies := 0
			for _, m := range e.srv.Inbox("friend" + strconv.Itoa(f)) {
				if m.Text == text {
					copies++
				}
			}
			switch {
			case copies == 0:
				losses++
			case copies > 1:
				dups += copies - 1
			}
		}
	}
	b.rep.add(Line{Row: 7, Config: config, Metric: "duplicates", Measured: strconv.Itoa(dups), Ideal: "0", Goal: "0", Met: met(dups == 0)})
	b.rep.add(Line{Row: 7, Config: config, Metric: "losses", Measured: strconv.Itoa(losses), Ideal: "0", Goal: "0", Met: met(losses == 0)})
	b.rep.add(Line{Row: 7, Config: config, Metric: "runs that did not exit 0", Measured: strconv.Itoa(failedRuns), Ideal: "0", Goal: "0", Met: met(failedRuns == 0)})
	b.rep.add(Line{Row: 7, Config: config, Metric: "time", Measured: secs(took), Ideal: secs(ideal), Ratio: fmt.Sprintf("%.2f", efficiency(ideal, took)),
		Note: fmt.Sprintf("%d answers lost, %d FLOOD_WAITs", e.srv.DroppedAnswers(), e.srv.FloodWaits())})
	b.rep.note(7, "Each broadcast is a new message to the same list; after each one every inbox is read and the copies of that message counted. "+
		"A lost answer here is acknowledged first, so gotd returns an error and only the tool's retry with the same random_id completes the send. "+
		"Ideal time = broadcasts × N / server rate.")
	return nil
}
