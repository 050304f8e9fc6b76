//go:build !linux

package bench

import (
	"context"
	"errors"
)

// RunDisk needs syncfs(2) and fdatasync(2): Linux only.
func RunDisk(context.Context, DiskOptions) (DiskResult, error) {
	return DiskResult{}, errors.New("bench: the disk probe runs on Linux only")
}
