// Command baregotd is the bench's ceiling for row 1: the least a gotd client
// can do to send one message to each of N sandbox friends, C sends in flight
// at once. No journal, no engine, no rate limiter, no peer cache on disk: a
// bot login, then errgroup workers calling contacts.resolveUsername and
// messages.sendMessage. The bench runs it as a subprocess against the same
// sandbox, at the same latency and concurrency, as the broadcast binary, so
// that the two differ only in what broadcast adds.
//
//	baregotd -addr 127.0.0.1:PORT -key server.pem -n 1000 -c 64 -mode cached
//
// -mode cached resolves every friend first (not timed) and times the sends
// alone; -mode first times resolve + send per recipient. It prints one JSON
// object: {"mode":…,"sent":N,"resolves":N,"duration_ms":…,"duration_us":…}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"
	"golang.org/x/sync/errgroup"
)

func main() {
	var (
		addr  = flag.String("addr", "", "sandbox HOST:PORT")
		key   = flag.String("key", "", "sandbox public key, PEM file")
		dc    = flag.Int("dc", 2, "sandbox DC id")
		token = flag.String("token", os.Getenv("BAREGOTD_BOT_TOKEN"), "bot token (default $BAREGOTD_BOT_TOKEN)")
		appID = flag.Int("app-id", telegram.TestAppID, "api_id")
		hash  = flag.String("app-hash", telegram.TestAppHash, "api_hash")
		n     = flag.Int("n", 100, "recipients: @friend1 … @friendN")
		c     = flag.Int("c", 8, "sends in flight at once")
		mode  = flag.String("mode", "cached", "cached: time the sends to peers resolved beforehand; first: time resolve + send")
		text  = flag.String("text", "bare gotd", "message text")
	)
	flag.Parse()
	if err := run(*addr, *key, *dc, *token, *appID, *hash, *n, *c, *mode, *text); err != nil {
		fmt.Fprintln(os.Stderr, "baregotd:", err)
		os.Exit(1)
	}
}

type report struct {
	Mode       string `json:"mode"`
	Sent       int    `json:"sent"`
	Resolves   int    `json:"resolves"`
	DurationMS int64  `json:"duration_ms"`
	DurationUS int64  `json:"duration_us"`
}

func run(addr, keyFile string, dc int, token string, appID int, appHash string, n, conc int, mode, text string) error {
	if mode != "cached" && mode != "first" {
		return fmt.Errorf("-mode %q: want cached or first", mode)
	}
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	keys, err := crypto.ParseRSAPublicKeys(pem)
	if err != nil {
		return err
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return err
	}
	opts := telegram.Options{NoUpdates: true, DC: dc,
		DCList: dcs.List{Options: []tg.DCOption{{ID: dc, IPAddress: host, Port: port}}}}
	for _, k := range keys {
		opts.PublicKeys = append(opts.PublicKeys, telegram.PublicKey{RSA: k})
	}
	client := telegram.NewClient(appID, appHash, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var rep report
	err = client.Run(ctx, func(ctx context.Context) error {
		if _, err := client.Auth().Bot(ctx, token); err != nil {
			return fmt.Errorf("bot login: %w", err)
		}
		api := client.API()
		peers := make([]tg.InputPeerClass, n)
		var resolves atomic.Int64
		resolve := func(ctx context.Context, i int) error {
			res, err := api.ContactsResolveUsername(ctx, &tg.ContactsResolveUsernameRequest{Username: "friend" + strconv.Itoa(i+1)})
			if err != nil {
				return err
			}
			resolves.Add(1)
			for _, u := range res.Users {
				if u, ok := u.(*tg.User); ok {
					peers[i] = &tg.InputPeerUser{UserID: u.ID, AccessHash: u.AccessHash}
					return nil
				}
			}
			return errors.New("no user in the answer")
		}
		send := func(ctx context.Context, i int) error {
			// Like broadcast, a random_id of its own (never 0) rather than
			// gotd's message builder.
			_, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{
				Peer: peers[i], Message: text, RandomID: rand.Int64N(math.MaxInt64-1) + 1})
			return err
		}
		each := func(f func(context.Context, int) error) error {
			g, ctx := errgroup.WithContext(ctx)
			g.SetLimit(conc)
			for i := range n {
				g.Go(func() error { return f(ctx, i) })
			}
			return g.Wait()
		}
		var start time.Time
		if mode == "cached" {
			if err := each(resolve); err != nil {
				return fmt.Errorf("resolve: %w", err)
			}
			resolves.Store(0) // untimed
			start = time.Now()
			err = each(send)
		} else {
			start = time.Now()
			err = each(func(ctx context.Context, i int) error {
				if err := resolve(ctx, i); err != nil {
					return err
				}
				return send(ctx, i)
			})
		}
		took := time.Since(start)
		if err != nil {
			return err
		}
		rep = report{Mode: mode, Sent: n, Resolves: int(resolves.Load()), DurationMS: took.Milliseconds(), DurationUS: took.Microseconds()}
		return nil
	})
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}
