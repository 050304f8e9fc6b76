package bench

import (
	"io"
	"time"
)

// DiskOptions configures RunDisk.
type DiskOptions struct {
	Dir       string        // directory on the file system to probe (a fresh subdirectory is used)
	Rate      int64         // bytes/s written
	WriteSize int           // bytes per write
	Files     int           // files written round-robin (partitions)
	Duration  time.Duration // how long to write
	Strategy  string        // "syncfs" or "fdatasync", as log.sync.strategy
	Out       io.Writer
}

// DiskResult is what RunDisk measured.
type DiskResult struct {
	Rounds                 int
	RoundP50, RoundP99     time.Duration
	RoundMax               time.Duration
	DurableP50, DurableP99 time.Duration
	DurableP999            time.Duration
	RoundsOver5ms          int
}
