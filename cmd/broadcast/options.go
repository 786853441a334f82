package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/broadcast-cli/broadcast/internal/telegram"
)

// option is one global option: its flag, its environment variable, and the
// default shown in --help. Every global flag comes from this table, so the
// flag, its variable, its usage text and its default cannot drift apart;
// the config key, where there is one, is named in the usage. Values are
// resolved flag > environment > config > default (see settings).
type option struct {
	name  string // the flag, without dashes
	env   string
	kind  optionKind
	usage string // a `WORD` in it names the value in --help
	def   string // the default as --help shows it; "" for none
}

type optionKind int

const (
	textOption optionKind = iota
	intOption
	boolOption
	durationOption
)

// defaultDC is the DC id a custom server answers as unless told otherwise.
const defaultDC = 2

var globalOptions = []option{
	{name: "config", env: "BROADCAST_CONFIG", usage: "config `FILE`", def: "$XDG_CONFIG_HOME/broadcast/config.yaml"},
	{name: "state-dir", env: "BROADCAST_STATE_DIR", usage: "state `DIR` holding the session, peer cache and journal", def: "$XDG_STATE_HOME/broadcast"},
	{name: "api-id", env: "BROADCAST_API_ID", kind: intOption, usage: "application api_id from my.telegram.org", def: "config api_id"},
	{name: "api-hash", env: "BROADCAST_API_HASH", usage: "application api_hash from my.telegram.org", def: "config api_hash"},
	{name: "server", env: "BROADCAST_SERVER", usage: "custom MTProto server `HOST:PORT` (config server.address)"},
	{name: "server-key", env: "BROADCAST_SERVER_KEY", usage: "the custom server's RSA public key, PEM `FILE` (config server.key_file)"},
	{name: "dc", env: "BROADCAST_DC", kind: intOption, usage: "DC id of the custom server (config server.dc)", def: strconv.Itoa(defaultDC)},
	{name: "test-dc", env: "BROADCAST_TEST_DC", kind: boolOption, usage: "use Telegram's test servers"},
	{name: "timeout", env: "BROADCAST_TIMEOUT", kind: durationOption, usage: "how long to wait for the server to answer when connecting", def: fmtDuration(telegram.DefaultConnectTimeout)},
	{name: "reconnect-wait", env: "BROADCAST_RECONNECT_WAIT", kind: durationOption, usage: "how long a run waits for a lost connection to come back before it stops, resumable", def: fmtDuration(telegram.DefaultReconnectWait)},
	{name: "proxy", env: "BROADCAST_PROXY", usage: "connect through a SOCKS5 proxy, socks5://user:pass@host:port, or an MTProxy `URL`, tg://proxy?server=HOST&port=PORT&secret=HEX"},
}

// globalFlags are accepted before the command name (urfave/cli does not
// inherit flags into subcommands; the output flags are added to each).
func globalFlags() []cli.Flag {
	flags := make([]cli.Flag, 0, len(globalOptions))
	for _, o := range globalOptions {
		usage := fmt.Sprintf("%s (env %s)", o.usage, o.env)
		switch o.kind {
		case intOption:
			flags = append(flags, &cli.IntFlag{Name: o.name, Usage: usage, DefaultText: o.def})
		case boolOption:
			flags = append(flags, &cli.BoolFlag{Name: o.name, Usage: usage})
		case durationOption:
			flags = append(flags, &cli.DurationFlag{Name: o.name, Usage: usage, DefaultText: o.def})
		default:
			flags = append(flags, &cli.StringFlag{Name: o.name, Usage: usage, DefaultText: o.def})
		}
	}
	return flags
}

// settings reads the options of one invocation: a flag given before or
// after the command name, else its environment variable. The caller falls
// back to the config and then the default.
type settings struct {
	c      *cli.Context
	getenv func(string) string
}

func envOf(name string) string {
	for _, o := range globalOptions {
		if o.name == name {
			return o.env
		}
	}
	panic("no global option " + name) // a typo in this file, not user input
}

// context is the level of the command line that set the flag, or nil.
func (s settings) context(name string) *cli.Context { return setAt(s.c, name) }

// setAt is the level of the command line (the command, or the app before
// it) where flag name was given, or nil: urfave/cli does not pass a global
// flag down to the command.
func setAt(c *cli.Context, name string) *cli.Context {
	for _, cc := range c.Lineage() {
		if (cc.Command != nil || cc.App != nil) && cc.IsSet(name) {
			return cc
		}
	}
	return nil
}

func (s settings) text(name, fallback string) string {
	if cc := s.context(name); cc != nil {
		return cc.String(name)
	}
	if v := s.getenv(envOf(name)); v != "" {
		return v
	}
	return fallback
}

func (s settings) integer(name string, fallback int) (int, error) {
	if cc := s.context(name); cc != nil {
		return cc.Int(name), nil
	}
	env := envOf(name)
	v := s.getenv(env)
	if v == "" {
		return fallback, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, usagef("", "%s=%q is not a number", env, v)
	}
	return n, nil
}

func (s settings) boolean(name string) bool {
	if cc := s.context(name); cc != nil {
		return cc.Bool(name)
	}
	b, _ := strconv.ParseBool(s.getenv(envOf(name)))
	return b
}

// duration is a positive duration option.
func (s settings) duration(name string, fallback time.Duration) (time.Duration, error) {
	d, from := fallback, "--"+name
	if cc := s.context(name); cc != nil {
		d = cc.Duration(name)
	} else if v := s.getenv(envOf(name)); v != "" {
		from = envOf(name)
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, usagef("", "%s=%q is not a duration like %s", from, v, fmtDuration(fallback))
		}
	}
	if d <= 0 {
		return 0, usagef(fmt.Sprintf("e.g. --%s %s", name, fmtDuration(fallback)), "%s must be more than zero, got %s", from, d)
	}
	return d, nil
}

// flagOrEnv is a command's own flag, else its environment variable (login's
// --phone and --bot-token).
func flagOrEnv(c *cli.Context, flag, env string, getenv func(string) string) string {
	if c.IsSet(flag) {
		return c.String(flag)
	}
	return getenv(env)
}
