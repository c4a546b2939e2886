"""The migration drill's legacy verifier: the legacy consensus of the drill network, in Python.

It is the reference legacy (``dualrun_legacy``: Monero's block rules) plus the one rule of the network's
legacy consensus that Debian's monerod does not enforce, so a drill can show a block the legacy rejects
on a chain the daemons accept: from ``ACTIVATION_HEIGHT`` on, every block carries its producer's record
(an extra-nonce field of the miner transaction whose payload starts with ``0xCA``). The height is the
legacy's own constant, never the run's profile: a candidate deployed with another activation height is
exactly what the drill must catch. A block without the record is rejected with the code the candidate
gives it, ``leader.missing``, so the two verifiers compare by reason without a reason map.

Called by dualrun as ``python:drill_legacy`` with ``--python-path`` naming this file's directory.
"""

import dualrun_legacy

VERSION = "1.0"
ACTIVATION_HEIGHT = 21
RECORD_MAGIC = 0xCA
DESCRIPTION = (
    f"migration drill legacy {VERSION}: {dualrun_legacy.DESCRIPTION}, "
    f"and a producer record on every block from height {ACTIVATION_HEIGHT}"
)

__all__ = ["verify_block", "VERSION", "DESCRIPTION", "ACTIVATION_HEIGHT"]


def _varint(buf, pos):
    """A varint at ``pos``: (value, next position), or None when it runs past the end."""
    value, shift = 0, 0
    while pos < len(buf) and shift < 64:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    return None


def _nonces(extra):
    """The extra-nonce payloads of a tx_extra, read as Monero does: fields in order until the end or the
    first field that does not parse (an unknown tag among them)."""
    pos = 0
    while pos < len(extra):
        tag = extra[pos]
        pos += 1
        if tag == 0x01:  # the transaction public key
            pos += 32
        elif tag in (0x02, 0xDE):  # an extra nonce; minergate's field has the same shape
            read = _varint(extra, pos)
            if read is None or read[1] + read[0] > len(extra):
                return
            size, pos = read
            if tag == 0x02:
                yield extra[pos:pos + size]
            pos += size
        elif tag == 0x04:  # additional public keys
            read = _varint(extra, pos)
            if read is None:
                return
            count, pos = read
            pos += 32 * count
        else:  # padding (0x00) ends the fields; anything else does not parse
            return
        if pos > len(extra):
            return


def verify_block(block, env):
    answer = dualrun_legacy.verify_block(block, env)
    height = int(block["height"])
    if answer["verdict"] != "accept" or height < ACTIVATION_HEIGHT:
        return answer
    miner = block.get("miner_tx")
    extra = bytes(miner["extra"]) if miner else b""
    if not any(payload[:1] == bytes([RECORD_MAGIC]) for payload in _nonces(extra)):
        return {
            "verdict": "reject",
            "reason": "leader.missing",
            "detail": f"block {height} carries no producer record (required from height {ACTIVATION_HEIGHT})",
            "facts": answer.get("facts", {}),
        }
    return answer
