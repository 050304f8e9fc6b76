package main

import (
	"strings"
	"testing"
)

func TestView(t *testing.T) {
	vw := view{keys: []string{"b", "a", "opt?", "gone?", "list"},
		each: map[string]view{"list": {keys: []string{"y"}}}}
	for _, tc := range []struct{ in, want, err string }{
		{`{"a":1,"b":"x","c":2,"opt":[1],"list":[{"x":1,"y":2}]}`, `{"b":"x","a":1,"opt":[1],"list":[{"y":2}]}`, ""},
		{`{"a":1,"b":null,"opt":[],"gone":null,"list":[]}`, `{"b":null,"a":1,"list":[]}`, ""},
		{`{"a":1,"b":2,"list":null}`, `{"b":2,"a":1,"list":null}`, ""},
		{`{"a":1,"list":[]}`, "", `output: the API's answer has no "b"`},
		{`{"a":1,"b":2,"list":[{"x":1}]}`, "", `output: the API's answer has no "y"`},
	} {
		got, err := vw.cut([]byte(tc.in))
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s: err = %v, want %s", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	out, err := vw.ofEach([]map[string]any(nil))
	if err != nil || len(out) != 0 || out == nil {
		t.Errorf("ofEach(nil) = %#v, %v; want an empty list", out, err)
	}
	if _, err := vw.of([]int{1}); err == nil || !strings.Contains(err.Error(), "cannot unmarshal array") {
		t.Errorf("of(non-object) err = %v", err)
	}
}
