package telegram

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// A --proxy value that cannot be parsed is refused with an error that names
// the problem without any piece of the user name, the password or the
// MTProxy secret: the error reaches stderr even with -q, and --json output.
func TestProxyURLErrorsHideCredentials(t *testing.T) {
	const secret = "7f3a9c1e5b2d4f60a8e1c3b5d7f9e2a4"
	for _, tc := range []struct {
		in      string
		secrets []string // nothing of length 3 or more from these may show
		want    string   // the error names this
	}{
		// A password with / # or ?: net/url splits the authority there.
		{"socks5://kqzvw:ab/Xy7@host.example:1080", []string{"kqzvw", "ab/Xy7"}, "%2F %23 %3F"},
		{"socks5://kqzvw:Xy7/kw@host.example:1080", []string{"kqzvw", "Xy7/kw"}, "%2F %23 %3F"},
		{"socks5://u:p#q@h:1", []string{"p#q"}, "%2F %23 %3F"},
		{"socks5://kqzvw:Wq9#Rt4@h:1", []string{"kqzvw", "Wq9#Rt4"}, "%2F %23 %3F"},
		{"socks5://kqzvw:Wq9?Rt4@h:1", []string{"kqzvw", "Wq9?Rt4"}, "%2F %23 %3F"},
		{"socks5h://kqzvw:Wq9?Rt4#Zk@h:1", []string{"kqzvw", "Wq9?Rt4#Zk"}, "%2F %23 %3F"},
		// net/url parses these, but the password lands in the path, the
		// fragment or the port.
		{"socks5://kqzvw:123/abc@h:1080", []string{"kqzvw", "123/abc"}, "%2F %23 %3F"},
		{"socks5://kqzvw:7#Wq9@h:1080", []string{"kqzvw", "7#Wq9"}, "%2F %23 %3F"},
		{"socks5://kqzvw:7?Wq9@h:1080", []string{"kqzvw", "7?Wq9"}, "%2F %23 %3F"},
		{"socks5://kqzvw:Wq9/Rt4@[::1]:1080", []string{"kqzvw", "Wq9/Rt4"}, "%2F %23 %3F"},
		// No host at all: the password reads as the port.
		{"socks5://kqzvw:Wq9Rt4", []string{"kqzvw", "Wq9Rt4"}, "port"},
		{"socks5://kqzvw:918273", []string{"kqzvw", "918273"}, "port"},
		// Bad escapes and characters that must be escaped.
		{"socks5://kqzvw:Wq9%zzRt4@h:1", []string{"kqzvw", "Wq9%zzRt4"}, "%25"},
		{"socks5://kqzvw:Wq9%2@h:1", []string{"kqzvw", "Wq9%2"}, "%25"},
		{"socks5://kqzvw:Wq9 Rt4@h:1", []string{"kqzvw", "Wq9 Rt4"}, "percent-encoded"},
		{"socks5://kqzvw:Wq9[Rt4]@h:1", []string{"kqzvw", "Wq9[Rt4]"}, "percent-encoded"},
		{"socks5://kqzvw:Wq9\"Rt4@h:1", []string{"kqzvw", "Wq9\"Rt4"}, "percent-encoded"},
		{"socks5://kqzvw:Wq9\nRt4@h:1", []string{"kqzvw", "Wq9\nRt4"}, "control character"},
		// No scheme: net/url takes the user name for one.
		{"kqzvw:Wq9Rt4@h:1080", []string{"kqzvw", "Wq9Rt4"}, "no scheme"},
		{"kqzvw:Wq9/Rt4@h:1080", []string{"kqzvw", "Wq9/Rt4"}, "no scheme"},
		// SOCKS5 links carry the password in the query.
		{"tg://socks?server=h&port=1&user=kqzvw&pass=Wq9#Rt4", []string{"Wq9#Rt4"}, "%23"},
		{"tg://socks?server=h&port=1&user=kqzvw&pass=Wq9%zzRt4", []string{"Wq9%zzRt4"}, "%25"},
		{"https://t.me/socks?server=h&port=Wq9Rt4&user=kqzvw&pass=Wq9Rt4", []string{"Wq9Rt4"}, "port"},
		// MTProxy secrets.
		{"tg://proxy?server=h&port=443&secret=" + secret + "%zz", []string{secret}, "%25"},
		{"tg://proxy?server=h&port=443&secret=" + secret[:10] + "#" + secret[10:], []string{secret}, "%23"},
		{"tg://proxy?server=h&port=443&secret=" + secret + "ff", []string{secret}, "secret"},
		{"tg://proxy?server=h&port=443&secret=zz" + secret, []string{secret}, "secret"},
		{"tg://proxy?server=h&port=" + secret + "&secret=" + secret, []string{secret}, "port"},
		{"tg://proxy?server=h&port=443;secret=" + secret, []string{secret}, "&"},
		{"t.me/proxy?server=h&port=443&secret=" + secret + "%", []string{secret}, "%25"},
	} {
		p, err := ParseProxy(tc.in)
		var pe *ProxyURLError
		if !errors.As(err, &pe) {
			t.Errorf("ParseProxy(%q) = %v, %v; want a *ProxyURLError", tc.in, p, err)
			continue
		}
		msg := err.Error()
		for _, s := range tc.secrets {
			if leak := sharedRun(msg, s, 3); leak != "" {
				t.Errorf("ParseProxy(%q): %q shows %q of %q", tc.in, msg, leak, s)
			}
		}
		if !strings.Contains(msg, tc.want) {
			t.Errorf("ParseProxy(%q): %q, want it to mention %q", tc.in, msg, tc.want)
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("ParseProxy(%q): %q has several lines", tc.in, msg)
		}
	}
}

// sharedRun is the first substring of secret, n bytes or longer, that msg
// contains; "" when there is none.
func sharedRun(msg, secret string, n int) string {
	for i := 0; i+n <= len(secret); i++ {
		if strings.Contains(msg, secret[i:i+n]) {
			return secret[i : i+n]
		}
	}
	return ""
}

// Random passwords with the characters that trip net/url: each either
// parses, split at the right '@', or fails with one of a few fixed messages
// (a message that quoted any of the input would make a new one each time).
func TestProxyURLErrorsHideRandomPasswords(t *testing.T) {
	const alphabet = "/#?%@:[]{}<>\\\"^`| &=+;,.!$'()*~_-XqWz9R7k"
	r := rand.New(rand.NewPCG(1, 2))
	messages := map[string]string{} // message -> an input that gave it
	for range 5000 {
		b := make([]byte, 4+r.IntN(12))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		pass := string(b)
		for _, in := range []string{
			"socks5://kqzvw:" + pass + "@h.example:1080",
			"socks5://kqzvw:" + pass,
			"tg://socks?server=h.example&port=1080&user=kqzvw&pass=" + pass,
			"tg://proxy?server=h.example&port=443&secret=" + pass,
		} {
			p, err := ParseProxy(in)
			if err != nil {
				messages[err.Error()] = in
				continue
			}
			if name := p.String(); name != "socks5://kqzvw@h.example:1080" {
				if !strings.HasSuffix(in, pass) || strings.Contains(name, pass) {
					t.Errorf("ParseProxy(%q) = %q: split in the wrong place", in, name)
				}
			}
		}
	}
	if len(messages) > 16 {
		for msg, in := range messages {
			t.Logf("%q: %q", in, msg)
		}
		t.Fatalf("%d different error messages: some quote the input", len(messages))
	}
	for msg, in := range messages {
		t.Logf("%s", msg)
		if strings.Contains(msg, "kqz") {
			t.Errorf("ParseProxy(%q): %q shows the user name", in, msg)
		}
	}
}
