package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/auth/qrlogin"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"

	"github.com/broadcast-cli/broadcast/internal/store"
)

// Options say which server to reach and how.
type Options struct {
	// APIID and APIHash are the application credentials from my.telegram.org.
	APIID   int
	APIHash string
	// Server is a custom MTProto server "host:port"; empty means Telegram.
	Server string
	// ServerKeys is the custom server's RSA public key(s), PEM.
	ServerKeys []byte
	// DC is the custom server's DC id; default 2.
	DC int
	// TestDC selects Telegram's own test servers.
	TestDC bool
	// Dial, when set, opens every connection (a proxy's dialer).
	Dial dcs.DialFunc
	// Resolver, when set, replaces the way connections to a DC are made
	// (an MTProxy's resolver: it reaches every DC through the proxy). It
	// takes precedence over Dial. See ParseProxy for both.
	Resolver dcs.Resolver
	// Store holds the session, account and peer cache.
	Store *store.Store
	// Logger receives gotd's logs.
	Logger *slog.Logger
	// Decisions, when set, receives the client's own choices at debug
	// level (a peer from the cache or the server), for -v.
	Decisions *slog.Logger
	// ConnectTimeout bounds the time to connect: from Run's start until the
	// server has answered the first request and the callback starts. Zero
	// means DefaultConnectTimeout; New refuses a negative one.
	ConnectTimeout time.Duration
	// ReconnectWait bounds how long Run's callback waits for a connection
	// lost after the first connect to come back before its context is
	// cancelled with a *ConnectionLostError; zero means
	// DefaultReconnectWait.
	ReconnectWait time.Duration
	// OnConnection, when set, hears that the connection was lost (false)
	// and is back (true), after the first connect, so the caller can say
	// so instead of stalling silently.
	OnConnection func(up bool)
	// QRLogin builds the client of a QR login (LoginQR): it subscribes to
	// updates to hear updateLoginToken. Other clients go without updates,
	// which saves a call on every run.
	QRLogin bool
}

// DefaultConnectTimeout is Options.ConnectTimeout when it is zero.
const DefaultConnectTimeout = 30 * time.Second

// shutdownGrace is how long Run waits, once connecting has failed, for gotd
// to shut down before it returns anyway (gotd then finishes on its own).
const shutdownGrace = 500 * time.Millisecond

// Errors a caller branches on.
var (
	// ErrNoCredentials: api_id or api_hash is missing.
	ErrNoCredentials = errors.New("api_id and api_hash are not set")
	// ErrNotLoggedIn: there is no session in the state dir.
	ErrNotLoggedIn = errors.New("not logged in")
	// ErrSessionRevoked: the server no longer accepts the saved session.
	ErrSessionRevoked = errors.New("the session is no longer valid")
	// ErrBadServerKey: the --server-key file holds no usable RSA public key.
	ErrBadServerKey = errors.New("no RSA public key found")
	// ErrNegativeTimeout: Options.ConnectTimeout is below zero.
	ErrNegativeTimeout = errors.New("the connect timeout is negative")
)

// ConnectError: the server could not be reached in time. Err is the last
// reason a connection failed, when one is known.
type ConnectError struct {
	Server  string
	Timeout time.Duration
	Err     error
}

func (e *ConnectError) Error() string {
	msg := fmt.Sprintf("could not connect to %s within %s", e.Server, e.Timeout)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Client is a gotd client bound to the state database.
type Client struct {
	opts   Options
	raw    *telegram.Client
	api    *tg.Client
	watch  *connWatch
	outage *outage
	// loggedIn hears updateLoginToken; nil unless Options.QRLogin.
	loggedIn qrlogin.LoggedIn
}

// New checks the options and builds the gotd client. It does not connect.
func New(opts Options) (*Client, error) {
	if opts.APIID == 0 || opts.APIHash == "" {
		return nil, ErrNoCredentials
	}
	switch {
	case opts.ConnectTimeout < 0:
		return nil, fmt.Errorf("%w: %s", ErrNegativeTimeout, opts.ConnectTimeout)
	case opts.ConnectTimeout == 0:
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	to := telegram.Options{
		Logger:         gotdLog(logger),
		SessionStorage: sessionStorage{st: opts.Store},
		NoUpdates:      true,
		Device: telegram.DeviceConfig{
			DeviceModel:   "broadcast",
			SystemVersion: "cli",
			AppVersion:    "1.0",
		},
		// A stalled server must not hold the process past ConnectTimeout:
		// gotd's key exchange and dial have their own clocks.
		DialTimeout:     min(10*time.Second, opts.ConnectTimeout),
		ExchangeTimeout: opts.ConnectTimeout,
	}
	switch {
	case opts.Server != "":
		dc := opts.DC
		if dc == 0 {
			dc = 2
		}
		host, portStr, err := net.SplitHostPort(opts.Server)
		if err != nil {
			return nil, fmt.Errorf("server address %q: %w", opts.Server, err)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil || port <= 0 || port > 65535 {
			return nil, fmt.Errorf("server address %q: bad port", opts.Server)
		}
		keys, err := crypto.ParseRSAPublicKeys(opts.ServerKeys)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadServerKey, err)
		}
		if len(keys) == 0 {
			return nil, ErrBadServerKey
		}
		for _, k := range keys {
			to.PublicKeys = append(to.PublicKeys, telegram.PublicKey{RSA: k})
		}
		to.DC = dc
		to.DCList = dcs.List{Options: []tg.DCOption{{ID: dc, IPAddress: host, Port: port}}}
		// A session homed on another DC must find its address before any
		// help.getConfig (dclist.go).
		to.DCList.Options = withSavedDCs(to.DCList.Options, opts.Store)
	case opts.TestDC:
		to.DC = 2
		to.DCList = dcs.Test()
	}
	to.Resolver = opts.Resolver
	if to.Resolver == nil {
		// With a nil Dial this is gotd's default resolver.
		to.Resolver = dcs.Plain(dcs.PlainOptions{Dial: opts.Dial})
	}
	watch := &connWatch{}
	to.Resolver = watchedResolver{r: to.Resolver, w: watch}
	to.ReconnectionBackoff = watch.newBackoff
	if opts.ReconnectWait <= 0 {
		opts.ReconnectWait = DefaultReconnectWait
	}
	out := &outage{wait: opts.ReconnectWait, notify: opts.OnConnection}
	to.OnConnectionState = out.state
	to.OnDead = out.dead
	var loggedIn qrlogin.LoggedIn
	if opts.QRLogin {
		d := tg.NewUpdateDispatcher()
		loggedIn = qrlogin.OnLoginToken(d)
		to.UpdateHandler, to.NoUpdates = d, false
	}
	raw := telegram.NewClient(opts.APIID, opts.APIHash, to)
	c := &Client{opts: opts, raw: raw, api: raw.API(), watch: watch, outage: out, loggedIn: loggedIn}
	out.server = c.serverName()
	return c, nil
}

// decisions is Options.Decisions, or a logger that drops everything.
func (c *Client) decisions() *slog.Logger {
	if c.opts.Decisions == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.opts.Decisions
}

// API is the raw Telegram API, for callers that need a method not wrapped here.
func (c *Client) API() *tg.Client { return c.api }

// Run connects and calls f; it returns when f does. Connecting is bounded by
// ConnectTimeout, hard: when the server has not answered by then, Run
// returns a *ConnectError within shutdownGrace, whatever gotd is doing (it
// would retry an unreachable server forever). A cancelled ctx ends the
// connect phase as promptly, with ctx's error.
func (c *Client) Run(ctx context.Context, f func(ctx context.Context) error) error {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.watch.arm(cancel, time.Now().Add(c.opts.ConnectTimeout))
	timer := time.AfterFunc(c.opts.ConnectTimeout, func() { c.watch.giveUp(phaseTimedOut) })
	defer timer.Stop()
	stopAbandon := context.AfterFunc(parent, func() { c.watch.giveUp(phaseAbandoned) })
	defer stopAbandon()

	type outcome struct{ err, ferr error }
	done := make(chan outcome, 1) // gotd may finish after Run has returned
	go func() {
		var ferr error
		err := c.raw.Run(ctx, func(ctx context.Context) error {
			if !c.watch.connected() {
				// The phase ended as the connection became ready.
				return context.Canceled
			}
			// A lost connection that does not come back ends the callback's
			// context with a *ConnectionLostError, and then gotd's, so
			// that sends stuck on the dead connection return too.
			fctx, stop := context.WithCancelCause(ctx)
			defer stop(nil)
			c.outage.arm(func(cause error) {
				stop(cause)
				cancel()
			})
			defer c.outage.disarm()
			ferr = f(fctx)
			return ferr
		})
		done <- outcome{err, ferr}
	}()
	var out outcome
	select {
	case out = <-done:
	case <-c.watch.endedWithout():
		// f never started, so nothing of the caller's is left running:
		// give gotd a moment to close its connections, no more.
		t := time.NewTimer(shutdownGrace)
		select {
		case out = <-done:
		case <-t.C:
			out.err = context.Canceled
		}
		t.Stop()
	}
	if out.ferr != nil {
		// gotd wraps the callback's error in "callback: …"; the caller's
		// own error reads better.
		return out.ferr
	}
	phase, fatal, last := c.watch.result()
	switch {
	case fatal != nil && phase != phaseConnected:
		return fatal
	case phase == phaseTimedOut:
		return &ConnectError{Server: c.serverName(), Timeout: c.opts.ConnectTimeout, Err: last}
	case phase == phaseAbandoned:
		return parent.Err()
	case fatal != nil:
		return fatal
	}
	return out.err
}

func (c *Client) serverName() string {
	name := "Telegram"
	switch {
	case c.opts.Server != "":
		name = c.opts.Server
	case c.opts.TestDC:
		name = "Telegram's test servers"
	}
	// An MTProxy's resolver names it.
	if via, ok := c.opts.Resolver.(fmt.Stringer); ok {
		name += " through " + via.String()
	}
	return name
}

// ServerName names the server for the account record: its address, "test"
// or "telegram".
func (c *Client) ServerName() string { return c.opts.ServerName() }

// ServerName is Client.ServerName without building a client: a session
// brought from elsewhere is checked against it.
func (o Options) ServerName() string {
	switch {
	case o.Server != "":
		return o.Server
	case o.TestDC:
		return "test"
	default:
		return "telegram"
	}
}
