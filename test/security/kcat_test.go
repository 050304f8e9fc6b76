package security

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// kcatBinary returns kcat's path; the test skips without it, except under
// CI=true (as test/compat).
func kcatBinary(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kcat not on PATH under CI: %v", err)
		}
		t.Skipf("kcat not on PATH: %v", err)
	}
	return path
}

// kcat runs kcat with the listener's security and SASL settings and
// returns stdout, stderr and its error.
func (e *env) kcat(t *testing.T, stdin string, mech, user, pass string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sec := []string{
		"-X", "security.protocol=" + e.protocol, "-X", "sasl.mechanisms=" + mech,
		"-X", "sasl.username=" + user, "-X", "sasl.password=" + pass,
	}
	if e.caFile != "" {
		sec = append(sec, "-X", "ssl.ca.location="+e.caFile)
	}
	cmd := exec.CommandContext(ctx, kcatBinary(t), append(sec, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// kcat runs kcat against a SASL_PLAINTEXT listener (acl_matrix_test.go).
func kcat(t *testing.T, stdin string, mech, user, pass string, args ...string) (string, string, error) {
	t.Helper()
	return (&env{protocol: "SASL_PLAINTEXT"}).kcat(t, stdin, mech, user, pass, args...)
}

func TestKcat(t *testing.T) {
	kcatBinary(t)
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			testKcat(t, startProto(t, proto))
		})
	}
}

func testKcat(t *testing.T, e *env) {
	for _, tc := range []struct{ mech, user, pass, msg string }{
		{"PLAIN", "alice", alicePass, "Authentication failed: Invalid username or password"},
		{"SCRAM-SHA-512", scramUser, scramPass, invalidCredentials("SCRAM-SHA-512")},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			topic := e.topic(t, "kcat-"+strings.ToLower(tc.mech))
			want := values("kcat")
			if _, stderr, err := e.kcat(t, strings.Join(want, "\n")+"\n", tc.mech, tc.user, tc.pass,
				"-P", "-b", e.Addr, "-t", topic, "-X", "acks=all"); err != nil {
				t.Fatalf("produce: %v\n%s\n%s", err, stderr, e.Logs.String())
			}
			out, stderr, err := e.kcat(t, "", tc.mech, tc.user, tc.pass, "-C", "-b", e.Addr, "-t", topic, "-o", "beginning", "-e", "-c", "3", "-q")
			if err != nil || strings.Join(strings.Fields(out), ",") != strings.Join(want, ",") {
				t.Fatalf("consume: %q %v\n%s", out, err, stderr)
			}
			e.checkTopic(t, topic, want)
			// Wrong password, unknown user: librdkafka reports the
			// broker's message.
			for _, user := range []string{tc.user, "nobody"} {
				_, stderr, err = e.kcat(t, "", tc.mech, user, wrongPass, "-L", "-b", e.Addr, "-m", "1",
					"-X", "reconnect.backoff.ms=5000", "-X", "reconnect.backoff.max.ms=5000")
				if err == nil || !strings.Contains(stderr, tc.msg) {
					t.Fatalf("%s with a wrong password: %v\n%s", user, err, stderr)
				}
			}
			e.checkFailureLogged(t, tc.mech, tc.user)
		})
	}
}
