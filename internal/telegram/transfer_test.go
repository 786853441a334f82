package telegram

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/session"

	"github.com/broadcast-cli/broadcast/internal/store"
)

// gotdSession is session data as gotd's session.Loader saves it.
func gotdSession(t *testing.T, dc int) []byte {
	t.Helper()
	var key crypto.AuthKey
	if _, err := rand.Read(key.Value[:]); err != nil {
		t.Fatal(err)
	}
	key.ID = key.Value.ID()
	b, err := json.Marshal(struct {
		Version int
		Data    session.Data
	}{1, session.Data{DC: dc, AuthKey: key.Value[:], AuthKeyID: key.ID[:], Salt: 42}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestSessionRoundTrip(t *testing.T) {
	from := openStore(t)
	if _, err := ExportSession(from); !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("ExportSession with no login: %v, want ErrNotLoggedIn", err)
	}
	acct := store.Account{ID: 123456, Bot: true, Username: "sandbox_bot", FirstName: "Sandbox", Server: "127.0.0.1:4430"}
	data := gotdSession(t, 2)
	if err := from.StoreLogin(data, acct); err != nil {
		t.Fatal(err)
	}
	e, err := ExportSession(from)
	if err != nil {
		t.Fatal(err)
	}
	if e.DC != 2 || e.Server != acct.Server || e.Account != acct {
		t.Fatalf("exported %+v", e)
	}
	s := e.Encode()
	if !strings.HasPrefix(s, "bcs1.") || strings.ContainsAny(s, " \n=+/") {
		t.Fatalf("session string %q is not bcs1. and base64url", s)
	}
	for _, shown := range []string{fmt.Sprint(e), fmt.Sprintf("%v %+v %s", e, e, e)} {
		if strings.Contains(shown, "bcs1") || strings.Contains(shown, base64.StdEncoding.EncodeToString(data[:20])) {
			t.Fatalf("printing the session shows the secret: %s", shown)
		}
	}

	got, err := ParseSession(s + "\n")
	if err != nil {
		t.Fatal(err)
	}
	to := openStore(t)
	if err := got.Save(to); err != nil {
		t.Fatal(err)
	}
	if b, err := to.LoadSession(); err != nil || string(b) != string(data) {
		t.Fatalf("imported session %q, %v", b, err)
	}
	if a, err := to.LoadAccount(); err != nil || a != acct {
		t.Fatalf("imported account %+v, %v", a, err)
	}
}

func TestParseSessionErrors(t *testing.T) {
	encode := func(v any) string {
		b, _ := json.Marshal(v)
		return "bcs1." + base64.RawURLEncoding.EncodeToString(b)
	}
	good := gotdSession(t, 2)
	badKey := []byte(strings.Replace(string(gotdSession(t, 2)), `"Salt":42`, `"Salt":42,"AuthKeyID":"AAAAAAAAAAA="`, 1))
	acct := store.Account{ID: 7, Server: "telegram"}
	for _, tc := range []struct{ in, want string }{
		{"", "it is empty"},
		{" \n", "it is empty"},
		{"hello there", "it should start with bcs1."},
		{"bcs2.AAAA", `format "bcs2" is not one`},
		{"bcs1.AAAA!!", "not base64url"},
		{"bcs1." + base64.RawURLEncoding.EncodeToString([]byte("[1,2]")), "not the expected JSON"},
		{"bcs1.AAAA\nbcs1.AAAA", "one line"},
		{encode(map[string]any{"server": "telegram", "session": good}), "names no account"},
		{encode(map[string]any{"account": acct, "session": good}), "names no server"},
		{encode(map[string]any{"server": "telegram", "account": acct}), "is not gotd session data"},
		{encode(map[string]any{"server": "telegram", "account": acct, "session": []byte(`{"Version":2}`)}), "has version 2"},
		{encode(map[string]any{"server": "telegram", "account": acct, "session": []byte(`{"Version":1,"Data":{}}`)}), "has no auth key"},
		{encode(map[string]any{"server": "telegram", "account": acct, "session": badKey}), "damaged auth key"},
	} {
		_, err := ParseSession(tc.in)
		var se *SessionStringError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSession(%.40q) = %v, want a *SessionStringError saying %q", tc.in, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") || (len(tc.in) > 12 && strings.Contains(err.Error(), tc.in[5:12])) {
			t.Errorf("ParseSession(%.40q): %q repeats the input or has several lines", tc.in, err)
		}
	}
}
