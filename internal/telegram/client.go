package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/gotd/log/logslog"
	"github.com/gotd/td/crypto"
	"github.com/gotd/td/telegram"
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
	// Store holds the session, account and peer cache.
	Store *store.Store
	// Logger receives gotd's logs.
	Logger *slog.Logger
	// ConnectTimeout bounds the time to connect; default 30 s.
	ConnectTimeout time.Duration
}

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
)

// ConnectError: the server could not be reached in time.
type ConnectError struct {
	Server  string
	Timeout time.Duration
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("could not connect to %s within %s", e.Server, e.Timeout)
}

// Client is a gotd client bound to the state database.
type Client struct {
	opts Options
	raw  *telegram.Client
	api  *tg.Client
}

// New checks the options and builds the gotd client. It does not connect.
func New(opts Options) (*Client, error) {
	if opts.APIID == 0 || opts.APIHash == "" {
		return nil, ErrNoCredentials
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 30 * time.Second
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	to := telegram.Options{
		Logger:         logslog.New(logger),
		SessionStorage: sessionStorage{st: opts.Store},
		NoUpdates:      true,
		Device: telegram.DeviceConfig{
			DeviceModel:   "broadcast",
			SystemVersion: "cli",
			AppVersion:    "1.0",
		},
		RetryInterval: 200 * time.Millisecond,
		MaxRetries:    10,
		DialTimeout:   10 * time.Second,
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
	case opts.TestDC:
		to.DC = 2
		to.DCList = dcs.Test()
	}
	if opts.Dial != nil {
		to.Resolver = dcs.Plain(dcs.PlainOptions{Dial: opts.Dial})
	}
	raw := telegram.NewClient(opts.APIID, opts.APIHash, to)
	return &Client{opts: opts, raw: raw, api: raw.API()}, nil
}

// API is the raw Telegram API, for callers that need a method not wrapped here.
func (c *Client) API() *tg.Client { return c.api }

// Run connects and calls f; it returns when f does. Connecting is bounded by
// ConnectTimeout: gotd itself would retry an unreachable server forever.
func (c *Client) Run(ctx context.Context, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := make(chan struct{})
	timedOut := make(chan struct{})
	go func() {
		t := time.NewTimer(c.opts.ConnectTimeout)
		defer t.Stop()
		select {
		case <-started:
		case <-ctx.Done():
		case <-t.C:
			close(timedOut)
			cancel()
		}
	}()
	err := c.raw.Run(ctx, func(ctx context.Context) error {
		close(started)
		return f(ctx)
	})
	select {
	case <-timedOut:
		return &ConnectError{Server: c.serverName(), Timeout: c.opts.ConnectTimeout}
	default:
	}
	return err
}

func (c *Client) serverName() string {
	switch {
	case c.opts.Server != "":
		return c.opts.Server
	case c.opts.TestDC:
		return "Telegram's test servers"
	default:
		return "Telegram"
	}
}

// ServerName names the server for the account record: its address, "test"
// or "telegram".
func (c *Client) ServerName() string {
	switch {
	case c.opts.Server != "":
		return c.opts.Server
	case c.opts.TestDC:
		return "test"
	default:
		return "telegram"
	}
}
