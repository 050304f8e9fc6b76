package broker

import "github.com/tandem-streaming/tandem/internal/acl"

// SetCrashHook makes the topic deletion and creation-rollback steps call f
// (see crashHook); tests kill the process there.
func SetCrashHook(f func(point string)) { crashHook = f }

// SetAuthorizer replaces the broker's authorizer. Tests call it before any
// request reaches the broker, and then send requests with Handle only.
func SetAuthorizer(b *Broker, a acl.Authorizer) { b.authorizer = a }
