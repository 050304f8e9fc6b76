package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/tlsconf"
)

// SecurityOptions says what RunSecurity measures: the Options workload
// (produce, then consume everything back) on one broker, once through its
// PLAINTEXT listener (Options.Brokers) and once through a secured listener
// (SecureBrokers, reached with the Kafka client properties ClientConfig:
// security.protocol, sasl.mechanism, sasl.jaas.config, ssl.*), Rounds
// times, alternating which goes first so neither always gets the warmer
// page cache. Each run uses a topic of its own (Topic-plaintext-1, ...),
// deleted after the run.
type SecurityOptions struct {
	Options
	SecureBrokers []string
	ClientConfig  map[string]string
	// CreateSCRAMUser upserts the SCRAM credential of the sasl.jaas.config
	// user (with its password, 8192 iterations) through the PLAINTEXT
	// listener before measuring, as kafka-configs.sh --alter
	// --add-config 'SCRAM-SHA-512=[password=...]' does.
	CreateSCRAMUser bool
	Rounds          int
}

// SecurityResult is what RunSecurity measured; ratios are secured over
// PLAINTEXT, of the MB/s summed over the rounds.
type SecurityResult struct {
	Protocol                   string // e.g. "SASL_SSL (SCRAM-SHA-512)"
	Plain, Secure              []Result
	ProduceRatio, ConsumeRatio float64
}

// The targets of issue #10 for SASL_SSL against PLAINTEXT on one broker.
const (
	produceRatioTarget = 0.7
	consumeRatioTarget = 0.5
)

// clientSecurity turns Kafka client properties into franz-go options, with
// a label naming the protocol and mechanism. Secrets stay in the options.
type clientSecurity struct {
	opts      []kgo.Opt
	label     string
	mechanism string // SASL mechanism, "" without SASL
	user, pwd string // from sasl.jaas.config
}

func parseClientSecurity(props map[string]string) (clientSecurity, error) {
	get := func(k string) (string, bool) { v, ok := props[k]; return v, ok }
	proto := strings.ToUpper(cmp.Or(strings.TrimSpace(props["security.protocol"]), "PLAINTEXT"))
	var cs clientSecurity
	cs.label = proto
	switch proto {
	case "SSL", "SASL_SSL":
		cfg, err := tlsconf.NewClient(get)
		if err != nil {
			return cs, err
		}
		cs.opts = append(cs.opts, kgo.DialTLSConfig(cfg))
	case "SASL_PLAINTEXT":
	default:
		return cs, fmt.Errorf("%w: security.protocol %q: want SSL, SASL_SSL or SASL_PLAINTEXT for the secured listener", ErrOptions, proto)
	}
	if !strings.HasPrefix(proto, "SASL_") {
		return cs, nil
	}
	// Kafka's default sasl.mechanism is GSSAPI, which Tandem does not offer.
	cs.mechanism = strings.ToUpper(strings.TrimSpace(props["sasl.mechanism"]))
	jaas, err := auth.ParseJAAS(props["sasl.jaas.config"])
	if err != nil {
		return cs, fmt.Errorf("%w: sasl.jaas.config: %w", ErrOptions, err)
	}
	cs.user, cs.pwd = jaas.Options["username"], jaas.Options["password"]
	if cs.user == "" {
		return cs, fmt.Errorf("%w: sasl.jaas.config has no username", ErrOptions)
	}
	var m sasl.Mechanism
	switch cs.mechanism {
	case "PLAIN":
		m = plain.Auth{User: cs.user, Pass: cs.pwd}.AsMechanism()
	case "SCRAM-SHA-256":
		m = scram.Auth{User: cs.user, Pass: cs.pwd}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		m = scram.Auth{User: cs.user, Pass: cs.pwd}.AsSha512Mechanism()
	default:
		return cs, fmt.Errorf("%w: sasl.mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", ErrOptions, cs.mechanism)
	}
	cs.opts = append(cs.opts, kgo.SASL(m))
	cs.label += " (" + cs.mechanism + ")"
	return cs, nil
}

// RunSecurity runs the workload over both listeners as o describes, prints
// each run's summary, then the comparison and one line of JSON to o.Out.
func RunSecurity(ctx context.Context, o SecurityOptions) (SecurityResult, error) {
	o.Out = cmp.Or[io.Writer](o.Out, io.Discard)
	o.Consume, o.ConsumeOnly, o.CreateTopic = true, false, true
	o.Rounds = max(o.Rounds, 1)
	if len(o.SecureBrokers) == 0 {
		return SecurityResult{}, fmt.Errorf("%w: no secure brokers", ErrOptions)
	}
	if err := o.validate(); err != nil {
		return SecurityResult{}, err
	}
	cs, err := parseClientSecurity(o.ClientConfig)
	if err != nil {
		return SecurityResult{}, err
	}
	if o.CreateSCRAMUser {
		if err := upsertSCRAM(ctx, o.Brokers, cs); err != nil {
			return SecurityResult{}, err
		}
	}
	res := SecurityResult{Protocol: cs.label}
	fmt.Fprintf(o.Out, "tandem bench security: %s on %s vs PLAINTEXT on %s, %d round(s)\n",
		cs.label, strings.Join(o.SecureBrokers, ","), strings.Join(o.Brokers, ","), o.Rounds)
	for round := 1; round <= o.Rounds; round++ {
		secureFirst := round%2 == 0
		for i := range 2 {
			secure := (i == 0) == secureFirst
			run := o.Options
			name := "plaintext"
			if secure {
				run.Brokers, run.ClientOpts = o.SecureBrokers, append(append([]kgo.Opt{}, o.ClientOpts...), cs.opts...)
				name = strings.ToLower(strings.Fields(cs.label)[0])
			}
			run.Topic = fmt.Sprintf("%s-%s-%d", o.Topic, name, round)
			fmt.Fprintf(o.Out, "\n== round %d: %s\n", round, strings.ToUpper(name))
			r, err := Run(ctx, run)
			// Each run's topic is deleted after it, so a run of many
			// rounds holds one run's data on disk, not all of them.
			err = errors.Join(err, deleteTopic(ctx, run))
			if err != nil {
				return res, fmt.Errorf("bench: %s run, round %d: %w", name, round, err)
			}
			if secure {
				res.Secure = append(res.Secure, r)
			} else {
				res.Plain = append(res.Plain, r)
			}
		}
	}
	res.ProduceRatio = ratio(res.Secure, res.Plain, func(r Result) float64 { return r.ProduceMBps })
	res.ConsumeRatio = ratio(res.Secure, res.Plain, func(r Result) float64 { return r.ConsumeMBps })
	mean := func(rs []Result, f func(Result) float64) (s float64) {
		for _, r := range rs {
			s += f(r)
		}
		return s / float64(len(rs))
	}
	produceMBps := func(r Result) float64 { return r.ProduceMBps }
	consumeMBps := func(r Result) float64 { return r.ConsumeMBps }
	fmt.Fprintf(o.Out, "\nsecurity: mean of %d round(s)\n", o.Rounds)
	fmt.Fprintf(o.Out, "  produce MB/s: PLAINTEXT %.1f, %s %.1f: ratio %.2f (target >= %.1f)\n",
		mean(res.Plain, produceMBps), cs.label, mean(res.Secure, produceMBps), res.ProduceRatio, produceRatioTarget)
	fmt.Fprintf(o.Out, "  consume MB/s: PLAINTEXT %.1f, %s %.1f: ratio %.2f (target >= %.1f)\n",
		mean(res.Plain, consumeMBps), cs.label, mean(res.Secure, consumeMBps), res.ConsumeRatio, consumeRatioTarget)
	line, _ := json.Marshal(map[string]any{
		"security_protocol":   cs.label,
		"rounds":              o.Rounds,
		"record_size":         o.RecordSize,
		"partitions":          o.Partitions,
		"produce_mbps_plain":  round2(mean(res.Plain, produceMBps)),
		"produce_mbps_secure": round2(mean(res.Secure, produceMBps)),
		"consume_mbps_plain":  round2(mean(res.Plain, consumeMBps)),
		"consume_mbps_secure": round2(mean(res.Secure, consumeMBps)),
		"produce_ratio":       round2(res.ProduceRatio),
		"consume_ratio":       round2(res.ConsumeRatio),
	})
	fmt.Fprintf(o.Out, "%s\n", line)
	return res, nil
}

func ratio(num, den []Result, f func(Result) float64) float64 {
	var n, d float64
	for _, r := range num {
		n += f(r)
	}
	for _, r := range den {
		d += f(r)
	}
	if d == 0 {
		return 0
	}
	return n / d
}

// deleteTopic deletes the run's topic through the run's own listener.
func deleteTopic(ctx context.Context, run Options) error {
	topic := run.Topic
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(run.Brokers...)}, run.ClientOpts...)...)
	if err != nil {
		return fmt.Errorf("bench: admin client: %w", err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).DeleteTopic(ctx, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("bench: deleting topic %s: %w", topic, err)
	}
	return nil
}

// upsertSCRAM creates or replaces the SASL user's SCRAM credential through
// the PLAINTEXT listener (AlterUserScramCredentials).
func upsertSCRAM(ctx context.Context, brokers []string, cs clientSecurity) error {
	var mech kadm.ScramMechanism
	switch cs.mechanism {
	case "SCRAM-SHA-256":
		mech = kadm.ScramSha256
	case "SCRAM-SHA-512":
		mech = kadm.ScramSha512
	default:
		return fmt.Errorf("%w: creating a SCRAM user needs sasl.mechanism SCRAM-SHA-256 or SCRAM-SHA-512", ErrOptions)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("bench: admin client: %w", err)
	}
	defer cl.Close()
	altered, err := kadm.NewClient(cl).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{
		User: cs.user, Mechanism: mech, Iterations: 8192, Password: cs.pwd,
	}})
	if err == nil {
		for _, a := range altered {
			err = errors.Join(err, a.Err)
		}
	}
	if err != nil {
		return fmt.Errorf("bench: creating the SCRAM credential of %s: %w", cs.user, err)
	}
	return nil
}
