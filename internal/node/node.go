// Package node assembles a Tandem broker from its parts — configuration,
// cluster metadata, partition logs, the Kafka server and the HTTP API —
// and owns their lifecycle. `tandem serve` and the in-process test harness
// both start brokers through it, so tests run exactly what users run.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/console"
	"github.com/tandem-streaming/tandem/internal/group"
	"github.com/tandem-streaming/tandem/internal/link"
	"github.com/tandem-streaming/tandem/internal/log"
	"github.com/tandem-streaming/tandem/internal/metadata"
	"github.com/tandem-streaming/tandem/internal/metrics"
	"github.com/tandem-streaming/tandem/internal/mirror"
	"github.com/tandem-streaming/tandem/internal/partition"
	"github.com/tandem-streaming/tandem/internal/server"
	"github.com/tandem-streaming/tandem/internal/vfs"
)

// cleanShutdownFile marks a log directory whose logs were all closed
// cleanly (Kafka's .kafka_cleanshutdown). It is removed at start, so a
// crash leaves the directory without it and the next start validates log
// tails.
const cleanShutdownFile = ".tandem_cleanshutdown"

// lockFile guards a log directory against a second broker (Kafka's .lock).
const lockFile = ".lock"

// Node is a running broker.
type Node struct {
	Config  config.BrokerConfig
	logger  *slog.Logger
	dir     string
	lock    *os.File
	store   metadata.Store
	files   *log.FileCache
	syncer  *log.Syncer
	cleaner *log.Cleaner
	links   *link.Manager
	parts   *partition.Manager
	broker  *broker.Broker
	server  *server.Server
	http    *httpServer
	metrics *metrics.Metrics
	budget  descriptorBudget
	// console is the web console's lag history, filled by sampler.
	console *console.History
	sampler *console.Sampler
	started time.Time

	// authorizer is nil when authorizer.class.name is unset (authorizer.go).
	authorizer *acl.StandardAuthorizer

	kafkaAddrs []net.Addr
	stop       chan struct{}
	bg         sync.WaitGroup
	closeOnce  sync.Once
	closeErr   error

	// tls are the TLS sides of the listeners (tls.go), nil for those
	// without TLS; closed at shutdown.
	tls []tlsServer
}

// Start validates props (server.properties keys and flags), opens the data
// directory and serves until Shutdown. With cluster.link.enable, mirror
// topics are filled by internal/mirror's data path; tests start nodes
// through here too (internal/tandemtest), so they run what `serve` runs.
func Start(props map[string]string, logger *slog.Logger) (_ *Node, err error) {
	return StartFS(props, logger, nil)
}

// StartFS is Start with the storage (the logs and the metadata store) on
// fsys instead of the operating system's file system (vfs.Default when
// nil): tests put a fault injector (vfs.ErrorFS) there.
func StartFS(props map[string]string, logger *slog.Logger, fsys vfs.FS) (_ *Node, err error) {
	cfg, err := config.LoadBroker(props)
	if err != nil {
		return nil, err
	}
	if err := checkSASL(cfg); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{Config: cfg, logger: logger, dir: cfg.LogDirs[0], stop: make(chan struct{}), started: time.Now()}
	defer func() {
		if err != nil {
			n.abort()
		}
	}()

	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		return nil, fmt.Errorf("log.dirs: cannot create the log directory: %w", err)
	}
	if n.lock, err = lockDir(n.dir); err != nil {
		return nil, err
	}
	clean := fileExists(filepath.Join(n.dir, cleanShutdownFile))
	if err := os.Remove(filepath.Join(n.dir, cleanShutdownFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("log.dirs: %w", err)
	}
	// meta.properties is written once the directory is formatted, so its
	// absence means a brand-new directory, not an unclean shutdown.
	switch fresh := !fileExists(filepath.Join(n.dir, "meta.properties")); {
	case fresh:
		logger.Info("formatting a new log directory", "dir", n.dir)
	case !clean:
		logger.Warn("previous shutdown was not clean; logs will validate their tails", "dir", n.dir)
	}

	if n.store, err = metadata.OpenBoltFS(n.dir, cfg.NodeID, logger.With("component", "metadata"), fsys); err != nil {
		return nil, err
	}
	n.metrics = metrics.New(cfg.NodeID)
	nofile, err := raiseDescriptorLimit()
	if err != nil {
		return nil, fmt.Errorf("raising the open-file limit (ulimit -n): %w", err)
	}
	n.budget = planDescriptors(nofile)
	logBudget(logger, n.budget)
	limits, err := connectionLimits(cfg, n.budget)
	if err != nil {
		return nil, err
	}
	n.files = log.NewFileCacheFS(n.budget.FileCache, fsys)
	so := log.SyncerOptions{Workers: 32, Observe: n.metrics.ObserveFsync, FS: fsys}
	if cfg.LogSyncStrategy == "syncfs" {
		so.SyncfsDir = n.dir
	}
	if n.syncer, err = log.StartSyncer(so); err != nil {
		return nil, err
	}
	if cfg.LogCleanerEnable {
		n.cleaner = log.NewCleaner(int(cfg.LogCleanerThreads), cfg.LogCleanerDedupeBufferSize,
			time.Duration(cfg.LogCleanerBackoffMs)*time.Millisecond)
	}
	n.parts = partition.NewManager(partition.Options{
		Dir: n.dir, CleanShutdown: clean, Files: n.files, Syncer: n.syncer, Cleaner: n.cleaner,
		Logger: logger.With("component", "log"),
	})

	// Bind before building the broker: Metadata advertises the bound
	// port when the configured one is 0.
	var lns []net.Listener
	for _, l := range cfg.Listeners {
		ln, err := net.Listen("tcp", l.Addr())
		if err != nil {
			for _, o := range lns {
				_ = o.Close()
			}
			return nil, fmt.Errorf("listeners: cannot listen on %s: %w", l, err)
		}
		lns = append(lns, ln)
		n.kafkaAddrs = append(n.kafkaAddrs, ln.Addr())
	}
	endpoints, err := advertised(cfg, lns)
	if err != nil {
		for _, o := range lns {
			_ = o.Close()
		}
		return nil, err
	}
	// TLS for SSL and SASL_SSL listeners (tls.go): a bad keystore or
	// truststore stops the start here, naming the listener.
	if n.tls, err = startTLS(cfg, logger); err != nil {
		for _, o := range lns {
			_ = o.Close()
		}
		return nil, err
	}

	n.authorizer = newAuthorizer(cfg, n.store, n.metrics)
	n.broker, err = broker.New(broker.Options{
		NodeID: cfg.NodeID, Advertised: endpoints,
		Static: cfg, StaticProps: props, Store: n.store, Partitions: n.parts,
		Metrics: n.metrics, Logger: logger, Authorizer: n.Authorizer(),
		Groups: groupConfig(cfg),
	})
	if err != nil {
		for _, o := range lns {
			_ = o.Close()
		}
		return nil, err
	}
	if cfg.ClusterLinkEnable {
		// Source-initiated links: the INBOUND halves' control sessions,
		// through which both the manager's clients and the data path's
		// fetchers dial (docs/source-initiated-links.md).
		sessions := link.NewSessions(logger.With("component", "link"))
		data := mirror.NewFetcherPath(n.broker, mirror.Options{
			Logger: logger.With("component", "mirror"), ObserveFetch: n.metrics.ObserveLinkFetch,
			ClientOpts: sessions.ClientOpts,
		})
		enc, err := passwordEncoder(props)
		if err != nil {
			return nil, err
		}
		if n.links, err = link.NewManager(n.store, n.broker, data, logger.With("component", "link"), link.WithPasswordEncoder(enc),
			link.WithSessions(sessions), link.WithListeners(cfg.NodeID, linkListeners(endpoints))); err != nil {
			return nil, err
		}
		// The private link requests (LinkPeer, LinkReverse,
		// LinkMirrorOp) are answered by the manager; without it they
		// answer "cluster linking is disabled".
		n.broker.SetLinkAPI(n.links)
		n.metrics.SetLinkSourceWithTasks(func() []metrics.LinkStat { return linkStats(n.links, data) },
			[]string{link.LinkActive, link.LinkPaused, link.LinkUnavailable, link.LinkFailed},
			mirrorStateNames(), link.TaskStates)
	}
	n.metrics.SetPartitionSource(n.partitionStats)
	n.metrics.SetGroupLagSource(n.groupLagStats, int(cfg.GroupLagMetricsMaxGroups), cfg.GroupPartitionLagMetrics)
	n.server = server.New(server.Options{
		Broker: n.broker, MaxRequestBytes: cfg.SocketRequestMaxBytes, Metrics: n.metrics,
		Logger: logger.With("component", "server"), Limits: limits,
	})
	for i, ln := range lns {
		lo := server.ListenerOptions{Config: cfg.ListenerConfigs[i]}
		if ts := n.tls[i]; ts != nil {
			lo.TLS = ts
		}
		n.server.ServeListener(ln, lo)
	}
	if len(cfg.HTTPListeners) > 0 {
		// The web console's lag history (docs/console.md): sampled only
		// when there is an HTTP listener to show it.
		n.console = console.NewHistory(0, 0)
		n.sampler = console.StartSampler(n.console, console.DefaultInterval, consoleSource{n: n}.Snapshot, nil)
		if n.http, err = startHTTP(n, cfg.HTTPListeners); err != nil {
			return nil, err
		}
	}
	n.bg.Add(1)
	go n.retentionLoop(time.Duration(cfg.LogRetentionCheckIntervalMs) * time.Millisecond)
	logger.Info("tandem started", "node_id", cfg.NodeID, "cluster_id", n.store.ClusterID(),
		"kafka", n.kafkaAddrs, "advertised", endpointStrings(endpoints), "log_dir", n.dir)
	return n, nil
}

// advertised is the address each listener advertises (config's
// AdvertisedListeners, one per listener), with an empty or meta-address
// host replaced by this machine's host name (Kafka advertises the
// canonical host name) and port 0 by the listener's bound port.
func advertised(cfg config.BrokerConfig, lns []net.Listener) ([]broker.Endpoint, error) {
	out := make([]broker.Endpoint, len(lns))
	for i, ln := range lns {
		adv := cfg.Listeners[i]
		if i < len(cfg.AdvertisedListeners) {
			adv = cfg.AdvertisedListeners[i]
		}
		host, port := adv.Host, adv.Port
		if port == 0 {
			port = ln.Addr().(*net.TCPAddr).Port
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			h, err := os.Hostname()
			if err != nil {
				return nil, fmt.Errorf("advertised.listeners: no host given for %s and the hostname is unknown: %w", adv.Name, err)
			}
			host = h
		}
		out[i] = broker.Endpoint{Listener: cfg.Listeners[i].Name, Host: host, Port: int32(port)}
	}
	return out, nil
}

// linkListeners are the listeners a SOURCE half's relay may connect to
// (local.listener.name): each one's advertised address, which its
// Metadata answers return too.
func linkListeners(es []broker.Endpoint) []link.ListenerAddr {
	out := make([]link.ListenerAddr, len(es))
	for i, e := range es {
		out[i] = link.ListenerAddr{Name: e.Listener, Addr: net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))}
	}
	return out
}

func endpointStrings(es []broker.Endpoint) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Listener + "://" + net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
	}
	return out
}

// KafkaAddr is the bound address of the first Kafka listener.
func (n *Node) KafkaAddr() string { return n.kafkaAddrs[0].String() }

// ListenerAddr is the bound address of the Kafka listener named name
// (case-insensitive), or "" when there is none.
func (n *Node) ListenerAddr(name string) string {
	for i, l := range n.Config.Listeners {
		if strings.EqualFold(l.Name, name) {
			return n.kafkaAddrs[i].String()
		}
	}
	return ""
}

// HTTPAddr is the bound address of the first HTTP listener, or "".
func (n *Node) HTTPAddr() string {
	if n.http == nil {
		return ""
	}
	return n.http.addrs[0].String()
}

// ClusterID is the cluster's id.
func (n *Node) ClusterID() string { return n.store.ClusterID() }

// Broker exposes the broker, for the HTTP API and tests.
func (n *Node) Broker() *broker.Broker { return n.broker }

// Links exposes the cluster-link manager (nil when cluster.link.enable is
// false).
func (n *Node) Links() *link.Manager { return n.links }

// Store exposes cluster metadata, for components built on the node and
// tests.
func (n *Node) Store() metadata.Store { return n.store }

// Metrics returns this node's metrics.
func (n *Node) Metrics() *metrics.Metrics { return n.metrics }

// StorageHealth returns nil when every hosted partition can take writes,
// else an error naming the offline ones (at most five) and their causes:
// /readyz reports it as DOWN. Kafka takes a whole log directory offline
// on an I/O error; Tandem takes the partition that hit it, and keeps the
// probe DOWN so that an orchestrator or operator sees it.
func (n *Node) StorageHealth() error {
	off := n.parts.Offline()
	if len(off) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "storage: %d partition(s) offline:", len(off))
	for i, p := range off {
		if i == 5 {
			fmt.Fprintf(&b, " and %d more", len(off)-i)
			break
		}
		fmt.Fprintf(&b, " %s-%d (%v);", p.Topic, p.Partition, p.Err)
	}
	b.WriteString(" see docs/operations.md, Storage faults")
	return errors.New(b.String())
}

func (n *Node) partitionStats() []metrics.PartitionStat {
	var out []metrics.PartitionStat
	for _, t := range n.parts.Topics() {
		for _, p := range t.Partitions {
			if p.Log == nil {
				out = append(out, metrics.PartitionStat{Topic: p.Topic, Partition: p.Index, Offline: true, NoLog: true})
				continue
			}
			s := p.Log.Stats()
			out = append(out, metrics.PartitionStat{
				Topic: p.Topic, Partition: p.Index, LogSizeBytes: s.Size, Segments: s.Segments,
				LogStartOffset: s.LogStartOffset, LogEndOffset: s.LogEndOffset, HighWatermark: s.HighWatermark,
				Offline: p.Log.Failed() != nil,
			})
		}
	}
	return out
}

// offsetSyncStat sums the link's last consumer offset sync for metrics.
func offsetSyncStat(lm *link.Manager, name string) *metrics.OffsetSyncStat {
	lags, _ := lm.GroupOffsetLags(name)
	st := &metrics.OffsetSyncStat{}
	groups := map[string]struct{}{}
	for _, g := range lags {
		groups[g.Group] = struct{}{}
		if g.Lag > 0 {
			st.TotalLag += g.Lag
			st.MaxLag = max(st.MaxLag, g.Lag)
		}
	}
	st.Groups = len(groups)
	return st
}

// linkStats is the scrape-time view of the cluster links for
// internal/metrics: link and mirror states from the manager, lag from the
// data path's partition status, and fetch counters from the data path.
func linkStats(lm *link.Manager, data *mirror.FetcherPath) []metrics.LinkStat {
	fetched := data.FetchStats()
	links := lm.Links()
	out := make([]metrics.LinkStat, len(links))
	idx := make(map[string]int, len(links))
	for i, l := range links {
		f := fetched[l.Link.Name]
		out[i] = metrics.LinkStat{Link: l.Link.Name, State: l.State, MirrorsByState: map[string]int{},
			FetchedBytes: f.BytesFetched, FetchedRecords: f.RecordsFetched,
			FetchErrors: f.FetchErrors, CorruptResponses: f.CorruptPartitionResponses,
			FetchRequests: f.FetchRequests, LinkFetchRequests: f.LinkFetchRequests}
		for _, tk := range l.Tasks {
			out[i].Tasks = append(out[i].Tasks, metrics.LinkTaskStat{Name: tk.Name, State: tk.State, Failures: tk.Failures, LastRun: tk.LastRun})
		}
		if strings.EqualFold(link.Value(l.Link.Configs, "consumer.offset.sync.enable"), "true") {
			out[i].OffsetSync = offsetSyncStat(lm, l.Link.Name)
		}
		if synced, on := lm.SyncedACLs(l.Link.Name); on {
			out[i].ACLSync = &metrics.ACLSyncStat{Synced: len(synced)}
		}
		if l.Remote != nil {
			out[i].RemoteStateTime = l.Remote.Time
		}
		idx[l.Link.Name] = i
	}
	mirrors, _ := lm.Mirrors("", "")
	for _, mi := range mirrors {
		i, ok := idx[mi.Topic.Mirror.Link]
		if !ok {
			continue // link deleted between the two reads
		}
		s := &out[i]
		s.MirrorsByState[string(mi.State)]++
		if mi.State == metadata.MirrorStopped {
			// A stopped mirror is an ordinary topic now: its lag at the
			// stop is in describe, not a live series an alert would keep
			// firing on (nor in the link's max lag).
			continue
		}
		for _, p := range mi.Partitions {
			s.Partitions = append(s.Partitions, metrics.MirrorPartitionStat{
				Topic: mi.Topic.Name, Partition: p.Partition, Lag: p.Lag(), LastFetch: p.LastFetch, SourceEndTime: p.SourceEndTime})
		}
	}
	return out
}

func (n *Node) retentionLoop(every time.Duration) {
	defer n.bg.Done()
	if every <= 0 {
		every = 5 * time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			if d := n.parts.EnforceRetention(); d > 0 {
				n.logger.Info("retention deleted segments", "segments", d)
			}
		}
	}
}

// Shutdown stops the broker gracefully: stop accepting and reading
// requests, answer the ones already read, close the logs (writing their
// producer-state snapshots), close metadata and mark the directory clean.
// When ctx ends first, connections are cut, but logs are still closed.
func (n *Node) Shutdown(ctx context.Context) error {
	n.closeOnce.Do(func() {
		var errs []error
		if n.http != nil {
			errs = append(errs, n.http.shutdown(ctx))
		}
		if n.sampler != nil {
			n.sampler.Stop()
		}
		if n.links != nil {
			n.links.Close()
		}
		// Stop the group coordinator first: a JoinGroup parked for a
		// rebalance would otherwise hold the drain for its timeout.
		n.broker.Close()
		if err := n.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: connections cut: %w", err))
		}
		close(n.stop)
		n.bg.Wait()
		n.closeTLS()
		if n.cleaner != nil {
			n.cleaner.Close() // abandons a pass in progress
		}
		logErr := n.parts.Close()
		n.syncer.Close()
		errs = append(errs, logErr, n.store.Close())
		if logErr == nil {
			errs = append(errs, markClean(n.dir))
		}
		_ = n.lock.Close()
		n.closeErr = errors.Join(errs...)
		n.logger.Info("tandem stopped", "err", n.closeErr)
	})
	return n.closeErr
}

// abort releases what a failed Start acquired.
func (n *Node) abort() {
	if n.http != nil {
		_ = n.http.shutdown(context.Background())
	}
	if n.sampler != nil {
		n.sampler.Stop()
	}
	if n.links != nil {
		n.links.Close()
	}
	if n.broker != nil {
		n.broker.Close()
	}
	if n.server != nil {
		_ = n.server.Shutdown(context.Background())
	}
	n.closeTLS()
	if n.cleaner != nil {
		n.cleaner.Close()
	}
	if n.parts != nil {
		_ = n.parts.Close()
	}
	if n.syncer != nil {
		n.syncer.Close()
	}
	if n.store != nil {
		_ = n.store.Close()
	}
	if n.lock != nil {
		_ = n.lock.Close()
	}
}

func markClean(dir string) error {
	f, err := os.Create(filepath.Join(dir, cleanShutdownFile))
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// lockDir takes an exclusive flock on the directory's lock file, as Kafka
// does, so two brokers never share a log directory.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("log.dirs: cannot open the lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("log.dirs: %s is in use by another process (is another broker running on it?): %w", dir, err)
	}
	return f, nil
}

// groupConfig maps the broker's group.* and offsets.* settings.
func groupConfig(c config.BrokerConfig) group.Config {
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	return group.Config{
		NumPartitions:                 c.OffsetsTopicNumPartitions,
		InitialRebalanceDelay:         ms(int64(c.GroupInitialRebalanceDelayMs)),
		MinSessionTimeout:             ms(int64(c.GroupMinSessionTimeoutMs)),
		MaxSessionTimeout:             ms(int64(c.GroupMaxSessionTimeoutMs)),
		MaxSize:                       int(c.GroupMaxSize),
		OffsetsRetention:              time.Duration(c.OffsetsRetentionMinutes) * time.Minute,
		OffsetsRetentionCheckInterval: ms(c.OffsetsRetentionCheckIntervalMs),
		OffsetMetadataMaxBytes:        int(c.OffsetMetadataMaxBytes),
	}
}

// mirrorStateNames lists the mirror states for the per-state gauges.
func mirrorStateNames() []string {
	out := make([]string, len(metadata.MirrorStates))
	for i, s := range metadata.MirrorStates {
		out[i] = string(s)
	}
	return out
}
