#!/usr/bin/env bash
# Installs what the tests need on a fresh machine: the Debian packages in test/apt-packages.txt
# (never upgrading what is there) and, for the API-server and node tests, Kubernetes binaries
# built once from the Go module proxy into a cache outside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t want < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' test/apt-packages.txt)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages (${missing[*]}); run as root or install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-upgrade --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${PROCVIEW_SKIP_KUBE:-}" != 1 ]; then
  bash test/kube/build-bins.sh >/dev/null
fi
