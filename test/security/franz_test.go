package security

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

func TestFranzGo(t *testing.T) {
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			testFranzGo(t, startProto(t, proto))
		})
	}
}

func testFranzGo(t *testing.T, e *env) {
	for _, tc := range []struct {
		mech   string
		good   sasl.Mechanism
		bad    sasl.Mechanism
		nouser sasl.Mechanism
		msg    string
	}{
		{"PLAIN", plain.Auth{User: "alice", Pass: alicePass}.AsMechanism(),
			plain.Auth{User: "alice", Pass: wrongPass}.AsMechanism(),
			plain.Auth{User: "nobody", Pass: wrongPass}.AsMechanism(),
			"Authentication failed: Invalid username or password"},
		{"SCRAM-SHA-256", scram.Auth{User: scramUser, Pass: scramPass}.AsSha256Mechanism(),
			scram.Auth{User: scramUser, Pass: wrongPass}.AsSha256Mechanism(),
			scram.Auth{User: "nobody", Pass: wrongPass}.AsSha256Mechanism(),
			invalidCredentials("SCRAM-SHA-256")},
		{"SCRAM-SHA-512", scram.Auth{User: scramUser, Pass: scramPass}.AsSha512Mechanism(),
			scram.Auth{User: scramUser, Pass: wrongPass}.AsSha512Mechanism(),
			scram.Auth{User: "nobody", Pass: wrongPass}.AsSha512Mechanism(),
			invalidCredentials("SCRAM-SHA-512")},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			topic := e.topic(t, "franz-"+strings.ToLower(tc.mech))
			cl := e.client(t, tc.good)
			ctx := ctxT(t)
			for _, v := range values(tc.mech) {
				if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
					t.Fatalf("produce: %v", err)
				}
			}
			cons := e.client(t, tc.good, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			var got []string
			for len(got) < 3 {
				fs := cons.PollFetches(ctx)
				if err := fs.Err0(); err != nil {
					t.Fatal(err)
				}
				fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
			}
			if strings.Join(got, ",") != strings.Join(values(tc.mech), ",") {
				t.Fatalf("consumed %q", got)
			}
			for _, m := range []sasl.Mechanism{tc.bad, tc.nouser} {
				err := e.client(t, m).Ping(ctx)
				var ke *kerr.Error
				if !errors.Is(err, kerr.SaslAuthenticationFailed) || !errors.As(err, &ke) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("bad credentials: %v, want SASL_AUTHENTICATION_FAILED: %s", err, tc.msg)
				}
			}
			user := "alice"
			if tc.mech != "PLAIN" {
				user = scramUser
			}
			e.checkFailureLogged(t, tc.mech, user)
		})
	}
}

// TestScramCredentialAPIs drives DescribeUserScramCredentials and
// AlterUserScramCredentials with kadm, and with raw requests where kadm
// checks its input itself.
func TestScramCredentialAPIs(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	d, err := e.admin.DescribeUserSCRAMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := d[scramUser]
	if len(d) != 1 || got.Err != nil || len(got.CredInfos) != 2 ||
		got.CredInfos[0].Mechanism != kadm.ScramSha256 || got.CredInfos[0].Iterations != 4096 ||
		got.CredInfos[1].Mechanism != kadm.ScramSha512 || got.CredInfos[1].Iterations != 8192 {
		t.Fatalf("describe all: %+v", d)
	}
	d, err = e.admin.DescribeUserSCRAMs(ctx, scramUser, "nobody")
	if err != nil || d["nobody"].Err != kerr.ResourceNotFound || d[scramUser].Err != nil {
		t.Fatalf("describe named: %+v %v", d, err)
	}
	dup := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	dup.Users = []kmsg.DescribeUserSCRAMCredentialsRequestUser{{Name: scramUser}, {Name: scramUser}}
	dr, err := dup.RequestWith(ctx, e.rawClient(t))
	if err != nil || len(dr.Results) != 1 || dr.Results[0].ErrorCode != kerr.DuplicateResource.Code {
		t.Fatalf("describe duplicate: %+v %v", dr, err)
	}

	res, err := e.admin.AlterUserSCRAMs(ctx,
		[]kadm.DeleteSCRAM{{User: "nobody", Mechanism: kadm.ScramSha256}, {User: "dup", Mechanism: kadm.ScramSha256}},
		[]kadm.UpsertSCRAM{
			{User: "dup", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "x"},
			{User: "", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "x"},
			{User: "ok", Mechanism: kadm.ScramSha512, Iterations: 16384, Password: "x"},
		})
	if err != nil {
		t.Fatal(err)
	}
	for user, want := range map[string]error{
		"nobody": kerr.ResourceNotFound, "dup": kerr.DuplicateResource, "": kerr.UnacceptableCredential, "ok": nil,
	} {
		if got := res[user].Err; got != want {
			t.Errorf("alter %q: %v (%s), want %v", user, got, res[user].ErrMessage, want)
		}
	}
	// kadm refuses these itself; the broker must too.
	bad := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	bad.Upsertions = []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{
		{Name: "m3", Mechanism: 3, Iterations: 4096, Salt: []byte("s"), SaltedPassword: []byte("p")},
		{Name: "few", Mechanism: 1, Iterations: 4095, Salt: []byte("s"), SaltedPassword: []byte("p")},
		{Name: "many", Mechanism: 2, Iterations: 16385, Salt: []byte("s"), SaltedPassword: []byte("p")},
	}
	bad.Deletions = []kmsg.AlterUserSCRAMCredentialsRequestDeletion{{Name: "d0", Mechanism: 0}}
	ar, err := bad.RequestWith(ctx, e.rawClient(t))
	if err != nil || len(ar.Results) != 4 {
		t.Fatalf("invalid alterations: %+v %v", ar, err)
	}
	for _, r := range ar.Results {
		want := map[string]int16{"m3": kerr.UnsupportedSaslMechanism.Code, "d0": kerr.UnsupportedSaslMechanism.Code,
			"few": kerr.UnacceptableCredential.Code, "many": kerr.UnacceptableCredential.Code}[r.User]
		if r.ErrorCode != want {
			t.Errorf("%s: error %d, want %d", r.User, r.ErrorCode, want)
		}
	}

	// Deleting sam's SHA-512 credential ends SCRAM-SHA-512 logins and
	// keeps SHA-256 ones.
	res, err = e.admin.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: scramUser, Mechanism: kadm.ScramSha512}}, nil)
	if err != nil || res.Error() != nil {
		t.Fatalf("delete: %v %v", res, err)
	}
	if err := e.client(t, scram.Auth{User: scramUser, Pass: scramPass}.AsSha512Mechanism()).Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("SCRAM-SHA-512 after deletion: %v", err)
	}
	if err := e.client(t, scram.Auth{User: scramUser, Pass: scramPass}.AsSha256Mechanism()).Ping(ctx); err != nil {
		t.Fatalf("SCRAM-SHA-256 after deleting SHA-512: %v", err)
	}
}

func (e *env) rawClient(t *testing.T) *kgo.Client {
	return e.client(t, plain.Auth{User: "admin", Pass: adminPass}.AsMechanism())
}

// TestFranzGoReauthentication: with connections.max.reauth.ms the broker
// returns a session lifetime; franz-go re-authenticates on its connection
// before the session ends (KIP-368), and producing never fails.
func TestFranzGoReauthentication(t *testing.T) {
	b := tandemtest.StartSASL(t, map[string]string{
		"sasl.enabled.mechanisms":                                "SCRAM-SHA-256,PLAIN",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config":    auth.PlainLoginModule + ` required user_alice="` + alicePass + `";`,
		"listener.name.sasl_plaintext.connections.max.reauth.ms": "400",
	})
	e := &env{SASLBroker: b}
	cl := e.client(t, plain.Auth{User: "alice", Pass: alicePass}.AsMechanism())
	e.admin = kadm.NewClient(cl)
	topic := e.topic(t, "reauth")
	ctx := ctxT(t)
	for i := range 8 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		time.Sleep(150 * time.Millisecond)
	}
	m := tandemtest.Get(t, "http://"+b.Node.HTTPAddr()+"/metrics")
	if strings.Contains(m, `result="failure"`) {
		t.Fatalf("an authentication failed:\n%s", m)
	}
	// Over 1.2 s with 400 ms sessions, the client's connections
	// re-authenticated in place: more successful authentications than
	// connections.
	auths := metricValue(m, `tandem_authentication_total{listener="SASL_PLAINTEXT",mechanism="PLAIN",result="success"}`)
	conns := metricValue(m, "tandem_connections_total")
	if auths < conns+2 {
		t.Fatalf("%v successful authentications on %v connections: no re-authentication", auths, conns)
	}
}

// metricValue reads one series from a /metrics page (0 when absent).
func metricValue(page, series string) float64 {
	var v float64
	for _, line := range strings.Split(page, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			fmt.Sscanf(rest, "%g", &v)
		}
	}
	return v
}

// TestScramCredentialAPIsAuthorized: with an authorizer, the principal
// SASL established is what the SCRAM APIs are authorized against:
// DESCRIBE on the cluster for DescribeUserScramCredentials, ALTER for
// AlterUserScramCredentials; super.users may do both.
func TestScramCredentialAPIsAuthorized(t *testing.T) {
	b := tandemtest.StartSASL(t, map[string]string{
		"sasl.enabled.mechanisms": "PLAIN",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": auth.PlainLoginModule +
			` required user_admin="` + adminPass + `" user_alice="` + alicePass + `";`,
		"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users":           "User:admin",
	})
	e := &env{SASLBroker: b}
	ctx := ctxT(t)
	alice := kadm.NewClient(e.client(t, plain.Auth{User: "alice", Pass: alicePass}.AsMechanism()))
	if _, err := alice.DescribeUserSCRAMs(ctx); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alice describes: %v", err)
	}
	// kadm turns the per-user CLUSTER_AUTHORIZATION_FAILED into its error.
	if _, err := alice.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "x", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "p"}}); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alice alters: %v", err)
	}
	admin := kadm.NewClient(e.client(t, plain.Auth{User: "admin", Pass: adminPass}.AsMechanism()))
	res, err := admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "x", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "p"}})
	if err != nil || res.Error() != nil {
		t.Fatalf("admin alters: %v %v", res, err)
	}
	if d, err := admin.DescribeUserSCRAMs(ctx); err != nil || len(d["x"].CredInfos) != 1 {
		t.Fatalf("admin describes: %v %v", d, err)
	}
}

// TestSASLSecretsNotExposed: the JAAS passwords and SCRAM keys appear in no
// DescribeConfigs answer, metric or log line.
func TestSASLSecretsNotExposed(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	rcs, err := e.admin.DescribeBrokerConfigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Key == "sasl.jaas.config" {
				seen++
				if !c.Sensitive || c.Value != nil {
					t.Errorf("sasl.jaas.config described as %+v", c)
				}
			}
			if c.Value != nil && (strings.Contains(*c.Value, alicePass) || strings.Contains(*c.Value, adminPass)) {
				t.Errorf("%s shows a password", c.Key)
			}
		}
	}
	if seen == 0 {
		t.Error("sasl.jaas.config not described")
	}
	page := tandemtest.Get(t, "http://"+e.Node.HTTPAddr()+"/metrics") + e.Logs.String()
	for _, secret := range []string{alicePass, adminPass, scramPass} {
		if strings.Contains(page, secret) {
			t.Errorf("a password is in the metrics or logs")
		}
	}
}
