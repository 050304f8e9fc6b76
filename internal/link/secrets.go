package link

import (
	"errors"
	"maps"
	"sort"
	"strings"

	"github.com/tandem-streaming/tandem/internal/pwenc"
	"github.com/tandem-streaming/tandem/internal/usererr"
)

// Sensitive link configs (sasl.jaas.config, ssl.keystore.key and the ssl
// passwords: the registry's Sensitive keys) never reach the metadata store
// in clear: the Manager encrypts them with the broker's
// password.encoder.secret (internal/pwenc) before storing a link, and
// decrypts them when it starts the link. What the store holds, and so
// what describe, REST and the CLI could ever see, is ciphertext; REST
// shows sensitive values as null besides (Describe).
//
// Without password.encoder.secret a link with a sensitive config is
// refused, as Kafka refuses to store a dynamic password without it. A
// stored link whose values the broker's secrets cannot decrypt (the
// secret was changed without password.encoder.old.secret) does not stop
// the broker: that link is FAILED with an error saying so, and setting its
// sensitive configs again (or restoring the secret) brings it back.

// Option configures a Manager.
type Option func(*Manager)

// WithPasswordEncoder sets the encoder of sensitive link configs, built
// from password.encoder.secret (nil: none is set).
func WithPasswordEncoder(e *pwenc.Encoder) Option {
	return func(m *Manager) { m.enc = e }
}

// sensitiveKeys lists the sensitive keys set in configs, sorted.
func sensitiveKeys(configs map[string]string) []string {
	var ks []string
	for k := range configs {
		if d, ok := registry.Lookup(k); ok && d.Sensitive {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

// secretContext binds an encrypted value to its link and key.
func secretContext(link, key string) string { return "cluster link '" + link + "' config " + key }

// sealConfigs returns configs with every sensitive value encrypted.
func (m *Manager) sealConfigs(link string, configs map[string]string) (map[string]string, error) {
	ks := sensitiveKeys(configs)
	if len(ks) == 0 {
		return configs, nil
	}
	if m.enc == nil {
		return nil, usererr.New(errors.Join(ErrInvalidConfig, pwenc.ErrNoSecret),
			"cluster link '%s' cannot store %s: sensitive link configs are stored encrypted with the broker's password.encoder.secret, which is not set; set it in server.properties (the same value on every broker) and restart",
			link, strings.Join(ks, ", "))
	}
	out := maps.Clone(configs)
	for _, k := range ks {
		v, err := m.enc.Encode(configs[k], secretContext(link, k))
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// openConfigs returns stored configs with their sensitive values
// decrypted. reseal reports values that should be stored again: written
// with password.encoder.old.secret, or in clear (stored before links
// encrypted their secrets).
func (m *Manager) openConfigs(link string, stored map[string]string) (_ map[string]string, reseal bool, _ error) {
	ks := sensitiveKeys(stored)
	if len(ks) == 0 {
		return stored, false, nil
	}
	out := maps.Clone(stored)
	for _, k := range ks {
		if !pwenc.IsEncoded(stored[k]) {
			reseal = true
			continue
		}
		v, old, err := m.enc.Decode(stored[k], secretContext(link, k))
		if err != nil {
			return nil, false, errUnreadableSecret(link, k, err)
		}
		out[k], reseal = v, reseal || old
	}
	return out, reseal, nil
}

// ErrSecrets classifies a link whose stored sensitive configs cannot be
// decrypted with the broker's password.encoder.secret.
var ErrSecrets = errors.New("cluster link secrets cannot be decrypted")

func errUnreadableSecret(link, key string, err error) error {
	why := "this broker's password.encoder.secret (or password.encoder.old.secret) is not the one it was stored with"
	if errors.Is(err, pwenc.ErrNoSecret) {
		why = "this broker has no password.encoder.secret"
	}
	return usererr.New(errors.Join(ErrSecrets, err),
		"cluster link '%s': the stored value of %s cannot be decrypted: %s; set password.encoder.secret back to the secret it was stored with (to rotate secrets, set the new one as password.encoder.secret and the old one as password.encoder.old.secret), or set %s on the link again",
		link, key, why, key)
}

// openAltered prepares the configs of an update: a sensitive value equal
// to the stored (encrypted) one is the unchanged value (REST and the CLI
// send a link's configs back whole) and is decrypted; anything else is a
// new value in clear.
func (m *Manager) openAltered(link string, configs, stored map[string]string) (map[string]string, error) {
	out := maps.Clone(configs)
	for _, k := range sensitiveKeys(configs) {
		if v := configs[k]; v == stored[k] && pwenc.IsEncoded(v) {
			p, _, err := m.enc.Decode(v, secretContext(link, k))
			if err != nil {
				return nil, errUnreadableSecret(link, k, err)
			}
			out[k] = p
		}
	}
	return out, nil
}
