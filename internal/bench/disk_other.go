//go:build !linux

package bench

import (
	"context"
	"errors"
	"io"
	"time"
)

// DiskOptions configures RunDisk.
type DiskOptions struct {
	Dir       string
	Rate      int64
	WriteSize int
	Files     int
	Duration  time.Duration
	Strategy  string
	Out       io.Writer
}

// DiskResult is what RunDisk measured.
type DiskResult struct {
	Rounds                              int
	RoundP50, RoundP99, RoundMax        time.Duration
	DurableP50, DurableP99, DurableP999 time.Duration
	RoundsOver5ms                       int
}

// RunDisk needs syncfs(2) and fdatasync(2): Linux only.
func RunDisk(context.Context, DiskOptions) (DiskResult, error) {
	return DiskResult{}, errors.New("bench: the disk probe runs on Linux only")
}
