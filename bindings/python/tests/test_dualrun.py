"""DualRun end to end: a SHADOW run of the sample chain records what `dualrun replay` records, PRIMARY
falls back and ONLY fails closed as the mode table says, heights follow the chain the node builds, and
`dualrun gate evaluate` takes the run directory as evidence."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import dualrun

ENV_KEYS = {"now", "network_name", "network_id", "genesis_id", "activation_height", "prev_id", "timestamps"}
SUMMARY_COUNTS = (
    "complete",
    "mode",
    "range",
    "blocks",
    "verifiers_run",
    "divergences",
    "errors",
    "inputs",
    "records",
    "authoritative",
)


def without_reproduce(record: dict) -> dict:
    """A record less its `reproduce` line, the one field allowed to differ between a replay's record and
    a DualRun's: a replay's is the `dualrun replay --chain …` command that replays the block from the
    chain database, which a DualRun never reads. Everything else is the same schema and the same values."""
    return {k: v for k, v in record.items() if k != "reproduce"}


@pytest.fixture(scope="module")
def leader_expected(sample_chain: Path) -> list[dict]:
    """harness/sample/leader-expected.csv: every sample block's verdict under protocol v1."""
    with open(sample_chain / "leader-expected.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def shadow_run(tmp_path_factory, sample_chain: Path, sample_profile: Path, reference_legacy, read_records):
    """A SHADOW DualRun over the whole sample chain: the reference legacy, the default candidate
    (LeaderValidator of the sample profile), closed."""
    run_dir = tmp_path_factory.mktemp("shadow") / "run"
    profile = dualrun.Profile.load(sample_profile)
    seen: list[dict] = []
    run = dualrun.DualRun(reference_legacy, mode="shadow", records=run_dir, profile=profile, on_divergence=seen.append)
    assert run.mode == "shadow"
    assert Path(run.records).resolve() == run_dir.resolve()
    verdicts = [run.validate(blob, height) for height, blob in dualrun.ChainReader(sample_chain)]
    stats = run.stats()
    summary = run.close()
    return SimpleNamespace(
        dir=run_dir,
        profile=profile,
        verdicts=verdicts,
        seen=seen,
        stats=stats,
        summary=summary,
        records=read_records(run_dir),
    )


@pytest.fixture(scope="module")
def replay_run(tmp_path_factory, sample_chain: Path, sample_profile: Path, run_cli, read_records):
    """`dualrun replay` of the sample chain in SHADOW mode with the reference legacy (`python:dualrun_legacy`,
    the default) and the default candidate (`builtin:leader-v1`). Exit 1: it finds records."""
    out = tmp_path_factory.mktemp("replay") / "run"
    args = ["--chain", sample_chain, "--profile", sample_profile, "--legacy", "python:dualrun_legacy"]
    run_cli("replay", *args, "--mode", "shadow", "--out", out, ok=(1,))
    return SimpleNamespace(dir=out, records=read_records(out))


def test_shadow_run_returns_the_legacys_verdicts(shadow_run, sample_blobs):
    # The reference legacy accepts every block of the sample (it knows nothing about leaders), and in
    # SHADOW its verdict stands.
    assert len(shadow_run.verdicts) == 201
    for height, v in enumerate(shadow_run.verdicts):
        assert v == dualrun.Verdict.accept({"block_id": dualrun.block_id(sample_blobs[height])[0]}), height


def test_shadow_run_records_the_leader_faults(shadow_run, leader_expected):
    rejected = [int(r["height"]) for r in leader_expected if r["verdict"] == "reject"]
    assert len(rejected) == 10
    assert [(r["height"], r["class"]) for r in shadow_run.records] == [(h, "halt") for h in rejected]
    for r, row in zip(shadow_run.records, [r for r in leader_expected if r["verdict"] == "reject"]):
        assert r["block_id"] == row["block_id"]
        assert r["candidate"]["reason"] == row["reason"]
        assert r["authoritative"] == {"verdict": "accept", "reason": "", "source": "legacy"}
    # on_divergence got each record, as its JSON line, as it was written.
    assert shadow_run.seen == shadow_run.records

    s = shadow_run.stats
    assert (s["mode"], s["blocks"], s["accepted"], s["rejected"], s["records"]) == ("shadow", 201, 201, 0, 10)
    assert {c: n for c, n in s["divergences"].items() if n} == {"halt": 10}
    assert {c: n for c, n in s["errors"].items() if n} == {}


def test_shadow_run_is_what_replay_records(shadow_run, replay_run):
    # divergences.csv has no env and no reproduce line: byte for byte the replay's.
    assert (shadow_run.dir / "divergences.csv").read_bytes() == (replay_run.dir / "divergences.csv").read_bytes()
    # divergences.jsonl: the same records (the same env, blob, both sides, authoritative verdict), except
    # each record's `reproduce` line (see without_reproduce).
    assert [without_reproduce(r) for r in shadow_run.records] == [without_reproduce(r) for r in replay_run.records]
    for r in shadow_run.records:
        assert set(r["env"]) == ENV_KEYS
        assert isinstance(r["reproduce"], str) and r["reproduce"]

    ours = shadow_run.summary
    theirs = json.loads((replay_run.dir / "summary.json").read_text(encoding="utf-8"))
    assert {k: ours[k] for k in SUMMARY_COUNTS} == {k: theirs[k] for k in SUMMARY_COUNTS}
    assert json.loads((shadow_run.dir / "summary.json").read_text(encoding="utf-8")) == ours

    manifest = json.loads((shadow_run.dir / "manifest.json").read_text(encoding="utf-8"))
    replayed = json.loads((replay_run.dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == replayed["format"] == "dualrun-run/v1"
    assert manifest["complete"] is True
    assert manifest["inputs"]["mode"] == "shadow"
    assert (
        manifest["inputs"]["profile"]["digest"] == shadow_run.profile.digest == replayed["inputs"]["profile"]["digest"]
    )


def test_first_call_at_any_height(tmp_path: Path, shadow_run, sample_blobs, reference_legacy, read_records):
    # A node that starts at height 100 gives the context of block 100 once; the run keeps it after.
    ids = [dualrun.block_id(b)[0] for b in sample_blobs]
    times = [dualrun.parse_block(b)["header"]["timestamp"] for b in sample_blobs]
    run = dualrun.DualRun(reference_legacy, records=tmp_path / "run", profile=shadow_run.profile)
    run.validate(sample_blobs[100], 100, {"prev_id": ids[99], "timestamps": times[40:100]})
    for h in range(101, 121):
        assert run.validate(sample_blobs[h], h).accepted
    run.close()
    want = [without_reproduce(r) for r in shadow_run.records if 100 <= r["height"] <= 120]
    assert [without_reproduce(r) for r in read_records(tmp_path / "run")] == want


def test_primary_falls_back_to_the_legacy(
    tmp_path: Path, sample_profile: Path, sample_blobs, reference_legacy, read_records
):
    profile = dualrun.Profile.load(sample_profile)
    validator = dualrun.LeaderValidator(profile)
    envs: dict[int, dict] = {}

    def candidate(blob: bytes, height: int, env: dict):
        envs[height] = dict(env)
        if height == 5:
            raise RuntimeError("candidate failure injected at height 5")
        return validator.judge(blob, height, env)

    seen: list[dict] = []
    run = dualrun.DualRun(
        reference_legacy,
        candidate,
        mode="primary",
        records=tmp_path / "run",
        profile=profile,
        on_divergence=seen.append,
    )
    for h in range(11):
        v = run.validate(sample_blobs[h], h)
        assert v.accepted, (h, v)
        if h == 5:
            # The legacy's verdict, as it gave it.
            assert v == dualrun.Verdict.accept({"block_id": dualrun.block_id(sample_blobs[5])[0]})
    stats = run.stats()
    summary = run.close()

    records = read_records(tmp_path / "run")
    assert [(r["height"], r["class"]) for r in records] == [(5, "fallback")]
    (r,) = records
    assert r["mode"] == "primary"
    assert r["authoritative"] == {"verdict": "accept", "reason": "", "source": "legacy"}
    assert r["legacy"]["verdict"] == "accept"
    assert r["candidate"]["error"]["kind"] == "crash"
    assert "candidate failure injected at height 5" in r["candidate"]["error"]["message"]
    assert seen == records

    # Every callable gets the whole env; the record keeps it.
    times = [dualrun.parse_block(b)["header"]["timestamp"] for b in sample_blobs[:6]]
    assert r["env"] == envs[5]
    assert r["env"] == {
        "now": times[5],
        "network_name": profile.name,
        "network_id": profile.network_id,
        "genesis_id": profile.genesis_id,
        "activation_height": profile.activation_height,
        "prev_id": dualrun.block_id(sample_blobs[4])[0],
        "timestamps": times[:5],
    }
    assert envs[0]["prev_id"] is None and envs[0]["timestamps"] == []

    # The CSV line's note is the exception, the traceback's last line.
    lines = (tmp_path / "run" / "divergences.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert lines[1].endswith(",accept,primary,RuntimeError: candidate failure injected at height 5")

    assert (stats["blocks"], stats["accepted"], stats["rejected"], stats["records"]) == (11, 11, 0, 1)
    assert {c: n for c, n in stats["errors"].items() if n} == {"fallback": 1}
    assert summary["errors"] == {"legacy_error": 0, "candidate_error": 0, "fallback": 1}


def test_only_fails_closed(tmp_path: Path, sample_profile: Path, sample_blobs, read_records):
    profile = dualrun.Profile.load(sample_profile)
    validator = dualrun.LeaderValidator(profile)
    legacy_calls: list[int] = []
    fail_at = {3}

    def legacy(blob: bytes, height: int, env: dict):
        legacy_calls.append(height)
        raise AssertionError("ONLY mode does not run the legacy")

    def candidate(blob: bytes, height: int, env: dict):
        if height in fail_at:
            fail_at.discard(height)
            raise RuntimeError(f"candidate failure injected at height {height}")
        return validator.judge(blob, height, env)

    run = dualrun.DualRun(legacy, candidate, mode="only", records=tmp_path / "run", profile=profile)
    for h in range(3):
        assert run.validate(sample_blobs[h], h).accepted
    v = run.validate(sample_blobs[3], 3)
    assert (v.verdict, v.reason, v.accepted) == ("reject", "dualrun.fail_closed", False)
    # After a rejection the node's chain still ends at block 2: the next block is height 3 again.
    with pytest.raises(ValueError):
        run.validate(sample_blobs[4], 4)
    assert run.validate(sample_blobs[3], 3).accepted
    assert run.validate(sample_blobs[4], 4).accepted
    stats = run.stats()
    run.close()

    assert legacy_calls == []
    records = read_records(tmp_path / "run")
    assert [(r["height"], r["class"]) for r in records] == [(3, "candidate_error")]
    (r,) = records
    assert r["legacy"] == {"not_run": True}
    assert r["candidate"]["error"]["kind"] == "crash"
    assert r["authoritative"]["source"] == "fail_closed"
    assert (r["authoritative"]["verdict"], r["authoritative"]["reason"]) == ("reject", "dualrun.fail_closed")
    assert (stats["accepted"], stats["rejected"]) == (5, 1)
    assert stats["blocks"] == stats["accepted"] + stats["rejected"]


def test_a_candidate_rejection_in_primary_keeps_the_height(
    tmp_path: Path, sample_profile: Path, sample_blobs, reference_legacy
):
    # Block 70 of the sample has no leader record: the candidate rejects it and, in PRIMARY, its verdict
    # stands; the node's next block is 70 again.
    ids = [dualrun.block_id(b)[0] for b in sample_blobs]
    times = [dualrun.parse_block(b)["header"]["timestamp"] for b in sample_blobs]
    run = dualrun.DualRun(
        reference_legacy, mode="primary", records=tmp_path / "run", profile=dualrun.Profile.load(sample_profile)
    )
    v = run.validate(sample_blobs[70], 70, {"prev_id": ids[69], "timestamps": times[10:70]})
    assert (v.verdict, v.reason) == ("reject", "leader.missing")
    with pytest.raises(ValueError):
        run.validate(sample_blobs[71], 71)
    summary = run.close()
    assert summary["divergences"]["halt"] == 1
    assert summary["authoritative"] == {"accept": 0, "reject": 1}


def test_context_manager_closes_the_run(tmp_path: Path, sample_profile: Path, sample_blobs, reference_legacy):
    with dualrun.DualRun(
        reference_legacy, mode="legacy", records=tmp_path / "run", profile=dualrun.Profile.load(sample_profile)
    ) as run:
        for h in range(3):
            assert run.validate(sample_blobs[h], h).accepted
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text(encoding="utf-8"))
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert manifest["complete"] is True
    assert (summary["mode"], summary["blocks"], summary["records"]) == ("legacy", 3, 0)
    assert summary["verifiers_run"] == {"legacy": True, "candidate": False}


def test_records_must_be_a_new_or_empty_directory(tmp_path: Path, sample_profile: Path, reference_legacy):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "something").write_text("x")
    with pytest.raises((OSError, ValueError)):
        dualrun.DualRun(reference_legacy, records=tmp_path / "used", profile=dualrun.Profile.load(sample_profile))


# A permissive policy for the test: the sample's ten halts are allowed; at least one block compared.
POLICY = """\
[to_shadow]
min_blocks = 0
require_golden = false

[to_primary]
min_blocks = 1
max_divergences = 10
max_error_rate = 0.0
require_golden = false
require_isolation = false
"""


def test_gate_takes_the_run_as_evidence(tmp_path: Path, shadow_run, run_cli):
    key = tmp_path / "operator.key"
    ledger = tmp_path / "ledger.jsonl"
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    run_cli("keygen", "--id", "operator-1", "--out", key)
    run_cli("gate", "init", "--ledger", ledger, "--key", key, "--operator", "operator-1")
    # LEGACY -> SHADOW needs no evidence under this policy.
    run_cli("gate", "promote", "--ledger", ledger, "--policy", policy, "--key", key, "--reason", "start the shadow run")
    assert json.loads(run_cli("gate", "status", "--ledger", ledger, "--format", "json").stdout)["mode"] == "shadow"

    args = ["--ledger", ledger, "--policy", policy, "--evidence", shadow_run.dir, "--to", "primary", "--format", "json"]
    p = run_cli("gate", "evaluate", *args, ok=(0, 1, 3))
    evaluation = json.loads(p.stdout)
    criteria = {c["name"]: c for c in evaluation["criteria"]}
    assert criteria["evidence"]["outcome"] == "pass", criteria["evidence"].get("note")
    assert criteria["evidence.independent"]["outcome"] == "pass", criteria["evidence.independent"].get("note")
    # Every block of the run was compared by both verifiers, none failed: all count.
    assert criteria["min_blocks"]["value"] == shadow_run.stats["blocks"] == 201
    assert criteria["max_divergences"]["value"] == 10
    assert criteria["no_splits"]["value"] == 0
    assert (evaluation["from"], evaluation["to"], evaluation["outcome"]) == ("shadow", "primary", "pass")
    assert p.returncode == 0


def test_a_stopped_run_resumes_exactly_once(
    tmp_path: Path, sample_profile: Path, sample_blobs, reference_legacy, shadow_run
):
    """A node that stops without closing (its DualRun dropped after 120 blocks) reopens the run with
    resume=True: it goes on at its last checkpoint's height, records written after that checkpoint are
    dropped, and the finished run records exactly what an uninterrupted one does."""
    profile = dualrun.Profile.load(sample_profile)
    run_dir = tmp_path / "run"
    first = dualrun.DualRun(reference_legacy, mode="shadow", records=run_dir, profile=profile)
    for height in range(120):
        first.validate(sample_blobs[height], height)
    del first  # no close(): the node stopped

    with pytest.raises(ValueError, match="resume=True"):
        dualrun.DualRun(reference_legacy, mode="shadow", records=tmp_path / "nothing", profile=profile, resume=True)
    checkpoint = json.loads((run_dir / "checkpoint.json").read_text(encoding="utf-8"))
    start = checkpoint["next_height"]
    assert checkpoint["complete"] is False and 0 <= start <= 120
    again = dualrun.DualRun(reference_legacy, mode="shadow", records=run_dir, profile=profile, resume=True)
    with pytest.raises(ValueError, match=f"next block of this run is at height {start}"):
        again.validate(sample_blobs[start + 1], start + 1)
    env = None
    if start > 0:
        before = sample_blobs[max(0, start - 60) : start]
        env = {
            "prev_id": dualrun.block_id(sample_blobs[start - 1])[0],
            "timestamps": [dualrun.parse_block(b)["header"]["timestamp"] for b in before],
        }
    for height in range(start, len(sample_blobs)):
        again.validate(sample_blobs[height], height, env if height == start else None)
    summary = again.close()
    assert (run_dir / "divergences.csv").read_bytes() == (shadow_run.dir / "divergences.csv").read_bytes()
    assert summary["blocks"] == len(sample_blobs) and summary["records"] == shadow_run.summary["records"]
    assert summary["sessions"] == 2


def test_a_run_of_an_unknown_format_version_is_not_resumed(
    tmp_path: Path, sample_profile: Path, reference_legacy, shadow_run
):
    """A run directory whose manifest names a format version this dualrun does not read is refused with
    the error every reader gives, when the DualRun is made, and nothing of it is touched."""
    run_dir = tmp_path / "run"
    shutil.copytree(shadow_run.dir, run_dir)
    manifest = run_dir / "manifest.json"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace('"format_version": 2,', '"format_version": 3,'), encoding="utf-8")
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    profile = dualrun.Profile.load(sample_profile)
    with pytest.raises(OSError, match="format dualrun-run/v1 version 3 is not one this dualrun reads"):
        dualrun.DualRun(reference_legacy, mode="shadow", records=run_dir, profile=profile, resume=True)
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


def test_timings_read_back_one_line_per_block(shadow_run, replay_run):
    """dualrun.timings(run): timings.csv of a finished run, checked as every reader checks a run
    directory, as (height, legacy_us, candidate_us, verdict) tuples in file order."""
    for run in (shadow_run, replay_run):
        rows = list(dualrun.timings(run.dir))
        assert [r[0] for r in rows] == list(range(201))
        assert all(isinstance(r[1], int) and isinstance(r[2], int) and r[3] == "accept" for r in rows), rows[:3]
        with open(run.dir / "timings.csv", encoding="utf-8", newline="") as f:
            assert len(list(csv.DictReader(f))) == 201


def test_timings_of_an_edited_run_are_refused(tmp_path: Path, shadow_run):
    run_dir = tmp_path / "run"
    shutil.copytree(shadow_run.dir, run_dir)
    timings = run_dir / "timings.csv"
    timings.write_text(timings.read_text(encoding="utf-8").replace("\n7,", "\n8,", 1), encoding="utf-8")
    with pytest.raises(OSError, match="timings.csv was changed after the run"):
        dualrun.timings(run_dir)


def test_a_failing_hook_loses_no_record(
    tmp_path: Path, sample_profile: Path, sample_blobs, reference_legacy, shadow_run
):
    """on_divergence raising is reported (sys.unraisablehook) and the run goes on: every record is written."""

    def hook(record: dict) -> None:
        raise RuntimeError("the pager is down")

    seen: list = []
    profile = dualrun.Profile.load(sample_profile)
    old, sys.unraisablehook = sys.unraisablehook, seen.append
    try:
        with dualrun.DualRun(reference_legacy, records=tmp_path / "run", profile=profile, on_divergence=hook) as run:
            for height, blob in enumerate(sample_blobs):
                run.validate(blob, height)
    finally:
        sys.unraisablehook = old
    assert len(seen) == shadow_run.summary["records"] > 0
    assert all(isinstance(u.exc_value, RuntimeError) for u in seen)
    assert (tmp_path / "run" / "divergences.csv").read_bytes() == (shadow_run.dir / "divergences.csv").read_bytes()


def test_a_dualrun_shared_by_threads_takes_one_call_at_a_time(tmp_path, sample_chain, sample_profile, reference_legacy, read_records):
    """Two threads validating through one DualRun: no pyo3 "Already borrowed", each call whole; a call
    from inside its own hook is refused, saying why."""
    import threading
    import time

    profile = dualrun.Profile.load(sample_profile)
    blobs = [blob for _, blob in dualrun.ChainReader(sample_chain)]
    in_legacy = threading.Event()

    def slow_legacy(blob, height, env):
        if height == 1:
            in_legacy.set()
            time.sleep(0.3)  # the other thread calls meanwhile
        return reference_legacy(blob, height, env)

    run = dualrun.DualRun(slow_legacy, mode="shadow", records=tmp_path / "run", profile=profile)
    run.validate(blobs[0], 0)
    errors: list[BaseException] = []

    def first():
        try:
            run.validate(blobs[1], 1)
        except BaseException as e:  # noqa: BLE001 - the test reports whatever was raised
            errors.append(e)

    t = threading.Thread(target=first)
    t.start()
    assert in_legacy.wait(10)
    stats = run.stats()  # waits for the other thread's call, instead of "Already borrowed"
    t.join()
    assert errors == []
    assert stats["blocks"] == 2
    for height in range(2, len(blobs)):
        run.validate(blobs[height], height)
    assert run.close()["blocks"] == len(blobs)

    calls: list[str] = []

    def reentrant_hook(record):
        try:
            hooked.stats()
        except RuntimeError as e:
            calls.append(str(e))

    hooked = dualrun.DualRun(reference_legacy, mode="shadow", records=tmp_path / "hooked", profile=profile, on_divergence=reentrant_hook)
    for height, blob in enumerate(blobs[:71]):
        hooked.validate(blob, height)
    hooked.close()
    assert calls and "cannot be called from inside one of its own calls" in calls[0], calls
