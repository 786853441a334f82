package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/broadcast-cli/broadcast/internal/config"
	"github.com/broadcast-cli/broadcast/internal/store"
	"github.com/broadcast-cli/broadcast/internal/telegram"
)

// globals are the global options after flag > env > config > default.
type globals struct {
	io  *streams
	cfg *config.Config

	stateDir  string
	apiID     int
	apiHash   string
	server    string
	serverKey []byte // PEM, read from the key file
	keyFile   string
	dc        int
	testDC    bool
	timeout   time.Duration
	// reconnectWait: how long a run waits for a lost connection.
	reconnectWait time.Duration
	proxy         *telegram.Proxy // nil: connect directly

	json, quiet, verbose bool
	log                  *slog.Logger // the tool's own decisions (-v)
	gotdLog              *slog.Logger // gotd's protocol log (-vv)
}

// loadGlobals resolves the global options of one invocation: flag >
// environment > config > default.
func loadGlobals(c *cli.Context, ios *streams) (*globals, error) {
	g := &globals{
		io:      ios,
		json:    flagBool(c, "json"),
		quiet:   flagBool(c, "quiet"),
		verbose: flagBool(c, "verbose") || flagBool(c, "vv"),
	}
	g.log = newLogger(ios, g.verbose, g.quiet)
	g.gotdLog = gotdLogger(ios, flagBool(c, "vv"))
	s := settings{c: c, getenv: ios.getenv}
	for _, load := range []func(settings) error{g.loadConfig, g.loadStateDir, g.loadServer, g.loadConnection} {
		if err := load(s); err != nil {
			return nil, err
		}
	}
	return g, nil
}

func (g *globals) loadConfig(s settings) error {
	path, explicit := s.text("config", ""), true
	if path == "" {
		path, explicit = config.DefaultPath(g.io.getenv), false
	}
	cfg, err := config.Load(path, explicit)
	if errors.Is(err, fs.ErrNotExist) {
		return usagef("check --config or BROADCAST_CONFIG", "config file %s does not exist", path)
	}
	g.cfg = cfg
	return err
}

func (g *globals) loadStateDir(s settings) error {
	g.stateDir = s.text("state-dir", defaultStateDir(g.io.getenv))
	if g.stateDir == "" {
		return usagef("set --state-dir or BROADCAST_STATE_DIR", "cannot find a state directory: neither XDG_STATE_HOME nor HOME is set")
	}
	return nil
}

// loadServer: the credentials and which server, with its key.
func (g *globals) loadServer(s settings) error {
	var err error
	if g.apiID, err = s.integer("api-id", g.cfg.APIID); err != nil {
		return err
	}
	g.apiHash = s.text("api-hash", g.cfg.APIHash)
	g.server = s.text("server", g.cfg.Server.Address)
	fromConfig := g.server == g.cfg.Server.Address // the key and DC go with the server
	keyDefault, dcDefault := "", 0
	if fromConfig {
		keyDefault, dcDefault = g.cfg.Server.KeyFile, g.cfg.Server.DC
	}
	g.keyFile = s.text("server-key", keyDefault)
	if g.dc, err = s.integer("dc", dcDefault); err != nil {
		return err
	}
	g.testDC = s.boolean("test-dc")
	if g.server == "" {
		return nil
	}
	if g.keyFile == "" {
		return usagef("give the server's public key with --server-key FILE (BROADCAST_SERVER_KEY)", "--server %s needs its RSA public key", g.server)
	}
	if g.serverKey, err = os.ReadFile(g.keyFile); err != nil {
		return usagef("--server-key must name a readable PEM file", "read server key: %v", err)
	}
	return nil
}

// loadConnection: timeouts and the proxy.
func (g *globals) loadConnection(s settings) error {
	var err error
	if g.timeout, err = s.duration("timeout", telegram.DefaultConnectTimeout); err != nil {
		return err
	}
	if g.reconnectWait, err = s.duration("reconnect-wait", telegram.DefaultReconnectWait); err != nil {
		return err
	}
	if raw := s.text("proxy", ""); raw != "" {
		g.proxy, err = telegram.ParseProxy(raw)
	}
	return err
}

func defaultStateDir(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "broadcast")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "broadcast")
	}
	return ""
}

// openStore opens the state database, failing fast if another process has it.
func (g *globals) openStore() (*store.Store, error) {
	return store.Open(g.stateDir, store.Options{})
}

// openStoreForRead opens the state for a command that only reads it: while
// a broadcast runs (and holds the database), it reads a live copy that the
// running process serves.
func (g *globals) openStoreForRead() (*store.Store, error) {
	return store.OpenForRead(g.stateDir, store.Options{})
}

// openStoreWaiting opens the state database; if another run holds it and
// wait is set (send --wait), it says so on stderr and waits up to wait for
// it, returning at once on a signal.
func (g *globals) openStoreWaiting(ctx context.Context, wait time.Duration) (*store.Store, error) {
	st, err := g.openStore()
	var locked *store.LockedError
	if wait <= 0 || !errors.As(err, &locked) {
		return st, err
	}
	if !g.quiet {
		fmt.Fprintf(g.io.err, "broadcast: %v; waiting for it to finish\n", locked)
	}
	type opened struct {
		st  *store.Store
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		st, err := store.Open(g.stateDir, store.Options{LockTimeout: wait})
		ch <- opened{st, err}
	}()
	select {
	case r := <-ch:
		return r.st, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.st != nil {
				r.st.Close()
			}
		}()
		return nil, context.Cause(ctx)
	}
}

// account is the logged-in account, known without a network call.
func (g *globals) account(st *store.Store) (store.Account, error) {
	a, err := st.LoadAccount()
	if errors.Is(err, store.ErrNotFound) {
		return store.Account{}, fmt.Errorf("%w (state dir %s)", telegram.ErrNotLoggedIn, g.stateDir)
	}
	return a, err
}

// loggedIn is what every command that talks to Telegram as the account needs
// first: the state database, a logged-in account (exit 4 otherwise, with no
// network call) and the client. The caller closes the store.
func (g *globals) loggedIn() (*store.Store, store.Account, *telegram.Client, error) {
	st, err := g.openStore()
	if err != nil {
		return nil, store.Account{}, nil, err
	}
	a, err := g.account(st)
	if err != nil {
		st.Close()
		return nil, store.Account{}, nil, err
	}
	c, err := g.client(st)
	if err != nil {
		st.Close()
		return nil, store.Account{}, nil, err
	}
	return st, a, c, nil
}

// client builds the Telegram client for this invocation.
func (g *globals) client(st *store.Store) (*telegram.Client, error) {
	opts := g.clientOptions()
	opts.Store = st
	return telegram.New(opts)
}

// sendingClient is the client of a run that sends: a lost connection is
// announced on stderr, never a silent stall.
func (g *globals) sendingClient(st *store.Store) (*telegram.Client, error) {
	opts := g.clientOptions()
	opts.Store = st
	opts.OnConnection = func(up bool) {
		if up {
			fmt.Fprintln(g.io.err, "broadcast: the connection is back; sending again")
			return
		}
		fmt.Fprintf(g.io.err, "broadcast: lost the connection to %s; sends are paused while it reconnects (up to %s)\n",
			telegram.Options{Server: g.server, TestDC: g.testDC}.ServerName(), fmtDuration(g.reconnectWait))
	}
	return telegram.New(opts)
}

// clientOptions are the client's options without a store.
func (g *globals) clientOptions() telegram.Options {
	return telegram.Options{
		APIID:          g.apiID,
		APIHash:        g.apiHash,
		Server:         g.server,
		ServerKeys:     g.serverKey,
		DC:             g.dc,
		TestDC:         g.testDC,
		Dial:           g.proxy.Dial(),     // SOCKS5
		Resolver:       g.proxy.Resolver(), // MTProxy
		Logger:         g.gotdLog,
		Decisions:      g.log,
		ConnectTimeout: g.timeout,
		ReconnectWait:  g.reconnectWait,
	}
}
