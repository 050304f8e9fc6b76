package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/tandemtest"
)

// leaks are texts that must never reach a user: package prefixes of
// sentinel errors and franz-go's own wording (docs/HACKING.md "Errors users
// read").
var leaks = []string{"metadata:", "link:", "rest:", "broker:", "config:", "partition:", "kadm", "shard errors", "kgo"}

func noLeaks(t *testing.T, what, msg string) {
	t.Helper()
	for _, l := range leaks {
		if strings.Contains(msg, l) {
			t.Errorf("%s: %q leaks %q", what, msg, l)
		}
	}
}

// TestCLIErrorMessages runs the main user errors through the CLI against
// two real brokers (so through the HTTP API, the link manager and the
// metadata store) and checks that each message names the object and, where
// there is one, the fix, and leaks no internal wording.
func TestCLIErrorMessages(t *testing.T) {
	src := tandemtest.Start(t)
	dst := tandemtest.Start(t)
	off := tandemtest.Start(t, tandemtest.Config("cluster.link.enable", "false"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, b := range []*tandemtest.Broker{src, dst} {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		topics := []string{"orders", "clicks"}
		if b == dst {
			topics = []string{"local"}
		}
		if _, err := kadm.NewClient(cl).CreateTopics(ctx, 1, 1, nil, topics...); err != nil {
			t.Fatal(err)
		}
		// Kafka clients read the same texts in ErrorMessage fields.
		res, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topics[0])
		if err == nil {
			err = res.Err
		}
		if err == nil || res.ErrMessage != "Topic '"+topics[0]+"' already exists." {
			t.Errorf("CreateTopics of an existing topic: %v, message %q", err, res.ErrMessage)
		}
		cl.Close()
	}

	url := "http://" + dst.HTTPAddr()
	run := func(args ...string) (string, error) {
		t.Helper()
		out, _, err := runCLI(t, append(args, "--url", url)...)
		return out, err
	}
	if _, err := run("link", "create", "dr", "--source-bootstrap-server", src.Addr(), "--config", "replica.fetch.wait.max.ms=100"); err != nil {
		t.Fatal(err)
	}
	if _, err := run("mirror", "create", "orders", "--link", "dr"); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		url  string   // default: the destination's
		want []string // substrings: the object and the fix
	}{
		{"topic exists", []string{"mirror", "create", "local", "--link", "dr", "--source-topic", "local"},
			"", []string{"Topic 'local' already exists.", "40002"}},
		{"mirror topic exists", []string{"mirror", "create", "orders", "--link", "dr"},
			"", []string{"Topic 'orders' already exists.", "40002"}},
		{"unknown link", []string{"link", "describe", "nope"},
			"", []string{"cluster link 'nope' does not exist", "40404"}},
		{"unknown link (mirror)", []string{"mirror", "create", "clicks", "--link", "nope"},
			"", []string{"cluster link 'nope' does not exist"}},
		{"unknown mirror", []string{"mirror", "describe", "ghost", "--link", "dr"},
			"", []string{"topic 'ghost'", "cluster link 'dr'", "40403"}},
		{"not a mirror", []string{"mirror", "describe", "local", "--link", "dr"},
			"", []string{"topic 'local' is not a mirror topic of cluster link 'dr'"}},
		{"unknown source topic", []string{"mirror", "create", "ghost", "--link", "dr"},
			"", []string{"topic 'ghost'", "cluster link 'dr'", "UNKNOWN_TOPIC_OR_PARTITION"}},
		{"mirror config", []string{"mirror", "create", "clicks", "--link", "dr", "--config", "retention.ms=1"},
			"", []string{"Cannot set configuration 'retention.ms' for mirror topic 'clicks'", "source topic 'clicks'", "without --config"}},
		{"link in use", []string{"link", "delete", "dr"},
			"", []string{"cluster link 'dr'", "(orders)", "with force", "40902"}},
		{"link exists", []string{"link", "create", "dr", "--source-bootstrap-server", src.Addr()},
			"", []string{"cluster link 'dr' already exists", "40901"}},
		{"unknown link config", []string{"link", "create", "bad", "--source-bootstrap-server", src.Addr(), "--config", "foo.bar=1"},
			"", []string{"unknown cluster link config 'foo.bar'", "40002"}},
		{"invalid link config", []string{"link", "create", "bad", "--source-bootstrap-server", src.Addr(), "--config", "replica.fetch.wait.max.ms=abc"},
			"", []string{"invalid cluster link config replica.fetch.wait.max.ms=\"abc\"", "40002"}},
		{"unsupported link config", []string{"link", "create", "bad", "--source-bootstrap-server", src.Addr(), "--config", "security.protocol=SASL_PLAINTEXT,sasl.mechanism=GSSAPI"},
			"", []string{"GSSAPI", "not supported by Tandem yet"}},
		{"create-only link config", []string{"link", "update", "dr", "--config", "cluster.link.prefix=x."},
			"", []string{"cluster.link.prefix can only be set when the link is created"}},
		{"acl sync without filters", []string{"link", "update", "dr", "--config", "acl.sync.enable=true"},
			"", []string{"acl.sync.enable=true: acl.filters is not set", "40002"}},
		{"invalid acl filters", []string{"link", "update", "dr", "--config", `acl.filters={"aclFilters":[{}]}`},
			"", []string{"invalid cluster link config acl.filters=", `aclFilters[0]: no "resourceFilter"`, "40002"}},
		{"source unreachable", []string{"link", "create", "bad", "--source-bootstrap-server", "127.0.0.1:1", "--config", "request.timeout.ms=2000"},
			"", []string{"cluster link 'bad'", "127.0.0.1:1", "bootstrap.servers"}},
		{"wrong source cluster", []string{"link", "create", "bad", "--source-bootstrap-server", src.Addr(), "--source-cluster", "other"},
			"", []string{"cluster id " + src.Node.ClusterID(), "not other", "cluster link 'bad'"}},
		{"not paused", []string{"mirror", "resume", "orders", "--link", "dr"},
			"", []string{"mirror topic 'orders'", "cannot resume", "ACTIVE"}},
		{"linking disabled", []string{"link", "list"},
			"http://" + off.HTTPAddr(), []string{"cluster linking is disabled"}},
	}
	for _, tt := range tests {
		u := url
		if tt.url != "" {
			u = tt.url
		}
		out, errOut, err := runCLI(t, append(tt.args, "--url", u)...)
		msg := out + errOut
		if err != nil {
			msg += err.Error()
		}
		if err == nil {
			t.Errorf("%s: tandem %s succeeded:\n%s", tt.name, strings.Join(tt.args, " "), msg)
			continue
		}
		t.Logf("%s: %s", tt.name, msg)
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q does not say %q", tt.name, msg, w)
			}
		}
		noLeaks(t, tt.name, msg)
	}

	// A topic config set on a mirror, through the HTTP API and through
	// Kafka's IncrementalAlterConfigs: Confluent's wording, not "invalid
	// cluster link config".
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut,
		url+"/kafka/v3/clusters/"+dst.Node.ClusterID()+"/topics/orders/configs/retention.ms", strings.NewReader(`{"value":"1"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Cannot set configuration 'retention.ms' for mirror topic 'orders'") {
		t.Errorf("REST config on a mirror: %d %s", resp.StatusCode, body)
	}
	noLeaks(t, "REST config on a mirror", string(body))
	dcl, err := kgo.NewClient(kgo.SeedBrokers(dst.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer dcl.Close()
	ar, err := kadm.NewClient(dcl).AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kmsg.StringPtr("1")}}, "orders")
	if err != nil || len(ar) != 1 || ar[0].Err == nil || !strings.Contains(ar[0].ErrMessage, "Cannot set configuration 'retention.ms' for mirror topic 'orders'") {
		t.Errorf("IncrementalAlterConfigs on a mirror: %v %+v", err, ar)
	}

	// Promote refused: the source cannot say where the topic ends.
	if _, err := run("link", "update", "dr", "--config", "request.timeout.ms=2000"); err != nil {
		t.Fatal(err)
	}
	src.Stop()
	out, err := run("mirror", "promote", "orders", "--link", "dr")
	if err == nil {
		t.Fatalf("promote with the source down succeeded:\n%s", out)
	}
	t.Logf("promote: %s", out)
	for _, w := range []string{"cannot promote mirror topic 'orders'", "topic 'orders'", "failover"} {
		if !strings.Contains(out, w) {
			t.Errorf("promote: %q does not say %q", out, w)
		}
	}
	noLeaks(t, "promote", out)
}
