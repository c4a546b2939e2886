"""dualrun reference legacy verifier: the pre-migration block rules, in Python.

It knows nothing about leaders. For each block it parses the blob itself (strictly: canonical varints,
no trailing bytes), computes the block id itself (Keccak-256, Monero's tree hash, the size-prefixed
hashing blob, the 202612 override), and checks that heights and previous ids link and that the
timestamp is not below the median of the previous 60 nor more than 7200 s after env["now"].

Called by dualrun as ``verify_block(block, env)`` (the ``python:`` adapter, in process) or through
``python3 -m dualrun_legacy.exec`` (the ``exec:`` adapter, JSON lines). It answers with reason codes
(``block.malformed``, ``block.height_mismatch``, ``block.prev_mismatch``, ``block.timestamp_too_old``,
``block.timestamp_in_future``), so no reason map is needed, and reports the fact ``block_id``.
It keeps no state between calls: the chain context comes in ``env``.
"""

from .chain import BlockError, block_id, parse_block
from .hashing import KECCAK_IMPLEMENTATION

VERSION = "1.0"
DESCRIPTION = f"dualrun reference legacy verifier {VERSION} (keccak: {KECCAK_IMPLEMENTATION})"
FUTURE_TIME_LIMIT = 7200
TIMESTAMP_WINDOW = 60

__all__ = ["verify_block", "VERSION", "DESCRIPTION", "KECCAK_IMPLEMENTATION"]


def _median(values):
    """Monero's median: the middle value, or the mean of the two middle values rounded down."""
    v = sorted(values)
    n = len(v) // 2
    return v[n] if len(v) % 2 else (v[n - 1] + v[n]) // 2


def _reject(reason, detail, facts):
    return {"verdict": "reject", "reason": reason, "detail": detail, "facts": facts}


def verify_block(block, env):
    blob = bytes(block["blob"])
    height = int(block["height"])
    try:
        parsed = parse_block(blob)
        bid = block_id(blob, parsed)
    except BlockError as e:
        return _reject("block.malformed", str(e), {})
    facts = {"block_id": bid.hex()}
    if parsed.gen_height != height:
        return _reject("block.height_mismatch", f"miner tx gen height {parsed.gen_height} in block {height}", facts)
    if height == 0:
        return {"verdict": "accept", "facts": facts}
    prev = env.get("prev_id")
    if prev is None or parsed.prev_id.hex() != prev:
        return _reject("block.prev_mismatch", f"prev_id {parsed.prev_id.hex()} but block {height - 1} is {prev}", facts)
    window = list(env.get("timestamps") or [])[-TIMESTAMP_WINDOW:]
    if len(window) >= TIMESTAMP_WINDOW:
        median = _median(window)
        if parsed.timestamp < median:
            return _reject("block.timestamp_too_old", f"timestamp {parsed.timestamp} below median {median}", facts)
    now = int(env["now"])
    if parsed.timestamp > now + FUTURE_TIME_LIMIT:
        return _reject("block.timestamp_in_future", f"timestamp {parsed.timestamp} > now {now} + {FUTURE_TIME_LIMIT}", facts)
    return {"verdict": "accept", "facts": facts}


# It parses every blob itself: dualrun need not parse the fields for it (the block dict's parsed-field
# keys are then None).
verify_block.dualrun_wants_fields = False
