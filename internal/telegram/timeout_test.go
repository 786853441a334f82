package telegram

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// garbageServers are servers that never complete an MTProto handshake.
var garbageServers = map[string]func(net.Conn, <-chan struct{}){
	// Accepts and says nothing.
	"silent": func(c net.Conn, done <-chan struct{}) { <-done },
	// Accepts and hangs up at once.
	"closes": func(c net.Conn, done <-chan struct{}) {},
	// Reads what comes, hangs up.
	"hangs up after reading": func(c net.Conn, done <-chan struct{}) {
		buf := make([]byte, 64)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		c.Read(buf)
	},
	// Writes random bytes, then nothing.
	"garbage": func(c net.Conn, done <-chan struct{}) {
		junk := make([]byte, 4096)
		rand.Read(junk)
		c.Write(junk)
		<-done
	},
	// Writes random bytes without end.
	"garbage stream": func(c net.Conn, done <-chan struct{}) {
		junk := make([]byte, 1024)
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			rand.Read(junk)
			c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write(junk); err != nil {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					return
				}
			}
		}
	},
}

// startGarbageServer listens on 127.0.0.1 and serves every connection with
// serve until the test ends.
func startGarbageServer(t *testing.T, serve func(net.Conn, <-chan struct{})) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c, done)
			}()
		}
	}()
	t.Cleanup(func() {
		close(done)
		l.Close()
		wg.Wait()
	})
	return l.Addr().String()
}

func testServerKey(t *testing.T) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&key.PublicKey)})
}

// Against a server that never completes the handshake, Run ends with a
// ConnectError soon after ConnectTimeout, whatever the server does.
func TestConnectTimeoutIsHard(t *testing.T) {
	timeout := connectTestTimeout(t)
	pemKey := testServerKey(t)
	for name, serve := range garbageServers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			addr := startGarbageServer(t, serve)
			st, err := store.Open(filepath.Join(t.TempDir(), "state"), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			c, err := New(Options{APIID: 1, APIHash: "x", Server: addr, ServerKeys: pemKey, Store: st, ConnectTimeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = c.Run(context.Background(), func(context.Context) error {
				t.Error("connected to a server that never answers")
				return nil
			})
			took := time.Since(start)
			t.Logf("%s: Run returned after %s: %v", name, took.Round(time.Millisecond), err)
			var ce *ConnectError
			if !errors.As(err, &ce) {
				t.Fatalf("Run: %v, want a ConnectError", err)
			}
			if took > timeout+3*time.Second {
				t.Errorf("gave up after %s with a %s timeout", took, timeout)
			}
		})
	}
}

// connectTestTimeout is 1.5 s, or BROADCAST_TEST_CONNECT_TIMEOUT to measure
// with a real one (say 10s): go test -v -run TestConnectTimeoutIsHard.
func connectTestTimeout(t *testing.T) time.Duration {
	if v := os.Getenv("BROADCAST_TEST_CONNECT_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	return 1500 * time.Millisecond
}

func TestConnectTimeoutOption(t *testing.T) {
	pemKey := testServerKey(t)
	opts := Options{APIID: 1, APIHash: "x", Server: "127.0.0.1:1", ServerKeys: pemKey}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if c.opts.ConnectTimeout != DefaultConnectTimeout {
		t.Errorf("zero ConnectTimeout became %s, want %s", c.opts.ConnectTimeout, DefaultConnectTimeout)
	}
	opts.ConnectTimeout = -time.Second
	if _, err := New(opts); !errors.Is(err, ErrNegativeTimeout) {
		t.Errorf("New with ConnectTimeout -1s: %v, want ErrNegativeTimeout", err)
	}
}

// The caller's context ends while connecting: Run returns its error at once,
// not a ConnectError, and the callback never starts.
func TestConnectCancelled(t *testing.T) {
	addr := startGarbageServer(t, garbageServers["closes"])
	st, err := store.Open(filepath.Join(t.TempDir(), "state"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := New(Options{APIID: 1, APIHash: "x", Server: addr, ServerKeys: testServerKey(t), Store: st, ConnectTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = c.Run(ctx, func(context.Context) error {
		t.Error("connected to a server that hangs up")
		return nil
	})
	took := time.Since(start)
	t.Logf("Run returned after %s: %v", took.Round(time.Millisecond), err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run: %v, want the context's error", err)
	}
	if took > 4*time.Second {
		t.Errorf("returned %s after a 1.2s context", took)
	}
}

// While connecting, the backoff waits itself and gives up at the deadline
// or when the phase ends; once connected its waits are gotd's own again.
func TestConnectBackoff(t *testing.T) {
	w := &connWatch{}
	w.arm(func() {}, time.Now().Add(300*time.Millisecond))
	b := w.newBackoff()
	start := time.Now()
	var d time.Duration
	for d != backoff.Stop {
		if d = b.NextBackOff(); d != 0 && d != backoff.Stop {
			t.Fatalf("NextBackOff = %s while connecting, want 0 or Stop", d)
		}
	}
	if took := time.Since(start); took < 250*time.Millisecond || took > 2*time.Second {
		t.Errorf("stopped after %s with 300ms left", took)
	}
	if d := b.NextBackOff(); d != backoff.Stop {
		t.Fatalf("NextBackOff = %s past the deadline, want Stop", d)
	}

	// Giving up ends a wait at once.
	w.arm(func() {}, time.Now().Add(time.Hour))
	long := &watchedBackoff{b: backoff.NewConstantBackOff(10 * time.Second), w: w}
	time.AfterFunc(100*time.Millisecond, func() { w.giveUp(phaseAbandoned) })
	start = time.Now()
	if d := long.NextBackOff(); d != backoff.Stop {
		t.Fatalf("NextBackOff = %s after giving up, want Stop", d)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("giving up ended the wait after %s", took)
	}

	w.arm(func() {}, time.Now().Add(time.Hour))
	if !w.connected() {
		t.Fatal("not connected")
	}
	w.giveUp(phaseTimedOut) // too late: no effect
	var longest time.Duration
	for range 20 {
		longest = max(longest, b.NextBackOff())
	}
	if longest < time.Second {
		t.Errorf("connected, the longest wait is %s: gotd's backoff is not back", longest)
	}
}

// A server that answers: the callback runs, and the connect timeout no
// longer applies once it has started.
func TestConnectTimeoutEndsWhenConnected(t *testing.T) {
	srv, err := sandbox.Start(sandbox.Options{Users: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	st, err := store.Open(filepath.Join(t.TempDir(), "state"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Generous: a key exchange under -race on a busy machine (CI runs every
	// package at once on two cores) has taken over 5 s.
	const timeout = 12 * time.Second
	c, err := New(Options{APIID: 1, APIHash: "x", Server: srv.Addr(), ServerKeys: srv.PublicKeyPEM(), Store: st, ConnectTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	start := time.Now()
	err = c.Run(context.Background(), func(ctx context.Context) error {
		ran = true
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(start.Add(timeout + 500*time.Millisecond))):
		}
		_, err := c.API().HelpGetConfig(ctx)
		return err
	})
	if err != nil || !ran {
		t.Fatalf("Run: %v (callback ran: %v)", err, ran)
	}
}
