package security

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

func TestFranzGo(t *testing.T) {
	e := start(t)
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
