package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tandem-streaming/tandem/internal/config"
	"github.com/tandem-streaming/tandem/internal/node"
)

func serveCmd() *cobra.Command {
	var (
		configFile string
		logLevel   string
		logFormat  string
		values     = map[string]*string{}
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a broker",
		Long: `Run a Tandem broker.

Every broker configuration key can be given in a Java-properties file
(--config FILE) or as a flag of the same name; flags win over the file.
With no flags at all the broker listens on 127.0.0.1:9092, serves the HTTP
API on 127.0.0.1:8090 and keeps its data in ./tandem-data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			props := map[string]string{}
			if configFile != "" {
				f, err := os.Open(configFile)
				if err != nil {
					return err
				}
				p, err := config.ParseProperties(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", configFile, err)
				}
				props = p
			}
			cmd.Flags().Visit(func(f *pflag.Flag) {
				if v, ok := values[f.Name]; ok {
					props[f.Name] = *v
				}
			})
			logger, err := newLogger(logLevel, logFormat)
			if err != nil {
				return err
			}
			return serve(props, logger)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&configFile, "config", "", "Java-properties file with broker configs")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	for _, name := range config.BrokerDefs().Names() {
		d, _ := config.BrokerDefs().Lookup(name)
		values[name] = fs.String(name, "", firstLine(d.Doc)+defaultNote(d))
	}
	return cmd
}

func defaultNote(d config.Def) string {
	if d.Default == "" {
		return ""
	}
	return " (default " + d.Default + ")"
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is neither text nor json", format)
}

func serve(props map[string]string, logger *slog.Logger) error {
	n, err := node.Start(props, logger)
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	logger.Info("shutting down", "signal", s.String())
	go func() {
		<-sig
		logger.Warn("second signal: exiting at once")
		os.Exit(1)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return n.Shutdown(ctx)
}
