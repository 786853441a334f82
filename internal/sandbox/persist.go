package sandbox

// persist.go owns a persistent sandbox's files (Options.StateDir): the
// format, reading a previous run's key and state, atomic saves, the inbox
// log, and handing kept auth keys to tgtest. Putting what was read back
// into the world is restore.go's.

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"unsafe"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/tgtest"
)

// Files a persistent sandbox (Options.StateDir) keeps, all mode 0600 in a
// 0700 directory:
//
//   - KeyFile: the server's RSA private key, a PKCS#1 "RSA PRIVATE KEY" PEM
//     block, written once; with several DCs one block per DC, in DC order.
//   - StateFile: JSON (see savedState): the address and DC, the accounts
//     logins created, and every auth key the server has seen with the user
//     it is logged in as. Rewritten atomically (temp file, fsync, rename)
//     whenever an auth key appears, a login or logout happens, or an upload
//     takes a new id.
//   - InboxFile: every delivered message, one JSON Message a line, appended;
//     and, as they happen, edits and deletions as lines with an "event":
//     {"event":"edited", …the whole Message as it now reads, with
//     edit_date}, {"event":"deleted","id":…,"from_id":…,"to_id":…,"to":…,
//     "date":…} when a message left its recipient's inbox (date: when), and
//     "deleted_for_sender" in the same shape when only the sender's copy
//     went. Read back on start to restore inboxes, message ids (a deleted
//     one is not reused), random_id dedupe and sent media.
//
// Counters, fault budgets (rates, resolve limits), pending login codes and
// upload parts are not kept: they start afresh with every run.
const (
	KeyFile   = "server.key"
	StateFile = "sandbox.json"
	InboxFile = "inbox.jsonl"
)

// stateVersion is savedState.Version as this code writes it.
const stateVersion = 1

// ErrSavedAddr marks a failure to listen on the address a previous run kept
// in the state dir (most likely another sandbox on the same dir holds it).
var ErrSavedAddr = errors.New("the address kept from the previous run")

// savedState is StateFile.
type savedState struct {
	Version int `json:"version"`
	// Addr is the address the server listened on, "127.0.0.1:port".
	Addr string `json:"addr"`
	DC   int    `json:"dc"`
	// NextID is the last id handed to an account, file or album.
	NextID int64 `json:"next_id"`
	// Accounts are the users logins created (phone accounts and bots);
	// friends are made again from Options.Users.
	Accounts []savedAccount `json:"accounts,omitempty"`
	// AuthKeys are the MTProto auth keys clients created here.
	AuthKeys []savedKey `json:"auth_keys,omitempty"`
	// DCs are DCs 2…N of a sandbox of several (cluster.go); Addr and DC
	// are the first's.
	DCs []savedDC `json:"dcs,omitempty"`
}

type savedAccount struct {
	User
	// BotSecret is the part of a bot's token after the colon.
	BotSecret string `json:"bot_secret,omitempty"`
}

type savedKey struct {
	// ID is the auth_key_id in hex, for people reading the file; it is
	// checked against Key on load.
	ID string `json:"id"`
	// Key is the 256-byte auth key, base64.
	Key []byte `json:"key"`
	// UserID is the account the key is logged in as; 0 when it is not.
	UserID int64 `json:"user_id,omitempty"`
	// DC is the DC the key belongs to; 0 for the first.
	DC int `json:"dc,omitempty"`
}

// persister writes a persistent sandbox's files.
type persister struct {
	dir   string
	mu    sync.Mutex // serialises saves: each writes a snapshot taken under it
	inbox *os.File
}

// loaded is what a previous run left in the state dir.
type loaded struct {
	key       *rsa.PrivateKey   // nil: no key file
	extraKeys []*rsa.PrivateKey // DCs 2…N's keys, after the first in the key file
	state     *savedState       // nil: no state file
}

// loadDir creates dir if needed and reads a previous run's key and state.
// It writes nothing else: a second sandbox on the same dir fails at listen
// before touching the first one's files.
func loadDir(dir string) (*loaded, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	var l loaded
	b, err := os.ReadFile(filepath.Join(dir, KeyFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("state dir: %w", err)
	default:
		if l.key, l.extraKeys, err = parsePrivateKeys(b); err != nil {
			return nil, fmt.Errorf("state dir: %s: %w", filepath.Join(dir, KeyFile), err)
		}
	}
	path := filepath.Join(dir, StateFile)
	b, err = os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("state dir: %w", err)
	default:
		var st savedState
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, fmt.Errorf("state dir: %s: %w (remove it to start afresh)", path, err)
		}
		if st.Version > stateVersion {
			return nil, fmt.Errorf("state dir: %s: version %d is newer than this sandbox (%d)", path, st.Version, stateVersion)
		}
		l.state = &st
	}
	return &l, nil
}

func parsePrivateKey(b []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("a %T, not an RSA key", k)
		}
		return rk, nil
	default:
		return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
	}
}

// savedAddr is the address to listen on: the one asked for, unless it asks
// for any port and a previous run kept one.
func savedAddr(asked string, st *savedState) (string, bool) {
	if st == nil || st.Addr == "" {
		return asked, false
	}
	host, port, err := net.SplitHostPort(asked)
	if err != nil || port != "0" {
		return asked, false
	}
	sHost, sPort, err := net.SplitHostPort(st.Addr)
	if err != nil {
		return asked, false
	}
	if host == "" {
		host = sHost
	}
	return net.JoinHostPort(host, sPort), true
}

// writeFileAtomic replaces path with data: a reader sees the old file or
// the new one, never a part, and a crash leaves one of them.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// writeKeyFile writes every DC's key, the first DC's first.
func writeKeyFile(dir string, keys ...*rsa.PrivateKey) error {
	var b []byte
	for _, key := range keys {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})...)
	}
	return writeFileAtomic(filepath.Join(dir, KeyFile), b)
}

// openInbox opens InboxFile for appending, first ending a line a crash may
// have cut so the next message starts on its own.
func openInbox(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, InboxFile), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			_, _ = f.Write([]byte{'\n'})
		}
	}
	return f, nil
}

// snapshot is the state to save. Call with w.mu held.
func (w *world) snapshot(addr string, dc int) savedState {
	st := savedState{Version: stateVersion, Addr: addr, DC: dc, NextID: w.nextID}
	friend := make(map[int64]bool, len(w.friends))
	for _, f := range w.friends {
		friend[f.ID] = true
	}
	for id, u := range w.users {
		if !friend[id] {
			st.Accounts = append(st.Accounts, savedAccount{User: *u, BotSecret: w.bots[id]})
		}
	}
	sort.Slice(st.Accounts, func(i, j int) bool { return st.Accounts[i].ID < st.Accounts[j].ID })
	for id, k := range w.keys {
		st.AuthKeys = append(st.AuthKeys, savedKey{ID: hex.EncodeToString(id[:]), Key: append([]byte(nil), k[:]...), UserID: w.sessions[id], DC: w.keyDCOf(id)})
	}
	sort.Slice(st.AuthKeys, func(i, j int) bool { return st.AuthKeys[i].ID < st.AuthKeys[j].ID })
	return st
}

// save writes StateFile from the current world.
func (s *Server) save() error {
	p := s.persist
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s.world.mu.Lock()
	st := s.world.snapshot(s.addr.String(), s.opts.DC)
	s.world.mu.Unlock()
	st.DCs = s.savedDCs()
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(p.dir, StateFile), append(b, '\n'))
}

// saveOrWarn saves and logs a failure: the RPC that changed the state is
// still answered, but its change will not survive a restart.
func (s *Server) saveOrWarn() {
	if err := s.save(); err != nil {
		s.log.Error("sandbox state not saved: this change will not survive a restart", "dir", s.persist.dir, "error", err)
	}
}

// noteKey records an auth key the first time one of its messages arrives,
// and saves it before that message is handled.
func (s *Server) noteKey(k crypto.AuthKey) {
	if s.persist == nil {
		return
	}
	w := s.world
	w.mu.Lock()
	_, known := w.keys[k.ID]
	if !known {
		w.keys[k.ID] = k.Value
	}
	w.mu.Unlock()
	if !known {
		s.saveOrWarn()
	}
}

// errTgtestLayout: tgtest's key table is not where this code looks for it.
var errTgtestLayout = errors.New("gotd tgtest.Server has no users.sessions map[[8]byte]crypto.AuthKey (gotd upgraded?); persistent auth keys need updating")

// installAuthKeys puts auth keys from a previous run into tgtest's key
// table. tgtest keeps keys in memory only and has no way to add one, so this
// reaches its unexported table by reflection. It must run before Serve: then
// no connection reads the table while it is written.
func installAuthKeys(srv *tgtest.Server, keys map[[8]byte]crypto.Key) error {
	users := reflect.ValueOf(srv).Elem().FieldByName("users")
	if !users.IsValid() || users.Kind() != reflect.Pointer || users.IsNil() || users.Elem().Kind() != reflect.Struct {
		return errTgtestLayout
	}
	field := users.Elem().FieldByName("sessions")
	if !field.IsValid() || field.Type() != reflect.TypeOf(map[[8]byte]crypto.AuthKey(nil)) {
		return errTgtestLayout
	}
	table := reflect.NewAt(field.Type(), unsafe.Pointer(field.UnsafeAddr())).Elem().Interface().(map[[8]byte]crypto.AuthKey)
	if table == nil {
		return errTgtestLayout
	}
	for id, k := range keys {
		table[id] = crypto.AuthKey{Value: k, ID: id}
	}
	return nil
}

// startPersist finishes a persistent server's start, after it listens:
// tgtest gets the kept auth keys, and the key file, the inbox log and the
// state (with the address now known) are written.
func (s *Server) startPersist(key *rsa.PrivateKey, writeKey bool, authKeys map[[8]byte]crypto.Key) error {
	dir := s.opts.StateDir
	if err := s.installAuthKeys(authKeys); err != nil {
		return err
	}
	keyPath := filepath.Join(dir, KeyFile)
	if writeKey || s.keysToWrite() {
		if err := writeKeyFile(dir, s.privateKeys()...); err != nil {
			return fmt.Errorf("state dir: %w", err)
		}
	} else if err := os.Chmod(keyPath, 0o600); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	f, err := openInbox(dir)
	if err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	s.persist = &persister{dir: dir, inbox: f}
	s.world.inboxLog = f
	if s.opts.InboxLog != nil {
		s.world.inboxLog = io.MultiWriter(f, s.opts.InboxLog)
	}
	if err := s.save(); err != nil {
		_ = f.Close()
		return fmt.Errorf("state dir: %w", err)
	}
	return nil
}
