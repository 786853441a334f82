package telegram

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/gotd/td/mtproxy"
	"github.com/gotd/td/telegram/dcs"
	"golang.org/x/net/proxy"
)

// Proxy is a parsed --proxy URL: a SOCKS5 proxy, whose dialer goes in
// Options.Dial, or an MTProxy, whose resolver goes in Options.Resolver.
// Neither String nor any error built from it holds the password or the
// MTProxy secret.
type Proxy struct {
	name     string       // what to show: no password, no secret
	dial     dcs.DialFunc // SOCKS5
	resolver dcs.Resolver // MTProxy
}

// ProxyURLError is a --proxy value that is not a proxy this tool can use.
// Its message never repeats the password or the secret.
type ProxyURLError struct {
	Reason string
}

func (e *ProxyURLError) Error() string { return "bad proxy URL: " + e.Reason }

func badProxy(format string, args ...any) error {
	return &ProxyURLError{Reason: fmt.Sprintf(format, args...)}
}

// ProxyError is a failure to go through the proxy. Refused means the proxy
// turned down the user name and password: retrying cannot help.
type ProxyError struct {
	Proxy   string
	Refused bool
	Err     error
}

func (e *ProxyError) Error() string {
	if e.Refused {
		return fmt.Sprintf("proxy %s refused the login: %v", e.Proxy, e.Err)
	}
	return fmt.Sprintf("proxy %s: %v", e.Proxy, e.Err)
}

func (e *ProxyError) Unwrap() error { return e.Err }

// ParseProxy parses socks5://[user:pass@]host:port (or socks5h://), an
// MTProxy link tg://proxy?server=H&port=P&secret=S (or
// https://t.me/proxy?...), or a SOCKS5 link tg://socks?server=H&port=P
// [&user=U&pass=W] (or https://t.me/socks?...). It builds the dialer or
// resolver at once, so every mistake is found before connecting.
func ParseProxy(raw string) (*Proxy, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, badProxy("empty")
	}
	if strings.HasPrefix(raw, "t.me/") || strings.HasPrefix(raw, "telegram.me/") {
		raw = "https://" + raw
	}
	// No error below repeats any part of raw but a scheme or a host that
	// parsed as such: a mis-typed URL puts the password or the secret
	// where net/url (and the checks here) expect a port, a path or a
	// scheme.
	if isSocksURL(raw) && userinfoSplit(raw) {
		return nil, badProxy("%s", errSplitPassword)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, badProxy("%s", urlErrorReason(err))
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "" || u.Opaque != "" || !strings.Contains(raw, "://"):
		// "user:pass@host:port" parses as scheme "user".
		return nil, badProxy("no scheme: write socks5://user:pass@host:port or tg://proxy?server=...")
	case scheme == "socks5" || scheme == "socks5h":
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
			return nil, badProxy("a SOCKS5 proxy URL is only socks5://user:pass@host:port")
		}
		addr, err := hostPort(u.Hostname(), u.Port())
		if err != nil {
			return nil, err
		}
		var user, pass string
		if u.User != nil {
			user = u.User.Username()
			pass, _ = u.User.Password()
		}
		return socks5Proxy(addr, user, pass)
	case scheme == "tg" && strings.EqualFold(u.Host, "proxy"),
		isTMe(scheme, u) && strings.EqualFold(strings.Trim(u.Path, "/"), "proxy"):
		q, err := linkQuery(u, raw)
		if err != nil {
			return nil, err
		}
		return mtProxy(q)
	case scheme == "tg" && strings.EqualFold(u.Host, "socks"),
		isTMe(scheme, u) && strings.EqualFold(strings.Trim(u.Path, "/"), "socks"):
		q, err := linkQuery(u, raw)
		if err != nil {
			return nil, err
		}
		addr, err := hostPort(q.Get("server"), q.Get("port"))
		if err != nil {
			return nil, err
		}
		return socks5Proxy(addr, q.Get("user"), q.Get("pass"))
	}
	return nil, badProxy("unknown proxy scheme %q", u.Scheme)
}

const errSplitPassword = "cannot parse; a password containing / # or ? must be percent-encoded (%2F %23 %3F)"

func isSocksURL(raw string) bool {
	scheme, _, ok := strings.Cut(raw, "://")
	return ok && (strings.EqualFold(scheme, "socks5") || strings.EqualFold(scheme, "socks5h"))
}

// userinfoSplit reports a URL whose user name or password holds a / # or
// ?: net/url ends the authority there, before the '@', and then reads the
// password as a port, a path, a query or a fragment.
func userinfoSplit(raw string) bool {
	_, rest, _ := strings.Cut(raw, "://")
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		return false
	}
	return !strings.Contains(rest[:end], "@") && strings.Contains(rest[end:], "@")
}

// urlErrorReason says what is wrong with a URL net/url refused. net/url's
// own messages quote the input (`invalid port ":Xy7" after host`, `invalid
// URL escape "%zz"`), and the input may be a password: only the kind of
// mistake is kept.
func urlErrorReason(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "invalid URL escape"):
		return "cannot parse: a % must start an escape such as %2F; write a literal % as %25"
	case strings.Contains(msg, "invalid userinfo"):
		return "cannot parse: the user name or password holds a character that must be percent-encoded, such as a space, a quote or a bracket"
	case strings.Contains(msg, "invalid control character"):
		return "cannot parse: it contains a control character"
	case strings.Contains(msg, "missing protocol scheme"), strings.Contains(msg, "first path segment in URL cannot contain colon"):
		return "no scheme: write socks5://user:pass@host:port or tg://proxy?server=..."
	case strings.Contains(msg, "invalid port"):
		return "cannot parse: the port after the host is not a number"
	case strings.Contains(msg, "in host name"), strings.Contains(msg, "IP-literal"), strings.Contains(msg, "missing ']'"):
		return "cannot parse the host"
	}
	return "cannot parse"
}

// linkQuery is the query of a tg:// or t.me link. url.URL.Query drops what
// it cannot parse without a word, which would turn a mistyped secret into a
// missing one.
func linkQuery(u *url.URL, raw string) (url.Values, error) {
	if strings.Contains(raw, "#") {
		return nil, &ProxyURLError{Reason: "cannot parse; a # in a link's value must be percent-encoded (%23)"}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		if strings.Contains(err.Error(), "semicolon") {
			return nil, badProxy("cannot parse the link: separate its parameters with &, not ;")
		}
		return nil, badProxy("%s", urlErrorReason(err))
	}
	return q, nil
}

func isTMe(scheme string, u *url.URL) bool {
	h := strings.ToLower(u.Hostname())
	return (scheme == "https" || scheme == "http") && (h == "t.me" || h == "telegram.me")
}

func hostPort(host, port string) (string, error) {
	if host == "" {
		return "", badProxy("missing the proxy's host")
	}
	if port == "" {
		return "", badProxy("missing the proxy's port")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n > 65535 {
		// Not quoted: a mistyped URL can put the password here.
		return "", badProxy("the proxy's port is not a number from 1 to 65535")
	}
	return net.JoinHostPort(host, port), nil
}

// socks5Proxy dials through golang.org/x/net/proxy. Every connection, the
// first and each reconnect, goes through the proxy.
func socks5Proxy(addr, user, pass string) (*Proxy, error) {
	u := &url.URL{Scheme: "socks5", Host: addr}
	name := u.String()
	if user != "" || pass != "" {
		u.User = url.UserPassword(user, pass)
		name = (&url.URL{Scheme: "socks5", Host: addr, User: url.User(user)}).String()
	}
	d, err := proxy.FromURL(u, proxy.Direct)
	if err != nil {
		return nil, badProxy("%v", err)
	}
	p := &Proxy{name: name}
	cd, hasContext := d.(proxy.ContextDialer)
	p.dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		var (
			c   net.Conn
			err error
		)
		if hasContext {
			c, err = cd.DialContext(ctx, network, address)
		} else {
			c, err = d.Dial(network, address)
		}
		if err != nil {
			return nil, &ProxyError{Proxy: p.name, Refused: socksRefused(err), Err: err}
		}
		return c, nil
	}
	return p, nil
}

// socksRefused: the SOCKS5 server rejected the credentials, or asked for
// some we did not give (RFC 1929). x/net/proxy reports these only as text.
func socksRefused(err error) bool {
	return strings.Contains(err.Error(), "authentication")
}

// mtProxy builds gotd's MTProxy resolver from a link's query.
func mtProxy(q url.Values) (*Proxy, error) {
	addr, err := hostPort(q.Get("server"), q.Get("port"))
	if err != nil {
		return nil, err
	}
	if q.Get("secret") == "" {
		return nil, badProxy("an MTProxy link needs secret=")
	}
	secret, isHex := decodeSecret(q.Get("secret"))
	// mtproxy's own error repeats the secret.
	if _, err := mtproxy.ParseSecret(secret); err != nil {
		if !isHex {
			return nil, badProxy("the MTProxy secret is not hex (32 hex digits, dd and 32, or ee, 32 and a hex domain)")
		}
		return nil, badProxy("the MTProxy secret has %d bytes or an unknown prefix: want 16 bytes, dd and 16, or ee, 16 and a domain", len(secret))
	}
	p := &Proxy{name: "MTProxy " + addr}
	var d net.Dialer
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, &ProxyError{Proxy: p.name, Err: err}
		}
		return c, nil
	}
	r, err := dcs.MTProxy(addr, secret, dcs.MTProxyOptions{Dial: dial})
	if err != nil {
		return nil, badProxy("the MTProxy secret is not valid")
	}
	p.resolver = namedResolver{Resolver: r, name: p.name}
	return p, nil
}

// namedResolver lets a connect timeout name the proxy it went through.
type namedResolver struct {
	dcs.Resolver
	name string
}

func (r namedResolver) String() string { return r.name }

// decodeSecret accepts the hex secrets of tg:// links and the base64 ones
// some fake-TLS links carry; isHex says which it was read as. What cannot be
// decoded comes back nil, which no secret check accepts.
func decodeSecret(s string) (secret []byte, isHex bool) {
	if b, err := hex.DecodeString(s); err == nil {
		return b, true
	}
	// Query parsing turned any '+' of standard base64 into ' '.
	s = strings.ReplaceAll(s, " ", "+")
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, false
		}
	}
	return nil, false
}

// String names the proxy without its password or secret.
func (p *Proxy) String() string {
	if p == nil {
		return "no proxy"
	}
	return p.name
}

// Dial is the SOCKS5 dialer for Options.Dial; nil for an MTProxy or no proxy.
func (p *Proxy) Dial() dcs.DialFunc {
	if p == nil {
		return nil
	}
	return p.dial
}

// Resolver is the MTProxy resolver for Options.Resolver; nil for SOCKS5 or
// no proxy.
func (p *Proxy) Resolver() dcs.Resolver {
	if p == nil {
		return nil
	}
	return p.resolver
}
