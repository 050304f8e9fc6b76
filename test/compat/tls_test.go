package compat

import (
	"context"
	"crypto/tls"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/tandemtest"
	"github.com/tandem-streaming/tandem/internal/tlsconf/tlstest"
)

// mtls is an SSL listener requiring client certificates, and what a client
// needs to connect to it: a tls.Config for the Go clients, PEM files for
// librdkafka.
type mtls struct {
	ca                   *tlstest.CA
	addr                 string // the SSL listener
	plain                string // the broker's PLAINTEXT listener
	cfg                  *tls.Config
	caFile, cert, keyPEM string
	// sasl replaces the client-certificate settings of librdkafkaSecurity.
	sasl map[string]string
}

func startMTLS(t *testing.T) mtls {
	t.Helper()
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	b := tandemtest.Start(t, append(tandemtest.TLS(t, ca, "required"),
		tandemtest.Config("listeners", "SSL://127.0.0.1:0,PLAINTEXT://127.0.0.1:0"))...)
	client := ca.Client(t, "compat")
	return mtls{
		ca:     ca,
		addr:   b.ListenerAddr("SSL"),
		plain:  b.ListenerAddr("PLAINTEXT"),
		cfg:    &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{client.TLSCertificate()}},
		caFile: ca.WriteTruststorePEM(t, filepath.Join(dir, "ca.pem")),
		cert:   tlstest.WriteFile(t, filepath.Join(dir, "client.pem"), client.CertPEM),
		keyPEM: tlstest.WriteFile(t, filepath.Join(dir, "client.key"), client.KeyPEM),
	}
}

// tlsValues are the record values each client produces and must read back.
func tlsValues(client string) []string {
	out := make([]string, 5)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", client, i)
	}
	return out
}

func checkValues(t *testing.T, client string, got []string) {
	t.Helper()
	want := tlsValues(client)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s over mTLS read %q, want %q", client, got, want)
	}
}

// Every client the issue names produces and consumes over an SSL listener
// with ssl.client.auth=required, presenting a client certificate.
func TestMTLSClients(t *testing.T) {
	m := startMTLS(t)
	t.Run("franz-go", func(t *testing.T) { franzMTLS(t, m) })
	t.Run("sarama", func(t *testing.T) { saramaMTLS(t, m) })
	t.Run("kafka-go", func(t *testing.T) { kafkaGoMTLS(t, m) })
	t.Run("confluent", func(t *testing.T) { confluentMTLS(t, m) })
	t.Run("kcat", func(t *testing.T) { kcatMTLS(t, m) })
	t.Run("kcat metadata per listener", func(t *testing.T) { kcatListenerMetadata(t, m) })
}

// librdkafka's view of the brokers (kcat -L) lists the listener it asked,
// never the other one: the SSL listener's address over SSL, the PLAINTEXT
// one's over PLAINTEXT.
func kcatListenerMetadata(t *testing.T, m mtls) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var sslArgs []string
	for k, v := range m.librdkafkaSecurity() {
		sslArgs = append(sslArgs, "-X", k+"="+v)
	}
	for _, c := range []struct {
		addr, other string
		args        []string
	}{{m.addr, m.plain, sslArgs}, {m.plain, m.addr, nil}} {
		out := string(runKcat(ctx, t, nil, append([]string{"-L", "-b", c.addr}, c.args...)...))
		if !strings.Contains(out, "at "+c.addr) || strings.Contains(out, c.other) {
			t.Errorf("kcat -L on %s:\n%s", c.addr, out)
		}
	}
}

func franzMTLS(t *testing.T, m mtls) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topic := "tls-franz"
	cl, err := kgo.NewClient(kgo.SeedBrokers(m.addr), kgo.DialTLSConfig(m.cfg), kgo.DefaultProduceTopic(topic),
		kgo.AllowAutoTopicCreation(), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, v := range tlsValues("franz") {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for len(got) < 5 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	checkValues(t, "franz", got)
}

func saramaMTLS(t *testing.T, m mtls) {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Net.TLS.Enable, cfg.Net.TLS.Config = true, m.cfg
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	topic := "tls-sarama"
	p, err := sarama.NewSyncProducer([]string{m.addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range tlsValues("sarama") {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(v)}); err != nil {
			t.Fatal(err)
		}
	}
	_ = p.Close()
	c, err := sarama.NewConsumer([]string{m.addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var got []string
	timeout := time.After(30 * time.Second)
	for len(got) < 5 {
		select {
		case msg := <-pc.Messages():
			got = append(got, string(msg.Value))
		case err := <-pc.Errors():
			t.Fatal(err)
		case <-timeout:
			t.Fatalf("sarama read %d of 5", len(got))
		}
	}
	checkValues(t, "sarama", got)
}

func kafkaGoMTLS(t *testing.T, m mtls) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topic := "tls-kafka-go"
	w := &kafkago.Writer{Addr: kafkago.TCP(m.addr), Topic: topic, RequiredAcks: kafkago.RequireAll,
		AllowAutoTopicCreation: true, BatchTimeout: 5 * time.Millisecond, Transport: &kafkago.Transport{TLS: m.cfg}}
	var msgs []kafkago.Message
	for _, v := range tlsValues("kafka-go") {
		msgs = append(msgs, kafkago.Message{Value: []byte(v)})
	}
	// The first write may race the topic's creation, as with any broker.
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = w.WriteMessages(ctx, msgs...); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = w.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{m.addr}, Topic: topic, Partition: 0, MinBytes: 1, MaxBytes: 10 << 20,
		MaxWait: 100 * time.Millisecond, StartOffset: kafkago.FirstOffset,
		Dialer: &kafkago.Dialer{Timeout: 10 * time.Second, TLS: m.cfg}})
	defer r.Close()
	var got []string
	for len(got) < 5 {
		msg, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(msg.Value))
	}
	checkValues(t, "kafka-go", got)
}

// librdkafkaSecurity is the security part of a librdkafka configuration:
// mTLS, or m.sasl when set.
func (m mtls) librdkafkaSecurity() map[string]string {
	if m.sasl != nil {
		return m.sasl
	}
	return map[string]string{
		"security.protocol":        "ssl",
		"ssl.ca.location":          m.caFile,
		"ssl.certificate.location": m.cert,
		"ssl.key.location":         m.keyPEM,
	}
}

func confluentMTLS(t *testing.T, m mtls) {
	topic := "tls-confluent"
	base := func() ckafka.ConfigMap {
		cm := ckafka.ConfigMap{"bootstrap.servers": m.addr}
		for k, v := range m.librdkafkaSecurity() {
			cm[k] = v
		}
		return cm
	}
	pcfg := base()
	pcfg["acks"] = "all"
	p, err := ckafka.NewProducer(&pcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	reports := make(chan ckafka.Event, 5)
	for _, v := range tlsValues("confluent") {
		if err := p.Produce(&ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: ckafka.PartitionAny},
			Value: []byte(v)}, reports); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		select {
		case ev := <-reports:
			if m, ok := ev.(*ckafka.Message); !ok || m.TopicPartition.Error != nil {
				t.Fatalf("delivery report %v", ev)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no delivery report in 30s")
		}
	}
	ccfg := base()
	ccfg["group.id"] = "tls-confluent"
	ccfg["auto.offset.reset"] = "earliest"
	c, err := ckafka.NewConsumer(&ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe(topic, nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < 5 && time.Now().Before(deadline) {
		msg, err := c.ReadMessage(time.Second)
		if err != nil {
			if ke, ok := err.(ckafka.Error); ok && ke.IsTimeout() {
				continue
			}
			t.Fatal(err)
		}
		got = append(got, string(msg.Value))
	}
	checkValues(t, "confluent", got)
}

func kcatMTLS(t *testing.T, m mtls) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topic := "tls-kcat"
	var args []string
	for k, v := range m.librdkafkaSecurity() {
		args = append(args, "-X", k+"="+v)
	}
	in := strings.Join(tlsValues("kcat"), "\n") + "\n"
	runKcat(ctx, t, strings.NewReader(in), append([]string{"-P", "-q", "-b", m.addr, "-t", topic, "-X", "acks=all"}, args...)...)
	out := runKcat(ctx, t, nil, append([]string{"-C", "-q", "-b", m.addr, "-t", topic, "-o", "beginning", "-e", "-c", "5", "-f", "%s\n"}, args...)...)
	checkValues(t, "kcat", strings.Fields(string(out)))
}

// librdkafka with an untrusted or an expired client certificate: kcat
// fails on the TLS alert the broker sends (unknown_ca, certificate_expired:
// under TLS 1.3 the server checks the client's certificate after the
// client's side of the handshake is done, so librdkafka reports the alert
// on its first receive; under TLS 1.2 as "SSL handshake failed"), and the
// broker then still serves a trusted client.
func TestMTLSRefusedLibrdkafka(t *testing.T) {
	kcatPath := kcatBinary(t)
	m := startMTLS(t)
	dir := t.TempDir()
	other := tlstest.NewCA(t).Client(t, "mallory")
	expired := m.ca.ExpiredClient(t, "bob")
	for name, c := range map[string]tlstest.Cert{"untrusted": other, "expired": expired} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, kcatPath, "-L", "-b", m.addr, "-m", "1",
			"-X", "security.protocol=ssl", "-X", "ssl.ca.location="+m.caFile,
			"-X", "ssl.certificate.location="+tlstest.WriteFile(t, filepath.Join(dir, name+".pem"), c.CertPEM),
			"-X", "ssl.key.location="+tlstest.WriteFile(t, filepath.Join(dir, name+".key"), c.KeyPEM))
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), "SSL handshake failed") && !strings.Contains(string(out), "SSL alert number") {
			t.Errorf("%s certificate: kcat -L = %v\n%s", name, err, out)
		}
	}
	kcatMTLS(t, m)
}

// SASL_SSL: TLS without client certificates (the broker-wide
// ssl.client.auth=required applies to SSL listeners only, as in Kafka),
// then SASL. franz-go creates a SCRAM-SHA-512 user as a PLAIN admin;
// kcat (librdkafka) produces and consumes with SCRAM-SHA-512 and
// confluent-kafka-go with PLAIN, all over TLS.
func TestSASLSSLClients(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	b := tandemtest.Start(t, append(tandemtest.TLS(t, ca, "required"),
		tandemtest.Config("listeners", "SASL_SSL://127.0.0.1:0"),
		tandemtest.Config("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-512"),
		tandemtest.Config("listener.name.sasl_ssl.plain.sasl.jaas.config", auth.PlainLoginModule+
			` required user_admin="admin-secret";`))...)
	caFile := ca.WriteTruststorePEM(t, filepath.Join(dir, "ca.pem"))
	tlsCfg := &tls.Config{RootCAs: ca.Pool()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	adminCl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DialTLSConfig(tlsCfg),
		kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer adminCl.Close()
	admin := kadm.NewClient(adminCl)
	res, err := admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "sam", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "sam-secret"}})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("creating SCRAM credentials over SASL_SSL: %v", err)
	}

	t.Run("kcat SCRAM-SHA-512", func(t *testing.T) {
		args := []string{"-b", b.Addr(), "-X", "security.protocol=sasl_ssl", "-X", "ssl.ca.location=" + caFile,
			"-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=sam", "-X", "sasl.password=sam-secret"}
		topic := "sasl-ssl-kcat"
		in := strings.Join(tlsValues("kcat"), "\n") + "\n"
		runKcat(ctx, t, strings.NewReader(in), append([]string{"-P", "-q", "-t", topic, "-X", "acks=all"}, args...)...)
		out := runKcat(ctx, t, nil, append([]string{"-C", "-q", "-t", topic, "-o", "beginning", "-e", "-c", "5", "-f", "%s\n"}, args...)...)
		checkValues(t, "kcat", strings.Fields(string(out)))
	})
	t.Run("confluent PLAIN", func(t *testing.T) {
		m := mtls{addr: b.Addr(), sasl: map[string]string{"security.protocol": "sasl_ssl", "ssl.ca.location": caFile,
			"sasl.mechanisms": "PLAIN", "sasl.username": "admin", "sasl.password": "admin-secret"}}
		confluentMTLS(t, m)
	})
}
