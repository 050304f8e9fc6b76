package node_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/node"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// TestSASLListenerStartupErrors: a SASL listener whose mechanisms Tandem
// cannot serve stops the start with a message naming the listener and the
// fix, never a password.
func TestSASLListenerStartupErrors(t *testing.T) {
	jaas := auth.PlainLoginModule + ` required user_a="topsecret";`
	for _, tc := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{}, "GSSAPI is not supported by Tandem"},
		{map[string]string{"sasl.enabled.mechanisms": "OAUTHBEARER"}, "OAUTHBEARER is not supported by Tandem"},
		{map[string]string{"sasl.enabled.mechanisms": "GSSAPI,SCRAM-SHA-1"}, "GSSAPI is not supported"},
		{map[string]string{"sasl.enabled.mechanisms": "PLAIN"}, "no sasl.jaas.config"},
		{map[string]string{"sasl.enabled.mechanisms": "PLAIN", "listener.name.sasl_plaintext.plain.sasl.jaas.config": auth.ScramLoginModule + ` required user_a="topsecret";`},
			"want " + auth.PlainLoginModule},
		{map[string]string{"listener.name.sasl_plaintext.sasl.enabled.mechanisms": "SCRAM-SHA-512", "sasl.enabled.mechanisms": "GSSAPI"}, ""},
		{map[string]string{"sasl.enabled.mechanisms": "PLAIN", "sasl.jaas.config": jaas}, ""},
	} {
		props := map[string]string{"listeners": "SASL_PLAINTEXT://127.0.0.1:0", "http.listeners": "", "log.dirs": t.TempDir(),
			"offsets.topic.num.partitions": "1"}
		for k, v := range tc.props {
			props[k] = v
		}
		n, err := node.Start(props, nil)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%v: %v", tc.props, err)
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = n.Shutdown(ctx)
			cancel()
			continue
		}
		if err == nil {
			n.Shutdown(context.Background())
			t.Errorf("%v: started", tc.props)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "listener SASL_PLAINTEXT") || strings.Contains(err.Error(), "topsecret") {
			t.Errorf("%v: %v, want %q", tc.props, err, tc.want)
		}
	}
}

// TestHTTPBasicSASLUsers: HTTP BASIC accepts the PLAIN users of the SASL
// listeners and the SCRAM users, with their passwords only.
func TestHTTPBasicSASLUsers(t *testing.T) {
	b := tandemtest.StartSASL(t, map[string]string{
		"sasl.enabled.mechanisms":                             "PLAIN,SCRAM-SHA-512",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": auth.PlainLoginModule + ` required user_alice="alice-secret";`,
		"http.authentication.method":                          "BASIC",
	})
	cl := tandemtest.NewClient(t, b.Addr, kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()))
	res, err := kadm.NewClient(cl).AlterUserSCRAMs(context.Background(), nil,
		[]kadm.UpsertSCRAM{{User: "sam", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "sam-secret"}})
	if err != nil || res.Error() != nil {
		t.Fatalf("creating sam: %v %v", res, err)
	}
	for _, tc := range []struct {
		user, pass string
		code       int
	}{
		{"alice", "alice-secret", 200}, {"sam", "sam-secret", 200},
		{"alice", "sam-secret", 401}, {"sam", "alice-secret", 401}, {"nobody", "x", 401},
	} {
		req, _ := http.NewRequest("GET", "http://"+b.Node.HTTPAddr()+"/kafka/v3/clusters", nil)
		req.SetBasicAuth(tc.user, tc.pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s: %d, want %d", tc.user, resp.StatusCode, tc.code)
		}
	}
}
