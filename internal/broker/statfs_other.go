//go:build !linux

package broker

import "errors"

func diskSpace(string) (int64, int64, error) { return 0, 0, errors.New("statfs not supported") }
