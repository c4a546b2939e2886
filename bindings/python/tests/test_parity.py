"""The package gives exactly what the harness gives: the golden vectors' verdicts, the mode table's
decisions and records, the block ids of the reference legacy and of real mainnet blocks, and the JSON
of `dualrun chain show`, `chain info` and `golden check`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

import dualrun
import dualrun.golden

GOLDEN = Path(__file__).resolve().parents[3] / "golden-vectors"
LEADER_VECTORS = sorted((GOLDEN / "leader-v1").glob("*.json"))
MODE_VECTORS = sorted((GOLDEN / "mode-v1").glob("*.json"))

DIVERGENCE_CLASSES = ("split", "halt", "fact", "reason")
ERROR_CLASSES = ("legacy_error", "candidate_error", "fallback")


def _name(path: Path) -> str:
    return path.name


def test_the_vector_sets_are_there():
    assert LEADER_VECTORS, f"no leader-v1 vectors under {GOLDEN}"
    assert MODE_VECTORS, f"no mode-v1 vectors under {GOLDEN}"


# --- (a) leader-v1 vectors through LeaderValidator.judge ---------------------------------------------


@pytest.mark.parametrize("path", LEADER_VECTORS, ids=_name)
def test_leader_vector(path: Path):
    v = json.loads(path.read_text(encoding="utf-8"))
    if "skip" in v:
        pytest.skip(v["skip"])
    assert v["schema"] == "dualrun-golden/v1" and v["kind"] == "leader-v1"
    validator = dualrun.LeaderValidator(dualrun.Profile.from_toml(v["profile"], source=path.name))
    env = {**v["context"], **v["env"]}
    got = validator.judge(bytes.fromhex(v["block"]["blob"]), v["block"]["height"], env)

    want = v["expected"]
    assert got.verdict == want["verdict"]
    assert got.accepted == (want["verdict"] == "accept")
    assert got.reason == want.get("reason", "")
    # README: facts are compared exactly (a fact the vector omits must not be reported), unless the
    # vector says `facts_compare: listed` (only the listed ones).
    if want.get("facts_compare", "exact") == "listed":
        assert {k: got.facts.get(k) for k in want["facts"]} == want["facts"]
    else:
        assert got.facts == want["facts"]
    assert got.to_dict() == {"verdict": got.verdict, "reason": got.reason, "detail": got.detail, "facts": got.facts}


# --- (b) mode-v1 vectors through DualRun -------------------------------------------------------------


class SideFailure(Exception):
    """What a vector's `{"error": …}` side raises."""


def side(spec: dict | None, who: str, calls: list[int]):
    """A verifier callable answering as a vector's side says: a verdict, or an error (raised). A side
    the mode does not run (`null`) fails the test if it is called."""

    def verifier(blob: bytes, height: int, env: dict):
        calls.append(height)
        if spec is None:
            raise AssertionError(f"the {who} was called, but the mode does not run it")
        if "error" in spec:
            raise SideFailure(f"{who}: {spec['error']} (from the vector)")
        return {
            "verdict": spec["verdict"],
            "reason": spec.get("reason", ""),
            "detail": "",
            "facts": dict(spec.get("facts", {})),
        }

    return verifier


@pytest.fixture(scope="module")
def block_one(sample_chain: Path):
    """Block 1 of the sample chain and its env (block 0's id and timestamp)."""
    reader = dualrun.ChainReader(sample_chain)
    genesis = reader.blob(0)
    env = {
        "prev_id": dualrun.block_id(genesis)[0],
        "timestamps": [dualrun.parse_block(genesis)["header"]["timestamp"]],
    }
    return reader.blob(1), env


@pytest.mark.parametrize("path", MODE_VECTORS, ids=_name)
def test_mode_vector(path: Path, tmp_path: Path, block_one, sample_profile: Path, read_records):
    v = json.loads(path.read_text(encoding="utf-8"))
    if "skip" in v:
        pytest.skip(v["skip"])
    assert v["schema"] == "dualrun-golden/v1" and v["kind"] == "mode-v1"
    mode, want = v["mode"], v["expected"]
    blob, env = block_one
    legacy_calls: list[int] = []
    candidate_calls: list[int] = []
    seen: list[dict] = []
    run_dir = tmp_path / "run"
    run = dualrun.DualRun(
        legacy=side(v["legacy"], "legacy", legacy_calls),
        candidate=side(v["candidate"], "candidate", candidate_calls),
        mode=mode,
        records=run_dir,
        profile=dualrun.Profile.load(sample_profile),
        on_divergence=seen.append,
        reasons=v.get("reason_map") or None,
    )
    assert run.mode == mode
    verdict = run.validate(blob, 1, env)
    stats = run.stats()
    summary = run.close()

    # Only the sides the mode runs were called, once.
    assert legacy_calls == ([1] if v["legacy"] is not None else [])
    assert candidate_calls == ([1] if v["candidate"] is not None else [])

    # The authoritative verdict, and whose it is.
    assert verdict.verdict == want["authoritative"]
    if want["source"] == "fail_closed":
        assert verdict.reason == "dualrun.fail_closed"
    else:
        stood = v[want["source"]]
        # The source's own verdict, as it gave it (a legacy's wording is mapped only to compare).
        assert verdict.reason == stood.get("reason", "")
        assert verdict.facts == stood.get("facts", {})

    # The records, in order, each saying whose verdict stood.
    records = read_records(run_dir)
    assert [r["class"] for r in records] == want["records"]
    block_id = dualrun.block_id(blob)[0]
    for r in records:
        assert r["height"] == 1
        assert r["block_id"] == block_id
        assert r["mode"] == mode
        assert r["authoritative"]["source"] == want["source"]
        assert r["authoritative"]["verdict"] == want["authoritative"]
        assert r["blob"] == blob.hex()
        for who in ("legacy", "candidate"):
            spec = v[who]
            if spec is None:
                assert r[who] == {"not_run": True}
            elif "error" in spec:
                # Raising is a crash; the record holds the traceback.
                assert r[who]["error"]["kind"] == "crash"
                assert "SideFailure" in r[who]["error"]["message"]
            else:
                assert r[who]["verdict"] == spec["verdict"]
                assert r[who]["reason"] == spec.get("reason", "")
                assert r[who]["facts"] == spec.get("facts", {})
    assert seen == records

    # Counts: stats() as the run goes, the summary at the end (returned and on disk).
    divergences = {c: want["records"].count(c) for c in DIVERGENCE_CLASSES}
    errors = {c: want["records"].count(c) for c in ERROR_CLASSES}
    accepted = int(want["authoritative"] == "accept")
    assert stats["mode"] == mode
    assert (stats["blocks"], stats["accepted"], stats["rejected"]) == (1, accepted, 1 - accepted)
    assert stats["records"] == len(want["records"])
    assert {c: n for c, n in stats["divergences"].items() if n} == {c: n for c, n in divergences.items() if n}
    assert {c: n for c, n in stats["errors"].items() if n} == {c: n for c, n in errors.items() if n}

    assert summary["complete"] is True
    assert summary["mode"] == mode
    assert summary["blocks"] == 1
    assert summary["records"] == len(want["records"])
    assert summary["divergences"] == divergences
    assert summary["errors"] == errors
    assert summary["authoritative"] == {"accept": accepted, "reject": 1 - accepted}
    assert summary["verifiers_run"] == {"legacy": v["legacy"] is not None, "candidate": v["candidate"] is not None}
    assert json.loads((run_dir / "summary.json").read_text(encoding="utf-8")) == summary
    assert json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))["complete"] is True


# --- (c) block ids: the reference legacy, the sample chain's scan, real mainnet blocks ---------------


# Files of ../shared/vectors/mainnet not named by their id (see the README there).
NAMED_BLOBS = {
    "block_202612_testnet.bin": "248fde4b96b829c4ddbd00e3f76d35b03d01257898bc1b5578bc9e04b379a676",
    "block_202612_stagenet.bin": "f3449e658b5f880c4b0e69007ed5d092c9c883ac3a518166fa652d5cc505e7b1",
}
MAINNET_202612 = "bbd604d2ba11ba27935e006ed39c9bfdd99b76bf4a50654bc1e1e61217962698"
MAINNET_2751506 = "43bd1f2b6556dcafa413d8372974af59e4e8f37dbf74dc6b2a9b7212d0577428"
MAINNET_2751506_MINER_TX = "e49b854c5f339d7410a77f2a137281d8042a0ffc7ef9ab24cd670b67139b24cd"


def test_block_ids_of_the_sample_chain(sample_chain: Path, sample_blobs, legacy_block_id):
    # harness/sample/expected.csv is `dualrun chain scan` of the sample (made with it).
    with open(sample_chain / "expected.csv", encoding="utf-8", newline="") as f:
        scan = list(csv.DictReader(f))
    heights = []
    for height, blob in dualrun.ChainReader(sample_chain):
        heights.append(height)
        assert blob == sample_blobs[height]
        got = dualrun.block_id(blob)
        assert got == legacy_block_id(blob), f"height {height}"
        assert got == (scan[height]["block_id"], scan[height]["miner_tx_hash"]), f"height {height}"
    assert heights == list(range(201))


def test_block_ids_of_real_blocks(shared: Path, legacy_block_id):
    files = sorted((shared / "vectors" / "mainnet").glob("*.bin"))
    assert len(files) >= 7, f"expected the README's 7 blobs in {shared / 'vectors' / 'mainnet'}"
    for f in files:
        blob = f.read_bytes()
        want = NAMED_BLOBS.get(f.name, f.stem)
        got = dualrun.block_id(blob)
        assert got[0] == want, f.name
        assert got == legacy_block_id(blob), f.name
        view = dualrun.parse_block(blob)
        assert view["block_id"] == got[0] and view["miner_tx"]["hash"] == got[1]
        assert view["id_overridden"] == (got[0] == MAINNET_202612), f.name
    blob = (shared / "vectors" / "mainnet" / f"{MAINNET_2751506}.bin").read_bytes()
    assert dualrun.block_id(blob) == (MAINNET_2751506, MAINNET_2751506_MINER_TX)


# --- (d) parse_block is `dualrun chain show` ---------------------------------------------------------

# Genesis, a monerod block, the block with an unknown tx_extra tag (42), the first leader block (61),
# leader faults (70 missing, 130 malformed) and the tip.
SHOW_HEIGHTS = [0, 1, 42, 61, 70, 130, 200]


@pytest.mark.parametrize("height", SHOW_HEIGHTS)
def test_parse_block_is_chain_show(height: int, sample_chain: Path, run_cli):
    shown = json.loads(run_cli("chain", "show", "--chain", sample_chain, height).stdout)
    assert shown["height"] == height
    assert shown["stored_id"] == shown["block_id"]
    for key in ("height", "stored_id", "block_info"):
        del shown[key]
    parsed = dualrun.parse_block(dualrun.ChainReader(sample_chain).blob(height))
    assert parsed == shown
    # Same keys in the same order, at every level.
    assert json.dumps(parsed) == json.dumps(shown)


# --- (e) ChainReader is `dualrun chain info` ---------------------------------------------------------


def test_chain_reader_is_chain_info(sample_chain: Path, sample_profile: Path, run_cli):
    reader = dualrun.ChainReader(str(sample_chain))
    info = reader.info()
    assert info == json.loads(run_cli("chain", "info", "--format", "json", "--chain", str(sample_chain)).stdout)
    assert list(info) == [
        "chain",
        "data_file",
        "schema_version",
        "blocks",
        "genesis_id",
        "tip_height",
        "tip_id",
        "chain_digest",
        "id_mismatches",
        "alt_blocks",
    ]
    assert (info["blocks"], info["tip_height"], info["id_mismatches"], info["alt_blocks"]) == (201, 200, 0, 0)
    assert info["genesis_id"] == dualrun.Profile.load(sample_profile).genesis_id

    assert len(reader) == 201
    assert reader.tip_height == 200
    assert [h for h, _ in reader] == list(range(201))
    assert [h for h, _ in reader.blocks(10, 20)] == list(range(10, 21))
    assert [h for h, _ in reader.blocks(195)] == list(range(195, 201))
    assert dict(reader.blocks(60, 62)) == {h: reader.blob(h) for h in (60, 61, 62)}
    assert info["tip_id"] == dualrun.block_id(reader.blob(200))[0]


# --- (f) golden.check is `dualrun golden check` ------------------------------------------------------


def test_golden_check_is_the_cli(golden_dir: Path, run_cli):
    report = dualrun.golden.check(golden_dir)
    files = sorted(golden_dir.rglob("*.json"))
    failures = [f"{r.rel}: {r.message}" for r in report.results if r.status == "fail"]
    assert report.failed == 0, "\n".join(failures)
    assert report.passed == len(files)
    assert report.skipped == 0
    assert report.ok is True
    assert len(report.digest) == 64 and int(report.digest, 16) >= 0
    assert [r.rel for r in report.results] == [str(f.relative_to(golden_dir)) for f in files]
    for r, f in zip(report.results, files):
        assert r.kind == f.parent.name
        assert (r.status, r.message) == ("pass", "")
        assert r.name == json.loads(f.read_text(encoding="utf-8"))["name"]
    assert dualrun.golden.check(str(golden_dir)).digest == report.digest

    out = run_cli("golden", "check", golden_dir).stdout
    assert out.rstrip("\n").splitlines()[-1] == (
        f"golden: {report.passed} passed, {report.failed} failed, {report.skipped} skipped"
    )


# --- (g) judge_many is `dualrun leader check` --------------------------------------------------------


def test_judge_many_is_leader_check(sample_chain: Path, sample_profile: Path, sample_blobs, run_cli):
    # Exit 1: the sample has ten faulty leader blocks.
    out = run_cli("leader", "check", "--chain", sample_chain, "--profile", sample_profile, ok=(1,)).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["height"]) for r in rows] == list(range(201))

    validator = dualrun.LeaderValidator(dualrun.Profile.load(sample_profile))
    verdicts = validator.judge_many(sample_blobs, 0, None)
    assert len(verdicts) == 201
    for row, got in zip(rows, verdicts):
        assert (got.verdict, got.reason) == (row["verdict"], row["reason"]), f"height {row['height']}"
        assert got.facts.get("leader_id", "") == row["leader_id"], f"height {row['height']}"
        assert got.facts["block_id"] == row["block_id"], f"height {row['height']}"
    assert sum(not v.accepted for v in verdicts) == 10
    assert validator.judge_many(sample_blobs, 0, None, threads=1) == verdicts

    # One block at a time, each with the context of the blocks before it, gives the same.
    ids = [dualrun.block_id(b)[0] for b in sample_blobs]
    times = [dualrun.parse_block(b)["header"]["timestamp"] for b in sample_blobs]
    for h, blob in enumerate(sample_blobs):
        env = {"prev_id": ids[h - 1], "timestamps": times[max(0, h - 60) : h]} if h else None
        assert validator.judge(blob, h, env) == verdicts[h], f"height {h}"

    # From the middle of the chain, given the context of the first block.
    env = {"prev_id": ids[99], "timestamps": times[40:100]}
    assert validator.judge_many(sample_blobs[100:], 100, env) == verdicts[100:]
