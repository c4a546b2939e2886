#!/usr/bin/env bash
# Runs every dualrun test. On a fresh machine it first installs what the build and the tests use from
# Debian: the real monerod (fixture chains, lock tests, the monerod: adapter), Monero's own test data
# (hash vectors, fuzz blocks), LMDB's tools (mdb_stat), the Python dualrun embeds (python3.11 and
# libpython3.11-dev; python3.11-venv for the Python package's test environment), pycryptodome for the reference legacy's Keccak, python3-cryptography (an independent
# check of report attestations), chromium (reports are opened in a real browser), prometheus (its
# promtool checks and unit-tests the alert rules in deploy/), slurm-wlm with munge (sharded replays run
# as a real Slurm array on a single-node cluster the tests start), and jq and curl (the migration drill).
# Then formatting and clippy, the whole workspace's tests, unit and integration, the golden-vector gate,
# the migration drill, and the Python package built as a
# wheel and its pytest suite (PyPI: maturin, pytest, hypothesis, pinned in bindings/python).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v monerod >/dev/null 2>&1 || missing+=(monero)
[ -d /usr/share/monero/testdata/hash ] || missing+=(monero-tests)
command -v mdb_stat >/dev/null 2>&1 || missing+=(lmdb-utils)
[ -x /usr/bin/python3.11 ] || missing+=(python3.11)
[ -e /usr/lib/x86_64-linux-gnu/libpython3.11.so ] || missing+=(libpython3.11-dev)
/usr/bin/python3.11 -c 'import ensurepip' 2>/dev/null || missing+=(python3.11-venv)
/usr/bin/python3.11 -c 'import Cryptodome' 2>/dev/null || missing+=(python3-pycryptodome)
/usr/bin/python3.11 -c 'import cryptography' 2>/dev/null || missing+=(python3-cryptography)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v slurmctld >/dev/null 2>&1 || missing+=(slurm-wlm)
command -v munged >/dev/null 2>&1 || missing+=(munge)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "ci/test.sh: installing ${missing[*]}" >&2
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

# Guard rails first (cheap, and a lint failure says more than a test failure): formatting, and clippy
# with the workspace lints (missing docs, unreachable pub, unused dependencies, function length) as errors.
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
cargo fmt --all --check
cargo clippy --workspace --locked -- -D warnings
cargo test --workspace --locked
# The golden-vector gate, as CI systems read it (JUnit XML in target/).
cargo run --locked -q -- golden check golden-vectors --junit target/golden-junit.xml
# The migration drill (scripts/migration-drill.sh): the whole migration against three real monerods,
# every step's outcome asserted; its evidence directory is left in target/drill.
rm -rf target/drill target/drill.work
DUALRUN=target/debug/dualrun scripts/migration-drill.sh target/drill
# The Python package (bindings/python): a wheel built by maturin (stable ABI) in a virtual environment
# made from the pinned interpreter (seeing Debian's pycryptodome, which the reference legacy imports),
# installed there, and its parity suite run against the CLI built above.
venv=target/pyvenv
[ -x "$venv/bin/python" ] || /usr/bin/python3.11 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r bindings/python/requirements-test.txt
rm -rf target/wheels
(cd bindings/python && "../../$venv/bin/maturin" build --release --locked --quiet -o ../../target/wheels)
"$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps target/wheels/dualrun-*.whl
"$venv/bin/python" -m pytest bindings/python/tests -q -p no:cacheprovider
# Fuzzing smoke run (docs/fuzzing.md): every cargo-fuzz target for 5 s on its seed corpus and its
# committed regression inputs. libFuzzer needs the nightly toolchain; without it the run is skipped.
if rustup toolchain list | grep -q nightly; then
    scripts/fuzz.sh all 5
else
    echo "ci/test.sh: no nightly toolchain, so the fuzzing smoke run (scripts/fuzz.sh all 5) is skipped" >&2
fi
