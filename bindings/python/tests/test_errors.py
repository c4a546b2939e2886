"""Bad input is an exception of the package's own types, naming what is wrong and where; never a
crash of the interpreter."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import dualrun

OFFSET_SUFFIX = "at byte offset {}"


def check_block_error(e: dualrun.BlockError, blob: bytes) -> None:
    assert isinstance(e, ValueError)
    assert isinstance(e.offset, int)
    assert 0 <= e.offset <= len(blob)
    assert isinstance(e.message, str) and e.message
    assert str(e).endswith(OFFSET_SUFFIX.format(e.offset)), str(e)


@pytest.fixture(scope="module")
def real_blob(sample_blobs) -> bytes:
    """A leader-signed block of the sample chain (a tagged-key output, tx_extra with a leader record)."""
    return sample_blobs[61]


def test_empty_blob(real_blob):
    for f in (dualrun.block_id, dualrun.parse_block):
        with pytest.raises(dualrun.BlockError) as info:
            f(b"")
        check_block_error(info.value, b"")
        assert info.value.offset == 0


def test_truncated_blobs(real_blob):
    # Cut inside the header, right after it (43 bytes: versions, a 5-byte timestamp, prev_id, nonce),
    # inside the miner tx, and before the tx-hash count.
    for n in (1, 2, 10, 43, 44, len(real_blob) // 2, len(real_blob) - 1):
        blob = real_blob[:n]
        for f in (dualrun.block_id, dualrun.parse_block):
            with pytest.raises(dualrun.BlockError) as info:
                f(blob)
            check_block_error(info.value, blob)
    with pytest.raises(dualrun.BlockError, match="truncated"):
        dualrun.block_id(real_blob[:-1])


def test_trailing_byte(real_blob):
    blob = real_blob + b"\x00"
    for f in (dualrun.block_id, dualrun.parse_block):
        with pytest.raises(dualrun.BlockError) as info:
            f(blob)
        check_block_error(info.value, blob)
        # The problem starts where the block ends.
        assert info.value.offset == len(real_blob)
        assert "trailing" in str(info.value)


def test_a_bad_blob_is_a_rejection_for_the_validator(real_blob, sample_profile: Path):
    validator = dualrun.LeaderValidator(dualrun.Profile.load(sample_profile))
    for blob in (b"", real_blob[:50], real_blob + b"\x00"):
        verdict = validator.judge(blob, 0)
        assert verdict.verdict == "reject"
        assert verdict.reason


PROFILE = """\
[network]
name = "errors-test"
network_id = "6475616c72756e2d73616d706c650001"
genesis_id = "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3"

[leader]
activation_height = 1
schedule = "round-robin"

[[leader.validators]]
id = "leader-1"
public_key = "2ed5d042105b693755cfdb6b698933e0fd1d58c9b69f005a3da20b7667ce7320"
"""


def test_profile_from_toml():
    p = dualrun.Profile.from_toml(PROFILE, source="errors-test.toml")
    assert p.name == "errors-test"
    assert p.network_id == "6475616c72756e2d73616d706c650001"
    assert p.activation_height == 1
    assert p.validators == [("leader-1", "2ed5d042105b693755cfdb6b698933e0fd1d58c9b69f005a3da20b7667ce7320")]
    assert len(p.digest) == 64


def test_profile_that_is_not_toml():
    with pytest.raises(dualrun.ProfileError) as info:
        dualrun.Profile.from_toml("[network\nname = ", source="broken.toml")
    assert isinstance(info.value, ValueError)
    assert "broken.toml" in str(info.value)


def test_profile_with_a_missing_key():
    text = PROFILE.replace('genesis_id = "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3"\n', "")
    assert text != PROFILE
    with pytest.raises(dualrun.ProfileError) as info:
        dualrun.Profile.from_toml(text, source="no-genesis.toml")
    assert "no-genesis.toml" in str(info.value)
    assert "genesis_id" in str(info.value)


def test_profile_with_a_bad_value():
    text = PROFILE.replace('public_key = "2ed5', 'public_key = "zzd5')
    with pytest.raises(dualrun.ProfileError) as info:
        dualrun.Profile.from_toml(text, source="bad-key.toml")
    assert "bad-key.toml" in str(info.value)
    assert "public_key" in str(info.value)


def test_chain_reader_on_a_missing_directory(tmp_path: Path):
    missing = tmp_path / "no-such-chain"
    with pytest.raises(dualrun.ChainError) as info:
        dualrun.ChainReader(missing)
    assert isinstance(info.value, OSError)
    assert str(missing) in str(info.value)


def test_chain_reader_on_a_truncated_database(tmp_path: Path, sample_chain: Path):
    chain = tmp_path / "chain"
    chain.mkdir()
    data = chain / "data.mdb"
    shutil.copyfile(sample_chain / "data.mdb", data)
    with open(data, "r+b") as f:
        f.truncate(data.stat().st_size // 2)
    with pytest.raises(dualrun.ChainError) as info:
        reader = dualrun.ChainReader(chain)
        reader.info()
        for _ in reader:
            pass
    assert "data.mdb" in str(info.value)


def test_dualrun_with_an_unknown_mode(tmp_path: Path, sample_profile: Path, reference_legacy):
    with pytest.raises(ValueError, match="bogus"):
        dualrun.DualRun(
            reference_legacy, mode="bogus", records=tmp_path / "run", profile=dualrun.Profile.load(sample_profile)
        )


def test_validate_at_a_wrong_height(tmp_path: Path, sample_profile: Path, sample_blobs, reference_legacy):
    run = dualrun.DualRun(reference_legacy, records=tmp_path / "run", profile=dualrun.Profile.load(sample_profile))
    assert run.validate(sample_blobs[0], 0).accepted
    for wrong in (0, 2, 5):
        with pytest.raises(ValueError):
            run.validate(sample_blobs[wrong], wrong)
    # A refused call changes nothing: the next block is still height 1.
    assert run.validate(sample_blobs[1], 1).accepted
    assert run.stats()["blocks"] == 2
    run.close()


def test_a_legacy_answering_something_else_is_a_protocol_error(
    tmp_path: Path, sample_profile: Path, sample_blobs, read_records
):
    run = dualrun.DualRun(
        lambda blob, height, env: 42,
        mode="shadow",
        records=tmp_path / "run",
        profile=dualrun.Profile.load(sample_profile),
    )
    verdict = run.validate(sample_blobs[0], 0)
    run.close()
    # SHADOW: a legacy error fails closed.
    assert (verdict.verdict, verdict.reason) == ("reject", "dualrun.fail_closed")
    records = read_records(tmp_path / "run")
    assert [r["class"] for r in records] == ["legacy_error"]
    assert records[0]["legacy"]["error"]["kind"] == "protocol"
    assert records[0]["authoritative"]["source"] == "fail_closed"


def test_a_raising_legacy_is_a_crash_with_its_traceback(
    tmp_path: Path, sample_profile: Path, sample_blobs, read_records
):
    def legacy(blob, height, env):
        raise KeyError("no such thing")

    run = dualrun.DualRun(legacy, mode="legacy", records=tmp_path / "run", profile=dualrun.Profile.load(sample_profile))
    verdict = run.validate(sample_blobs[0], 0)
    run.close()
    assert (verdict.verdict, verdict.reason) == ("reject", "dualrun.fail_closed")
    (record,) = read_records(tmp_path / "run")
    assert record["class"] == "legacy_error"
    assert record["legacy"]["error"]["kind"] == "crash"
    assert "Traceback" in record["legacy"]["error"]["message"]
    assert "KeyError" in record["legacy"]["error"]["message"]


def test_dualrun_needs_a_profile(tmp_path: Path, reference_legacy):
    # No candidate LeaderValidator and no profile: nothing says which network the run is on.
    with pytest.raises((ValueError, TypeError)):
        dualrun.DualRun(reference_legacy, candidate=reference_legacy, records=tmp_path / "run")


def test_chain_reader_on_a_file_says_it_is_a_file(tmp_path: Path):
    file = tmp_path / "chain.txt"
    file.write_text("not a chain")
    with pytest.raises(dualrun.ChainError) as info:
        dualrun.ChainReader(file)
    assert "a regular file, not a chain directory" in str(info.value), str(info.value)
    assert "no such directory" not in str(info.value)


def test_blobs_are_any_bytes_like_object(real_blob, sample_profile):
    import array

    want = dualrun.block_id(real_blob)
    for like in (bytearray(real_blob), memoryview(real_blob), array.array("B", real_blob), memoryview(bytearray(real_blob))):
        assert dualrun.block_id(like) == want, type(like)
        assert dualrun.parse_block(like)["block_id"] == want[0]
    validator = dualrun.LeaderValidator(dualrun.Profile.load(sample_profile))
    env = {"prev_id": "00" * 32, "timestamps": [], "now": 0}
    assert validator.judge(bytearray(real_blob), 61, env) == validator.judge(real_blob, 61, env)
    assert validator.judge_many([memoryview(real_blob)], 61, env) == [validator.judge(real_blob, 61, env)]
    for not_bytes in (5, "00ff", None, [1, 2]):
        with pytest.raises(TypeError, match="bytes-like object"):
            dualrun.block_id(not_bytes)
