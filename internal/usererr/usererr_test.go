package usererr

import (
	"errors"
	"io"
	"testing"
)

func TestNew(t *testing.T) {
	kind := errors.New("cluster link does not exist")
	other := errors.New("other")
	err := New(kind, "cluster link '%s' does not exist: %w", "east", io.EOF)
	if got, want := err.Error(), "cluster link 'east' does not exist: EOF"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, kind) || !errors.Is(err, io.EOF) || errors.Is(err, other) {
		t.Fatal("errors.Is does not find the kind and the %w argument only")
	}
	joined := New(errors.Join(kind, other), "x")
	if !errors.Is(joined, kind) || !errors.Is(joined, other) || joined.Error() != "x" {
		t.Fatalf("joined kinds: %v", joined)
	}
}
