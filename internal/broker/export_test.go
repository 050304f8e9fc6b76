package broker

// SetCrashHook makes the topic deletion and creation-rollback steps call f
// (see crashHook); tests kill the process there.
func SetCrashHook(f func(point string)) { crashHook = f }
