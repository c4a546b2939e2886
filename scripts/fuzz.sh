#!/usr/bin/env bash
# Coverage-guided fuzzing of dualrun's parsers and validators (cargo-fuzz, libFuzzer; docs/fuzzing.md).
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS] [-- LIBFUZZER_FLAG…]
#
# Installs cargo-fuzz if missing, builds the seed corpora if missing (scripts/fuzz-corpus.sh), builds
# every target once (nightly toolchain, into fuzz/target, so a rerun only rebuilds what changed), then
# runs each target for SECONDS (default 20) on its corpus plus its committed regression inputs
# (fuzz/regressions/TARGET), and prints per target: executions, edges covered (libFuzzer's `cov:`),
# features, corpus size and crashes. Flags after `--` go to libFuzzer (e.g. `-- -runs=10000000`).
# Exits 1 if any target crashed (the input is in fuzz/artifacts/TARGET/), 2 if it could not run.
set -euo pipefail
cd "$(dirname "$0")/.."

targets_all=(block extra leader_record profile ledger_line exec_answer golden_vector block_info keccak)
target=${1:-all}
seconds=${2:-20}
shift $(( $# > 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
extra_flags=("$@")

if [ "$target" = all ]; then
    targets=("${targets_all[@]}")
elif [[ " ${targets_all[*]} " == *" $target "* ]]; then
    targets=("$target")
else
    echo "fuzz.sh: unknown target $target (expected all or one of: ${targets_all[*]})" >&2
    exit 2
fi
case "$seconds" in '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not $seconds" >&2; exit 2 ;; esac

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: needs the nightly toolchain (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    nice -n 19 cargo install cargo-fuzz --locked
fi

for t in "${targets[@]}"; do
    if [ -z "$(ls -A "fuzz/corpus/$t" 2>/dev/null)" ]; then
        scripts/fuzz-corpus.sh
        break
    fi
done

nice -n 19 cargo +nightly fuzz build

# Targets that read from a path write a scratch file per process; keep those under fuzz/target.
scratch=fuzz/target/tmp
mkdir -p "$scratch"
logs=fuzz/target/logs
mkdir -p "$logs"

crashed=0
summary=()
for t in "${targets[@]}"; do
    log="$logs/$t.log"
    dirs=("fuzz/corpus/$t")
    [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
    echo "fuzz.sh: $t for ${seconds} s" >&2
    start=$(date +%s)
    set +e
    TMPDIR="$PWD/$scratch" nice -n 19 cargo +nightly fuzz run "$t" "${dirs[@]}" -- \
        -max_total_time="$seconds" -timeout=25 -print_final_stats=1 "${extra_flags[@]}" >"$log" 2>&1
    status=$?
    set -e
    elapsed=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    line=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$line")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$line")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$line")
    crashes=0
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    if [ "$status" -ne 0 ]; then
        crashes=1
        crashed=1
        grep -E "panicked at|ERROR: libFuzzer|SUMMARY|Test unit written" "$log" | head -5 >&2 || true
        [ -n "$artifact" ] || artifact="(none written; see $log)"
    fi
    summary+=("$(printf '%-14s %12s %9s %7s %8s %7s %8s %6s  %s' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
        "${ft:-?}" "${corp:-?}" "$crashes" "${elapsed}s" "$artifact")")
done
rm -rf "$scratch"

printf '%-14s %12s %9s %7s %8s %7s %8s %6s  %s\n' target execs exec/s edges features corpus crashes time artifact
printf '%s\n' "${summary[@]}"
echo "fuzz.sh: logs in $logs/"
exit "$crashed"
