package sandbox

// cluster_test.go: a sandbox of several DCs (cluster.go, transfer.go) as a
// plain gotd client meets it: logins that migrate, a session that stays on
// its home DC, an upload carried to another DC, a persistent cluster, and
// the login refusals of loginfaults.go.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/telegram/uploader"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

var (
	testKeysOnce sync.Once
	testKeys     []*rsa.PrivateKey
	testKeysErr  error
)

// clusterKeys are three RSA keys shared by the tests (a 2048-bit key takes
// a while to make): the first DC's and DCs 2 and 3's.
func clusterKeys(t *testing.T) (*rsa.PrivateKey, []*rsa.PrivateKey) {
	t.Helper()
	testKeysOnce.Do(func() {
		for range 3 {
			k, err := rsa.GenerateKey(rand.Reader, crypto.RSAKeyBits)
			if err != nil {
				testKeysErr = err
				return
			}
			testKeys = append(testKeys, k)
		}
	})
	if testKeysErr != nil {
		t.Fatal(testKeysErr)
	}
	return testKeys[0], testKeys[1:]
}

// startCluster starts a sandbox of three DCs with the shared keys.
func startCluster(t *testing.T, opts Options) *Server {
	t.Helper()
	opts.DCs = 3
	opts.Key, opts.DCKeys = clusterKeys(t)
	return start(t, opts)
}

// clusterClient is a gotd client configured as a client of a custom server
// is: the first DC's address only, and the key file with every DC's key.
// gotd learns the others from help.getConfig.
func clusterClient(t *testing.T, s *Server, storage telegram.SessionStorage) *telegram.Client {
	t.Helper()
	opts := clientOptions(t, s, storage)
	keys, err := crypto.ParseRSAPublicKeys(s.PublicKeysPEM())
	if err != nil || len(keys) != len(s.DCs()) {
		t.Fatalf("keys: %d, %v", len(keys), err)
	}
	opts.PublicKeys = nil
	for _, k := range keys {
		opts.PublicKeys = append(opts.PublicKeys, telegram.PublicKey{RSA: k})
	}
	return telegram.NewClient(telegram.TestAppID, telegram.TestAppHash, opts)
}

// allDCs is the client options' DC list with every DC, for a client that
// starts from a saved session on a DC other than the first.
func allDCs(s *Server) dcs.List {
	var l dcs.List
	for _, d := range s.DCs() {
		host, port, _ := net.SplitHostPort(d.Addr)
		var p int
		fmt.Sscan(port, &p)
		l.Options = append(l.Options, tg.DCOption{ID: d.ID, IPAddress: host, Port: p})
	}
	return l
}

func sessionDC(t *testing.T, storage *session.StorageMemory) int {
	t.Helper()
	d, err := (&session.Loader{Storage: storage}).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d.DC
}

func phoneLogin(ctx context.Context, c *telegram.Client, phone, password string) error {
	creds := auth.Constant(phone, password, auth.CodeAuthenticatorFunc(func(context.Context, *tg.AuthSentCode) (string, error) {
		return LoginCode, nil
	}))
	return auth.NewFlow(creds, auth.SendCodeOptions{}).Run(ctx, c.Auth())
}

// A number that lives on DC 3 asks for its code on DC 1, is told
// PHONE_MIGRATE_3, and logs in there, 2FA and all; the saved session is
// DC 3's, and a later client on it talks to DC 3 only.
func TestClusterPhoneLoginMigrates(t *testing.T) {
	s := startCluster(t, Options{Users: 3, Password: "pw"})
	if got := s.DCs(); len(got) != 3 || got[0].ID != 1 || got[2].ID != 3 || s.DC() != 1 {
		t.Fatalf("DCs = %+v, DC = %d", got, s.DC())
	}
	storage := &session.StorageMemory{}
	c := clusterClient(t, s, storage)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		return phoneLogin(ctx, c, "+15550000002", "pw")
	})
	if dc := sessionDC(t, storage); dc != 3 {
		t.Fatalf("session on DC %d, want 3", dc)
	}
	for _, want := range []struct {
		dc     int
		method string
		n      int
	}{{1, "auth.sendCode", 1}, {3, "auth.sendCode", 1}, {3, "auth.signIn", 1}, {3, "auth.checkPassword", 1}, {1, "auth.signIn", 0}, {2, "help.getConfig", 0}} {
		if got := s.CallsOn(want.dc, want.method); got != want.n {
			t.Errorf("DC %d %s = %d, want %d", want.dc, want.method, got, want.n)
		}
	}

	before := s.DCCallCounts(1)
	c2 := clusterClientWith(t, s, storage, allDCs(s))
	run(t, c2, func(ctx context.Context, api *tg.Client) error {
		u, err := resolve(ctx, api, "friend1")
		if err != nil {
			return err
		}
		_, err = api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer(u), Message: "from DC 3", RandomID: 7})
		return err
	})
	if after := s.DCCallCounts(1); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("DC 1 was called: %v → %v", before, after)
	}
	if n := s.CallsOn(3, "messages.sendMessage"); n != 1 {
		t.Errorf("DC 3 sendMessage = %d", n)
	}
	if in := s.Inbox("friend1"); len(in) != 1 || in[0].Text != "from DC 3" {
		t.Fatalf("inbox %+v", in)
	}
}

// clusterClientWith is clusterClient starting from list.
func clusterClientWith(t *testing.T, s *Server, storage telegram.SessionStorage, list dcs.List) *telegram.Client {
	t.Helper()
	opts := clientOptions(t, s, storage)
	keys, _ := crypto.ParseRSAPublicKeys(s.PublicKeysPEM())
	opts.PublicKeys = nil
	for _, k := range keys {
		opts.PublicKeys = append(opts.PublicKeys, telegram.PublicKey{RSA: k})
	}
	opts.DCList = list
	return telegram.NewClient(telegram.TestAppID, telegram.TestAppHash, opts)
}

// A bot that lives on DC 3 is told USER_MIGRATE_3 on DC 1; one that lives
// on DC 1 is not.
func TestClusterBotLoginMigrates(t *testing.T) {
	s := startCluster(t, Options{Users: 2})
	storage := &session.StorageMemory{}
	c := clusterClient(t, s, storage)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		_, err := c.Auth().Bot(ctx, "123458:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
		return err
	})
	if dc := sessionDC(t, storage); dc != 3 {
		t.Fatalf("session on DC %d, want 3", dc)
	}
	if s.CallsOn(1, "auth.importBotAuthorization") != 1 || s.CallsOn(3, "auth.importBotAuthorization") != 1 {
		t.Errorf("calls: DC1 %v, DC3 %v", s.DCCallCounts(1), s.DCCallCounts(3))
	}
	storage = &session.StorageMemory{}
	botLoginOn(t, s, storage)
	if dc := sessionDC(t, storage); dc != 1 {
		t.Fatalf("bot 123456 on DC %d, want 1", dc)
	}
}

func botLoginOn(t *testing.T, s *Server, storage telegram.SessionStorage) {
	t.Helper()
	c := clusterClient(t, s, storage)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		_, err := c.Auth().Bot(ctx, "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
		return err
	})
}

// With FileDC 2, a bot on DC 1 uploads: each part is answered
// FILE_MIGRATE_2, gotd exports its authorization to DC 2 and sends the
// parts there, and the send on DC 1 finds the file. Every byte is stored
// once, on DC 2.
func TestClusterUploadMigrates(t *testing.T) {
	s := startCluster(t, Options{Users: 2, FileDC: 2})
	storage := &session.StorageMemory{}
	botLoginOn(t, s, storage)
	data := bytes.Repeat([]byte("0123456789abcdef"), 700*1024/16) // two parts
	c := clusterClient(t, s, storage)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		f, err := uploader.NewUploader(api).FromBytes(ctx, "car.pdf", data)
		if err != nil {
			return err
		}
		u, err := resolve(ctx, api, "friend1")
		if err != nil {
			return err
		}
		_, err = api.MessagesSendMedia(ctx, &tg.MessagesSendMediaRequest{
			Peer: peer(u), RandomID: 1, Message: "car.pdf",
			Media: &tg.InputMediaUploadedDocument{File: f, MimeType: "application/pdf"},
		})
		return err
	})
	if got := s.UploadedBytesOn(2); got != int64(len(data)) || s.UploadedBytesOn(1) != 0 || s.UploadedBytes() != int64(len(data)) {
		t.Errorf("uploaded: DC1 %d, DC2 %d, all %d; want %d on DC 2", s.UploadedBytesOn(1), got, s.UploadedBytes(), len(data))
	}
	if s.CallsOn(1, "auth.exportAuthorization") != 1 || s.CallsOn(2, "auth.importAuthorization") != 1 {
		t.Errorf("transfer: DC1 %v, DC2 %v", s.DCCallCounts(1), s.DCCallCounts(2))
	}
	// gotd does not remember where files go: each part meets DC 1's
	// FILE_MIGRATE_2 once, then goes to DC 2.
	if s.CallsOn(1, "messages.sendMedia") != 1 || s.CallsOn(2, "upload.saveFilePart") < 2 || s.CallsOn(2, "upload.saveFilePart") != s.CallsOn(1, "upload.saveFilePart") {
		t.Errorf("DC1 %v, DC2 %v", s.DCCallCounts(1), s.DCCallCounts(2))
	}
	if in := s.Inbox("friend1"); len(in) != 1 || in[0].Media == nil || in[0].Media.Size != int64(len(data)) {
		t.Fatalf("inbox %+v", in)
	}
}

// auth.exportAuthorization and importAuthorization refuse what they should.
func TestClusterTransferErrors(t *testing.T) {
	s := startCluster(t, Options{Users: 1})
	storage := &session.StorageMemory{}
	botLoginOn(t, s, storage)
	c := clusterClient(t, s, storage)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		for _, dc := range []int{1, 7} {
			if _, err := api.AuthExportAuthorization(ctx, dc); !tgerr.Is(err, "DC_ID_INVALID") {
				return fmt.Errorf("export to %d: %v", dc, err)
			}
		}
		// Bytes for DC 2 do not work on DC 1.
		e, err := api.AuthExportAuthorization(ctx, 2)
		if err != nil {
			return err
		}
		_, err = api.AuthImportAuthorization(ctx, &tg.AuthImportAuthorizationRequest{ID: e.ID, Bytes: e.Bytes})
		if !tgerr.Is(err, "AUTH_BYTES_INVALID") {
			return fmt.Errorf("import on the wrong DC: %v", err)
		}
		return nil
	})
}

// A persistent cluster keeps every DC's key, address and auth keys: a
// session on DC 3 still works after a restart, and a restart with another
// number of DCs is refused.
func TestClusterPersistent(t *testing.T) {
	dir := t.TempDir()
	key, more := clusterKeys(t)
	s := start(t, Options{Users: 2, DCs: 3, Key: key, DCKeys: more, StateDir: dir})
	dcsBefore := s.DCs()
	storage := &session.StorageMemory{}
	c := clusterClient(t, s, storage)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		return phoneLogin(ctx, c, "+15550000002", "")
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil || strings.Count(string(b), "BEGIN RSA PRIVATE KEY") != 3 {
		t.Fatalf("key file: %v\n%s", err, b)
	}
	var st savedState
	raw, _ := os.ReadFile(filepath.Join(dir, StateFile))
	if err := json.Unmarshal(raw, &st); err != nil || len(st.DCs) != 2 {
		t.Fatalf("state: %v %s", err, raw)
	}

	s = start(t, Options{StateDir: dir}) // the count, keys and addresses from the dir
	if got := s.DCs(); fmt.Sprint(got) != fmt.Sprint(dcsBefore) {
		t.Fatalf("DCs after restart %v, before %v", got, dcsBefore)
	}
	c = clusterClientWith(t, s, storage, allDCs(s))
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		self, err := c.Self(ctx)
		if err != nil {
			return err
		}
		if self.Phone != "15550000002" {
			return fmt.Errorf("self %+v", self)
		}
		return nil
	})
	if s.CallsOn(3, "users.getUsers") != 1 {
		t.Errorf("DC 3: %v", s.DCCallCounts(3))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(Options{StateDir: dir, DCs: 2}); !errors.Is(err, ErrDCCount) {
		t.Fatalf("restart with 2 DCs: %v", err)
	}
}

// The login refusals: a banned number, a flood wait, a code past its
// lifetime, too many wrong passwords, and sessions revoked from elsewhere.
func TestLoginFaults(t *testing.T) {
	s := start(t, Options{Users: 2, Password: "pw", BannedPhones: []string{"+15550000009"}, PasswordAttempts: 1, LoginCodeTTL: time.Second})
	c := client(t, s, nil)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		if err := phoneLogin(ctx, c, "+15550000009", "pw"); !tgerr.Is(err, "PHONE_NUMBER_BANNED") {
			return fmt.Errorf("banned: %v", err)
		}
		sent, err := c.Auth().SendCode(ctx, "+15550000000", auth.SendCodeOptions{})
		if err != nil {
			return err
		}
		time.Sleep(2100 * time.Millisecond)
		if _, err := c.Auth().SignIn(ctx, "+15550000000", LoginCode, sent.(*tg.AuthSentCode).PhoneCodeHash); !tgerr.Is(err, "PHONE_CODE_EXPIRED") {
			return fmt.Errorf("late code: %v", err)
		}
		if err := phoneLogin(ctx, c, "+15550000000", "wrong"); !errors.Is(err, auth.ErrPasswordInvalid) {
			return fmt.Errorf("wrong password: %v", err)
		}
		if _, err := c.Auth().SendCode(ctx, "+15550000000", auth.SendCodeOptions{}); !tgerr.Is(err, "PHONE_PASSWORD_FLOOD") {
			return fmt.Errorf("after a wrong password: %v", err)
		}
		return nil
	})

	s = start(t, Options{Users: 2, LoginFloodWait: 90 * time.Second})
	c = client(t, s, nil)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		err := phoneLogin(ctx, c, "+15550000000", "")
		if d, ok := tgerr.AsFloodWait(err); !ok || d != 90*time.Second {
			return fmt.Errorf("flood: %v", err)
		}
		return nil
	})

	s = start(t, Options{Users: 2})
	storage := &session.StorageMemory{}
	botLogin(t, s, storage)
	if n := s.RevokeSessions("@sandbox123456_bot"); n != 1 {
		t.Fatalf("revoked %d", n)
	}
	c = client(t, s, storage)
	run(t, c, func(ctx context.Context, api *tg.Client) error {
		_, err := api.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUserSelf{}})
		if !tgerr.Is(err, "SESSION_REVOKED") || !auth.IsUnauthorized(err) {
			return fmt.Errorf("revoked: %v", err)
		}
		return nil
	})
}
