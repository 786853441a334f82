// Package config owns broadcast's configuration file: where it lives by
// default, its YAML format, and the validation of every key in it. Errors
// name the file, the line and the key, so a user can go straight to the
// mistake.
//
// The file is decoded into a yaml.Node tree and walked by hand rather than
// unmarshalled into structs, because that is what gives a line number for
// every key and value, catches unknown and duplicate keys, and tells a
// number from a quoted string.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the contents of a configuration file. Every key is optional;
// a missing key leaves its field at the zero value.
type Config struct {
	// Path is the file the configuration was read from, or "" when no
	// file was read.
	Path string
	// APIID is the Telegram application id (api_id), or 0 when not set.
	APIID int
	// APIHash is the Telegram application hash (api_hash): 32 lowercase
	// hexadecimal characters, or "" when not set.
	APIHash string
	// Server is a custom MTProto server to use instead of Telegram's; its
	// Address is "" when not set.
	Server Server
	// DefaultList names the list in Lists to send to when no recipients are
	// given, or is "" when not set. When set it always names a list in Lists.
	DefaultList string
	// Lists maps a list name to its recipients as written. The recipients
	// are not validated here; package recipient parses them. Lists is never
	// nil.
	Lists map[string][]string
	// ListOrder holds the names in Lists in the order of the file, since
	// a map has no order and listing them should follow the file.
	ListOrder []string
	// Send holds defaults for the send command's flags.
	Send SendDefaults
	// History says how long the journal keeps finished broadcasts.
	History HistoryDefaults
}

// Server is the server section: a custom MTProto server.
type Server struct {
	// Address is the server's host:port.
	Address string
	// KeyFile is the path of the server's RSA public key in PEM format, made
	// absolute: a relative key_file is relative to the configuration file's
	// directory, so the file works from any working directory. It is "" when
	// not set.
	KeyFile string
	// DC is the server's data center id, or 0 when not set.
	DC int
}

// SendDefaults is the send section: defaults for the send command's flags.
//
// Each value has a Has field that is true when the key was present in the
// file. A caller applies a value only when its Has field is true, so an
// explicit zero (rate: 0, silent: false) overrides the built-in default
// while an absent key does not.
type SendDefaults struct {
	// Concurrency is how many messages are sent at once (1 to 1000).
	Concurrency int
	// ParseMode is how the message text is parsed: "plain", "markdown" or
	// "html" (lowercased).
	ParseMode string
	// Rate is the maximum number of messages per second; 0 means no limit.
	Rate float64
	// MaxFloodWait is the longest FLOOD_WAIT that is waited out rather than
	// treated as a failure.
	MaxFloodWait time.Duration
	// ResendAfter is the resend window: within it an identical send command
	// is the same broadcast, so recipients it already reached are skipped
	// and only the failed and unsent ones are tried again. 0 means a
	// finished broadcast is never taken for the same one.
	ResendAfter time.Duration
	// Silent sends messages without a notification.
	Silent bool
	// NoPreview disables link previews.
	NoPreview bool

	// HasConcurrency reports whether concurrency was set.
	HasConcurrency bool
	// HasParseMode reports whether parse_mode was set.
	HasParseMode bool
	// HasRate reports whether rate was set.
	HasRate bool
	// HasMaxFloodWait reports whether max_flood_wait was set.
	HasMaxFloodWait bool
	// HasResendAfter reports whether resend_after was set.
	HasResendAfter bool
	// HasSilent reports whether silent was set.
	HasSilent bool
	// HasNoPreview reports whether no_preview was set.
	HasNoPreview bool
}

// Error is a problem in a configuration file.
type Error struct {
	// Path is the file, or "" when the data did not come from a file.
	Path string
	// Line is the 1-based line of the problem, or 0 when unknown.
	Line int
	// Key is the dotted key the problem is about, such as
	// "send.concurrency" or "lists.friends", or "" for a syntax error.
	Key string
	// Msg says what is wrong.
	Msg string
}

// Error formats e as "path:line: key: msg", leaving out the parts that
// are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		if e.Path != "" {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
		} else {
			b.WriteString("line " + strconv.Itoa(e.Line))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Limits on values. dc goes far beyond Telegram's five data centers
// because a custom server may number its own.
const (
	maxAPIID       = math.MaxInt32 // Telegram's api_id is an int32
	maxDC          = 1000
	maxConcurrency = 1000
)

// Limits on the file itself, so that a hostile or mistaken file (a YAML
// alias bomb, /dev/zero, a log file named by accident) is refused with an
// error instead of taking all the memory there is. A real configuration is
// a few kilobytes.
const (
	// maxFileSize is the largest configuration file read, in bytes.
	maxFileSize = 1 << 20
	// maxAliasNodes is the most YAML nodes that aliases may add to the file
	// when each is replaced by the value it names. A few lists shared
	// through aliases add tens; a billion-laughs bomb adds billions from a
	// few hundred bytes, yet it is not expanded when the file is read
	// into a yaml.Node tree, so yaml's own check against excessive aliasing
	// (which counts values decoded into Go types) never sees it.
	maxAliasNodes = 100_000
)

// DefaultPath returns the default location of the configuration file:
// $XDG_CONFIG_HOME/broadcast/config.yaml, or
// $HOME/.config/broadcast/config.yaml when XDG_CONFIG_HOME is unset or,
// as the XDG specification requires, not absolute. It returns "" when
// neither variable helps. getenv looks up environment variables so tests
// can supply their own; nil means os.Getenv.
func DefaultPath(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if dir := getenv("XDG_CONFIG_HOME"); dir != "" && filepath.IsAbs(dir) {
		return filepath.Join(dir, "broadcast", "config.yaml")
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".config", "broadcast", "config.yaml")
	}
	return ""
}

// Load reads and parses the configuration file at path. When path is ""
// nothing is read and an empty Config is returned. A missing file is an
// empty Config too unless explicit is true, since the default location
// need not exist but a file the user named must; the error is then the
// *fs.PathError from reading, so errors.Is(err, fs.ErrNotExist) holds. Problems in the
// file's contents are reported as *Error.
func Load(path string, explicit bool) (*Config, error) {
	if path == "" {
		return newConfig(""), nil
	}
	data, err := readFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return newConfig(""), nil
		}
		return nil, err
	}
	return Parse(data, path)
}

// readFile reads at most one byte more than maxFileSize from path, which is
// enough for Parse to tell a file that is too large, so that a huge file or
// a device such as /dev/zero is never read whole.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFileSize+1))
}

// Parse parses the contents of a configuration file. path is recorded in
// the Config and in errors, and is the base for a relative
// server.key_file (the working directory when path is ""). Empty data is
// an empty Config. Data over 1 MiB is refused. Errors are of type *Error.
func Parse(data []byte, path string) (*Config, error) {
	p := &parser{path: path, cfg: newConfig(path)}
	if len(data) > maxFileSize {
		return nil, p.errorf(nil, "", "larger than %d bytes (1 MiB), the limit for a config file", maxFileSize)
	}
	if err := p.parse(data); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

func newConfig(path string) *Config {
	return &Config{Path: path, Lists: map[string][]string{}}
}

// parser walks the YAML tree into cfg.
type parser struct {
	path string
	cfg  *Config
}

func (p *parser) errorf(n *yaml.Node, key, format string, args ...any) *Error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{Path: p.path, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// yamlLine matches the position yaml puts in its messages.
var yamlLine = regexp.MustCompile(`^line (\d+): `)

// syntaxError turns yaml's "yaml: line 3: msg" into an *Error with the line
// moved to where the other errors have it.
func (p *parser) syntaxError(err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	return &Error{Path: p.path, Line: line, Msg: msg}
}

func (p *parser) parse(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // no document at all: empty or only comments
			return nil
		}
		return p.syntaxError(err)
	}
	// A second document would be silently ignored, which hides mistakes.
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return p.errorf(&extra, "", "more than one YAML document")
	} else if !errors.Is(err, io.EOF) {
		return p.syntaxError(err)
	}

	if len(doc.Content) == 0 {
		return nil
	}
	if err := p.checkAliases(doc.Content[0]); err != nil {
		return err
	}
	root := deref(doc.Content[0])
	if isNull(root) {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return p.errorf(root, "", "expected a mapping of keys at the top level, got %s", describe(root))
	}
	var defaultList *yaml.Node
	err := p.mapping(root, "", false, func(key string, k, v *yaml.Node) error {
		switch key {
		case "api_id":
			n, err := p.integer(v, key, 1, maxAPIID)
			p.cfg.APIID = n
			return err
		case "api_hash":
			return p.apiHash(v, key)
		case "server":
			return p.server(k, v)
		case "default_list":
			s, err := p.str(v, key)
			p.cfg.DefaultList, defaultList = s, v
			return err
		case "lists":
			return p.lists(v)
		case "send":
			return p.send(v)
		case "history":
			return p.history(v)
		}
		return p.errorf(k, key, "unknown key")
	})
	if err != nil {
		return err
	}
	// Checked last because lists may come after default_list in the file.
	if name := p.cfg.DefaultList; defaultList != nil {
		if _, ok := p.cfg.Lists[name]; !ok {
			return p.errorf(defaultList, "default_list", "no list named %q in lists", name)
		}
	}
	return nil
}

// checkAliases refuses a document whose aliases, each replaced by the value
// it names, would add more than maxAliasNodes nodes, or that has an alias
// inside the value it names (which would expand forever). It looks at each
// node once: an alias always comes after its anchor in the file, so the
// size of the value it names is known by the time the alias is reached,
// unless the alias is inside that value.
func (p *parser) checkAliases(root *yaml.Node) error {
	sizes := map[*yaml.Node]int{} // expanded size of each finished anchored node, at most maxAliasNodes+1
	added := 0
	var walk func(n *yaml.Node, key string) (int, error)
	walk = func(n *yaml.Node, key string) (int, error) {
		if n.Kind == yaml.AliasNode {
			if n.Alias == nil {
				return 1, nil
			}
			size, done := sizes[n.Alias]
			if !done {
				return 0, p.errorf(n, key, "alias *%s is inside the value it names", n.Value)
			}
			if added += size; added > maxAliasNodes {
				return 0, p.errorf(n, key, "aliases expand too far: they would add more than %d values to the file", maxAliasNodes)
			}
			return size, nil
		}
		size := 1
		for i, c := range n.Content {
			ckey := key
			if n.Kind == yaml.MappingNode && i%2 == 1 && n.Content[i-1].Kind == yaml.ScalarNode {
				ckey = n.Content[i-1].Value
				if key != "" {
					ckey = key + "." + ckey
				}
			}
			s, err := walk(c, ckey)
			if err != nil {
				return 0, err
			}
			size = min(size+s, maxAliasNodes+1)
		}
		if n.Anchor != "" {
			sizes[n] = size
		}
		return size, nil
	}
	_, err := walk(root, "")
	return err
}

// mapping calls fn for each key of the mapping n, skipping keys whose value
// is null unless keepNull is set, since "key:" with nothing after it means
// the key is not set. prefix is the dotted path of n, for errors. Keys must
// be scalars and unique.
func (p *parser) mapping(n *yaml.Node, prefix string, keepNull bool, fn func(key string, k, v *yaml.Node) error) error {
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return p.errorf(k, prefix, "expected a key, got %s", describe(k))
		}
		key := k.Value
		if prefix != "" {
			key = prefix + "." + k.Value
		}
		if first, dup := seen[k.Value]; dup {
			return p.errorf(k, key, "duplicate key (first on line %d)", first)
		}
		seen[k.Value] = k.Line
		if isNull(v) && !keepNull {
			continue
		}
		if err := fn(key, k, v); err != nil {
			return err
		}
	}
	return nil
}

// section checks that v is a mapping and walks it like mapping.
func (p *parser) section(v *yaml.Node, key string, keepNull bool, fn func(key string, k, v *yaml.Node) error) error {
	if v.Kind != yaml.MappingNode {
		return p.errorf(v, key, "expected a mapping, got %s", describe(v))
	}
	return p.mapping(v, key, keepNull, fn)
}

func (p *parser) server(k, v *yaml.Node) error {
	s := &p.cfg.Server
	err := p.section(v, "server", false, func(key string, k, v *yaml.Node) error {
		switch key {
		case "server.address":
			addr, err := p.str(v, key)
			if err != nil {
				return err
			}
			if reason := checkAddress(addr); reason != "" {
				return p.errorf(v, key, "%s, got %q", reason, addr)
			}
			s.Address = addr
			return nil
		case "server.key_file":
			file, err := p.str(v, key)
			if err != nil {
				return err
			}
			if file == "" {
				return p.errorf(v, key, "empty path")
			}
			s.KeyFile = p.resolve(file)
			return nil
		case "server.dc":
			n, err := p.integer(v, key, 1, maxDC)
			s.DC = n
			return err
		}
		return p.errorf(k, key, "unknown key")
	})
	if err != nil {
		return err
	}
	if s.Address == "" && (s.KeyFile != "" || s.DC != 0) {
		return p.errorf(k, "server", "address is required for a custom server")
	}
	return nil
}

// checkAddress returns what is wrong with a host:port address, or "".
func checkAddress(addr string) string {
	const want = "expected host:port"
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return want
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return want + " with a port from 1 to 65535"
	}
	return ""
}

// resolve makes a path from the file absolute relative to the file's
// directory.
func (p *parser) resolve(file string) string {
	if !filepath.IsAbs(file) {
		file = filepath.Join(filepath.Dir(p.path), file)
	}
	if abs, err := filepath.Abs(file); err == nil {
		return abs
	}
	// Only when the working directory is gone; the relative path is the
	// best left.
	return file
}

func (p *parser) apiHash(v *yaml.Node, key string) error {
	s, err := p.str(v, key)
	if err != nil {
		return err
	}
	// The hash is a credential, so errors describe it without echoing it.
	if len(s) != 32 {
		return p.errorf(v, key, "must be 32 hexadecimal characters, got %d", len(s))
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return p.errorf(v, key, "must be 32 hexadecimal characters, not %q", c)
		}
	}
	p.cfg.APIHash = strings.ToLower(s)
	return nil
}

func (p *parser) lists(v *yaml.Node) error {
	// A list with nothing under it yet is an empty list rather than no
	// list, so that a default_list naming it is not reported as missing.
	return p.section(v, "lists", true, func(key string, k, v *yaml.Node) error {
		name := k.Value
		if name == "" {
			return p.errorf(k, "lists", "a list name cannot be empty")
		}
		if isNull(v) {
			v = &yaml.Node{Kind: yaml.SequenceNode, Line: v.Line}
		}
		if v.Kind != yaml.SequenceNode {
			return p.errorf(v, key, "expected a list of recipients, got %s", describe(v))
		}
		items := make([]string, 0, len(v.Content))
		for _, item := range v.Content {
			item = deref(item)
			// Any scalar is taken as written: an unquoted +15551234567 or a
			// numeric id is an integer to YAML but a recipient to us.
			if item.Kind != yaml.ScalarNode || isNull(item) {
				return p.errorf(item, key, "expected a recipient string, got %s", describe(item))
			}
			if strings.TrimSpace(item.Value) == "" {
				return p.errorf(item, key, "empty recipient")
			}
			items = append(items, item.Value)
		}
		p.cfg.Lists[name] = items
		p.cfg.ListOrder = append(p.cfg.ListOrder, name)
		return nil
	})
}

func (p *parser) send(v *yaml.Node) error {
	s := &p.cfg.Send
	return p.section(v, "send", false, func(key string, k, v *yaml.Node) error {
		var err error
		switch key {
		case "send.concurrency":
			s.Concurrency, err = p.integer(v, key, 1, maxConcurrency)
			s.HasConcurrency = err == nil
		case "send.parse_mode":
			s.ParseMode, err = p.parseMode(v, key)
			s.HasParseMode = err == nil
		case "send.rate":
			s.Rate, err = p.rate(v, key)
			s.HasRate = err == nil
		case "send.max_flood_wait":
			s.MaxFloodWait, err = p.duration(v, key)
			s.HasMaxFloodWait = err == nil
		case "send.resend_after":
			s.ResendAfter, err = p.duration(v, key)
			s.HasResendAfter = err == nil
		case "send.silent":
			s.Silent, err = p.boolean(v, key)
			s.HasSilent = err == nil
		case "send.no_preview":
			s.NoPreview, err = p.boolean(v, key)
			s.HasNoPreview = err == nil
		default:
			err = p.errorf(k, key, "unknown key")
		}
		return err
	})
}

func (p *parser) parseMode(v *yaml.Node, key string) (string, error) {
	s, err := p.str(v, key)
	if err != nil {
		return "", err
	}
	switch mode := strings.ToLower(s); mode {
	case "plain", "markdown", "html":
		return mode, nil
	}
	return "", p.errorf(v, key, "expected plain, markdown or html, got %q", s)
}

func (p *parser) rate(v *yaml.Node, key string) (float64, error) {
	if v.Kind != yaml.ScalarNode || (v.ShortTag() != "!!int" && v.ShortTag() != "!!float") {
		return 0, p.errorf(v, key, "expected a number, got %s", describe(v))
	}
	var f float64
	if err := v.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, p.errorf(v, key, "expected a number, got %s", describe(v))
	}
	if f < 0 {
		return 0, p.errorf(v, key, "must not be negative, got %s", v.Value)
	}
	return f, nil
}

func (p *parser) duration(v *yaml.Node, key string) (time.Duration, error) {
	// Any scalar, because a bare 0 is a valid duration that YAML calls an
	// integer.
	s, err := p.str(v, key)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, p.errorf(v, key, "expected a duration such as 30s or 5m, got %q", s)
	}
	if d < 0 {
		return 0, p.errorf(v, key, "must not be negative, got %s", s)
	}
	return d, nil
}

// integer returns the integer value of v, which must be within [lo, hi].
// A quoted number is rejected: it is a string to YAML, and accepting it
// would make the types in the file mean nothing.
func (p *parser) integer(v *yaml.Node, key string, lo, hi int64) (int, error) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" {
		return 0, p.errorf(v, key, "expected an integer, got %s", describe(v))
	}
	var n int64
	if err := v.Decode(&n); err != nil {
		return 0, p.errorf(v, key, "expected an integer, got %s", describe(v))
	}
	if n < lo || n > hi {
		return 0, p.errorf(v, key, "must be from %d to %d, got %d", lo, hi, n)
	}
	return int(n), nil
}

func (p *parser) boolean(v *yaml.Node, key string) (bool, error) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" {
		return false, p.errorf(v, key, "expected true or false, got %s", describe(v))
	}
	var b bool
	if err := v.Decode(&b); err != nil {
		return false, p.errorf(v, key, "expected true or false, got %s", describe(v))
	}
	return b, nil
}

// str returns the text of a scalar as written. Any scalar is accepted, not
// only YAML strings, because values such as an api_hash of only digits or
// a list name like 2024 are strings to us whatever YAML makes of them.
func (p *parser) str(v *yaml.Node, key string) (string, error) {
	if v.Kind != yaml.ScalarNode {
		return "", p.errorf(v, key, "expected a string, got %s", describe(v))
	}
	return v.Value, nil
}

// deref follows an alias to the node it names, keeping the alias's
// position so errors point where the value is used.
func deref(n *yaml.Node) *yaml.Node {
	if n.Kind != yaml.AliasNode || n.Alias == nil {
		return n
	}
	c := *n.Alias
	c.Line, c.Column = n.Line, n.Column
	return &c
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node is, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		if n.ShortTag() == "!!str" && (n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle)) != 0 {
			return fmt.Sprintf("the quoted string %q", n.Value)
		}
		return strconv.Quote(n.Value)
	}
	return "an unexpected YAML node"
}
