"""Fixtures of the dualrun Python package's tests.

The tests compare the package with the rest of the repository: the `dualrun` binary (built by `cargo
test` before pytest runs: `target/debug/dualrun`, or the binary named by DUALRUN_BIN), the reference
legacy verifier in pure Python (`adapters/python/dualrun_legacy`), the golden vectors, the bundled
sample chain, and the real mainnet blobs in `../shared/vectors/`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

# The reference legacy is a plain package directory, not installed: it comes first on the path so the
# tests always compare with the repository's copy.
sys.path.insert(0, str(REPO / "adapters" / "python"))

import dualrun_legacy  # noqa: E402
import dualrun_legacy.chain  # noqa: E402


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def shared(repo: Path) -> Path:
    """`../shared` next to the repository (real block blobs). CI always has it; elsewhere the tests
    that need it are skipped."""
    path = repo.parent / "shared"
    if not path.is_dir():
        pytest.skip(f"{path} does not exist (the shared test data; CI always has it)")
    return path


@pytest.fixture(scope="session")
def golden_dir(repo: Path) -> Path:
    """The shipped golden vectors."""
    return repo / "golden-vectors"


@pytest.fixture(scope="session")
def sample_chain(repo: Path) -> Path:
    """The bundled sample chain: a directory holding data.mdb, 201 blocks (heights 0..=200)."""
    return repo / "harness" / "sample"


@pytest.fixture(scope="session")
def sample_profile(sample_chain: Path) -> Path:
    """The sample chain's network profile."""
    return sample_chain / "profile.toml"


@pytest.fixture(scope="session")
def sample_blobs(sample_chain: Path) -> list[bytes]:
    """Every blob of the sample chain, by height, as harness/sample/blocks.jsonl lists them (written
    when the sample was made; independent of the chain reader under test)."""
    blobs = []
    with open(sample_chain / "blocks.jsonl", encoding="utf-8") as f:
        for height, line in enumerate(f):
            row = json.loads(line)
            assert row["height"] == height
            blobs.append(bytes.fromhex(row["blob"]))
    assert len(blobs) == 201
    return blobs


@pytest.fixture(scope="session")
def dualrun_bin(repo: Path) -> Path:
    """The dualrun binary. `cargo test` builds target/debug/dualrun before pytest runs; DUALRUN_BIN names
    another one (e.g. a release build)."""
    given = os.environ.get("DUALRUN_BIN")
    path = Path(given) if given else repo / "target" / "debug" / "dualrun"
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"{path}: no dualrun binary. Build it first (`cargo build --locked -p dualrun`, which "
            "`cargo test --workspace` does), or set DUALRUN_BIN to one.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def run_cli(dualrun_bin: Path):
    """`run_cli(*args, input=None, ok=(0,))`: runs the binary (in the temporary directory, so nothing
    depends on where pytest was started; every path given is absolute) and returns the CompletedProcess
    (text). Fails the test, showing stderr, when the exit code is not one of `ok`."""

    def run(*args, input: str | None = None, ok: tuple[int, ...] = (0,), timeout: float = 120):
        cmd = [str(dualrun_bin), *map(str, args)]
        p = subprocess.run(
            cmd,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tempfile.gettempdir(),
        )
        if p.returncode not in ok:
            pytest.fail(
                f"{' '.join(cmd)}: exit {p.returncode}, expected {ok}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}",
                pytrace=False,
            )
        return p

    return run


@pytest.fixture(scope="session")
def reference_legacy():
    """The reference legacy verifier as a DualRun callable: `dualrun_legacy.verify_block` with the block
    dict it reads (`blob`, `height`; the rest of the dict the `python:` adapter builds it ignores)."""

    def legacy(blob: bytes, height: int, env: dict) -> dict:
        return dualrun_legacy.verify_block({"blob": blob, "height": height}, env)

    return legacy


@pytest.fixture(scope="session")
def read_records():
    """`read_records(run_dir)`: the records of a run directory's divergences.jsonl, as dicts."""

    def read(run_dir) -> list[dict]:
        path = Path(run_dir) / "divergences.jsonl"
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    return read


@pytest.fixture(scope="session")
def legacy_block_id():
    """`legacy_block_id(blob)`: (block id hex, miner tx hash hex) by the reference legacy's pure-Python
    parser and hashing; raises `dualrun_legacy.chain.BlockError`."""

    def ids(blob: bytes) -> tuple[str, str]:
        chain = dualrun_legacy.chain
        p = chain.parse_block(blob)
        return chain.block_id(blob, p).hex(), chain.miner_tx_hash(blob, p).hex()

    return ids
