package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

const good = `# comment
api_id: 12345
api_hash: 0123456789ABCDEF0123456789abcdef
server:
  address: 127.0.0.1:4430
  key_file: keys/server.pem
  dc: 2
default_list: friends
lists:
  friends: ["@friend1__username", "@friend2__username", "@bestie__username"]
  family: [+15551234567, t.me/mum, 123456789]
  2024:
    - me
    - +1 (555) 123-4567
  later:
send:
  concurrency: 8
  parse_mode: Markdown
  rate: 0.5
  max_flood_wait: 5m
  resend_after: 2h30m
  silent: false
  no_preview: true
`

func TestParseGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	cfg, err := Parse([]byte(good), path)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path:    path,
		APIID:   12345,
		APIHash: "0123456789abcdef0123456789abcdef",
		Server: Server{
			Address: "127.0.0.1:4430",
			KeyFile: filepath.Join(filepath.Dir(path), "keys", "server.pem"),
			DC:      2,
		},
		DefaultList: "friends",
		Lists: map[string][]string{
			"friends": {"@friend1__username", "@friend2__username", "@bestie__username"},
			"family":  {"+15551234567", "t.me/mum", "123456789"},
			"2024":    {"me", "+1 (555) 123-4567"},
			"later":   {},
		},
		ListOrder: []string{"friends", "family", "2024", "later"},
		Send: SendDefaults{
			Concurrency:  8,
			ParseMode:    "markdown",
			Rate:         0.5,
			MaxFloodWait: 5 * time.Minute,
			ResendAfter:  2*time.Hour + 30*time.Minute,
			Silent:       false,
			NoPreview:    true,

			HasConcurrency:  true,
			HasParseMode:    true,
			HasRate:         true,
			HasMaxFloodWait: true,
			HasResendAfter:  true,
			HasSilent:       true,
			HasNoPreview:    true,
		},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Parse =\n%#v\nwant\n%#v", cfg, want)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, in := range []string{"", "\n\n", "# only a comment\n", "---\n", "~\n", "api_id:\nserver:\nsend:\n"} {
		cfg, err := Parse([]byte(in), "config.yaml")
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if want := newConfig("config.yaml"); !reflect.DeepEqual(cfg, want) {
			t.Errorf("Parse(%q) = %#v, want empty", in, cfg)
		}
	}
}

func TestParseUnsetSendKeys(t *testing.T) {
	cfg, err := Parse([]byte("send:\n  rate: 0\n  silent: false\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Send
	if !s.HasRate || !s.HasSilent || s.HasConcurrency || s.HasParseMode || s.HasMaxFloodWait || s.HasResendAfter || s.HasNoPreview {
		t.Errorf("Has fields = %+v, want only rate and silent", s)
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		in    string
		check func(*Config) bool
	}{
		{"api_hash: 01234567890123456789012345678901", func(c *Config) bool { return c.APIHash == "01234567890123456789012345678901" }},
		{"send:\n  max_flood_wait: 0", func(c *Config) bool { return c.Send.HasMaxFloodWait && c.Send.MaxFloodWait == 0 }},
		{"send:\n  resend_after: 0", func(c *Config) bool { return c.Send.HasResendAfter && c.Send.ResendAfter == 0 }},
		{"send:\n  resend_after: 90s", func(c *Config) bool { return c.Send.HasResendAfter && c.Send.ResendAfter == 90*time.Second }},
		{"send:\n  resend_after:", func(c *Config) bool { return !c.Send.HasResendAfter }},
		{"send:\n  rate: 3", func(c *Config) bool { return c.Send.Rate == 3 }},
		{"send:\n  concurrency: 1000", func(c *Config) bool { return c.Send.Concurrency == 1000 }},
		{"send:\n  parse_mode: html", func(c *Config) bool { return c.Send.ParseMode == "html" }},
		{"server:\n  address: '[::1]:443'\n  dc: 1000", func(c *Config) bool { return c.Server.Address == "[::1]:443" && c.Server.DC == 1000 }},
		{"server:\n  address: example.com:443", func(c *Config) bool { return c.Server.KeyFile == "" && c.Server.DC == 0 }},
		{"lists:\n  a: &x [me]\n  b: *x\ndefault_list: b", func(c *Config) bool { return len(c.Lists["b"]) == 1 && c.Lists["b"][0] == "me" }},
		{"default_list: empty\nlists:\n  empty: []", func(c *Config) bool { return c.DefaultList == "empty" }},
	}
	for _, tt := range tests {
		cfg, err := Parse([]byte(tt.in), "c.yaml")
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if !tt.check(cfg) {
			t.Errorf("Parse(%q) = %+v", tt.in, cfg)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int
		key  string
		msg  string // substring of Msg
	}{
		{"unknown top-level key", "api_id: 1\nlisst:\n  a: [me]\n", 2, "lisst", "unknown key"},
		{"unknown send key", "send:\n  concurrency: 2\n  concurency: 3\n", 3, "send.concurency", "unknown key"},
		{"unknown server key", "server:\n  addr: x:1\n", 2, "server.addr", "unknown key"},
		{"duplicate key", "api_id: 1\napi_id: 2\n", 2, "api_id", "duplicate key (first on line 1)"},
		{"duplicate list", "lists:\n  a: [me]\n  a: [me]\n", 3, "lists.a", "duplicate key"},
		{"api_id word", "api_hash: 0123456789abcdef0123456789abcdef\napi_id: abc\n", 2, "api_id", `expected an integer, got "abc"`},
		{"api_id quoted", `api_id: "123"`, 1, "api_id", `expected an integer, got the quoted string "123"`},
		{"api_id float", "api_id: 1.5", 1, "api_id", `expected an integer, got "1.5"`},
		{"api_id list", "api_id: [1]", 1, "api_id", "expected an integer, got a list"},
		{"api_id zero", "api_id: 0", 1, "api_id", "must be from 1 to 2147483647, got 0"},
		{"api_id huge", "api_id: 99999999999", 1, "api_id", "must be from 1 to 2147483647"},
		{"api_hash short", "api_hash: abc", 1, "api_hash", "must be 32 hexadecimal characters, got 3"},
		{"api_hash not hex", "api_hash: 0123456789abcdef0123456789abcdeg", 1, "api_hash", "not 'g'"},
		{"api_hash mapping", "api_hash:\n  x: 1", 2, "api_hash", "expected a string, got a mapping"},
		{"server not mapping", "server: 127.0.0.1:4430", 1, "server", "expected a mapping"},
		{"server no address", "api_id: 1\nserver:\n  dc: 2\n", 2, "server", "address is required"},
		{"address no port", "server:\n  address: localhost", 2, "server.address", `expected host:port, got "localhost"`},
		{"address no host", "server:\n  address: :443", 2, "server.address", "expected host:port"},
		{"address bad port", "server:\n  address: localhost:http", 2, "server.address", "port from 1 to 65535"},
		{"address port range", "server:\n  address: localhost:70000", 2, "server.address", "port from 1 to 65535"},
		{"key_file empty", "server:\n  address: a:1\n  key_file: ''", 3, "server.key_file", "empty path"},
		{"dc zero", "server:\n  address: a:1\n  dc: 0", 3, "server.dc", "must be from 1 to 1000"},
		{"dc big", "server:\n  address: a:1\n  dc: 1001", 3, "server.dc", "must be from 1 to 1000"},
		{"dc string", "server:\n  address: a:1\n  dc: two", 3, "server.dc", "expected an integer"},
		{"concurrency zero", "send:\n  concurrency: 0", 2, "send.concurrency", "must be from 1 to 1000"},
		{"concurrency big", "send:\n  concurrency: 1001", 2, "send.concurrency", "must be from 1 to 1000"},
		{"concurrency quoted", "send:\n  concurrency: '8'", 2, "send.concurrency", "quoted string"},
		{"parse_mode", "send:\n  parse_mode: markdownv2", 2, "send.parse_mode", `expected plain, markdown or html, got "markdownv2"`},
		{"rate negative", "send:\n  rate: -1", 2, "send.rate", "must not be negative"},
		{"rate word", "send:\n  rate: fast", 2, "send.rate", `expected a number, got "fast"`},
		{"rate inf", "send:\n  rate: .inf", 2, "send.rate", "expected a number"},
		{"rate nan", "send:\n  rate: .nan", 2, "send.rate", "expected a number"},
		{"max_flood_wait no unit", "send:\n  max_flood_wait: 300", 2, "send.max_flood_wait", `expected a duration such as 30s or 5m, got "300"`},
		{"max_flood_wait negative", "send:\n  max_flood_wait: -1s", 2, "send.max_flood_wait", "must not be negative"},
		{"resend_after no unit", "send:\n  resend_after: 3600", 2, "send.resend_after", `expected a duration such as 30s or 5m, got "3600"`},
		{"resend_after negative", "send:\n  silent: true\n  resend_after: -1h", 3, "send.resend_after", "must not be negative, got -1h"},
		{"resend_after list", "send:\n  resend_after: [1h]", 2, "send.resend_after", "expected a string, got a list"},
		{"alias inside its value", "lists:\n  a: &x\n    - me\n    - *x\n", 4, "lists.a", "alias *x is inside the value it names"},
		{"silent word", "send:\n  silent: yes", 2, "send.silent", `expected true or false, got "yes"`},
		{"no_preview number", "send:\n  no_preview: 1", 2, "send.no_preview", "expected true or false"},
		{"send list", "send: [1]", 1, "send", "expected a mapping, got a list"},
		{"default_list missing", "lists:\n  a: [me]\ndefault_list: b\n", 3, "default_list", `no list named "b" in lists`},
		{"default_list without lists", "default_list: friends", 1, "default_list", `no list named "friends"`},
		{"default_list list", "default_list: [a]", 1, "default_list", "expected a string, got a list"},
		{"lists not mapping", "lists: [a, b]", 1, "lists", "expected a mapping, got a list"},
		{"list not list", "lists:\n  a: me", 2, "lists.a", `expected a list of recipients, got "me"`},
		{"list item mapping", "lists:\n  a:\n    - me\n    - x: 1\n", 4, "lists.a", "expected a recipient string, got a mapping"},
		{"list item list", "lists:\n  a: [me, [x]]\n", 2, "lists.a", "expected a recipient string, got a list"},
		{"list item null", "lists:\n  a:\n    - me\n    -\n", 4, "lists.a", "got nothing"},
		{"list item empty", "lists:\n  a: ['']\n", 2, "lists.a", "empty recipient"},
		{"list name empty", "lists:\n  '': [me]\n", 2, "lists", "list name cannot be empty"},
		{"top level list", "- a\n- b\n", 1, "", "expected a mapping of keys at the top level, got a list"},
		{"top level scalar", "\nhello\n", 2, "", "at the top level"},
		{"mapping key", "? [a]\n: 1\n", 1, "", "expected a key, got a list"},
		{"two documents", "api_id: 1\n---\napi_id: 2\n", 2, "", "more than one YAML document"},
		{"syntax", "api_id: 1\nsend:\n  rate: 1\n    silent: true\n", 4, "", "mapping values are not allowed"},
		{"syntax tab", "api_id: 1\n\tsend: 1\n", 2, "", "tab"},
		{"unquoted at", "lists:\n  a:\n    - @friend1\n", 3, "", "cannot start any token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.in), "config.yaml")
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error", tt.in, cfg)
			}
			if cfg != nil {
				t.Errorf("got a Config with the error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			if e.Path != "config.yaml" || e.Line != tt.line || e.Key != tt.key || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("error = %#v, want line %d, key %q, message containing %q", e, tt.line, tt.key, tt.msg)
			}
			prefix := "config.yaml:" + strconv.Itoa(tt.line) + ": "
			if tt.key != "" {
				prefix += tt.key + ": "
			}
			if s := err.Error(); !strings.HasPrefix(s, prefix) || !strings.Contains(s, tt.msg) {
				t.Errorf("Error() = %q, want prefix %q and %q", s, prefix, tt.msg)
			}
		})
	}
}

func TestParseErrorDoesNotEchoAPIHash(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdeX"
	_, err := Parse([]byte("api_hash: "+secret), "c.yaml")
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("err = %v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{Path: "config.yaml", Line: 2, Key: "api_id", Msg: `expected an integer, got "abc"`}, `config.yaml:2: api_id: expected an integer, got "abc"`},
		{Error{Path: "config.yaml", Line: 7, Key: "send.concurency", Msg: "unknown key"}, `config.yaml:7: send.concurency: unknown key`},
		{Error{Path: "config.yaml", Msg: "unknown anchor 'a' referenced"}, `config.yaml: unknown anchor 'a' referenced`},
		{Error{Line: 3, Key: "api_id", Msg: "m"}, `line 3: api_id: m`},
		{Error{Msg: "m"}, `m`},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestSyntaxErrorWithoutLine(t *testing.T) {
	_, err := Parse([]byte("a: *nowhere\n"), "config.yaml")
	var e *Error
	if !errors.As(err, &e) || e.Line != 0 || err.Error() != "config.yaml: unknown anchor 'nowhere' referenced" {
		t.Errorf("err = %#v", err)
	}
}

func TestKeyFileResolution(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "elsewhere", "k.pem")
	tests := []struct {
		path, keyFile, want string
	}{
		{filepath.Join(dir, "config.yaml"), "server.pem", filepath.Join(dir, "server.pem")},
		{filepath.Join(dir, "sub", "config.yaml"), "../keys/server.pem", filepath.Join(dir, "keys", "server.pem")},
		{filepath.Join(dir, "config.yaml"), abs, abs},
	}
	for _, tt := range tests {
		in := "server:\n  address: localhost:4430\n  key_file: " + strconv.Quote(tt.keyFile) + "\n"
		cfg, err := Parse([]byte(in), tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Server.KeyFile != tt.want {
			t.Errorf("key_file %q in %s = %q, want %q", tt.keyFile, tt.path, cfg.Server.KeyFile, tt.want)
		}
	}

	// A relative config path is resolved against the working directory.
	t.Chdir(dir)
	cfg, err := Parse([]byte("server:\n  address: a:1\n  key_file: k.pem\n"), filepath.Join("conf", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "conf", "k.pem"); cfg.Server.KeyFile != want {
		t.Errorf("KeyFile = %q, want %q", cfg.Server.KeyFile, want)
	}
	cfg, err = Parse([]byte("server:\n  address: a:1\n  key_file: k.pem\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "k.pem"); cfg.Server.KeyFile != want {
		t.Errorf("KeyFile with no path = %q, want %q", cfg.Server.KeyFile, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte("api_id: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, explicit := range []bool{false, true} {
		cfg, err := Load(path, explicit)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Path != path || cfg.APIID != 7 {
			t.Errorf("Load(%q, %v) = %+v", path, explicit, cfg)
		}
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("api_id: 1\nsend:\n  concurency: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(bad, false)
	if err == nil || err.Error() != bad+":3: send.concurency: unknown key" {
		t.Errorf("Load(bad) error = %v", err)
	}
}

func TestLoadNoPath(t *testing.T) {
	cfg, err := Load("", true)
	if err != nil || !reflect.DeepEqual(cfg, newConfig("")) {
		t.Errorf("Load(\"\") = %+v, %v; want empty", cfg, err)
	}
}

func TestLoadMissingDefault(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "broadcast", "config.yaml")
	cfg, err := Load(missing, false)
	if err != nil {
		t.Fatalf("Load(missing, false): %v", err)
	}
	if !reflect.DeepEqual(cfg, newConfig("")) {
		t.Errorf("Load(missing, false) = %+v, want empty", cfg)
	}
	if cfg.Lists == nil {
		t.Error("Lists is nil")
	}
}

func TestLoadMissingExplicit(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "config.yaml")
	cfg, err := Load(missing, true)
	if err == nil {
		t.Fatalf("Load(missing, true) = %+v, want error", cfg)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v is not fs.ErrNotExist", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != missing {
		t.Errorf("error %v is not a *fs.PathError for %s", err, missing)
	}
}

func TestLoadDirectory(t *testing.T) {
	// Not a missing file, so an error even at the default location.
	if _, err := Load(t.TempDir(), false); err == nil {
		t.Error("Load(directory) succeeded")
	}
}

func TestDefaultPath(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_CONFIG_HOME": "/xdg", "HOME": "/home/u"}, filepath.Join("/xdg", "broadcast", "config.yaml")},
		{map[string]string{"HOME": "/home/u"}, filepath.Join("/home/u", ".config", "broadcast", "config.yaml")},
		{map[string]string{"XDG_CONFIG_HOME": "relative", "HOME": "/home/u"}, filepath.Join("/home/u", ".config", "broadcast", "config.yaml")},
		{map[string]string{}, ""},
	}
	for _, tt := range tests {
		getenv := func(k string) string { return tt.env[k] }
		if got := DefaultPath(getenv); got != tt.want {
			t.Errorf("DefaultPath(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestExampleConfig(t *testing.T) {
	path := filepath.Join("..", "..", "config.example.yaml")
	cfg, err := Load(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIID == 0 || cfg.APIHash == "" || cfg.Server.Address == "" || cfg.Server.KeyFile == "" || cfg.Server.DC == 0 ||
		cfg.DefaultList == "" || len(cfg.ListOrder) == 0 {
		t.Errorf("example leaves keys unset: %+v", cfg)
	}
	s := cfg.Send
	if !s.HasConcurrency || !s.HasParseMode || !s.HasMaxFloodWait || !s.HasResendAfter || !s.HasSilent || !s.HasNoPreview {
		t.Errorf("example does not show every send key: %+v", s)
	}
	if !cfg.History.HasKeep || cfg.History.Keep != DefaultKeep {
		t.Errorf("example's history.keep is %v (set %v), want the default %v", cfg.History.Keep, cfg.History.HasKeep, DefaultKeep)
	}
	// Whoever copies the example must keep the careful default rate for user
	// accounts: rate: 0 turns pacing off and risks PEER_FLOOD. So the rate
	// is shown commented out, and uncommented it must still be a safe one.
	if s.HasRate {
		t.Errorf("example sets send.rate to %v; it should leave the default alone", s.Rate)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if !strings.Contains(text, "\n  # rate: ") {
		t.Fatal("example does not show send.rate, commented out")
	}
	cfg, err = Parse([]byte(strings.Replace(text, "\n  # rate: ", "\n  rate: ", 1)), path)
	if err != nil {
		t.Fatalf("example with rate uncommented: %v", err)
	}
	if !cfg.Send.HasRate || cfg.Send.Rate <= 0 || cfg.Send.Rate > 5 {
		t.Errorf("example's commented rate is %v, want a limit of at most 5/s", cfg.Send.Rate)
	}
}

// bomb returns a billion-laughs config: lists.a0 holds width strings, and
// each further list holds width aliases of the one before, so the last of
// levels lists stands for width^levels strings.
func bomb(levels, width int) string {
	var b strings.Builder
	b.WriteString("lists:\n  a0: &a0 [")
	b.WriteString(strings.Repeat("lol, ", width-1) + "lol]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "  a%d: &a%d [", i, i)
		b.WriteString(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), width-1))
		fmt.Fprintf(&b, "*a%d]\n", i-1)
	}
	return b.String()
}

func TestParseAliasBomb(t *testing.T) {
	tests := []struct {
		name          string
		levels, width int
		line          int
		key           string
	}{
		// 10^9 strings from under 400 bytes. The sizes of the lists with
		// aliases followed are 11, 111, 1111, ...; the aliases of a1 to a3
		// add 12330 nodes and the eighth alias in a4 takes the total past
		// 100000.
		{"deep", 9, 10, 6, "lists.a4"},
		// Wide instead of deep: 50000^3 strings from 850 kB, refused at
		// the second alias in a1.
		{"wide", 2, 50_000, 3, "lists.a1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(bomb(tt.levels, tt.width))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			cfg, err := Parse(in, "config.yaml")
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			var e *Error
			if !errors.As(err, &e) || cfg != nil {
				t.Fatalf("Parse(bomb) = %v, %v; want an *Error", cfg, err)
			}
			want := "config.yaml:" + strconv.Itoa(tt.line) + ": " + tt.key + ": aliases expand too far: they would add more than 100000 values to the file"
			if err.Error() != want {
				t.Errorf("error = %q, want %q", err, want)
			}
			// Reading the file as a tree costs a few hundred bytes per
			// node; expanding it would cost gigabytes.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(100*len(in))+1<<20 {
				t.Errorf("Parse allocated %d bytes for a %d-byte file", alloc, len(in))
			}
			if elapsed > 5*time.Second {
				t.Errorf("Parse took %v", elapsed)
			}
		})
	}
}

func TestParseAliasLimit(t *testing.T) {
	// A list of 999 recipients is 1000 nodes with its sequence, so 100
	// lists naming it add exactly the 100000 nodes allowed.
	base := "lists:\n  all: &all [" + strings.Repeat("me, ", 998) + "me]\n"
	for _, n := range []int{100, 101} {
		var b strings.Builder
		b.WriteString(base)
		for i := range n {
			fmt.Fprintf(&b, "  copy%d: *all\n", i)
		}
		cfg, err := Parse([]byte(b.String()), "config.yaml")
		if n == 100 {
			if err != nil || len(cfg.ListOrder) != 101 || len(cfg.Lists["copy99"]) != 999 {
				t.Errorf("Parse with %d aliases: %v", n, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Line != 2+n || e.Key != "lists.copy100" || !strings.Contains(e.Msg, "aliases expand too far") {
			t.Errorf("Parse with %d aliases: %#v", n, err)
		}
	}
}

func TestParseManyNodesWithoutAliases(t *testing.T) {
	// The alias limit is on what aliases add, not on the file as written,
	// which the size limit bounds already.
	in := "lists:\n  big:\n" + strings.Repeat("    - a\n", 110_000)
	cfg, err := Parse([]byte(in), "config.yaml")
	if err != nil || len(cfg.Lists["big"]) != 110_000 {
		t.Fatalf("Parse: %v", err)
	}
}

func TestParseSizeLimit(t *testing.T) {
	// Comments make a file of any size that is valid otherwise.
	line := "# " + strings.Repeat("x", 61) + "\n"
	fill := strings.Repeat(line, maxFileSize/len(line)+1)[:maxFileSize-len("api_id: 1\n")]
	if _, err := Parse([]byte("api_id: 1\n"+fill), "config.yaml"); err != nil {
		t.Errorf("Parse of exactly %d bytes: %v", maxFileSize, err)
	}
	_, err := Parse([]byte("api_id: 1\n"+fill+"\n"), "config.yaml")
	var e *Error
	if !errors.As(err, &e) || err.Error() != "config.yaml: larger than 1048576 bytes (1 MiB), the limit for a config file" {
		t.Errorf("Parse of %d bytes: %#v", maxFileSize+1, err)
	}
}

func TestLoadTooLarge(t *testing.T) {
	// The billion laughs padded to 1.8 MB, as a file would carry them.
	path := filepath.Join(t.TempDir(), "config.yaml")
	data := bomb(9, 10) + strings.Repeat("# padding\n", 180_000)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, true)
	var e *Error
	if !errors.As(err, &e) || e.Path != path || !strings.Contains(err.Error(), path+": larger than 1048576 bytes") {
		t.Errorf("Load(1.8 MB) = %#v", err)
	}
}

func TestLoadDevZero(t *testing.T) {
	// An endless file is read only up to the limit.
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Load("/dev/zero", true)
	runtime.ReadMemStats(&after)
	var e *Error
	if !errors.As(err, &e) || e.Path != "/dev/zero" || !strings.Contains(e.Msg, "larger than") {
		t.Errorf("Load(/dev/zero) = %#v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("Load(/dev/zero) allocated %d bytes", alloc)
	}
}

func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	for _, s := range []string{
		good, "", "---\n", "- a\n", "api_id: abc\n", "a: *b\n", "lists:\n  a: &x [me]\n  b: *x\n",
		"lists:\n  a:\n    - @x\n", "server:\n  address: '[::1]:1'\n  key_file: k\n", "send:\n  rate: .nan\n",
		"api_id: 1\n---\napi_id: 2\n", "? [a]\n: 1\n", "a: !!binary ==\n", "x: &a\n  - *a\n", bomb(9, 10),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "config.yaml")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || cfg != nil {
				t.Fatalf("Parse(%q) = %v, %v", data, cfg, err)
			}
			return
		}
		if cfg.Lists == nil || len(cfg.Lists) != len(cfg.ListOrder) {
			t.Fatalf("Parse(%q): lists %v, order %v", data, cfg.Lists, cfg.ListOrder)
		}
		if cfg.DefaultList != "" {
			if _, ok := cfg.Lists[cfg.DefaultList]; !ok {
				t.Fatalf("Parse(%q): default list %q not in lists", data, cfg.DefaultList)
			}
		}
	})
}
