package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestParseJAAS(t *testing.T) {
	e, err := ParseJAAS(`org.apache.kafka.common.security.plain.PlainLoginModule required
		username="admin" password="adm\"in-secret" // comment
		user_admin="admin-secret" /* block */ user_alice=alice-secret;`)
	if err != nil {
		t.Fatal(err)
	}
	if e.LoginModule != PlainLoginModule || e.Flag != "required" {
		t.Fatalf("module %q flag %q", e.LoginModule, e.Flag)
	}
	want := map[string]string{"username": "admin", "password": `adm"in-secret`, "user_admin": "admin-secret", "user_alice": "alice-secret"}
	if len(e.Options) != len(want) {
		t.Fatalf("options %v", e.Options)
	}
	for k, v := range want {
		if e.Options[k] != v {
			t.Errorf("%s = %q, want %q", k, e.Options[k], v)
		}
	}
}

func TestParseJAASErrors(t *testing.T) {
	for _, s := range []string{
		``,
		`org.Foo required username="a"`,   // no ';'
		`org.Foo mandatory username="a";`, // bad flag
		`org.Foo required username;`,      // no '='
		`org.Foo required username="secret-value`,                        // unterminated
		`org.Foo required a="1"; org.Bar required b="2";`,                // two modules
		`org.Foo required password="topsecret" x=;`,                      // missing value
		`org.Foo required password="topsecret" ! ;`,                      // stray char
		`/* unterminated org.Foo required password="topsecret";`,         // comment
		`org.Foo required password="topsecret" user=alice extra="a" = ;`, // '=' as key
	} {
		_, err := ParseJAAS(s)
		if !errors.Is(err, ErrJAAS) {
			t.Errorf("ParseJAAS(%q) = %v, want ErrJAAS", s, err)
			continue
		}
		if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("error leaks a value: %v", err)
		}
	}
}
