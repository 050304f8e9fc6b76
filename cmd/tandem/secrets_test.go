package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/tandem-streaming/tandem/internal/node"
	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

// TestLinkSecretsNeverShown is issue #10's secrets check: links are
// created (by the CLI and by REST) with a SASL password, keystore and
// truststore passwords and an inline private key with its password, to a
// source that needs all of them (kfake: SASL_SSL, PLAIN, client
// certificates), and mirror from it; then the data directory (every file:
// metadata.db, its backup, logs), REST responses, CLI output, the broker's
// log and /metrics are searched for the secrets, before and after a
// restart: none is found.
func TestLinkSecretsNeverShown(t *testing.T) {
	const (
		apiSecret    = "Api-Secret-4f9a1c"
		trustPW      = "Trust-Password-77b2"
		keystorePW   = "Keystore-Password-31d8"
		keyPW        = "Key-Password-c05e"
		brokerSecret = "Broker-Encoder-Secret-9e14"
	)
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	linkCert := ca.Client(t, "link")
	keyPEM := string(linkCert.EncryptedKeyPEM(t, keyPW))
	secrets := []string{apiSecret, trustPW, keystorePW, keyPW, brokerSecret,
		strings.Split(keyPEM, "\n")[1], strings.Split(string(linkCert.KeyPEM), "\n")[1]} // key material

	src, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders"), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "link-key", apiSecret),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{ca.Server(t).TLSCertificate()},
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	seed := src.ListenAddrs()[0]
	prod, err := kgo.NewClient(kgo.SeedBrokers(seed), kgo.DefaultProduceTopic("orders"),
		kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{ca.Client(t, "producer").TLSCertificate()}}),
		kgo.SASL(plain.Auth{User: "link-key", Pass: apiSecret}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produce := func(n int) {
		for i := 0; i < n; i++ {
			if err := prod.ProduceSync(context.Background(), &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(20)

	// The destination broker, logging everything at debug level to a file.
	dataDir := filepath.Join(dir, "data")
	logPath := filepath.Join(dir, "broker.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	props := map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0", "http.listeners": "http://127.0.0.1:0",
		"log.dirs": dataDir, "offsets.topic.num.partitions": "1", "password.encoder.secret": brokerSecret}
	start := func() *node.Node {
		t.Helper()
		n, err := node.Start(props, slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug})))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	stop := func(n *node.Node) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	n := start()
	url := "http://" + n.HTTPAddr()

	// What users see: every output is kept and searched at the end.
	var shown []string
	cli := func(args ...string) {
		t.Helper()
		out, errOut, err := runCLI(t, append(args, "--url", url)...)
		if err != nil {
			t.Fatalf("tandem %s: %v %s", strings.Join(args, " "), err, errOut)
		}
		shown = append(shown, out, errOut)
	}
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		shown = append(shown, string(b))
		return string(b)
	}

	trustFile := ca.WriteTruststorePKCS12(t, filepath.Join(dir, "trust.p12"), trustPW)
	keystoreFile := linkCert.WritePKCS12(t, filepath.Join(dir, "link.p12"), keystorePW)
	cli("link", "create", "a", "--source-bootstrap-server", seed, "--source-api-key", "link-key", "--source-api-secret", apiSecret,
		"--config", "ssl.truststore.type=PKCS12,ssl.truststore.location="+trustFile+",ssl.truststore.password="+trustPW+
			",ssl.keystore.type=PKCS12,ssl.keystore.location="+keystoreFile+",ssl.keystore.password="+keystorePW+
			",replica.fetch.wait.max.ms=100")
	body, _ := json.Marshal(map[string]any{"configs": []map[string]string{
		{"name": "bootstrap.servers", "value": seed},
		{"name": "security.protocol", "value": "SASL_SSL"},
		{"name": "sasl.mechanism", "value": "PLAIN"},
		{"name": "sasl.jaas.config", "value": `org.apache.kafka.common.security.plain.PlainLoginModule required username="link-key" password="` + apiSecret + `";`},
		{"name": "ssl.truststore.type", "value": "PEM"},
		{"name": "ssl.truststore.certificates", "value": string(ca.CertPEM)},
		{"name": "ssl.keystore.type", "value": "PEM"},
		{"name": "ssl.keystore.certificate.chain", "value": string(linkCert.CertPEM)},
		{"name": "ssl.keystore.key", "value": keyPEM},
		{"name": "ssl.key.password", "value": keyPW},
	}})
	resp, err := http.Post(url+"/kafka/v3/clusters/"+n.ClusterID()+"/links?link_name=b", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("create link b: %d %s", resp.StatusCode, b)
	}
	shown = append(shown, string(b))
	cli("mirror", "create", "orders", "--link", "a")

	caughtUp := func(n *node.Node, want int64) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), "orders")
			total := int64(0)
			if err == nil {
				ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
			}
			if total == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("mirror has %d records, want %d (%v)", total, want, err)
			}
		}
	}
	caughtUp(n, 20)
	look := func() {
		t.Helper()
		for _, args := range [][]string{{"link", "list"}, {"link", "describe", "a"}, {"link", "describe", "b", "-o", "json"},
			{"link", "configuration", "list", "a"}, {"link", "configuration", "list", "a", "-o", "json"},
			{"link", "configuration", "list", "b", "-o", "yaml"}, {"link", "task", "list", "b"}, {"mirror", "describe", "orders", "--link", "a"}} {
			cli(args...)
		}
		for _, p := range []string{"/kafka/v3/clusters/" + n.ClusterID() + "/links", "/kafka/v3/clusters/" + n.ClusterID() + "/links/a/configs",
			"/kafka/v3/clusters/" + n.ClusterID() + "/links/b/configs", "/kafka/v3/clusters/" + n.ClusterID() + "/links/b?include_tasks=true",
			"/kafka/v3/clusters/" + n.ClusterID() + "/brokers", "/metrics"} {
			get(p)
		}
		// Every sensitive config of b is listed, as null and sensitive.
		var cfgs struct {
			Data []struct {
				Name        string  `json:"name"`
				Value       *string `json:"value"`
				IsSensitive bool    `json:"is_sensitive"`
				Source      string  `json:"source"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(get("/kafka/v3/clusters/"+n.ClusterID()+"/links/b/configs")), &cfgs); err != nil {
			t.Fatal(err)
		}
		sensitive := 0
		for _, c := range cfgs.Data {
			switch c.Name {
			case "sasl.jaas.config", "ssl.keystore.key", "ssl.key.password":
				if c.Value != nil || !c.IsSensitive || c.Source != "DYNAMIC_CLUSTER_LINK_CONFIG" {
					t.Errorf("%s: value %v, sensitive %v, source %s", c.Name, c.Value, c.IsSensitive, c.Source)
				}
				sensitive++
			}
		}
		if sensitive != 3 {
			t.Errorf("found %d of the 3 sensitive configs of b", sensitive)
		}
	}
	look()
	// The broker's secret over the Kafka protocol (DescribeConfigs).
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr()))
	if err != nil {
		t.Fatal(err)
	}
	rcs, err := kadm.NewClient(cl).DescribeBrokerConfigs(context.Background())
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Value != nil {
				shown = append(shown, *c.Value)
			}
		}
	}

	// A restart: the links decrypt their secrets and go on mirroring.
	stop(n)
	n = start()
	url = "http://" + n.HTTPAddr()
	produce(10)
	caughtUp(n, 30)
	look()
	stop(n) // a clean shutdown also writes metadata.db.bak

	for i, s := range shown {
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("output %d shows a secret (%.12s…):\n%s", i, secret, s)
			}
		}
	}
	logFile.Sync()
	files := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == trustFile || path == keystoreFile {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, secret := range secrets {
			if strings.Contains(string(data), secret) {
				t.Errorf("%s holds a secret (%.12s…)", path, secret)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{filepath.Join(dataDir, "__tandem_metadata", "metadata.db"), filepath.Join(dataDir, "__tandem_metadata", "metadata.db.bak"), logPath} {
		if _, err := os.Stat(want); err != nil {
			t.Errorf("%s was not searched: %v", want, err)
		}
	}
	if logged, _ := os.ReadFile(logPath); !strings.Contains(string(logged), "component=link") {
		t.Errorf("the broker's log has no line of the link manager, so searching it proves little")
	}
	t.Logf("searched %d outputs and %d files", len(shown), files)
}
