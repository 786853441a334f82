package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
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

// loadGlobals resolves the global options of one invocation.
func loadGlobals(c *cli.Context, ios *streams) (*globals, error) {
	g := &globals{
		io:      ios,
		json:    flagBool(c, "json"),
		quiet:   flagBool(c, "quiet"),
		verbose: flagBool(c, "verbose") || flagBool(c, "vv"),
	}
	g.log = newLogger(ios, g.verbose, g.quiet)
	g.gotdLog = gotdLogger(ios, flagBool(c, "vv"))

	cfgPath, explicit := str(c, "config", ios.getenv("BROADCAST_CONFIG")), true
	if cfgPath == "" {
		cfgPath, explicit = config.DefaultPath(ios.getenv), false
	}
	cfg, err := config.Load(cfgPath, explicit)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usagef("check --config or BROADCAST_CONFIG", "config file %s does not exist", cfgPath)
		}
		return nil, err
	}
	g.cfg = cfg

	g.stateDir = str(c, "state-dir", ios.getenv("BROADCAST_STATE_DIR"))
	if g.stateDir == "" {
		g.stateDir = defaultStateDir(ios.getenv)
	}
	if g.stateDir == "" {
		return nil, usagef("set --state-dir or BROADCAST_STATE_DIR", "cannot find a state directory: neither XDG_STATE_HOME nor HOME is set")
	}

	if g.apiID, err = intOpt(c, "api-id", ios.getenv("BROADCAST_API_ID"), "BROADCAST_API_ID", cfg.APIID); err != nil {
		return nil, err
	}
	g.apiHash = str(c, "api-hash", ios.getenv("BROADCAST_API_HASH"))
	if g.apiHash == "" {
		g.apiHash = cfg.APIHash
	}

	g.server = str(c, "server", ios.getenv("BROADCAST_SERVER"))
	g.keyFile = str(c, "server-key", ios.getenv("BROADCAST_SERVER_KEY"))
	if g.dc, err = intOpt(c, "dc", ios.getenv("BROADCAST_DC"), "BROADCAST_DC", 0); err != nil {
		return nil, err
	}
	if g.server == "" && cfg.Server.Address != "" {
		g.server = cfg.Server.Address
		if g.keyFile == "" {
			g.keyFile = cfg.Server.KeyFile
		}
		if g.dc == 0 {
			g.dc = cfg.Server.DC
		}
	}
	g.testDC = flagBool(c, "test-dc") || truthy(ios.getenv("BROADCAST_TEST_DC"))
	g.timeout = telegram.DefaultConnectTimeout
	if d, set := durationFlag(c, "timeout"); set {
		g.timeout = d
	} else if v := ios.getenv("BROADCAST_TIMEOUT"); v != "" {
		if g.timeout, err = time.ParseDuration(v); err != nil {
			return nil, usagef("", "BROADCAST_TIMEOUT=%q is not a duration like 30s", v)
		}
	}
	g.reconnectWait = telegram.DefaultReconnectWait
	if d, set := durationFlag(c, "reconnect-wait"); set {
		g.reconnectWait = d
	} else if v := ios.getenv("BROADCAST_RECONNECT_WAIT"); v != "" {
		if g.reconnectWait, err = time.ParseDuration(v); err != nil {
			return nil, usagef("", "BROADCAST_RECONNECT_WAIT=%q is not a duration like 5m", v)
		}
	}
	if g.reconnectWait <= 0 {
		return nil, usagef("e.g. --reconnect-wait 5m", "--reconnect-wait must be more than zero, got %s", g.reconnectWait)
	}
	if g.timeout <= 0 {
		return nil, usagef("e.g. --timeout 30s", "--timeout must be more than zero, got %s", g.timeout)
	}
	if raw := str(c, "proxy", ios.getenv("BROADCAST_PROXY")); raw != "" {
		if g.proxy, err = telegram.ParseProxy(raw); err != nil {
			return nil, err
		}
	}
	if g.server != "" {
		if g.keyFile == "" {
			return nil, usagef("give the server's public key with --server-key FILE (BROADCAST_SERVER_KEY)", "--server %s needs its RSA public key", g.server)
		}
		if g.serverKey, err = os.ReadFile(g.keyFile); err != nil {
			return nil, usagef("--server-key must name a readable PEM file", "read server key: %v", err)
		}
	}
	return g, nil
}

func str(c *cli.Context, flag, env string) string {
	for _, cc := range c.Lineage() {
		if cc.IsSet(flag) {
			return cc.String(flag)
		}
	}
	return env
}

// durationFlag reads a duration flag given before or after the command name.
func durationFlag(c *cli.Context, flag string) (time.Duration, bool) {
	for _, cc := range c.Lineage() {
		if cc.IsSet(flag) {
			return cc.Duration(flag), true
		}
	}
	return 0, false
}

func intOpt(c *cli.Context, flag, env, envName string, fallback int) (int, error) {
	for _, cc := range c.Lineage() {
		if cc.IsSet(flag) {
			return cc.Int(flag), nil
		}
	}
	if env != "" {
		n, err := strconv.Atoi(env)
		if err != nil {
			return 0, usagef("", "%s=%q is not a number", envName, env)
		}
		return n, nil
	}
	return fallback, nil
}

func truthy(s string) bool {
	b, _ := strconv.ParseBool(s)
	return b
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
		ConnectTimeout: g.timeout,
		ReconnectWait:  g.reconnectWait,
	}
}
