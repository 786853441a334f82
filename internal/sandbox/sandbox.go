package sandbox

// sandbox.go owns the server's life and its Go API: Options, Start (with
// resuming a state dir), Close, and what tests and the CLI read from a
// running server (address, key, friends, inboxes, counters).

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/gotd/log/logslog"
	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tgtest"
	"github.com/gotd/td/transport"
)

// Options configure a sandbox server. The zero value is a working server on
// a random loopback port with ten friends and no faults.
type Options struct {
	// Addr to listen on; default "127.0.0.1:0". Only loopback makes sense.
	// With StateDir, a port of 0 means the port a previous run kept.
	Addr string
	// DC is the id this server answers as; default 2 (with StateDir, the
	// previous run's).
	DC int
	// Users is the number of friends (friend1 … friendN); default 10.
	Users int
	// Password, when set, is the 2FA password every phone login must pass.
	Password string
	// LoginCode is the code phone logins accept; default LoginCode (22222).
	LoginCode string

	// Latency is added to every RPC before it is processed.
	Latency time.Duration
	// SendRate, when > 0, is the per-account number of sends per second
	// above which sends answer FLOOD_WAIT_X (X: whole seconds until a slot
	// frees, at least 1). The bucket holds one second's worth.
	SendRate float64
	// ResolveLimit, when > 0, is the number of contacts.resolveUsername calls
	// an account may make; later calls answer FLOOD_WAIT_X with ResolveWait.
	ResolveLimit int
	// ResolveWait is the wait announced after ResolveLimit; default 1 hour.
	ResolveWait time.Duration
	// DropAnswer is the probability that a send is applied but its answer is
	// lost: the connection is dropped before the server replies.
	DropAnswer float64
	// AckBeforeDrop makes a lost answer acknowledged first, as Telegram does
	// for slow queries, so gotd cannot resend the request by itself.
	AckBeforeDrop bool
	// PeerFloodAfter, when > 0, is the number of messages an account may
	// send before every further send answers PEER_FLOOD (the account is
	// spam-limited).
	PeerFloodAfter int
	// Blocked lists friend numbers (1-based) who have blocked the account:
	// sends to them answer USER_IS_BLOCKED.
	Blocked []int
	// EditLimit, when > 0, is how long after it was sent a message can be
	// edited, for every account; 0 keeps Telegram's: 48 hours for users,
	// none for a bot's own messages. help.getConfig announces it
	// (edit_time_limit, whole seconds rounded up) and messages.editMessage
	// enforces what it announced.
	EditLimit time.Duration
	// RevokeLimit, when > 0, is how long after it was sent a message can be
	// deleted for both sides, for every account; 0 keeps Telegram's: none
	// for users, 48 hours for bots. help.getConfig announces it
	// (revoke_pm_time_limit) and messages.deleteMessages enforces it.
	RevokeLimit time.Duration
	// ReadAfter, when > 0, is how long a recipient takes to read a message:
	// each has read every message it received at least ReadAfter ago, as
	// messages.getPeerDialogs reports (read_outbox_max_id). 0: nobody ever
	// reads.
	ReadAfter time.Duration
	// NeverRead lists friend numbers (1-based) who never read a message,
	// whatever ReadAfter says.
	NeverRead []int
	// SlowMode, when > 0, puts the sandbox's lounge supergroup
	// (@sandbox_lounge, chats.go) in slow mode: a member may send one
	// message there every SlowMode, and sooner ones answer SLOWMODE_WAIT_X.
	SlowMode time.Duration
	// Seed makes fault injection repeatable; 0 picks a random seed.
	Seed uint64

	// Key is the server's RSA key; when nil, the one kept in StateDir or a
	// new one.
	Key *rsa.PrivateKey
	// StateDir, when set, makes the server persistent: it keeps its RSA
	// key, address, DC, the accounts logins created, every auth key and the
	// account it is logged in as, and the inboxes in this directory (see
	// KeyFile, StateFile, InboxFile), and a later Start on the same
	// directory resumes them, so a client's login survives a restart.
	// Without it everything lives in memory and dies with the server.
	StateDir string
	// Logger receives the server's logs; none when nil.
	Logger *slog.Logger
	// InboxLog, when set, receives every delivered message as a JSON line,
	// and every deletion and edit as a line with an "event" field (see
	// InboxFile; with StateDir, as well as StateDir's InboxFile).
	InboxLog io.Writer

	// Several DCs and logging in across them (cluster.go, transfer.go,
	// qrlogin.go, loginfaults.go).

	// DCs is how many DCs the sandbox runs; default 1 (with StateDir, the
	// previous run's). With more, they are numbered 1 to DCs (DC must then
	// be 0 or 1), each with its own listener and RSA key, and every
	// account lives on one of them (see homeDC in cluster.go).
	DCs int
	// DCKeys are the RSA keys of DCs 2, 3, …; missing ones come from
	// StateDir's KeyFile or are generated. Key stays the first DC's.
	DCKeys []*rsa.PrivateKey
	// FileDC, when set (with several DCs), is the DC uploads are stored
	// on: upload parts sent elsewhere answer FILE_MIGRATE_X.
	FileDC int
	// LoginTokenTTL is how long a QR login token lives; default
	// DefaultLoginTokenTTL (30 s, as Telegram's), at least 1 s.
	LoginTokenTTL time.Duration
	// QRAutoScan, when > 0, plays the phone: every QR login token is
	// accepted this long after it was exported, by the account with phone
	// number QRScanAs (default DefaultScanner).
	QRAutoScan time.Duration
	QRScanAs   string
	// BannedPhones are numbers auth.sendCode refuses with
	// PHONE_NUMBER_BANNED.
	BannedPhones []string
	// LoginFloodWait, when > 0, is the FLOOD_WAIT_X every auth.sendCode
	// answers.
	LoginFloodWait time.Duration
	// PasswordAttempts, when > 0, is how many wrong 2FA passwords a number
	// may give before auth.sendCode answers PHONE_PASSWORD_FLOOD for it.
	PasswordAttempts int
	// LoginCodeTTL, when > 0, is how long a login code stays valid; later
	// auth.signIn answers PHONE_CODE_EXPIRED.
	LoginCodeTTL time.Duration
}

// Server is a running sandbox.
type Server struct {
	opts Options
	key  *rsa.PrivateKey
	srv  *tgtest.Server
	ln   *headerListener
	addr *net.TCPAddr
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	served chan error

	flightMu sync.Mutex
	inFlight map[flightKey]struct{} // requests being answered

	world   *world
	persist *persister // nil without Options.StateDir
	resumed bool
	cluster *cluster // DCs 2…N (cluster.go); none with one DC
}

// Start generates a key if needed, listens and serves in the background
// until Close. With Options.StateDir it first resumes what a previous run
// kept there.
func Start(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	var prev *loaded
	keptAddr := false
	if opts.StateDir != "" {
		var err error
		if prev, err = loadDir(opts.StateDir); err != nil {
			return nil, err
		}
		if prev.state != nil {
			opts.Addr, keptAddr = savedAddr(opts.Addr, prev.state)
			if opts.DC == 0 {
				opts.DC = prev.state.DC
			}
		}
	}
	if err := prepareCluster(&opts, prev); err != nil {
		return nil, err
	}
	if opts.DC == 0 {
		opts.DC = 2
	}
	if opts.Users < 0 {
		return nil, fmt.Errorf("users must be at least 0, got %d", opts.Users)
	}
	if opts.Users == 0 {
		opts.Users = 10
	}
	if opts.LoginCode == "" {
		opts.LoginCode = LoginCode
	}
	if opts.ResolveWait == 0 {
		opts.ResolveWait = time.Hour
	}
	if opts.DropAnswer < 0 || opts.DropAnswer > 1 {
		return nil, fmt.Errorf("drop probability must be between 0 and 1, got %v", opts.DropAnswer)
	}
	for _, b := range opts.Blocked {
		if b < 1 || b > opts.Users {
			return nil, fmt.Errorf("blocked friend %d does not exist (friends are 1 to %d)", b, opts.Users)
		}
	}
	for _, b := range opts.NeverRead {
		if b < 1 || b > opts.Users {
			return nil, fmt.Errorf("never-reading friend %d does not exist (friends are 1 to %d)", b, opts.Users)
		}
	}
	for name, d := range map[string]time.Duration{"edit limit": opts.EditLimit, "revoke limit": opts.RevokeLimit, "read delay": opts.ReadAfter, "slow mode": opts.SlowMode} {
		if d < 0 {
			return nil, fmt.Errorf("%s must not be negative, got %v", name, d)
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key := opts.Key
	writeKey := key != nil && opts.StateDir != "" && (prev.key == nil || !prev.key.Equal(key))
	if key == nil && prev != nil && prev.key != nil {
		key = prev.key
	}
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, crypto.RSAKeyBits); err != nil {
			return nil, fmt.Errorf("generate server key: %w", err)
		}
		writeKey = opts.StateDir != ""
	}
	w, err := newWorld(opts)
	if err != nil {
		return nil, err
	}
	var authKeys map[[8]byte]crypto.Key
	if opts.StateDir != "" {
		w.keys = map[[8]byte]crypto.Key{}
		if prev.state != nil {
			var notes []string
			authKeys, notes = w.restore(prev.state)
			for _, n := range notes {
				log.Warn("sandbox state: " + n)
			}
		}
		n, bad, err := w.replayInbox(opts.StateDir)
		if err != nil {
			return nil, fmt.Errorf("state dir: %s: %w", InboxFile, err)
		}
		if bad > 0 {
			log.Warn("sandbox state: unreadable inbox lines skipped", "file", InboxFile, "lines", bad)
		}
		if prev.state != nil || n > 0 {
			log.Info("sandbox state resumed", "dir", opts.StateDir, "auth_keys", len(authKeys), "logins", len(w.sessions), "messages", n)
		}
	}

	l, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		if keptAddr {
			return nil, fmt.Errorf("listen on %s, %w (%s): %w", opts.Addr, ErrSavedAddr, filepath.Join(opts.StateDir, StateFile), err)
		}
		return nil, fmt.Errorf("listen on %s: %w", opts.Addr, err)
	}
	s := &Server{
		opts:     opts,
		key:      key,
		ln:       newHeaderListener(l),
		addr:     l.Addr().(*net.TCPAddr),
		log:      log,
		served:   make(chan error, 1),
		world:    w,
		inFlight: map[flightKey]struct{}{},
		resumed:  prev != nil && prev.state != nil,
	}
	s.srv = tgtest.NewServer(exchange.PrivateKey{RSA: key}, tgtest.UnpackInvoke(tgtest.HandlerFunc(s.onMessage)), tgtest.ServerOptions{
		DC:     opts.DC,
		Logger: logslog.New(log),
		// gotd pings every minute; tgtest's default 30 s would cut idle clients.
		ReadTimeout:  10 * time.Minute,
		WriteTimeout: 30 * time.Second,
	})
	if err := s.startCluster(prev); err != nil {
		_ = s.ln.Close()
		return nil, err
	}
	if opts.StateDir != "" {
		if err := s.startPersist(key, writeKey, authKeys); err != nil {
			_ = s.ln.Close()
			s.closeCluster()
			return nil, err
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go func() {
		s.served <- s.srv.Serve(s.ctx, transport.Listen(s.ln))
	}()
	s.serveCluster()
	return s, nil
}

// Close stops the server, closes every connection and waits for handlers.
func (s *Server) Close() error {
	s.cancel()
	_ = s.ln.Close()
	s.closeCluster()
	err := <-s.served
	s.served <- err // later Close calls return at once
	s.wg.Wait()
	if s.persist != nil {
		s.persist.mu.Lock()
		if s.persist.inbox != nil {
			s.world.mu.Lock()
			if cerr := s.persist.inbox.Close(); cerr != nil && err == nil {
				err = cerr
			}
			s.persist.inbox = nil
			s.world.inboxLog = s.opts.InboxLog
			s.world.mu.Unlock()
		}
		s.persist.mu.Unlock()
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// Addr is the address clients connect to, "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr.String() }

// DC is the DC id the server answers as.
func (s *Server) DC() int { return s.opts.DC }

// Resumed reports whether Start found a previous run's state in
// Options.StateDir.
func (s *Server) Resumed() bool { return s.resumed }

// InboxPath is the inbox log a persistent server appends to; "" without
// Options.StateDir.
func (s *Server) InboxPath() string {
	if s.persist == nil {
		return ""
	}
	return filepath.Join(s.persist.dir, InboxFile)
}

// PublicKeyPEM is the server's RSA public key as a PKCS#1 "RSA PUBLIC KEY" block.
func (s *Server) PublicKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&s.key.PublicKey)})
}

// Friends lists the sandbox's friends in order.
func (s *Server) Friends() []User {
	s.world.mu.Lock()
	defer s.world.mu.Unlock()
	out := make([]User, len(s.world.friends))
	for i, u := range s.world.friends {
		out[i] = *u
	}
	return out
}

// Lookup finds a user by username (with or without @), phone or "id:N".
func (s *Server) Lookup(name string) (User, bool) {
	s.world.mu.Lock()
	defer s.world.mu.Unlock()
	u := s.world.lookup(name)
	if u == nil {
		return User{}, false
	}
	return *u, true
}

// Inbox returns what a user (by username, phone or "id:N") has received, in
// delivery order.
func (s *Server) Inbox(name string) []Message {
	s.world.mu.Lock()
	defer s.world.mu.Unlock()
	u := s.world.lookup(name)
	if u == nil {
		return nil
	}
	return append([]Message(nil), s.world.inbox[u.ID]...)
}

// Delivered is the number of messages this server delivered, to all
// inboxes; those a persistent server restored from a previous run are not
// counted, and deleting a message does not uncount it.
func (s *Server) Delivered() int {
	s.world.mu.Lock()
	defer s.world.mu.Unlock()
	return s.world.delivered
}

// Deleted counts messages this server deleted through
// messages.deleteMessages, for both sides or for the sender only.
func (s *Server) Deleted() int {
	s.world.mu.Lock()
	defer s.world.mu.Unlock()
	return s.world.deleted
}

// Edited counts the edits this server made through messages.editMessage.
func (s *Server) Edited() int {
	s.world.mu.Lock()
	defer s.world.mu.Unlock()
	return s.world.edited
}

// Calls returns how many times a method (TL name, e.g.
// "contacts.resolveUsername") was called.
func (s *Server) Calls(method string) int {
	s.world.mu.Lock()
	defer s.world.mu.Unlock()
	return s.world.calls[method]
}

// CallCounts returns every method's call count.
func (s *Server) CallCounts() map[string]int {
	s.world.mu.Lock()
	defer s.world.mu.Unlock()
	out := make(map[string]int, len(s.world.calls))
	for k, v := range s.world.calls {
		out[k] = v
	}
	return out
}

// UploadedBytes counts bytes received through upload.saveFilePart and
// upload.saveBigFilePart, each part of each file once.
func (s *Server) UploadedBytes() int64 {
	s.world.mu.Lock()
	defer s.world.mu.Unlock()
	return s.world.uploadedBytes
}

// FloodWaits counts FLOOD_WAIT answers sent.
func (s *Server) FloodWaits() int {
	s.world.mu.Lock()
	defer s.world.mu.Unlock()
	return s.world.floodWaits
}

// DroppedAnswers counts sends whose answer was deliberately lost.
func (s *Server) DroppedAnswers() int {
	s.world.mu.Lock()
	defer s.world.mu.Unlock()
	return s.world.dropped
}

// Stats is a snapshot of the counters, as `broadcast sandbox` prints them.
type Stats struct {
	Calls          map[string]int `json:"calls"`
	Delivered      int            `json:"delivered"`
	Deleted        int            `json:"deleted"`
	Edited         int            `json:"edited"`
	UploadedBytes  int64          `json:"uploaded_bytes"`
	FloodWaits     int            `json:"flood_waits"`
	DroppedAnswers int            `json:"dropped_answers"`
}

// Stats returns all counters at once.
func (s *Server) Stats() Stats {
	return Stats{
		Calls:          s.CallCounts(),
		Delivered:      s.Delivered(),
		Deleted:        s.Deleted(),
		Edited:         s.Edited(),
		UploadedBytes:  s.UploadedBytes(),
		FloodWaits:     s.FloodWaits(),
		DroppedAnswers: s.DroppedAnswers(),
	}
}
