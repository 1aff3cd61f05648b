package yamlstream

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestObjects(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []map[string]any
		err      bool
	}{
		{"empty stream", "", nil, false},
		{"two objects", "kind: A\nreplicas: 1\n---\nkind: B\n", []map[string]any{{"kind": "A", "replicas": 1.0}, {"kind": "B"}}, false},
		{"empty and comment-only documents left out", "---\n# only a comment\n---\nkind: A\n---\n", []map[string]any{{"kind": "A"}}, false},
		{"not an object", "kind: A\n---\n- a list\n", nil, true},
		{"bad YAML", "kind: [A\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Objects(strings.NewReader(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("error %v, want error %v", err, tc.err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		})
	}
}
