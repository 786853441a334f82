package main

import (
	"crypto/rand"
	"crypto/rsa"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/broadcast-cli/broadcast/internal/sandbox"
	"github.com/broadcast-cli/broadcast/internal/store"
)

// tester is what the helpers below need of a test: a *testing.T, or a
// script through scriptT.
type tester interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// scriptT lets a testscript command use the helpers: a failure fails the
// script, and cleanups run when it ends.
type scriptT struct{ ts *testscript.TestScript }

func (s scriptT) Helper()                           {}
func (s scriptT) Fatalf(format string, args ...any) { s.ts.Fatalf(format, args...) }
func (s scriptT) Cleanup(f func())                  { s.ts.Defer(f) }

var (
	sharedKeyOnce sync.Once
	sharedKey     *rsa.PrivateKey
	sharedKeyErr  error
)

// sharedRSAKey is the one RSA key of the tests' sandboxes: generating a
// 2048-bit key per test would dominate the suite's time.
func sharedRSAKey() (*rsa.PrivateKey, error) {
	sharedKeyOnce.Do(func() { sharedKey, sharedKeyErr = rsa.GenerateKey(rand.Reader, 2048) })
	return sharedKey, sharedKeyErr
}

// startSandbox starts a sandbox server for a test (see launchSandbox),
// writes its key and a config pointing at it into dir, and returns it with
// the environment that points broadcast at dir (sandboxEnv).
func startSandbox(tb tester, opts sandbox.Options, dir string) (*sandbox.Server, []string) {
	tb.Helper()
	srv, err := launchSandbox(tb, opts)
	if err != nil {
		tb.Fatalf("start the sandbox: %v", err)
	}
	if _, err := srv.WriteConfig(dir); err != nil {
		tb.Fatalf("write the sandbox's key and config: %v", err)
	}
	return srv, sandboxEnv(dir)
}

// launchSandbox starts a sandbox server, with the shared test key unless
// opts has its own, and closes it when the test ends. It writes no files:
// startSandbox does, and a server started again under a running broadcast
// must leave the ones that broadcast read alone.
func launchSandbox(tb tester, opts sandbox.Options) (*sandbox.Server, error) {
	if opts.Key == nil {
		key, err := sharedRSAKey()
		if err != nil {
			return nil, err
		}
		opts.Key = key
	}
	srv, err := sandbox.Start(opts)
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() { srv.Close() })
	return srv, nil
}

// sandboxEnv points broadcast at the config a sandbox wrote into dir
// (sandbox.Server.WriteConfig, or `broadcast sandbox --dir`), at a state
// dir beside it, and at no proxy (not the tester's own).
func sandboxEnv(dir string) []string {
	return []string{
		"BROADCAST_CONFIG=" + filepath.Join(dir, "config.yaml"),
		"BROADCAST_STATE_DIR=" + filepath.Join(dir, "state"),
		"BROADCAST_PROXY=",
	}
}

// openState opens the state database of e's state dir, waiting up to 5s
// for a broadcast that still holds it. Close it before running broadcast
// again; what is left open is closed when the test ends.
func (e *e2e) openState(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(e.dir, "state"), store.Options{LockTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
