package inject

import (
	"os"
	"strings"
	"testing"

	"github.com/procview/procview/internal/golden"
)

// The README's table of skip reasons is ReasonsTable's.
func TestReasonsTableIsCurrent(t *testing.T) {
	const path, begin, end = "../README.md", "<!-- skip reasons: generated -->\n", "<!-- end skip reasons -->\n"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok := strings.Cut(string(b), begin)
	_, after, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		t.Fatalf("%s has no %q ... %q section", path, begin, end)
	}
	golden.Compare(t, path, []byte(before+begin+ReasonsTable()+end+after))
}
