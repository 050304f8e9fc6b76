// Package usererr builds the errors a user reads: REST error bodies, CLI
// output, Kafka ErrorMessage fields, link and mirror errors, log lines.
//
// The rule (docs/HACKING.md "Errors users read"): a sentinel classifies, a
// message explains. Sentinels that can reach a user carry a plain phrase
// with no package prefix ("cluster link does not exist"), in case one is
// returned bare. Where such an error is made, the code that knows the
// object writes the whole message with New — the object by name and, where
// there is one, the fix — and errors.Is still finds the sentinel:
//
//	usererr.New(metadata.ErrUnknownLink, "cluster link '%s' does not exist", name)
package usererr

import "fmt"

// New returns an error whose text is format and args, as fmt.Errorf
// formats them, and which matches kind (and any %w argument) with errors.Is
// and errors.As. kind may be an errors.Join of several sentinels.
func New(kind error, format string, args ...any) error {
	cause := fmt.Errorf(format, args...)
	return &userError{msg: cause.Error(), kind: kind, cause: cause}
}

type userError struct {
	msg         string
	kind, cause error
}

func (e *userError) Error() string   { return e.msg }
func (e *userError) Unwrap() []error { return []error{e.kind, e.cause} }
