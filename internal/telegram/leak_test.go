package telegram

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/broadcast-cli/broadcast/internal/store"
)

// A server that accepts and never answers: Run gives up after
// ConnectTimeout with a ConnectError and leaves no goroutine behind.
func TestStalledServerTimesOutWithoutLeaks(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&key.PublicKey)})
	st, err := store.Open(filepath.Join(t.TempDir(), "state"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := New(Options{APIID: 1, APIHash: "x", Server: l.Addr().String(), ServerKeys: pemKey, Store: st, ConnectTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = c.Run(context.Background(), func(context.Context) error {
		t.Error("connected to a server that never answers")
		return nil
	})
	var ce *ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("Run: %v, want a ConnectError", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("gave up after %s with a 500ms timeout", took)
	}
	l.Close()
	for conn := range accepted {
		conn.Close()
	}
}
