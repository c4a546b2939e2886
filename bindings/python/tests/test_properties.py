"""Property tests: on any bytes, `dualrun.block_id` agrees with the reference legacy's pure-Python
parser and hashing (adapters/python/dualrun_legacy/chain.py), and with `dualrun block id`.

Both parsers implement Monero's strict parsing from the same rules, so they accept exactly the same
blobs: canonical varints within their type (the same overflow test on the whole byte), the same field
order and tags (vin 0xff/0x02, vout 0x02/0x03), vector counts checked against the bytes left, miner tx
version 1 or 2 and no version-2 miner tx without inputs, RingCT type 0 only, no trailing byte, and the
id reserved for mainnet block 202612 refused for any other block. Where both reject, the byte offsets
they name may differ (e.g. a blob cut inside a tagged output: the legacy reads key and view tag as one
33-byte field, the harness as 32 + 1), so only the verdict and the ids are compared.
"""

from __future__ import annotations

import dualrun_legacy.chain as legacy_chain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dualrun

# Deterministic: the same examples at every run (no example database, a fixed seed per test).
BASE = settings(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw, blobs: list[bytes]) -> bytes:
    """A sample-chain blob with 1 to 8 random edits: byte changes, insertions, deletions, a truncation."""
    blob = bytearray(draw(st.sampled_from(blobs)))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if kind == "insert":
            i = draw(st.integers(0, len(blob)))
            blob[i:i] = draw(st.binary(min_size=1, max_size=4))
        elif not blob:
            continue
        elif kind == "flip":
            i = draw(st.integers(0, len(blob) - 1))
            blob[i] ^= draw(st.integers(1, 255))
        elif kind == "delete":
            i = draw(st.integers(0, len(blob) - 1))
            del blob[i : i + draw(st.integers(1, 4))]
        else:
            del blob[draw(st.integers(0, len(blob) - 1)) :]
    return bytes(blob)


def blobs_strategy(sample: list[bytes]):
    return st.one_of(st.binary(max_size=2000), mutated(sample), st.sampled_from(sample))


def reference(blob: bytes):
    """(block id, miner tx hash) by the reference legacy, or its BlockError."""
    try:
        p = legacy_chain.parse_block(blob)
        return legacy_chain.block_id(blob, p).hex(), legacy_chain.miner_tx_hash(blob, p).hex()
    except legacy_chain.BlockError as e:
        return e


def native(blob: bytes):
    """(block id, miner tx hash) by the package, or its BlockError (checked to be well formed)."""
    try:
        got = dualrun.block_id(blob)
    except dualrun.BlockError as e:
        assert e.offset is None or 0 <= e.offset <= len(blob), (e.offset, len(blob))
        assert str(e)
        return e
    assert isinstance(got, tuple) and len(got) == 2
    assert all(isinstance(h, str) and len(h) == 64 and h == h.lower() for h in got), got
    return got


def assert_same(blob: bytes):
    want, got = reference(blob), native(blob)
    if isinstance(want, Exception):
        assert isinstance(got, Exception), f"the reference refuses ({want}) but dualrun gives {got} for {blob.hex()}"
    else:
        assert not isinstance(got, Exception), (
            f"dualrun refuses ({got}) but the reference gives {want} for {blob.hex()}"
        )
        assert got == want, blob.hex()
    return got


@settings(BASE, max_examples=300)
@given(blob=st.binary(max_size=2000))
def test_random_bytes_agree_with_the_reference(blob: bytes):
    assert_same(blob)


@settings(BASE, max_examples=300)
@given(data=st.data())
def test_mutated_blocks_agree_with_the_reference(data, sample_blobs):
    assert_same(data.draw(mutated(sample_blobs), label="blob"))


@settings(BASE, max_examples=30)
@given(data=st.data())
def test_blocks_agree_with_the_cli(data, sample_blobs, run_cli):
    # Hex on stdin: a binary blob whose first byte is an ASCII hex digit would be read as hex text.
    blob = data.draw(blobs_strategy(sample_blobs), label="blob")
    got = assert_same(blob)
    p = run_cli("block", "id", "-", input=blob.hex(), ok=(0, 2))
    if isinstance(got, Exception):
        assert p.returncode == 2 and p.stdout == "", (p.returncode, p.stdout, p.stderr)
    else:
        assert p.returncode == 0, p.stderr
        assert p.stdout == f"{got[0]} {got[1]}\n"


def test_every_sample_block_is_accepted_by_both(sample_blobs):
    for blob in sample_blobs:
        assert not isinstance(assert_same(blob), Exception)
