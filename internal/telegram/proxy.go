package telegram

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
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
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, password included: keep only
		// the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, badProxy("%v", err)
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
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
		return mtProxy(u.Query())
	case scheme == "tg" && strings.EqualFold(u.Host, "socks"),
		isTMe(scheme, u) && strings.EqualFold(strings.Trim(u.Path, "/"), "socks"):
		q := u.Query()
		addr, err := hostPort(q.Get("server"), q.Get("port"))
		if err != nil {
			return nil, err
		}
		return socks5Proxy(addr, q.Get("user"), q.Get("pass"))
	case scheme == "":
		return nil, badProxy("no scheme")
	}
	return nil, badProxy("unknown proxy scheme %q", u.Scheme)
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
		return "", badProxy("port %q is not a number from 1 to 65535", port)
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
