package auth

import (
	"errors"
	"testing"
)

// FuzzSASLServers feeds arbitrary client tokens to every mechanism: no
// panic, and a step either succeeds or fails with ErrAuthenticationFailed;
// only the right password ever authenticates.
func FuzzSASLServers(f *testing.F) {
	for _, s := range []string{"\x00alice\x00alice-secret", "n,,n=alice,r=abc", "c=biws,r=abc,p=AAAA", "y,a=alice,n=alice,r=x", "=2C=3D,,"} {
		f.Add([]byte(s), []byte("c=biws,r=x,p=AAAA"))
	}
	m, _ := ScramMechanismByName(MechanismScramSHA256)
	c, err := m.NewCredential("alice-secret", 4096)
	if err != nil {
		f.Fatal(err)
	}
	creds := credMap{{"alice", MechanismScramSHA256}: c}
	cfg := &SASLConfig{enabled: []string{MechanismPlain, MechanismScramSHA256}, plain: PlainUsers{"alice": "alice-secret"}}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		for _, mech := range cfg.Enabled() {
			srv, err := cfg.NewServer(mech, creds)
			if err != nil {
				t.Fatal(err)
			}
			for _, tok := range [][]byte{first, second} {
				_, done, err := srv.Step(tok)
				if err != nil {
					if !errors.Is(err, ErrAuthenticationFailed) {
						t.Fatalf("%s: %v", mech, err)
					}
					break
				}
				if done && mech == MechanismScramSHA256 {
					t.Fatalf("SCRAM authenticated without a proof: %q %q", first, second)
				}
				if done && string(tok) != "\x00alice\x00alice-secret" && string(tok) != "alice\x00alice\x00alice-secret" {
					t.Fatalf("PLAIN authenticated %q", tok)
				}
			}
		}
	})
}
