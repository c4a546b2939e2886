#!/usr/bin/python3.11
"""Differential fuzzing of block parsing: dualrun's Rust parser against the reference legacy's.

Feeds mutated real block blobs (the sample chain, ../shared/vectors/mainnet/*.bin, Monero's fuzz blocks,
the golden vectors' blobs) to

  - the Rust parser, through the `dualrun` Python package (`dualrun.block_id(blob)`, raising
    `dualrun.BlockError`), and
  - the reference Python legacy's independent parser (`adapters/python/dualrun_legacy/chain.py`:
    `parse_block(blob)` then `block_id(blob, p)` and `miner_tx_hash(blob, p)`, raising its `BlockError`),

and fails when they disagree on accept/reject, on the block id or the miner-transaction hash, on the
parsed fields (timestamp, prev_id, gen height, miner tx version, tx hashes; the Rust side through
`dualrun.parse_block`), or when either raises anything but its `BlockError`. Deterministic: the same
--seed and --count give the same inputs. Mutations are byte-level (bit flips, interesting bytes,
inserts, deletions, truncation, splices) and structure-aware (a blob's fields re-encoded: header
varints, tx_extra replaced with any length, tx hashes added or removed, the miner tx version switched,
the gen height changed), so both valid and invalid blobs are reached.

    /usr/bin/python3.11 scripts/fuzz-differential.py --count 1000000 [--seed 1]

Needs the `dualrun` package (built by ci/test.sh into target/pyvenv; found there if not importable)
and pycryptodome (Debian's python3-pycryptodome) for the legacy's Keccak. Exit 0: no disagreement; 1:
disagreements (each written to fuzz/artifacts/differential/); 2: could not run.
"""

import argparse
import glob
import hashlib
import json
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "adapters", "python"))

try:
    import dualrun
except ImportError:
    for site in sorted(glob.glob(os.path.join(ROOT, "target/pyvenv/lib/python3*/site-packages"))):
        sys.path.append(site)
    try:
        import dualrun
    except ImportError:
        print("fuzz-differential: the dualrun package is not installed (ci/test.sh builds it into target/pyvenv)",
              file=sys.stderr)
        sys.exit(2)

try:
    from dualrun_legacy import chain
except ImportError as e:
    print(f"fuzz-differential: the reference legacy does not import ({e}); it needs pycryptodome", file=sys.stderr)
    sys.exit(2)


varint = chain._varint_bytes  # the reference legacy's own encoder: one varint writer, not two


def read_varint(b, pos):
    """A varint at pos (lenient): (value, end) or None."""
    value, shift = 0, 0
    while pos < len(b) and shift < 70:
        byte = b[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None


def seeds():
    blobs = []
    for line in open(os.path.join(ROOT, "harness/sample/blocks.jsonl")):
        if line.strip():
            blobs.append(bytes.fromhex(json.loads(line)["blob"]))
    shared = sorted(glob.glob(os.path.join(ROOT, "../shared/vectors/mainnet/*.bin")))
    monero = sorted(glob.glob("/usr/share/monero/testdata/fuzz/block/*"))
    for path in shared + monero:
        blobs.append(open(path, "rb").read())
    for path in sorted(glob.glob(os.path.join(ROOT, "golden-vectors/**/*.json"), recursive=True)):
        v = json.load(open(path))
        # A leader vector's block.blob, a fork-choice vector's blocks.
        hexes = [v.get("block", {}).get("blob")] + list(v.get("blocks") or [])
        for h in hexes:
            if isinstance(h, str):
                try:
                    blobs.append(bytes.fromhex(h))
                except ValueError:
                    pass
    unique = list(dict.fromkeys(blobs))
    return unique, len(shared), len(monero)


# Where a blob's parts are, found with the legacy's reader (its one `take` of the extra noted).
_take = chain._Reader.take
_noted = {}


def _noting_take(self, n, what):
    if what == "tx_extra":
        _noted["extra"] = (self.pos, n)
    return _take(self, n, what)


chain._Reader.take = _noting_take


def layout(blob):
    """(parsed, extra_start, extra_len) of a blob the legacy parses, else None."""
    _noted.clear()
    try:
        p = chain.parse_block(blob)
    except chain.BlockError:
        return None
    start, n = _noted["extra"]
    return p, start, n


INTERESTING = [0x00, 0x01, 0x02, 0x03, 0x7F, 0x80, 0x81, 0xFE, 0xFF]


def mutate_bytes(rng, b, pool):
    b = bytearray(b)
    op = rng.randrange(9)
    if op == 0 and b:
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    elif op == 1 and b:
        b[rng.randrange(len(b))] = rng.choice(INTERESTING)
    elif op == 2 and b:
        b[rng.randrange(len(b))] = rng.randrange(256)
    elif op == 3:
        i = rng.randrange(len(b) + 1)
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.choice((1, 1, 2, 4, 32))))
    elif op == 4 and b:
        i = rng.randrange(len(b))
        del b[i:i + rng.choice((1, 1, 2, 4, 32))]
    elif op == 5 and b:
        del b[rng.randrange(len(b)):]
    elif op == 6:
        b += bytes(rng.randrange(256) for _ in range(rng.choice((1, 2, 32, 33))))
    elif op == 7:
        other = rng.choice(pool)
        i, j = rng.randrange(len(b) + 1), rng.randrange(len(other) + 1)
        b = b[:i] + other[j:]
    elif op == 8 and b:
        i = rng.randrange(len(b))
        b[i:i] = b[i:i + rng.choice((1, 8, 32))]
    return bytes(b)


def mutate_structure(rng, b):
    """A field of a parsing blob re-encoded; keeps the blob parseable more often than not."""
    lay = layout(b)
    if lay is None:
        return b
    p, e_start, e_len = lay
    op = rng.randrange(7)
    if op == 0:
        # tx_extra: any bytes, any length, its length varint rewritten.
        n_len = len(varint(e_len))
        n = rng.choice((0, 1, 2, 32, 33, 34, 127, 128, 255, 256, rng.randrange(300)))
        new = bytes(rng.randrange(256) for _ in range(n))
        if rng.random() < 0.5 and e_len:
            new = bytearray(b[e_start:e_start + e_len])
            new[rng.randrange(len(new))] = rng.randrange(256)
            new = bytes(new)
        return b[:e_start - n_len] + varint(len(new)) + new + b[e_start + e_len:]
    if op == 1:
        # The header's timestamp varint, re-encoded with another value.
        v1 = read_varint(b, 0)
        v2 = v1 and read_varint(b, v1[1])
        t = v2 and read_varint(b, v2[1])
        if not t:
            return b
        value = rng.choice((0, 1, 127, 128, 2**32 - 1, 2**32, 2**63, 2**64 - 1, rng.randrange(2**64)))
        return b[:v2[1]] + varint(value) + b[t[1]:]
    if op == 2:
        # Major / minor version: a value of up to 9 bits (256 and more overflow the u8).
        v1 = read_varint(b, 0)
        if not v1:
            return b
        value = rng.choice((0, 1, 16, 127, 128, 255, 256, 511))
        return varint(value) + b[v1[1]:]
    if op == 3:
        # Add or remove tx hashes at the end (the count varint rewritten).
        n = len(p.tx_hashes)
        start = p.tx_end
        new_n = max(0, n + rng.choice((-1, 1, 1, 2, 3)))
        hashes = b[start + len(varint(n)):]
        hashes = hashes[:32 * new_n] + bytes(rng.randrange(256) for _ in range(max(0, 32 * new_n - len(hashes))))
        return b[:start] + varint(new_n) + hashes
    if op == 4:
        # Switch the miner tx version (1 <-> 2), adding or dropping the RCTTypeNull byte.
        at = p.tx_start
        if p.tx_version == 1:
            return b[:at] + b"\x02" + b[at + 1:p.tx_end] + b"\x00" + b[p.tx_end:]
        return b[:at] + b"\x01" + b[at + 1:p.tx_end - 1] + b[p.tx_end:]
    if op == 5:
        # A byte of the hashed part (header, miner tx, tx hashes) changed: the ids must change alike.
        i = rng.randrange(len(b))
        return b[:i] + bytes([rng.randrange(256)]) + b[i + 1:]
    # The miner tx's gen height (the varint after the 0xff input tag), re-encoded.
    i = b.find(b"\xff", p.tx_start, p.tx_start + 24)
    h = i >= 0 and read_varint(b, i + 1)
    if not h:
        return b
    value = rng.choice((0, 1, 202612, 2**32, 2**64 - 1, rng.randrange(2**20)))
    return b[:i + 1] + varint(value) + b[h[1]:]


def rust(blob):
    try:
        block_id, miner = dualrun.block_id(blob)
        v = dualrun.parse_block(blob)
        inputs = v["miner_tx"]["inputs"]
        gen = inputs[0]["height"] if len(inputs) == 1 and inputs[0]["type"] == "gen" else None
        fields = (v["header"]["timestamp"], v["header"]["prev_id"], gen, v["miner_tx"]["version"],
                  tuple(v["tx_hashes"]), v["block_id"])
        return ("accept", block_id, miner, fields)
    except dualrun.BlockError as e:
        return ("reject", str(e), None, None)
    except BaseException as e:  # noqa: BLE001 - a panic or anything but BlockError is a finding
        return ("crash", f"{type(e).__name__}: {e}", None, None)


def legacy(blob):
    try:
        p = chain.parse_block(blob)
        block_id = chain.block_id(blob, p).hex()
        fields = (p.timestamp, p.prev_id.hex(), p.gen_height, p.tx_version, tuple(h.hex() for h in p.tx_hashes),
                  block_id)
        return ("accept", block_id, chain.miner_tx_hash(blob, p).hex(), fields)
    except chain.BlockError as e:
        return ("reject", str(e), None, None)
    except Exception as e:  # noqa: BLE001
        return ("crash", f"{type(e).__name__}: {e}", None, None)


def agree(r, l):
    """Same accept/reject; for an accepted blob the same id, miner-tx hash and header and miner-tx fields
    (timestamp, prev_id, gen height, tx version, tx hashes; and `parse_block`'s id equal to `block_id`'s)."""
    if r[0] == "crash" or l[0] == "crash" or r[0] != l[0]:
        return False
    return r[0] == "reject" or r[1:] == l[1:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100_000, help="inputs to try (default 100000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--max-findings", type=int, default=20, help="stop after this many disagreements")
    ap.add_argument("--out", default=os.path.join(ROOT, "fuzz/artifacts/differential"),
                    help="where disagreeing blobs are written")
    args = ap.parse_args()

    pool, n_shared, n_monero = seeds()
    print(f"fuzz-differential: {len(pool)} seed blobs ({n_shared} from ../shared/vectors, {n_monero} Monero "
          f"fuzz blocks); seed {args.seed}, {args.count} inputs", flush=True)
    # The seeds themselves first: both sides must accept them with the same ids.
    rng = random.Random(args.seed)
    tally = {"accept": 0, "reject": 0}
    findings = []
    started = time.monotonic()
    last = started
    for i in range(args.count):
        if i < len(pool):
            blob = pool[i]
        else:
            blob = rng.choice(pool)
            for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
                if rng.random() < 0.4:
                    blob = mutate_structure(rng, blob)
                else:
                    blob = mutate_bytes(rng, blob, pool)
        r, l = rust(blob), legacy(blob)
        if agree(r, l):
            tally[r[0]] += 1
        else:
            findings.append((i, blob, r, l))
            os.makedirs(args.out, exist_ok=True)
            name = hashlib.sha1(blob).hexdigest()
            with open(os.path.join(args.out, name), "wb") as f:
                f.write(blob)
            print(f"DISAGREEMENT at input {i} ({len(blob)} bytes, {args.out}/{name}):\n"
                  f"  rust:   {r}\n  legacy: {l}", flush=True)
            if len(findings) >= args.max_findings:
                print("fuzz-differential: stopping at --max-findings", flush=True)
                break
        now = time.monotonic()
        if now - last >= 30:
            last = now
            done = i + 1
            print(f"  {done} inputs, {done / (now - started):.0f}/s", flush=True)
    elapsed = time.monotonic() - started
    done = tally["accept"] + tally["reject"] + len(findings)
    print(f"fuzz-differential: {done} inputs in {elapsed:.1f} s ({done / elapsed:.0f} inputs/s): "
          f"{tally['accept']} accepted by both with equal ids and fields, {tally['reject']} rejected by both, "
          f"{len(findings)} disagreement(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
