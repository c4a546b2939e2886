#!/usr/bin/env bash
# Runs every dualrun test. On a fresh machine it first installs what the tests use from Debian:
# the real monerod (fixture chains, lock tests), Monero's own test data (hash vectors, fuzz blocks)
# and LMDB's tools (mdb_stat). Then the whole workspace's tests, unit and integration.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v monerod >/dev/null 2>&1 || missing+=(monero)
[ -d /usr/share/monero/testdata/hash ] || missing+=(monero-tests)
command -v mdb_stat >/dev/null 2>&1 || missing+=(lmdb-utils)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "ci/test.sh: installing ${missing[*]}" >&2
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

cargo test --workspace --locked
