//go:build linux

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// RunDisk measures what a machine's storage allows an fsync-before-ack
// broker, with no broker involved: it writes at a steady rate to Files
// files and makes them durable in back-to-back group-commit rounds, the
// way Tandem's Syncer does (one syncfs(2), or an fdatasync per file).
// It reports the round durations and, for every write, the time from its
// scheduled moment to the end of the round that made it durable — the
// floor under acks=all produce latency at that rate on this disk. Writes
// due while a round runs wait for it, so a stall is charged to every
// write behind it (no coordinated omission).
func RunDisk(ctx context.Context, o DiskOptions) (DiskResult, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Rate <= 0 || o.WriteSize <= 0 || o.Files <= 0 || o.Duration <= 0 {
		return DiskResult{}, fmt.Errorf("%w: rate, write size, files and duration must be positive", ErrOptions)
	}
	if o.Strategy != "syncfs" && o.Strategy != "fdatasync" {
		return DiskResult{}, fmt.Errorf("%w: strategy %q (want syncfs or fdatasync)", ErrOptions, o.Strategy)
	}
	dir, err := os.MkdirTemp(o.Dir, "tandem-disk-probe-")
	if err != nil {
		return DiskResult{}, fmt.Errorf("bench: probe directory: %w", err)
	}
	defer os.RemoveAll(dir)
	files := make([]*os.File, o.Files)
	for i := range files {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%05d.log", i)))
		if err != nil {
			return DiskResult{}, err
		}
		defer f.Close()
		files[i] = f
	}
	dirf, err := os.Open(dir)
	if err != nil {
		return DiskResult{}, err
	}
	defer dirf.Close()

	buf := make([]byte, o.WriteSize)
	for i := range buf {
		buf[i] = byte(i)
	}
	interval := time.Duration(float64(time.Second) * float64(o.WriteSize) / float64(o.Rate))
	rounds, durable := new(histogram), new(histogram)
	var res DiskResult
	start := time.Now()
	var pending []time.Time
	for n := int64(0); ; {
		now := time.Now()
		if now.Sub(start) >= o.Duration || ctx.Err() != nil {
			break
		}
		for due := int64(now.Sub(start)/interval) + 1; n < due; n++ {
			if _, err := files[n%int64(o.Files)].Write(buf); err != nil {
				return res, fmt.Errorf("bench: write: %w", err)
			}
			pending = append(pending, start.Add(time.Duration(n)*interval))
		}
		t0 := time.Now()
		if o.Strategy == "syncfs" {
			err = unix.Syncfs(int(dirf.Fd()))
		} else {
			for _, f := range files {
				if err = unix.Fdatasync(int(f.Fd())); err != nil {
					break
				}
			}
		}
		if err != nil {
			return res, fmt.Errorf("bench: %s: %w", o.Strategy, err)
		}
		end := time.Now()
		d := end.Sub(t0)
		rounds.Record(d)
		if d > 5*time.Millisecond {
			res.RoundsOver5ms++
		}
		for _, s := range pending {
			durable.Record(end.Sub(s))
		}
		pending = pending[:0]
		res.Rounds++
	}
	if res.Rounds == 0 {
		return res, errors.New("bench: no round completed")
	}
	res.RoundP50, res.RoundP99, res.RoundMax = rounds.Quantile(0.5), rounds.Quantile(0.99), rounds.Max()
	res.DurableP50, res.DurableP99, res.DurableP999 = durable.Quantile(0.5), durable.Quantile(0.99), durable.Quantile(0.999)
	fmt.Fprintf(o.Out, "disk probe: %s, %.1f MB/s in %d-byte writes over %d files for %v in %s\n",
		o.Strategy, float64(o.Rate)/1e6, o.WriteSize, o.Files, o.Duration, o.Dir)
	fmt.Fprintf(o.Out, "rounds: %d, p50 %v p99 %v max %v, %d over 5 ms\n",
		res.Rounds, roundLatency(res.RoundP50), roundLatency(res.RoundP99), roundLatency(res.RoundMax), res.RoundsOver5ms)
	fmt.Fprintf(o.Out, "write to durable: p50 %v p99 %v p99.9 %v\n",
		roundLatency(res.DurableP50), roundLatency(res.DurableP99), roundLatency(res.DurableP999))
	line, _ := json.Marshal(map[string]any{
		"strategy": o.Strategy, "rate": o.Rate, "write_size": o.WriteSize, "files": o.Files,
		"rounds": res.Rounds, "round_p50_ms": ms(res.RoundP50), "round_p99_ms": ms(res.RoundP99),
		"round_max_ms": ms(res.RoundMax), "rounds_over_5ms": res.RoundsOver5ms,
		"durable_p50_ms": ms(res.DurableP50), "durable_p99_ms": ms(res.DurableP99), "durable_p999_ms": ms(res.DurableP999),
	})
	fmt.Fprintf(o.Out, "%s\n", line)
	return res, nil
}
