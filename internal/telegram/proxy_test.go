package telegram

import (
	"errors"
	"strings"
	"testing"
)

const testSecret = "0123456789abcdef0123456789abcdef"

func TestParseProxy(t *testing.T) {
	for _, tc := range []struct {
		in, name string
		mtproxy  bool
	}{
		{"socks5://alice:s3cret@127.0.0.1:1080", "socks5://alice@127.0.0.1:1080", false},
		{"socks5h://alice:s3cret@proxy.example:9050", "socks5://alice@proxy.example:9050", false},
		{"SOCKS5://127.0.0.1:1080/", "socks5://127.0.0.1:1080", false},
		{"socks5://alice:p%40ss%3Aw0rd@[::1]:1080", "socks5://alice@[::1]:1080", false},
		{"  socks5://127.0.0.1:1080\n", "socks5://127.0.0.1:1080", false},
		{"tg://socks?server=127.0.0.1&port=1080&user=alice&pass=s3cret", "socks5://alice@127.0.0.1:1080", false},
		{"https://t.me/socks?server=127.0.0.1&port=1080", "socks5://127.0.0.1:1080", false},
		{"tg://proxy?server=127.0.0.1&port=443&secret=" + testSecret, "MTProxy 127.0.0.1:443", true},
		{"tg://proxy?server=127.0.0.1&port=443&secret=dd" + testSecret, "MTProxy 127.0.0.1:443", true},
		{"tg://proxy?server=127.0.0.1&port=443&secret=ee" + testSecret + "6578616d706c652e636f6d", "MTProxy 127.0.0.1:443", true},
		{"https://t.me/proxy?server=mtp.example&port=8443&secret=dd" + testSecret, "MTProxy mtp.example:8443", true},
		{"t.me/proxy?server=mtp.example&port=8443&secret=dd" + testSecret, "MTProxy mtp.example:8443", true},
		// base64url, as some fake-TLS links carry it: 0xee, 16 bytes, "example.com".
		{"tg://proxy?server=127.0.0.1&port=443&secret=7gEjRWeJq83vASNFZ4mrze9leGFtcGxlLmNvbQ", "MTProxy 127.0.0.1:443", true},
	} {
		p, err := ParseProxy(tc.in)
		if err != nil {
			t.Errorf("ParseProxy(%q): %v", tc.in, err)
			continue
		}
		if p.String() != tc.name {
			t.Errorf("ParseProxy(%q) = %q, want %q", tc.in, p, tc.name)
		}
		if (p.Resolver() != nil) != tc.mtproxy || (p.Dial() != nil) == tc.mtproxy {
			t.Errorf("ParseProxy(%q): dial %v, resolver %v; want MTProxy %v", tc.in, p.Dial() != nil, p.Resolver() != nil, tc.mtproxy)
		}
		if strings.Contains(p.String(), "s3cret") || strings.Contains(p.String(), testSecret) {
			t.Errorf("ParseProxy(%q).String() = %q shows a secret", tc.in, p)
		}
	}
}

func TestParseProxyErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"http://alice:s3cret@127.0.0.1:3128", `unknown proxy scheme "http"`},
		{"socks4://127.0.0.1:1080", `unknown proxy scheme "socks4"`},
		{"127.0.0.1:1080", "no scheme"},
		{"proxy.example", "no scheme"},
		{"socks5://alice:s3cret@127.0.0.1", "missing the proxy's port"},
		{"socks5://alice:s3cret@:1080", "missing the proxy's host"},
		{"socks5://alice:s3cret@127.0.0.1:0", "port is not a number"},
		{"socks5://alice:s3cret@127.0.0.1:99999", "port is not a number"},
		{"socks5://alice:s3cret@127.0.0.1:1080/path", "only socks5://user:pass@host:port"},
		{"socks5://alice:s3cr et@127.0.0.1:1080", "must be percent-encoded"},
		{"tg://proxy?server=127.0.0.1&port=443", "needs secret="},
		{"tg://proxy?port=443&secret=" + testSecret, "missing the proxy's host"},
		{"tg://proxy?server=127.0.0.1&secret=" + testSecret, "missing the proxy's port"},
		{"tg://proxy?server=127.0.0.1&port=443&secret=zz" + testSecret, "not hex"},
		{"tg://proxy?server=127.0.0.1&port=443&secret=0123", "has 2 bytes"},
		{"tg://proxy?server=127.0.0.1&port=443&secret=not-a-secret!", "not hex"},
		{"tg://proxy?server=127.0.0.1&port=443&secret=abcdef", "has 3 bytes"},
		{"tg://proxy?server=127.0.0.1&port=443&secret=aa" + testSecret, "unknown prefix"},
		{"tg://resolve?domain=durov", `unknown proxy scheme "tg"`},
		{"https://t.me/durov", `unknown proxy scheme "https"`},
	} {
		p, err := ParseProxy(tc.in)
		var pe *ProxyURLError
		if !errors.As(err, &pe) {
			t.Errorf("ParseProxy(%q) = %v, %v; want a *ProxyURLError", tc.in, p, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) {
			t.Errorf("ParseProxy(%q): %q, want it to contain %q", tc.in, msg, tc.want)
		}
		if strings.Contains(msg, "s3cr") || strings.Contains(msg, testSecret) || strings.Contains(msg, "\n") {
			t.Errorf("ParseProxy(%q): %q shows a secret or has several lines", tc.in, msg)
		}
	}
}

func TestProxyErrorMessages(t *testing.T) {
	err := &ProxyError{Proxy: "socks5://alice@127.0.0.1:1080", Refused: true, Err: errors.New("socks connect tcp 127.0.0.1:1080->127.0.0.1:4430: username/password authentication failed")}
	if got, want := err.Error(), "proxy socks5://alice@127.0.0.1:1080 refused the login: socks connect tcp 127.0.0.1:1080->127.0.0.1:4430: username/password authentication failed"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	for _, msg := range []string{"username/password authentication failed", "no acceptable authentication methods"} {
		if !socksRefused(errors.New(msg)) {
			t.Errorf("socksRefused(%q) = false", msg)
		}
	}
	if socksRefused(errors.New("dial tcp 127.0.0.1:1080: connect: connection refused")) {
		t.Error("a refused TCP connection counts as a refused login")
	}
}

// A nil *Proxy is no proxy: the client options stay nil.
func TestNilProxy(t *testing.T) {
	var p *Proxy
	if p.Dial() != nil || p.Resolver() != nil || p.String() != "no proxy" {
		t.Fatal("a nil proxy sets something")
	}
}
