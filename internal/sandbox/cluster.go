package sandbox

// cluster.go owns a sandbox of several DCs (Options.DCs > 1): the
// listeners, RSA keys and tgtest servers of DCs 2…N beside the first DC's
// (which stay the Server's own srv, ln and addr, so one DC works exactly as
// before), which DC an account lives on, the DC list help.getConfig
// announces, the per-DC counters, and what a persistent server keeps of
// them. Migration answers (PHONE_MIGRATE_X, USER_MIGRATE_X, FILE_MIGRATE_X)
// and the authorization transfer between DCs are in transfer.go.

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gotd/log/logslog"
	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgtest"
	"github.com/gotd/td/transport"
)

// cluster is DCs 2…N; set up in Start and read-only after it.
type cluster struct {
	nodes []*dcNode
	// newKeys: a DC's key was generated or given in Options, so a
	// persistent server writes its key file again.
	newKeys bool
	once    sync.Once
}

// dcNode is one DC beyond the first: its own key, listener and tgtest
// server, all answering from the one shared world.
type dcNode struct {
	id     int
	key    *rsa.PrivateKey
	srv    *tgtest.Server
	ln     *headerListener
	addr   *net.TCPAddr
	served chan error
}

// savedDC is a DC beyond the first in StateFile: its id and address.
type savedDC struct {
	ID   int    `json:"id"`
	Addr string `json:"addr"`
}

// clusterState is the world's part that only DCs, logins across DCs and
// QR tokens need; lazily made by world.cl so one-DC worlds are unchanged.
// Everything in it is under world.mu.
type clusterState struct {
	// calls and uploaded count per DC what world.calls and uploadedBytes
	// count in all.
	calls    map[int]map[string]int
	uploaded map[int]int64
	// keyDC is the DC of every auth key not on the first DC, so a
	// persistent server gives each key back to its own DC's tgtest.
	keyDC map[[8]byte]int
	// exports are auth.exportAuthorization's answers not yet imported.
	exports map[string]exportedAuth
	// revoked are auth keys whose login RevokeSessions ended: they get
	// SESSION_REVOKED instead of AUTH_KEY_UNREGISTERED.
	revoked map[[8]byte]bool
	// passwordFails counts wrong 2FA passwords per phone number, for
	// Options.PasswordAttempts.
	passwordFails map[string]int
	// codeSent is when each phone_code_hash was handed out, for
	// Options.LoginCodeTTL.
	codeSent map[string]time.Time
	// tokens are QR login tokens by their bytes (qrlogin.go).
	tokens map[string]*loginToken
}

// cl is the cluster state, made on first use. Call with w.mu held.
func (w *world) cl() *clusterState {
	if w.cluster == nil {
		w.cluster = &clusterState{
			calls:         map[int]map[string]int{},
			uploaded:      map[int]int64{},
			keyDC:         map[[8]byte]int{},
			exports:       map[string]exportedAuth{},
			revoked:       map[[8]byte]bool{},
			passwordFails: map[string]int{},
			codeSent:      map[string]time.Time{},
			tokens:        map[string]*loginToken{},
		}
	}
	return w.cluster
}

// countOn counts a call to method on DC dc. Call with w.mu held.
func (w *world) countOn(dc int, method string) {
	cs := w.cl()
	if cs.calls[dc] == nil {
		cs.calls[dc] = map[string]int{}
	}
	cs.calls[dc][method]++
}

// countDC is countOn for callers without the lock (methods the sandbox
// does not implement).
func (w *world) countDC(dc int, method string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.countOn(dc, method)
}

// maxDCs bounds Options.DCs: Telegram's production network has five
// (https://core.telegram.org/api/datacenter); the sandbox allows a few
// more, which is plenty for tests.
const maxDCs = 9

// prepareCluster settles Options.DCs (a previous run's count when unset),
// the options that only make sense with several DCs, and the defaults of
// the QR and login knobs, before anything listens. With several DCs they
// are numbered 1…N and the first is DC 1.
func prepareCluster(opts *Options, prev *loaded) error {
	saved := 0
	if prev != nil && prev.state != nil {
		saved = 1 + len(prev.state.DCs)
	}
	switch {
	case opts.DCs < 0 || opts.DCs > maxDCs:
		return fmt.Errorf("DCs must be between 1 and %d, got %d", maxDCs, opts.DCs)
	case opts.DCs == 0 && saved > 0:
		opts.DCs = saved
	case opts.DCs == 0:
		opts.DCs = 1
	case saved > 0 && opts.DCs != saved:
		return fmt.Errorf("%w: it holds a sandbox of %d DCs, asked for %d", ErrDCCount, saved, opts.DCs)
	}
	if opts.DCs > 1 {
		if opts.DC != 0 && opts.DC != 1 {
			return fmt.Errorf("with %d DCs they are numbered 1 to %d and the first is DC 1, got DC %d", opts.DCs, opts.DCs, opts.DC)
		}
		opts.DC = 1
	}
	if opts.FileDC != 0 && (opts.DCs == 1 || opts.FileDC < 1 || opts.FileDC > opts.DCs) {
		return fmt.Errorf("the file DC must be one of DCs 1 to %d of a sandbox of several DCs, got %d", opts.DCs, opts.FileDC)
	}
	if opts.LoginTokenTTL < 0 || opts.QRAutoScan < 0 || opts.LoginCodeTTL < 0 || opts.LoginFloodWait < 0 {
		return errors.New("QR token, auto-scan, login code and login flood durations must not be negative")
	}
	if opts.LoginTokenTTL == 0 {
		opts.LoginTokenTTL = DefaultLoginTokenTTL
	}
	if opts.LoginTokenTTL < time.Second {
		// Tokens carry their expiry in whole seconds.
		return fmt.Errorf("a QR login token must live at least 1s, got %v", opts.LoginTokenTTL)
	}
	if opts.QRScanAs == "" {
		opts.QRScanAs = DefaultScanner
	}
	if _, err := validPhone(opts.QRScanAs); err != nil {
		return fmt.Errorf("the QR scanner's phone number %q is not valid", opts.QRScanAs)
	}
	return nil
}

// ErrDCCount marks a state dir kept by a sandbox of another number of DCs.
var ErrDCCount = errors.New("the state dir was made with another number of DCs")

// startCluster makes DCs 2…N: a key each (from Options.DCKeys, the state
// dir's key file, or new), a listener (on the port the previous run kept,
// if any, whatever the first DC does: sessions homed there remember it)
// and a tgtest server. They serve once
// serveCluster is called, after a persistent server has installed its auth
// keys.
func (s *Server) startCluster(prev *loaded) error {
	s.cluster = &cluster{}
	if s.opts.DCs < 2 {
		return nil
	}
	host, _, _ := net.SplitHostPort(s.opts.Addr)
	for id := 2; id <= s.opts.DCs; id++ {
		n := &dcNode{id: id, served: make(chan error, 1)}
		switch i := id - 2; {
		case i < len(s.opts.DCKeys) && s.opts.DCKeys[i] != nil:
			n.key = s.opts.DCKeys[i]
			s.cluster.newKeys = s.opts.StateDir != "" && (prev.extraKey(i) == nil || !prev.extraKey(i).Equal(n.key))
		case prev != nil && prev.extraKey(i) != nil:
			n.key = prev.extraKey(i)
		default:
			k, err := rsa.GenerateKey(rand.Reader, crypto.RSAKeyBits)
			if err != nil {
				s.closeCluster()
				return fmt.Errorf("generate DC %d's key: %w", id, err)
			}
			n.key, s.cluster.newKeys = k, s.opts.StateDir != ""
		}
		addr := net.JoinHostPort(host, "0")
		kept := false
		if a := prev.dcAddr(id); a != "" {
			if _, p, err := net.SplitHostPort(a); err == nil {
				addr, kept = net.JoinHostPort(host, p), true
			}
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			s.closeCluster()
			if kept {
				return fmt.Errorf("DC %d: listen on %s, %w (%s): %w", id, addr, ErrSavedAddr, filepath.Join(s.opts.StateDir, StateFile), err)
			}
			return fmt.Errorf("DC %d: listen on %s: %w", id, addr, err)
		}
		n.ln = newHeaderListener(l)
		n.addr = l.Addr().(*net.TCPAddr)
		n.srv = tgtest.NewServer(exchange.PrivateKey{RSA: n.key}, tgtest.UnpackInvoke(tgtest.HandlerFunc(s.onMessage)), tgtest.ServerOptions{
			DC:           id,
			Logger:       logslog.New(s.log),
			ReadTimeout:  10 * time.Minute, // as the first DC's: outlast gotd's pings
			WriteTimeout: 30 * time.Second,
		})
		s.cluster.nodes = append(s.cluster.nodes, n)
	}
	return nil
}

// serveCluster starts DCs 2…N serving.
func (s *Server) serveCluster() {
	for _, n := range s.cluster.nodes {
		go func() { n.served <- n.srv.Serve(s.ctx, transport.Listen(n.ln)) }()
	}
}

// closeCluster stops DCs 2…N and waits for their loops; safe to call
// again, and before they serve.
func (s *Server) closeCluster() {
	if s.cluster == nil {
		return
	}
	s.cluster.once.Do(func() {
		for _, n := range s.cluster.nodes {
			if n.ln != nil {
				_ = n.ln.Close()
			}
		}
		if s.ctx == nil {
			return // never served
		}
		for _, n := range s.cluster.nodes {
			<-n.served
		}
	})
}

// extraKey is the key file's key for DC i+2, if it has one.
func (l *loaded) extraKey(i int) *rsa.PrivateKey {
	if l == nil || i >= len(l.extraKeys) {
		return nil
	}
	return l.extraKeys[i]
}

// dcAddr is the address a previous run kept for DC id beyond the first.
func (l *loaded) dcAddr(id int) string {
	if l == nil || l.state == nil {
		return ""
	}
	for _, d := range l.state.DCs {
		if d.ID == id {
			return d.Addr
		}
	}
	return ""
}

// parsePrivateKeys reads KeyFile: the first DC's key, then one block per
// further DC, in DC order.
func parsePrivateKeys(b []byte) (*rsa.PrivateKey, []*rsa.PrivateKey, error) {
	var keys []*rsa.PrivateKey
	for {
		block, rest := pem.Decode(b)
		if block == nil {
			break
		}
		k, err := parsePrivateKey(pem.EncodeToMemory(block))
		if err != nil {
			return nil, nil, fmt.Errorf("key %d: %w", len(keys)+1, err)
		}
		keys = append(keys, k)
		b = rest
	}
	if len(keys) == 0 {
		return nil, nil, errors.New("no PEM block")
	}
	return keys[0], keys[1:], nil
}

// privateKeys are every DC's keys in DC order, as KeyFile keeps them.
func (s *Server) privateKeys() []*rsa.PrivateKey {
	keys := []*rsa.PrivateKey{s.key}
	for _, n := range s.cluster.nodes {
		keys = append(keys, n.key)
	}
	return keys
}

// keysToWrite: a persistent server must write KeyFile again for DCs 2…N.
func (s *Server) keysToWrite() bool { return s.cluster != nil && s.cluster.newKeys }

// PublicKeysPEM is every DC's RSA public key, one PKCS#1 "RSA PUBLIC KEY"
// block each, the first DC's first: the one file a client is given
// (--server-key), since gotd picks the key whose fingerprint the DC it
// reaches announces. With one DC it is PublicKeyPEM.
func (s *Server) PublicKeysPEM() []byte {
	var out []byte
	for _, k := range s.privateKeys() {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.PublicKey)})...)
	}
	return out
}

// DCInfo is one DC of a running sandbox.
type DCInfo struct {
	ID   int    `json:"id"`
	Addr string `json:"addr"`
}

// DCs lists the sandbox's DCs, the first (the one Addr and DC name) first.
func (s *Server) DCs() []DCInfo {
	out := []DCInfo{{ID: s.opts.DC, Addr: s.Addr()}}
	for _, n := range s.cluster.nodes {
		out = append(out, DCInfo{ID: n.id, Addr: n.addr.String()})
	}
	return out
}

// savedDCs is DCs 2…N for StateFile.
func (s *Server) savedDCs() []savedDC {
	var out []savedDC
	for _, n := range s.cluster.nodes {
		out = append(out, savedDC{ID: n.id, Addr: n.addr.String()})
	}
	return out
}

// dcOptions is the DC list help.getConfig announces: every DC with its
// address. gotd replaces its own list with it and dials DC X from it when
// told to migrate there (shared/TELEGRAM.md, "DC migration"), so every DC
// must be in it. static marks an address that does not change
// (https://core.telegram.org/constructor/dcOption): true here.
func (s *Server) dcOptions() []tg.DCOption {
	var out []tg.DCOption
	for _, d := range s.DCs() {
		host, port, _ := net.SplitHostPort(d.Addr)
		p, _ := strconv.Atoi(port)
		out = append(out, tg.DCOption{ID: d.ID, IPAddress: host, Port: p, Static: true})
	}
	return out
}

// homeDC is the DC an account lives on. Telegram decides that itself
// (https://core.telegram.org/api/datacenter; the 303 errors of
// https://core.telegram.org/api/errors name the DC a phone number or user
// "is associated with") and says nothing of how; the sandbox's rule is its
// own, a guess made predictable for tests: with N
// DCs, the last digit d of the account's phone number, or of its id when it
// has none (bots), puts it on DC 1 + d mod N. So with three DCs
// +15550000000 lives on DC 1, +15550000001 on DC 2 and +15550000002 on
// DC 3; bot 123456 on DC 1 and bot 123458 on DC 3. With one DC, there.
func (s *Server) homeDC(phone string, id int64) int {
	if s.opts.DCs < 2 {
		return s.opts.DC
	}
	d := int(id % 10)
	if phone != "" {
		d = int(phone[len(phone)-1] - '0')
	}
	if d < 0 || d > 9 {
		d = 0
	}
	return 1 + d%s.opts.DCs
}

// userDC is u's home DC.
func (s *Server) userDC(u *User) int { return s.homeDC(u.Phone, u.ID) }

// nodeOf is the tgtest server of DC dc; nil for no such DC.
func (s *Server) nodeOf(dc int) *tgtest.Server {
	if dc == s.opts.DC {
		return s.srv
	}
	for _, n := range s.cluster.nodes {
		if n.id == dc {
			return n.srv
		}
	}
	return nil
}

// noteKeyDC records the DC of an auth key not on the first DC, before
// noteKey saves it.
func (s *Server) noteKeyDC(dc int, id [8]byte) {
	if s.persist == nil || dc == s.opts.DC {
		return
	}
	s.world.mu.Lock()
	s.world.cl().keyDC[id] = dc
	s.world.mu.Unlock()
}

// keyDCOf is StateFile's DC for an auth key: 0 for the first DC, so a
// one-DC state file reads as before. Call with w.mu held.
func (w *world) keyDCOf(id [8]byte) int {
	if w.cluster == nil {
		return 0
	}
	return w.cluster.keyDC[id]
}

// installAuthKeys gives each kept auth key to its own DC's tgtest. A key
// of a DC this run does not have is dropped with a warning.
func (s *Server) installAuthKeys(keys map[[8]byte]crypto.Key) error {
	byDC := map[int]map[[8]byte]crypto.Key{}
	s.world.mu.Lock()
	for id, k := range keys {
		dc := s.world.keyDCOf(id)
		if dc == 0 {
			dc = s.opts.DC
		}
		if byDC[dc] == nil {
			byDC[dc] = map[[8]byte]crypto.Key{}
		}
		byDC[dc][id] = k
	}
	s.world.mu.Unlock()
	dcs := make([]int, 0, len(byDC))
	for dc := range byDC {
		dcs = append(dcs, dc)
	}
	sort.Ints(dcs)
	for _, dc := range dcs {
		srv := s.nodeOf(dc)
		if srv == nil {
			s.log.Warn("sandbox state: auth keys of a DC this run does not have dropped", "dc", dc, "keys", len(byDC[dc]))
			continue
		}
		if err := installAuthKeys(srv, byDC[dc]); err != nil {
			return err
		}
	}
	return nil
}

// CallsOn returns how many times DC dc answered method (TL name).
func (s *Server) CallsOn(dc int, method string) int {
	s.world.mu.Lock()
	defer s.world.mu.Unlock()
	return s.world.cl().calls[dc][method]
}

// DCCallCounts returns every method's call count on DC dc.
func (s *Server) DCCallCounts(dc int) map[string]int {
	s.world.mu.Lock()
	defer s.world.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.world.cl().calls[dc] {
		out[k] = v
	}
	return out
}

// UploadedBytesOn counts the upload bytes DC dc stored (see UploadedBytes).
func (s *Server) UploadedBytesOn(dc int) int64 {
	s.world.mu.Lock()
	defer s.world.mu.Unlock()
	return s.world.cl().uploaded[dc]
}

// DCStats is one DC's counters.
type DCStats struct {
	ID            int            `json:"id"`
	Calls         map[string]int `json:"calls"`
	UploadedBytes int64          `json:"uploaded_bytes"`
}

// DCStats returns every DC's counters, in DC order.
func (s *Server) DCStats() []DCStats {
	var out []DCStats
	for _, d := range s.DCs() {
		out = append(out, DCStats{ID: d.ID, Calls: s.DCCallCounts(d.ID), UploadedBytes: s.UploadedBytesOn(d.ID)})
	}
	return out
}
