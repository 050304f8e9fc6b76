package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// Several named listeners with their protocols from the map, advertised per
// listener (an unlisted one advertises itself), and per-listener overrides
// read with Kafka's precedence.
func TestLoadBrokerListeners(t *testing.T) {
	bc, err := LoadBroker(map[string]string{
		"listeners":                                    "INTERNAL://127.0.0.1:9092,external://:9093,SSL://:0,SASL_PLAINTEXT://:9095",
		"listener.security.protocol.map":               "INTERNAL:PLAINTEXT,EXTERNAL:sasl_ssl,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT",
		"advertised.listeners":                         "EXTERNAL://kafka.example.com:19093,SSL://ssl.example.com:9443",
		"ssl.client.auth":                              "required",
		"ssl.keystore.location":                        "/etc/tandem/broker.p12",
		"listener.name.external.ssl.keystore.location": "/etc/tandem/external.p12",
		"listener.name.ssl.ssl.client.auth":            "requested",
		"ssl.keystore.password":                        "secret",
		"inter.broker.listener.name":                   "internal",
	})
	if err != nil {
		t.Fatal(err)
	}
	wantL := []Listener{{"INTERNAL", "127.0.0.1", 9092}, {"EXTERNAL", "", 9093}, {"SSL", "", 0}, {"SASL_PLAINTEXT", "", 9095}}
	if !slices.Equal(bc.Listeners, wantL) {
		t.Errorf("Listeners = %v, want %v", bc.Listeners, wantL)
	}
	wantA := []Listener{{"INTERNAL", "127.0.0.1", 9092}, {"EXTERNAL", "kafka.example.com", 19093}, {"SSL", "ssl.example.com", 9443}, {"SASL_PLAINTEXT", "", 9095}}
	if !slices.Equal(bc.AdvertisedListeners, wantA) {
		t.Errorf("AdvertisedListeners = %v, want %v", bc.AdvertisedListeners, wantA)
	}
	var protos []string
	for i, lc := range bc.ListenerConfigs {
		if lc.Listener != bc.Listeners[i] {
			t.Errorf("ListenerConfigs[%d] = %v, want %v", i, lc.Listener, bc.Listeners[i])
		}
		protos = append(protos, lc.SecurityProtocol)
	}
	if want := []string{"PLAINTEXT", "SASL_SSL", "SSL", "SASL_PLAINTEXT"}; !slices.Equal(protos, want) {
		t.Errorf("protocols = %v, want %v", protos, want)
	}
	get := func(i int, key string) string { v, _ := bc.ListenerConfigs[i].Get(key); return v }
	if got := get(1, "ssl.keystore.location"); got != "/etc/tandem/external.p12" {
		t.Errorf("EXTERNAL keystore = %q, want the listener's override", got)
	}
	if got := get(2, "ssl.keystore.location"); got != "/etc/tandem/broker.p12" {
		t.Errorf("SSL keystore = %q, want the broker-wide value", got)
	}
	if got := get(2, "ssl.client.auth"); got != "requested" {
		t.Errorf("SSL client auth = %q, want the listener's override", got)
	}
	if !UsesTLS(protos[1]) || !UsesTLS(protos[2]) || UsesTLS(protos[0]) || UsesTLS(protos[3]) {
		t.Error("UsesTLS is wrong")
	}
}

func TestListenerConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		static map[string]string
		want   error
		key    string
		says   string
	}{
		{"no protocol", map[string]string{"listeners": "PLAINTEXT://:9092,CLIENT://:9093"}, ErrInvalidValue, "listeners",
			"no security protocol defined for listener CLIENT"},
		{"unknown protocol", map[string]string{"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CLIENT:KERBEROS"}, ErrInvalidValue,
			"listener.security.protocol.map", "invalid security protocol `KERBEROS`"},
		{"advertised unknown name", map[string]string{"listeners": "PLAINTEXT://:9092", "advertised.listeners": "CLIENT://h:9092"},
			ErrInvalidValue, "advertised.listeners", "must be equal to or a subset of the ones defined in listeners"},
		{"shared port", map[string]string{"listeners": "PLAINTEXT://:9092,SSL://127.0.0.1:9092"}, ErrInvalidValue, "listeners",
			"each listener must have a different port"},
		{"unlisted listener on the meta-address", map[string]string{"listeners": "PLAINTEXT://h:9092,SSL://0.0.0.0:9093",
			"advertised.listeners": "PLAINTEXT://h:9092"}, ErrInvalidValue, "listeners", "nonroutable meta-address"},
		{"override for a listener not configured", map[string]string{"listeners": "PLAINTEXT://:9092",
			"listener.name.ssl.ssl.keystore.location": "/x"}, ErrUnknownConfig, "listener.name.ssl.ssl.keystore.location", "SSL is not one of listeners"},
		{"override of an unknown ssl key", map[string]string{"listener.name.plaintext.ssl.keystore.colour": "blue"}, ErrUnknownConfig,
			"listener.name.plaintext.ssl.keystore.colour", "cannot be set per listener"},
		{"inter-broker listener not advertised", map[string]string{"listeners": "PLAINTEXT://:9092", "inter.broker.listener.name": "INTERNAL"},
			ErrInvalidValue, "inter.broker.listener.name", "must be a listener name defined in advertised.listeners"},
		{"inter-broker protocol without its listener", map[string]string{"listeners": "PLAINTEXT://:9092", "security.inter.broker.protocol": "SSL"},
			ErrInvalidValue, "security.inter.broker.protocol", "valid options based on currently configured listeners are PLAINTEXT"},
		{"both inter-broker keys", map[string]string{"inter.broker.listener.name": "PLAINTEXT", "security.inter.broker.protocol": "PLAINTEXT"},
			ErrInvalidValue, "inter.broker.listener.name", "only one of"},
	}
	for _, tt := range tests {
		_, err := LoadBroker(tt.static)
		var ke *KeyError
		if !errors.Is(err, tt.want) || !errors.As(err, &ke) || ke.Key != tt.key || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: LoadBroker(%v) = %v, want %v on %s saying %q", tt.name, tt.static, err, tt.want, tt.key, tt.says)
		}
	}
}

// Sensitive values never appear in errors, including per-listener ones.
func TestListenerOverrideErrorHidesSecrets(t *testing.T) {
	_, err := LoadBroker(map[string]string{"listener.name.plaintext.ssl.key.password": "hunter2", "listener.name.plaintext.ssl.client.auth": "x"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v", err)
	}
	if err := validListenerOverride("listener.name.plaintext.ssl.keystore.password", "hunter2", map[string]bool{"PLAINTEXT": true}); err != nil {
		t.Errorf("a password override is valid: %v", err)
	}
}

// security.inter.broker.protocol names a listener by its protocol's name,
// case-insensitively as Kafka's SecurityProtocol.forName.
func TestInterBrokerProtocol(t *testing.T) {
	if _, err := LoadBroker(map[string]string{"listeners": "PLAINTEXT://:9092,SASL_SSL://:9093", "security.inter.broker.protocol": "sasl_ssl"}); err != nil {
		t.Error(err)
	}
	if _, err := LoadBroker(map[string]string{"security.inter.broker.protocol": "TLS"}); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("security.inter.broker.protocol=TLS: %v", err)
	}
}
