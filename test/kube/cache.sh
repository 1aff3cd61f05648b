# Sourced by build-bins.sh and build-containerd.sh: built binaries cached in one directory per
# version, outside the repository.

# have_all DIR BIN...: every BIN is in DIR.
have_all() {
  local dir=$1 b
  shift
  for b in "$@"; do [ -x "$dir/$b" ] || return 1; done
}

# reuse_or_lock DIR LOCKFILE BIN...: prints DIR and ends the script when every BIN is there;
# otherwise waits for LOCKFILE (one build at a time: a second caller waits and reuses the first's
# binaries) and checks again.
reuse_or_lock() {
  local dir=$1 lock=$2
  shift 2
  if have_all "$dir" "$@"; then echo "$dir"; exit 0; fi
  mkdir -p "$dir"
  exec 9>"$lock"
  flock 9
  if have_all "$dir" "$@"; then echo "$dir"; exit 0; fi
}
