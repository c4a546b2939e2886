"""The native part of the ``dualrun`` package (Rust, pyo3). Everything here is re-exported by
``dualrun``; import it from there.

Block blobs are any bytes-like object (``bytes``, ``bytearray``, ``memoryview``…) where they are taken,
and ``bytes`` where they are given; ids and hashes are lowercase hex ``str``. Heights are ``int``.
"""

import os
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, final

from typing_extensions import Self, TypeAlias

_StrPath: TypeAlias = str | os.PathLike[str]
_Blob: TypeAlias = bytes | bytearray | memoryview
_Env: TypeAlias = Mapping[str, Any]
_Facts: TypeAlias = Mapping[str, str]
_Answer: TypeAlias = Verdict | dict[str, Any] | bool
_Verifier: TypeAlias = Callable[[bytes, int, dict[str, Any]], _Answer]

__version__: str

class BlockError(ValueError):
    """A block blob that does not parse strictly (a truncated field, a non-canonical or overflowing
    varint, an unknown tag, bytes after the tx-hash list, …), or a block that may not have its id
    (one that hashes to the id reserved for mainnet block 202612).

    ``str(e)`` ends with ``at byte offset N`` when the problem has a place in the blob.
    """

    offset: int | None
    """The byte offset in the blob where the problem starts; ``None`` when it has no place (the
    reserved-id case)."""
    message: str
    """What is wrong, with the offset."""

class ProfileError(ValueError):
    """A network profile that cannot be used: not TOML, a key missing or unknown, a value out of range.
    ``str(e)`` names the source (file or the ``source`` given to :meth:`Profile.from_toml`) and the
    key, e.g. ``leader.validators[1].public_key``."""

class ChainError(OSError):
    """A chain database that cannot be read: no such directory, no ``data.mdb``, not LMDB, truncated,
    a table missing, an unsupported schema, an inconsistent entry, a height beyond the tip, a database a
    running process holds. ``str(e)`` names the file, and the table and height where there are any."""

def block_id(blob: _Blob) -> tuple[str, str]:
    """``(block id, miner tx hash)`` of a raw block blob, as monerod computes them (mainnet block 202612
    gets its forced id). Raises :class:`BlockError` on a blob that does not parse strictly."""

def parse_block(blob: _Blob) -> dict[str, Any]:
    """The block as ``dualrun chain show`` prints it, without the database's fields (``height``,
    ``stored_id``, ``block_info``), keys in the same order::

        {"block_id", "id_overridden",
         "header": {"major_version", "minor_version", "timestamp", "prev_id", "nonce"},
         "miner_tx": {"hash", "version", "unlock_time", "inputs", "outputs", "rct_type",
                      "extra": {"bytes", "fields", "unparsed"}},
         "tx_hashes", "tree_root", "hashing_blob", "blob_bytes", "blob"}

    Raises :class:`BlockError` on a blob that does not parse strictly.
    """

@final
class Profile:
    """A checked network profile (TOML): the network, its genesis, the leader schedule and validators.
    See ``docs/leader-protocol-v1.md``."""

    @staticmethod
    def load(path: _StrPath) -> Profile:
        """Reads and checks a profile file. Raises :class:`ProfileError`."""
    @staticmethod
    def from_toml(text: str, source: str = "<string>") -> Profile:
        """Checks a profile given as TOML text; ``source`` names it in error messages. Raises
        :class:`ProfileError`."""
    @property
    def name(self) -> str:
        """``network.name``."""
    @property
    def network_id(self) -> str:
        """``network.network_id``: 16 bytes, 32 lowercase hex digits."""
    @property
    def genesis_id(self) -> str:
        """``network.genesis_id``: the id of the chain's block 0."""
    @property
    def activation_height(self) -> int:
        """``leader.activation_height``: the first height whose blocks need a leader record."""
    @property
    def validators(self) -> list[tuple[str, str]]:
        """``(id, public key hex)`` of each validator, in profile order (the order schedules index)."""
    @property
    def digest(self) -> str:
        """Keccak-256 of the TOML bytes: the digest run manifests record."""

@final
class Verdict:
    """A verifier's verdict. Immutable; returned by :meth:`LeaderValidator.judge` and
    :meth:`DualRun.validate`, and one of the answers a verifier callable may give."""

    def __init__(
        self,
        verdict: Literal["accept", "reject"],
        reason: str = "",
        detail: str = "",
        facts: _Facts | None = None,
    ) -> None:
        """``Verdict("accept")`` or ``Verdict("reject", reason, detail)``; an accept with a reason and
        any other ``verdict`` are a ``ValueError``. :meth:`accept` and :meth:`reject` say the same."""
    @property
    def verdict(self) -> Literal["accept", "reject"]:
        """``"accept"`` or ``"reject"``."""
    @property
    def reason(self) -> str:
        """The reason code of a rejection (``"leader.bad_signature"``, ``"dualrun.fail_closed"``, or a
        legacy's own wording); ``""`` for accept."""
    @property
    def detail(self) -> str:
        """More about the reason, for people; ``""`` for accept."""
    @property
    def facts(self) -> dict[str, str]:
        """What the verifier reported, e.g. ``{"block_id": …, "signing_hash": …, "leader_id": …}``."""
    @property
    def accepted(self) -> bool:
        """``verdict == "accept"``."""
    def to_dict(self) -> dict[str, Any]:
        """``{"verdict", "reason", "detail", "facts"}``: the dict a verifier callable may return."""
    def __eq__(self, other: object) -> bool: ...
    def __repr__(self) -> str: ...
    @staticmethod
    def accept(facts: _Facts | None = None) -> Verdict:
        """An accept verdict with the given facts."""
    @staticmethod
    def reject(reason: str, detail: str = "", facts: _Facts | None = None) -> Verdict:
        """A reject verdict with a reason code, a detail and facts."""

@final
class LeaderValidator:
    """The leader protocol v1 validator (``builtin:leader-v1``) for one profile."""

    def __init__(self, profile: Profile) -> None: ...
    @property
    def profile(self) -> Profile:
        """The profile it judges with."""
    def judge(self, blob: _Blob, height: int, env: _Env | None = None) -> Verdict:
        """Judges one block at ``height``.

        ``env``: ``{"prev_id": hex | None, "timestamps": [int], "now": int}`` — the id of block
        ``height - 1`` (``None`` only at height 0), the timestamps of up to 60 blocks before it (oldest
        first, the last one block ``height - 1``'s), and the time the future-timestamp rule compares
        against (default: the block's own timestamp). Other keys (a replay record's env) are ignored.
        A golden vector's ``context`` merged with its ``env`` is exactly this.

        A blob that does not parse is a rejection, not an exception.
        """
    def judge_many(
        self,
        blobs: Sequence[_Blob],
        height: int,
        env: _Env | None = None,
        threads: int | None = None,
    ) -> list[Verdict]:
        """Judges consecutive blocks starting at ``height``, as a replay does.

        ``env`` is the context of the first block (as for :meth:`judge`); each next block's context
        follows from the blocks before it (their computed ids and timestamps). ``now``: ``env["now"]``
        for every block if given, else each block's own timestamp. Releases the GIL; parsing, hashing and
        signature checks run on ``threads`` worker threads (default: all cores). One verdict per blob,
        in order.
        """

@final
class ChainReader:
    """Read-only access to a node's LMDB chain database (Monero 0.18 schema 5, X-Cash schema 3). The
    database is never written and no file is created next to it; one a running node holds is refused."""

    def __init__(self, path: _StrPath) -> None:
        """``path``: the directory holding ``data.mdb``, or a node data directory with ``lmdb/`` (or
        regtest's ``fake/lmdb/``). Raises :class:`ChainError`."""
    def info(self) -> dict[str, Any]:
        """What ``dualrun chain info --format json`` prints: ``chain``, ``data_file``, ``schema_version``,
        ``blocks``, ``genesis_id``, ``tip_height``, ``tip_id``, ``chain_digest``, ``id_mismatches`` (stored
        ids that are not the computed ones). Reads every block."""
    def __len__(self) -> int:
        """The number of blocks (tip height + 1)."""
    @property
    def tip_height(self) -> int:
        """The height of the last block."""
    def __iter__(self) -> BlockIterator:
        """``(height, blob)`` of every block, from 0 to the tip."""
    def blocks(self, start: int = 0, stop: int | None = None) -> BlockIterator:
        """``(height, blob)`` for heights ``start..=stop`` (``stop`` inclusive, capped at the tip;
        default: the tip). A ``start`` beyond the tip is an ``IndexError``."""
    def blob(self, height: int) -> bytes:
        """The blob of the block at ``height``. A height beyond the tip is an ``IndexError``."""

@final
class BlockIterator:
    """``(height, blob)`` in height order, read a window of blocks at a time (what
    :meth:`ChainReader.blocks` and iterating a :class:`ChainReader` return)."""

    def __iter__(self) -> Self: ...
    def __next__(self) -> tuple[int, bytes]: ...

@final
class DualRun:
    """A node's validator wrapped in a dual run: each block through the legacy verifier and the
    candidate as the mode says, the authoritative verdict returned, and every divergence and error
    recorded in a run directory — the same format, record schema and mode table as ``dualrun replay``
    (``docs/replay.md``). The run directory is evidence for ``dualrun gate evaluate``.
    """

    def __init__(
        self,
        legacy: _Verifier | None,
        candidate: LeaderValidator | _Verifier | None = None,
        mode: str = "shadow",
        records: _StrPath | None = None,
        profile: Profile | None = None,
        on_divergence: Callable[[dict[str, Any]], object] | None = None,
        reasons: Mapping[str, str] | None = None,
        name: str = "python-node",
        resume: bool = False,
    ) -> None:
        """
        - ``legacy``: ``legacy(blob, height, env)``; returns a :class:`Verdict`, a dict
          ``{"verdict": "accept" | "reject", "reason": str, "detail": str, "facts": {str: str}}``
          (missing keys are empty), or ``True``/``False`` (a rejection with reason ``"rejected"``).
          Raising is that side's error (``crash``; the record holds the traceback); any other answer is
          a ``protocol`` error. ``env`` is the full env: ``now``, ``network_name``, ``network_id``,
          ``genesis_id``, ``activation_height``, ``prev_id``, ``timestamps``. ``None`` only in ONLY
          mode, which does not run it.
        - ``candidate``: a :class:`LeaderValidator` or a callable like ``legacy``; ``None``:
          ``LeaderValidator(profile)``.
        - ``mode``: ``"legacy"``, ``"shadow"``, ``"primary"`` or ``"only"``; anything else is a
          ``ValueError``.
        - ``records``: the run directory, new or empty (required; a directory with files in it is an
          ``OSError``).
        - ``profile``: defaults to the candidate :class:`LeaderValidator`'s; one of the two is required.
        - ``on_divergence``: called with each record (the dict of its JSON line) as it is written.
        - ``reasons``: the legacy's own wording of a reason → the reason code, for the ``reason`` class
          (``--reason-map`` of a replay).
        - ``name``: the node's name, recorded in the run's manifest.
        - ``resume``: reopen the run in ``records`` (as left by a node that stopped) instead of starting
          one; a run directory of a format version this dualrun does not read raises ``OSError`` here.
        """
    def validate(self, blob: _Blob, height: int, env: _Env | None = None) -> Verdict:
        """Judges one block under the mode and returns the authoritative verdict.

        - LEGACY: the legacy's verdict; it fails closed (reject ``dualrun.fail_closed``) when the legacy
          raises.
        - SHADOW: the legacy's verdict; the candidate's is compared with it.
        - PRIMARY: the candidate's verdict; the legacy's when the candidate raises (a ``fallback``
          record).
        - ONLY: the candidate's verdict; it fails closed when the candidate raises.

        Heights: the first call may be at any height (``env`` gives its context; none is needed at 0).
        After it, each call is the next block of the chain the node builds: ``h + 1`` after an
        authoritative accept at ``h``, ``h`` again after a reject. Any other height is a ``ValueError``.
        ``env`` (as for :meth:`LeaderValidator.judge`) is optional after the first block: the run keeps
        the context from the blocks it accepted.

        Records (classes ``split``, ``halt``, ``fact``, ``reason``, ``legacy_error``,
        ``candidate_error``, ``fallback``) go to ``divergences.jsonl`` and ``divergences.csv``, and to
        ``on_divergence``. After :meth:`close`, a ``RuntimeError``.
        """
    def stats(self) -> dict[str, Any]:
        """``{"mode", "blocks", "accepted", "rejected", "records", "divergences": {class: n},
        "errors": {class: n}}`` so far."""
    def close(self) -> dict[str, Any]:
        """Finishes the run directory (records durable, ``summary.json``, the manifest's digests; the
        run is then complete and is evidence) and returns the summary, as ``summary.json`` holds it. A
        second call is a ``RuntimeError``."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Closes the run."""
    @property
    def mode(self) -> str:
        """The run's mode."""
    @property
    def records(self) -> str:
        """The run directory."""

@final
class GoldenResult:
    """One golden vector's result."""

    @property
    def rel(self) -> str:
        """The file, relative to the directory checked."""
    @property
    def name(self) -> str:
        """The vector's name (the relative path for a file that cannot be read)."""
    @property
    def kind(self) -> Literal["leader-v1", "mode-v1", "unreadable"]:
        """What judged it."""
    @property
    def status(self) -> Literal["pass", "fail", "skipped"]:
        """How it went."""
    @property
    def message(self) -> str:
        """Why it failed (the field, expected and actual values), or the vector's reason to skip;
        ``""`` on a pass."""

@final
class GoldenReport:
    """Every vector of a directory, judged by the runner ``dualrun golden check`` and the gate use."""

    @property
    def passed(self) -> int:
        """Vectors that passed."""
    @property
    def failed(self) -> int:
        """Vectors that failed, including files that cannot be read and skips without a reason."""
    @property
    def skipped(self) -> int:
        """Vectors skipped with a written reason."""
    @property
    def ok(self) -> bool:
        """``failed == 0``."""
    @property
    def digest(self) -> str:
        """Keccak-256 over the vectors' paths and contents, in path order."""
    @property
    def results(self) -> list[GoldenResult]:
        """One result per ``*.json`` file, in path order."""

def _golden_check(dir: _StrPath) -> GoldenReport:
    """Runs every vector under ``dir`` (recursively). Public as :func:`dualrun.golden.check`."""

@final
class TimingIterator:
    """``(height, legacy_us, candidate_us, verdict)`` of each line of a run's ``timings.csv``, in file
    order (what :func:`timings` returns); ``None`` for a verifier the mode did not run."""

    def __iter__(self) -> Self: ...
    def __next__(self) -> tuple[int, int | None, int | None, str]: ...

def timings(run: _StrPath) -> TimingIterator:
    """The per-block timings of the finished run directory ``run``, read as a stream (one line at a
    time). The run is checked first as every reader checks one: an edited, incomplete or unknown-format
    run is an ``OSError`` naming the problem; a run made before ``timings.csv`` existed (format version
    1) a ``ValueError``. A live run that went back to a fork has the fork's heights again, later."""
