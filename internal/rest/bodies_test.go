package rest

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-streaming/tandem/internal/restapi"
)

// TestBodiesMatchRestAPI: the request bodies spelled out in bodies.go
// decode the keys clients send (restapi), with the same Go types but for
// the element types renamed there.
func TestBodiesMatchRestAPI(t *testing.T) {
	for _, pair := range [][2]any{
		{createLinkBody{}, restapi.CreateLinkRequest{}},
		{createMirrorBody{}, restapi.CreateMirrorRequest{}},
		{alterConfigsBody{}, restapi.AlterConfigsRequest{}},
	} {
		server, client := jsonFields(pair[0]), jsonFields(pair[1])
		for key, st := range server {
			ct, ok := client[key]
			if !ok {
				t.Errorf("%T decodes %q, which %T does not send", pair[0], key, pair[1])
				continue
			}
			same := st == ct ||
				st.Kind() == reflect.Slice && ct.Kind() == reflect.Slice && st.Elem().ConvertibleTo(ct.Elem())
			if !same {
				t.Errorf("%q: %T has %v, %T has %v", key, pair[0], st, pair[1], ct)
			}
		}
		for key := range client {
			if _, ok := server[key]; !ok {
				t.Errorf("%T sends %q, which %T does not decode", pair[1], key, pair[0])
			}
		}
	}
}

func jsonFields(v any) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range reflect.TypeOf(v).Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out[name] = f.Type
	}
	return out
}
