package main

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
)

// row8: after sending. A retract packs 100 message ids into each
// messages.deleteMessages, so N recipients need ceil(N/100) calls, C of them
// in flight: ideal ceil(ceil(N/100)/C)·L. An edit is one messages.editMessage
// per recipient, paced like a send with cached peers: ideal ceil(N/C)·L.
func (b *bencher) row8(ctx context.Context) error {
	n, lat, conc := 1000, 50*time.Millisecond, 64
	if b.cfg.Quick {
		n = 100
	}
	for _, action := range []string{"edit", "retract"} {
		config := fmt.Sprintf("%s, latency %s, N=%d, C=%d", action, secs(lat), n, conc)
		e, err := b.newEnv(ctx, sandbox.Options{Users: n, Latency: lat})
		if err != nil {
			return err
		}
		file, err := e.recipients(n)
		if err != nil {
			e.close()
			return err
		}
		// Unmeasured: the broadcast to act on.
		_, problem, err := e.send(ctx, b.allowance(time.Duration(2*math.Ceil(float64(n)/64))*lat), n,
			"--rate", "0", "--concurrency", "64", "--to-file", file, "I bought a car!")
		if err != nil || problem != "" {
			e.close()
			if err != nil {
				return err
			}
			b.errorLine(8, config, "time", "", "the broadcast: "+problem)
			continue
		}
		calls, method, done := n, "messages.editMessage", "edited"
		args := []string{action, "--json", "--rate", "0", "--concurrency", strconv.Itoa(conc)}
		if action == "retract" {
			calls, method, done = int(math.Ceil(float64(n)/100)), "messages.deleteMessages", "retracted"
			args = append(args, "--yes")
		} else {
			args = append(args, "I bought a boat!")
		}
		ideal := time.Duration(math.Ceil(float64(calls)/float64(conc))) * lat
		before := e.srv.CallCounts()
		res, err := e.run(ctx, b.allowance(ideal), nil, args...)
		after := e.srv.CallCounts()
		e.close()
		if err != nil {
			return err
		}
		made := after[method] - before[method]
		switch {
		case res.Hung > 0 || res.Exit != 0 || res.Summary == nil:
			b.errorLine(8, config, "time", "", fmt.Sprintf("ERROR: exit %d: %s", res.Exit, oneLine(tail(res.Stderr, 3))))
			continue
		case res.Lines[done] != n:
			b.errorLine(8, config, "time", "", fmt.Sprintf("ERROR: %d of %d %s", res.Lines[done], n, done))
			continue
		}
		engine := time.Duration(res.Summary.DurationMS) * time.Millisecond
		b.rep.add(Line{Row: 8, Config: config, Metric: "time", Measured: secs(res.Wall), Ideal: secs(ideal),
			Ratio: fmt.Sprintf("%.2f", efficiency(ideal, res.Wall)),
			Note:  fmt.Sprintf("engine %s, %.2f of ideal; %d %s calls (ideal %d)%s", secs(engine), efficiency(ideal, engine), made, method, calls, warnings(res))})
	}
	b.rep.note(8, "After sending: `broadcast edit` and `broadcast retract --yes` of a broadcast just sent (unmeasured) to N recipients. "+
		"Ideal: an edit is one messages.editMessage per recipient, ceil(N/C) × L as a send with cached peers; a retract packs up to 100 ids "+
		"into each messages.deleteMessages, ceil(N/100) calls, ceil(calls/C) × L. Both also read help.getConfig (one more L) for "+
		"Telegram's time limits before the first call; the ideal leaves it out, as row 1 leaves out connecting.")
	return nil
}
