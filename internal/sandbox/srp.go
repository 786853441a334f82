package sandbox

// srp.go owns the server side of Telegram's SRP 2FA check
// (https://core.telegram.org/api/srp): the verifier kept for the password,
// the challenge sent in account.getPassword and the proof
// auth.checkPassword verifies.

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"math/big"

	"github.com/gotd/td/crypto/srp"
	"github.com/gotd/td/tg"
)

// srpPrime is Telegram's 2048-bit safe prime for 2FA (g = 3), the one real
// servers send in account.getPassword.
var srpPrime, _ = hex.DecodeString("" +
	"C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F" +
	"48198A0AA7C14058229493D22530F4DBFA336F6E0AC925139543AED44CCE7C37" +
	"20FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F64" +
	"2477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4" +
	"A4A695811051907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754" +
	"FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4" +
	"E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F" +
	"0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B")

const srpG = 3

// srpVerifier is the server side of Telegram's SRP 2FA check. The server only
// keeps the verifier v = g^x mod p; gotd's srp package computes it exactly as
// a client does when it sets a password.
type srpVerifier struct {
	salt1, salt2 []byte
	v            *big.Int
}

func newSRPVerifier(password string) (*srpVerifier, error) {
	salt1 := make([]byte, 8)
	salt2 := make([]byte, 16)
	if _, err := rand.Read(salt1); err != nil {
		return nil, err
	}
	if _, err := rand.Read(salt2); err != nil {
		return nil, err
	}
	v, newSalt1, err := srp.NewSRP(rand.Reader).NewHash([]byte(password), srp.Input{
		Salt1: salt1, Salt2: salt2, G: srpG, P: srpPrime,
	})
	if err != nil {
		return nil, err
	}
	return &srpVerifier{salt1: newSalt1, salt2: salt2, v: new(big.Int).SetBytes(v)}, nil
}

// srpChallenge is one account.getPassword answer: the server's secret b and
// its public B, kept until auth.checkPassword.
type srpChallenge struct {
	id int64
	b  *big.Int
	gb []byte
}

func (s *srpVerifier) challenge(id int64) (*srpChallenge, error) {
	p := new(big.Int).SetBytes(srpPrime)
	g := big.NewInt(srpG)
	raw := make([]byte, 256)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	b := new(big.Int).SetBytes(raw)
	// B = (k*v + g^b) mod p, k = H(p | pad(g)).
	k := new(big.Int).SetBytes(hashAll(srpPrime, pad256(g)))
	kv := new(big.Int).Mul(k, s.v)
	gb := new(big.Int).Exp(g, b, p)
	B := kv.Add(kv, gb).Mod(kv, p)
	return &srpChallenge{id: id, b: b, gb: pad256(B)}, nil
}

func (s *srpVerifier) algo() *tg.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow {
	return &tg.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow{
		Salt1: s.salt1, Salt2: s.salt2, G: srpG, P: srpPrime,
	}
}

// check verifies the client's proof M1 for its public A.
func (s *srpVerifier) check(c *srpChallenge, a, m1 []byte) bool {
	p := new(big.Int).SetBytes(srpPrime)
	g := big.NewInt(srpG)
	A := new(big.Int).SetBytes(a)
	if A.Sign() <= 0 || A.Cmp(p) >= 0 {
		return false
	}
	ga := pad256(A)
	u := new(big.Int).SetBytes(hashAll(ga, c.gb))
	// S = (A * v^u)^b mod p
	vu := new(big.Int).Exp(s.v, u, p)
	S := new(big.Int).Mul(A, vu)
	S.Mod(S, p).Exp(S, c.b, p)
	ka := sha256.Sum256(pad256(S))
	hp := sha256.Sum256(srpPrime)
	hg := sha256.Sum256(pad256(g))
	for i := range hp {
		hp[i] ^= hg[i]
	}
	want := hashAll(hp[:], hashAll(s.salt1), hashAll(s.salt2), ga, c.gb, ka[:])
	return subtle.ConstantTimeCompare(want, m1) == 1
}

func hashAll(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func pad256(i *big.Int) []byte {
	out := make([]byte, 256)
	i.FillBytes(out)
	return out
}
