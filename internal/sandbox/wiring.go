package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gotd/td/telegram"
)

// The sandbox's own wiring, exported so that its users (the CLI's sandbox
// and demo commands, the bench, the tests) share one copy and need not
// import gotd for it.
const (
	// BotToken is a token of Telegram's shape that the sandbox accepts.
	BotToken = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	// AppID and AppHash are Telegram's public test credentials; any pair
	// works with the sandbox.
	AppID   = telegram.TestAppID
	AppHash = telegram.TestAppHash
)

// Files names what WriteConfig wrote.
type Files struct {
	Key    string // the server's public keys, PEM, one per DC
	Config string // a broadcast config pointing at the server
}

// WriteConfig writes the server's public key (server.pem) and a ready
// broadcast config (config.yaml: credentials, the server, a default list
// of the first three friends and one of everyone) into dir, both 0600.
func (s *Server) WriteConfig(dir string) (Files, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Files{}, err
	}
	f := Files{Key: filepath.Join(abs, "server.pem"), Config: filepath.Join(abs, "config.yaml")}
	// Every DC's key in the one file --server-key names (cluster.go).
	if err := os.WriteFile(f.Key, s.PublicKeysPEM(), 0o600); err != nil {
		return f, err
	}
	var def, all []string
	for i, u := range s.Friends() {
		if i < 3 {
			def = append(def, `"@`+u.Username+`"`)
		}
		all = append(all, `"@`+u.Username+`"`)
	}
	cfg := fmt.Sprintf(`# Written by the broadcast sandbox: points broadcast at the local sandbox server.
# Any api_id/api_hash works there; these are Telegram's public test credentials.
api_id: %d
api_hash: %s
server:
  address: %s
  key_file: server.pem
  dc: %d
default_list: friends
lists:
  friends: [%s]
  everyone: [%s]
`, AppID, AppHash, s.Addr(), s.DC(), strings.Join(def, ", "), strings.Join(all, ", "))
	return f, os.WriteFile(f.Config, []byte(cfg), 0o600)
}
