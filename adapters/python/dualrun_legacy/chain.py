"""Block blobs: strict parsing and the block id, written from Monero's serialization rules."""

from .hashing import keccak256

OVERRIDE_HEIGHT = 202612
OVERRIDE_BLOB_HASH = bytes.fromhex("3a8a2b3a29b50fc86ff73dd087ea43c6f0d6b8f936c849194d5c84c737903966")
OVERRIDE_ID = bytes.fromhex("bbd604d2ba11ba27935e006ed39c9bfdd99b76bf4a50654bc1e1e61217962698")


class BlockError(Exception):
    """A blob that does not parse (or a block that may not have its id)."""


class _Reader:
    def __init__(self, buf):
        self.buf = buf
        self.pos = 0

    def fail(self, msg, at=None):
        raise BlockError(f"{msg} at byte offset {self.pos if at is None else at}")

    def take(self, n, what):
        if self.pos + n > len(self.buf):
            self.fail(f"blob truncated inside {what}")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def varint(self, bits, what):
        start = self.pos
        value, shift = 0, 0
        while True:
            if self.pos >= len(self.buf):
                self.fail(f"blob truncated inside {what}", start)
            byte = self.buf[self.pos]
            if shift + 7 >= bits and byte >= (1 << (bits - shift)):
                self.fail(f"varint in {what} overflows {bits} bits", start)
            if byte == 0 and shift != 0:
                self.fail(f"non-canonical varint in {what}", start)
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    def count(self, min_size, what):
        at = self.pos
        n = self.varint(64, what)
        if n * min_size > len(self.buf) - self.pos:
            self.fail(f"{what} count {n} exceeds the remaining bytes", at)
        return n


class Parsed:
    __slots__ = ("header_end", "timestamp", "prev_id", "gen_height", "tx_version", "tx_start",
                 "prefix_end", "tx_end", "tx_hashes")


def parse_block(blob):
    r = _Reader(blob)
    p = Parsed()
    r.varint(8, "major_version")
    r.varint(8, "minor_version")
    p.timestamp = r.varint(64, "timestamp")
    p.prev_id = r.take(32, "prev_id")
    r.take(4, "nonce")
    p.header_end = r.pos
    p.tx_start = r.pos
    at = r.pos
    p.tx_version = r.varint(64, "miner tx version")
    if p.tx_version not in (1, 2):
        r.fail(f"unsupported miner tx version {p.tx_version}", at)
    r.varint(64, "miner tx unlock_time")
    at = r.pos
    n_in = r.count(1, "miner tx vin")
    if p.tx_version == 2 and n_in == 0:
        # monerod parses this but cannot hash it (no RingCT part, unprunable size unset): no block id.
        r.fail("version-2 miner tx with no inputs: monerod cannot hash it, so the block has no id", at)
    inputs = []
    ring_sizes = []
    for _ in range(n_in):
        at = r.pos
        tag = r.take(1, "vin tag")[0]
        if tag == 0xFF:
            inputs.append(r.varint(64, "txin_gen height"))
        elif tag == 0x02:
            r.varint(64, "txin_to_key amount")
            n = r.count(1, "key offsets")
            for _ in range(n):
                r.varint(64, "key offset")
            r.take(32, "key image")
            ring_sizes.append(n)
            inputs.append(None)
        else:
            r.fail(f"unknown vin tag 0x{tag:02x}", at)
    p.gen_height = inputs[0] if len(inputs) == 1 else None
    n_out = r.count(2, "miner tx vout")
    for _ in range(n_out):
        r.varint(64, "vout amount")
        at = r.pos
        tag = r.take(1, "vout tag")[0]
        if tag == 0x02:
            r.take(32, "output key")
        elif tag == 0x03:
            r.take(33, "tagged output key")
        else:
            r.fail(f"unknown vout tag 0x{tag:02x}", at)
    n_extra = r.count(1, "tx_extra")
    r.take(n_extra, "tx_extra")
    p.prefix_end = r.pos
    if p.tx_version == 1:
        for n in ring_sizes:
            r.take(64 * n, "ring signatures")
    else:
        at = r.pos
        rct = r.take(1, "rct_type")[0]
        if rct != 0:
            r.fail(f"unsupported RingCT type {rct} in miner tx", at)
    p.tx_end = r.pos
    n_tx = r.count(32, "tx hash list")
    p.tx_hashes = [r.take(32, "tx hash") for _ in range(n_tx)]
    if r.pos != len(blob):
        r.fail(f"{len(blob) - r.pos} trailing byte(s) after the block")
    return p


def _varint_bytes(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def tree_hash(leaves):
    n = len(leaves)
    if n == 1:
        return leaves[0]
    if n == 2:
        return keccak256(leaves[0] + leaves[1])
    cnt = 1
    while cnt * 2 < n:
        cnt *= 2
    ints = list(leaves[:2 * cnt - n])
    for i in range(2 * cnt - n, n, 2):
        ints.append(keccak256(leaves[i] + leaves[i + 1]))
    while cnt > 2:
        cnt //= 2
        ints = [keccak256(ints[2 * j] + ints[2 * j + 1]) for j in range(cnt)]
    return keccak256(ints[0] + ints[1])


def miner_tx_hash(blob, p):
    if p.tx_version == 1:
        return keccak256(blob[p.tx_start:p.tx_end])
    base = blob[p.prefix_end:p.tx_end]
    return keccak256(keccak256(blob[p.tx_start:p.prefix_end]) + keccak256(base) + bytes(32))


def block_id(blob, p):
    root = tree_hash([miner_tx_hash(blob, p)] + p.tx_hashes)
    hashing_blob = blob[:p.header_end] + root + _varint_bytes(len(p.tx_hashes) + 1)
    computed = keccak256(_varint_bytes(len(hashing_blob)) + hashing_blob)
    if p.gen_height == OVERRIDE_HEIGHT and keccak256(blob) == OVERRIDE_BLOB_HASH:
        return OVERRIDE_ID
    if computed == OVERRIDE_ID:
        raise BlockError("block hashes to the reserved id of mainnet block 202612")
    return computed
