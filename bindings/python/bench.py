#!/usr/bin/env python3
"""Benchmarks of the dualrun Python package: figures, never pass/fail.

(a) ``LeaderValidator.judge_many`` over a signed synthetic chain (``--blocks``, default 100,000) next to
    ``dualrun leader check`` on the same chain: blocks/s of each, best of ``--runs``, and their ratio
    (goal >= 0.8). The chain is made once by ``dualrun chain synth`` with a profile and three leader keys
    from ``dualrun keygen`` (five faulty blocks, as ``scripts/bench.sh leader`` makes them) and kept under
    ``target/bench-chains/``.
(b) ``DualRun.validate`` per block with a no-op legacy in ``--mode``, next to ``LeaderValidator.judge``
    alone and a bare loop calling the no-op legacy: microseconds per block, and the overhead DualRun adds.

The binary: $DUALRUN_BIN, default <repo>/target/release/dualrun (``cargo build --release -p dualrun``).
The package: the ``dualrun`` importable by this interpreter (``pip install ./bindings/python``).

    python3 bindings/python/bench.py [--blocks N] [--runs R] [--overhead-blocks K] [--mode MODE|all]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dualrun

REPO = Path(__file__).resolve().parents[2]
GENESIS_ID = "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3"  # synth's schema-5 genesis
FAULTS = ["missing", "unknown", "not-scheduled", "bad-signature", "malformed"]
MODES = ["legacy", "shadow", "primary", "only"]


def binary() -> Path:
    path = Path(os.environ.get("DUALRUN_BIN") or REPO / "target" / "release" / "dualrun")
    if not (path.is_file() and os.access(path, os.X_OK)):
        sys.exit(f"bench.py: {path}: no dualrun binary (cargo build --release -p dualrun, or set DUALRUN_BIN)")
    return path


def run(cmd: list, ok: tuple[int, ...] = (0,), quiet: bool = False) -> subprocess.CompletedProcess:
    p = subprocess.run(
        [str(c) for c in cmd],
        stdout=subprocess.DEVNULL if quiet else subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if p.returncode not in ok:
        sys.exit(f"bench.py: {' '.join(map(str, cmd))}: exit {p.returncode}\n{p.stderr}")
    return p


def signed_chain(bin_: Path, blocks: int) -> tuple[Path, Path]:
    """A signed synthetic chain of `blocks` and its profile, made once and kept."""
    base = REPO / "target" / "bench-chains" / f"python-signed-v5-{blocks}"
    chain, profile = base / "chain", base / "profile.toml"
    if (chain / "data.mdb").exists() and profile.exists():
        return chain, profile
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    text = (
        '[network]\nname = "python-bench"\n'
        f'network_id = "{b"python-bench-v01".hex()}"\ngenesis_id = "{GENESIS_ID}"\n\n'
        '[leader]\nactivation_height = 1\nschedule = "round-robin"\n'
    )
    key_args = []
    for i in range(1, 4):
        key = base / f"leader-{i}.key"
        leader_id, public_key = run([bin_, "keygen", "--id", f"leader-{i}", "--out", key]).stdout.split()
        text += f'\n[[leader.validators]]\nid = "{leader_id}"\npublic_key = "{public_key}"\n'
        key_args += ["--key", key]
    profile.write_text(text, encoding="utf-8")
    fault_args = []
    for i, kind in enumerate(FAULTS):
        fault_args += ["--fault", f"{(i + 1) * blocks // 6}:{kind}"]
    start = time.perf_counter()
    cmd = [bin_, "chain", "synth", "--out", chain, "--blocks", blocks, "--profile", profile, *key_args, *fault_args]
    p = run(cmd)
    print(f"made {chain} ({blocks} signed blocks) in {time.perf_counter() - start:.1f} s: {p.stdout.strip()}")
    return chain, profile


def best(runs: int, f) -> float:
    """The shortest of `runs` timings of f(), in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def throughput(bin_: Path, chain: Path, profile_path: Path, blocks: int, runs: int) -> list[bytes]:
    start = time.perf_counter()
    blobs = [blob for _, blob in dualrun.ChainReader(chain)]
    read_s = time.perf_counter() - start
    assert len(blobs) == blocks, (len(blobs), blocks)

    validator = dualrun.LeaderValidator(dualrun.Profile.load(profile_path))
    verdicts = validator.judge_many(blobs, 0, None)
    rejected = sum(not v.accepted for v in verdicts)
    judge_s = best(runs, lambda: validator.judge_many(blobs, 0, None))
    # Exit 1: the chain's faulty blocks are rejected.
    cli = [bin_, "leader", "check", "--chain", chain, "--profile", profile_path]
    cli_s = best(runs, lambda: run(cli, ok=(1,), quiet=True))

    rate = lambda seconds: blocks / seconds  # noqa: E731
    print(f"\n(a) leader protocol v1: {blocks} signed blocks (synthetic, schema 5; {rejected} rejected)")
    print(f"    {os.cpu_count()} core(s), best of {runs}")
    print(f"    {'':<44}{'seconds':>9}{'blocks/s':>12}")
    print(f"    {'ChainReader: every blob into a list':<44}{read_s:>9.3f}{rate(read_s):>12,.0f}")
    print(f"    {'LeaderValidator.judge_many(blobs, 0, None)':<44}{judge_s:>9.3f}{rate(judge_s):>12,.0f}")
    print(f"    {'dualrun leader check (process, LMDB, CSV)':<44}{cli_s:>9.3f}{rate(cli_s):>12,.0f}")
    print(f"    judge_many / leader check: {cli_s / judge_s:.2f} (goal >= 0.8)")
    return blobs


def overhead(blobs: list[bytes], profile_path: Path, count: int, modes: list[str], runs: int, answer: str) -> None:
    profile = dualrun.Profile.load(profile_path)
    validator = dualrun.LeaderValidator(profile)
    noop_answer = dualrun.Verdict.accept() if answer == "verdict" else {"verdict": "accept"}

    def noop(blob: bytes, height: int, env: dict | None):
        return noop_answer

    blobs = blobs[:count]
    ids = [dualrun.block_id(b)[0] for b in blobs]
    times = [dualrun.parse_block(b)["header"]["timestamp"] for b in blobs]
    envs = [None] + [{"prev_id": ids[h - 1], "timestamps": times[max(0, h - 60) : h]} for h in range(1, count)]

    def bare():
        for h, blob in enumerate(blobs):
            noop(blob, h, envs[h])

    def judge():
        for h, blob in enumerate(blobs):
            validator.judge(blob, h, envs[h])

    us = lambda seconds: seconds / count * 1e6  # noqa: E731
    bare_us, judge_us = us(best(runs, bare)), us(best(runs, judge))
    shown = "Verdict.accept()" if answer == "verdict" else '{"verdict": "accept"}'
    print(f"\n(b) DualRun.validate over {count} blocks, no-op legacy returning {shown}, best of {runs}")
    print(f"    {'':<44}{'µs/block':>9}")
    print(f"    {'bare loop calling the no-op legacy':<44}{bare_us:>9.2f}")
    print(f"    {'LeaderValidator.judge (env given)':<44}{judge_us:>9.2f}")

    def validate(mode: str, records: Path) -> float:
        """Seconds of the validate loop (making and closing the run are not counted)."""
        d = dualrun.DualRun(noop, mode=mode, records=records, profile=profile)
        start = time.perf_counter()
        for h, blob in enumerate(blobs):
            if not d.validate(blob, h).accepted:
                sys.exit(f"bench.py: block {h} was rejected in {mode} mode; use fewer --overhead-blocks")
        elapsed = time.perf_counter() - start
        d.close()
        return elapsed

    with tempfile.TemporaryDirectory(prefix="dualrun-bench-") as tmp:
        for mode in modes:
            validate_us = us(min(validate(mode, Path(tmp) / f"{mode}-{i}") for i in range(runs)))
            own = validate_us - (judge_us if mode != "legacy" else 0.0) - (bare_us if mode != "only" else 0.0)
            print(f"    {f'DualRun.validate, {mode} mode':<44}{validate_us:>9.2f}   overhead {own:.2f}")
    print("    overhead: validate less what it runs (judge for the candidate, the bare call for the legacy)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--blocks", type=int, default=100_000, help="blocks of the signed chain (default 100000)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs of each figure; the best is shown (default 3)")
    ap.add_argument(
        "--overhead-blocks",
        type=int,
        default=10_000,
        help="blocks for (b), below the chain's first faulty block (default 10000)",
    )
    ap.add_argument("--mode", choices=[*MODES, "all"], default="shadow", help="DualRun mode for (b) (default shadow)")
    ap.add_argument(
        "--answer",
        choices=["verdict", "dict"],
        default="verdict",
        help="what the no-op legacy returns: Verdict.accept() or {'verdict': 'accept'} (default verdict)",
    )
    a = ap.parse_args()
    if a.blocks < 12:
        sys.exit("bench.py: --blocks must be at least 12 (five faulty blocks are spread over the chain)")
    bin_ = binary()
    if "debug" in bin_.parts:
        print(f"note: {bin_} is a debug build; figures are for release builds")
    chain, profile = signed_chain(bin_, a.blocks)
    blobs = throughput(bin_, chain, profile, a.blocks, a.runs)
    count = min(a.overhead_blocks, a.blocks // 6)
    overhead(blobs, profile, count, MODES if a.mode == "all" else [a.mode], a.runs, a.answer)


if __name__ == "__main__":
    main()
