#!/usr/bin/env bash
# Runs every fuzz target in the module briefly (FUZZTIME, default 10s each).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
    echo "fuzz: $pkg $target ($fuzztime)"
    # A real failure saves its input under testdata/fuzz/$target: that always fails the run.
    # Without one, the fuzzing engine itself stumbled ("context deadline exceeded": a worker
    # killed or hung on a busy machine, seen about once a run here): try again, up to 3 times.
    for attempt in 1 2 3; do
      if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"; then
        continue 2
      fi
      if [ -n "$(git status --porcelain -- "$dir/testdata/fuzz/$target" 2>/dev/null)" ]; then
        echo "fuzz: $target found a failing input (see $dir/testdata/fuzz/$target)" >&2
        exit 1
      fi
      echo "fuzz: $target failed without a failing input (attempt $attempt of 3)" >&2
    done
    exit 1
  done
done
