// Package yamlstream reads a multi-document YAML stream, as kubectl, kustomize and Helm write
// them, into objects.
package yamlstream

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Objects returns the stream's objects in order, as generic JSON values (numbers are float64).
// Empty documents (a template switched off, only a comment) are left out.
func Objects(in io.Reader) ([]map[string]any, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(in))
	var out []map[string]any
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("split YAML: %w", err)
		}
		var o map[string]any
		if err := yaml.Unmarshal(doc, &o); err != nil {
			return nil, fmt.Errorf("decode %q: %w", doc, err)
		}
		if o != nil {
			out = append(out, o)
		}
	}
}
