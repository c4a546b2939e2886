#!/usr/bin/env python3
"""make_fixture_chain.py - build a small, real Monero regtest chain as a test fixture for dualrun.

This script owns the *fixture generation* step for dualrun's LMDB reader tests:

* it runs the real (Debian) ``monerod`` in ``--regtest --offline --fixed-difficulty 1`` mode, bound to
  loopback only, in a temporary data directory;
* it produces exactly N blocks on top of genesis (tip height == N), mixing ``generateblocks`` batches
  with ``get_block_template`` + edited reserved bytes + ``submit_block`` blocks whose coinbase
  tx_extra carries varied payloads (no extra nonce, random bytes, a payment-id-looking nonce, ASCII
  text, the 127-byte maximum reserve, and an *unknown tag* 0x09 in place of the nonce tag 0x02 that
  makes the extra unparseable while the block stays consensus-valid);
* it records monerod's own RPC answers for every height 0..=N as the expected values:
    DIR/expected.csv   height,block_id,prev_id,timestamp,major_version,minor_version,nonce,tx_count,
                       miner_tx_hash,blob_bytes   (same header as ``dualrun chain scan``)
    DIR/blocks.jsonl   one JSON object per height: height, blob (hex), kind, payload (+ a few extras)
    DIR/data.mdb       the LMDB file copied after monerod exited cleanly (never lock.mdb)
    DIR/fixture.json   generator/version, monerod --version, N, seed, command line, data.mdb size+sha256

Stdlib only (Python 3.11). Exit codes: 0 success, 2 any error (message on stderr).

Usage: make_fixture_chain.py --out DIR --blocks N [--seed S] [--monerod PATH] [--keep-workdir]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

GENERATOR_NAME = "make_fixture_chain.py"
GENERATOR_VERSION = "1.0.0"

# Mainnet address; regtest (FAKECHAIN) uses mainnet address prefixes. Taken from monero's functional tests.
WALLET_ADDRESS = (
    "42ey1afDFnn4886T7196doS9GPMzexD9gXpsZJDwVjeRVdFCSoHnv7KPbBeGpzJBzHRCAs9UxqeoyFQMYbqSWYTfJJQAWDm"
)
GENESIS_ID = "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3"  # regtest uses mainnet genesis
ZERO_HASH = "0" * 64

CSV_HEADER = [
    "height", "block_id", "prev_id", "timestamp", "major_version", "minor_version",
    "nonce", "tx_count", "miner_tx_hash", "blob_bytes",
]

# Template payload kinds. Every one appears at least once when N >= MIN_BLOCKS_ALL_KINDS.
KIND_R0 = "reserve0"
KIND_RANDOM8 = "random8"
KIND_PAYID = "payid33"
KIND_ASCII = "ascii"
KIND_R127 = "reserve127"
KIND_TAG09 = "tag09"
TEMPLATE_KINDS = [KIND_R0, KIND_RANDOM8, KIND_PAYID, KIND_ASCII, KIND_R127, KIND_TAG09]
MIN_BLOCKS_ALL_KINDS = 12
MAX_RESERVE_SIZE = 127  # monerod 0.18.0.0 writes the nonce length as one raw byte; 128+ fails
UNKNOWN_TAG = 0x09
NONCE_TAG = 0x02
PUBKEY_TAG = 0x01

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
RPC_TIMEOUT = 30.0
GENERATE_TIMEOUT = 300.0  # generateblocks of a big batch verifies every block (RandomX light mode)
MAX_GENERATE_BATCH = 40

ASCII_WORDS = [
    "dualrun", "fixture", "regtest", "monero", "lmdb", "block", "extra", "nonce", "coinbase",
    "keccak", "varint", "tip", "height", "genesis", "template", "payload",
]


class FixtureError(Exception):
    """A fatal, explained error; main() prints it and exits 2."""


def log(msg: str) -> None:
    print(f"[make_fixture_chain] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------- RPC


class Rpc:
    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        # Never use a proxy for loopback RPC, whatever the environment says.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _post(self, path: str, payload: object, timeout: float, what: str) -> dict:
        data = json.dumps(payload).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with self.opener.open(req, timeout=timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as e:
            detail = e.read()[:500].decode(errors="replace")
            raise FixtureError(f"RPC {what}: HTTP {e.code} {e.reason}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            raise FixtureError(f"RPC {what}: no answer from monerod at {self.base}{path}: {e}") from None
        try:
            return json.loads(body)
        except ValueError:
            raise FixtureError(f"RPC {what}: answer is not JSON: {body[:300]!r}") from None

    def call(self, method: str, params: object = None, timeout: float = RPC_TIMEOUT,
             check_status: bool = True) -> dict:
        """JSON-RPC 2.0 call on /json_rpc; returns `result`, raising FixtureError on any error."""
        payload = {"jsonrpc": "2.0", "id": "0", "method": method}
        if params is not None:
            payload["params"] = params
        answer = self._post("/json_rpc", payload, timeout, method)
        if "error" in answer:
            raise FixtureError(f"RPC {method} failed: daemon answered error {json.dumps(answer['error'])}")
        result = answer.get("result")
        if not isinstance(result, dict):
            raise FixtureError(f"RPC {method}: answer has no result object: {json.dumps(answer)[:300]}")
        if check_status and result.get("status") != "OK":
            raise FixtureError(f"RPC {method}: status {result.get('status')!r}: {json.dumps(result)[:300]}")
        return result

    def other(self, path: str, body: object = None, timeout: float = RPC_TIMEOUT) -> dict:
        """Non-JSON-RPC endpoint such as /stop_daemon."""
        return self._post(path, {} if body is None else body, timeout, path.lstrip("/"))


# ------------------------------------------------------------------------------------- daemon mgmt


def free_loopback_ports(count: int) -> list[int]:
    """Bind `count` sockets to 127.0.0.1:0 at the same time so the ports are distinct, then release."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def log_tail(path: str, lines: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 16384))
            text = f.read().decode(errors="replace")
    except OSError as e:
        return f"(cannot read {path}: {e})"
    return "\n".join(text.splitlines()[-lines:])


def monerod_version(monerod: str) -> str:
    try:
        out = subprocess.run([monerod, "--version"], capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise FixtureError(f"cannot run {monerod} --version: {e}") from None
    text = (out.stdout + out.stderr).strip()
    if out.returncode != 0 or not text:
        raise FixtureError(f"{monerod} --version exited {out.returncode}: {text[:300]}")
    # monerod prints the banner twice (log + stdout); keep unique lines in order.
    seen: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line and line not in seen:
            seen.append(line)
    return "\n".join(seen)


def build_command(monerod: str, workdir: str, p2p: int, rpc: int, zmq: int) -> list[str]:
    return [
        monerod,
        "--regtest",
        "--offline",
        "--fixed-difficulty", "1",
        "--non-interactive",
        "--data-dir", workdir,
        "--log-file", os.path.join(workdir, "monerod-internal.log"),
        "--log-level", "0",
        "--p2p-bind-ip", "127.0.0.1",
        "--p2p-bind-port", str(p2p),
        "--rpc-bind-ip", "127.0.0.1",
        "--rpc-bind-port", str(rpc),
        "--zmq-rpc-bind-ip", "127.0.0.1",
        "--zmq-rpc-bind-port", str(zmq),
        "--no-igd",
        "--hide-my-port",
        "--out-peers", "0",
        "--in-peers", "0",
        "--disable-dns-checkpoints",
        "--check-updates", "disabled",
        "--rpc-ssl", "disabled",
        "--max-concurrency", "1",
        "--prep-blocks-threads", "1",
    ]


class Daemon:
    def __init__(self, cmd: list[str], log_path: str):
        self.cmd = cmd
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.log_file = None

    def start(self) -> None:
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.cmd, stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal ^C reaches only us; we stop monerod ourselves
        )
        log(f"started monerod pid {self.proc.pid}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def died_error(self, doing: str) -> FixtureError:
        rc = self.proc.returncode if self.proc else None
        return FixtureError(
            f"monerod exited early (code {rc}) while {doing}; log tail ({self.log_path}):\n"
            f"{log_tail(self.log_path)}"
        )

    def wait_ready(self, rpc: Rpc, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        last_err = ""
        while time.monotonic() < deadline:
            if not self.alive():
                raise self.died_error("starting up")
            try:
                return rpc.call("get_info", timeout=5)
            except FixtureError as e:
                last_err = str(e)
            time.sleep(0.5)
        raise FixtureError(
            f"monerod did not answer get_info within {timeout:.0f} s (last error: {last_err}); log tail:\n"
            f"{log_tail(self.log_path)}"
        )

    def stop_clean(self, rpc: Rpc, timeout: float) -> bool:
        """Ask monerod to stop via /stop_daemon and wait for it. True iff it exited by itself with code 0."""
        if not self.alive():
            return False
        try:
            answer = rpc.other("/stop_daemon")
            if answer.get("status") != "OK":
                log(f"stop_daemon answered {json.dumps(answer)[:200]}")
        except FixtureError as e:
            log(f"stop_daemon request failed: {e}")
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log(f"monerod did not exit within {timeout:.0f} s after stop_daemon")
            return False
        if rc != 0:
            log(f"monerod exited with code {rc} after stop_daemon")
            return False
        return True

    def kill(self) -> None:
        """SIGTERM, then SIGKILL. Only for our own child process."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            log(f"terminating monerod pid {self.proc.pid} (SIGTERM)")
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                log(f"killing monerod pid {self.proc.pid} (SIGKILL)")
                self.proc.kill()
                try:
                    self.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    log(f"WARNING: monerod pid {self.proc.pid} did not die after SIGKILL")
            except ProcessLookupError:
                pass

    def close_log(self) -> None:
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None


# ------------------------------------------------------------------------------------- the chain


def make_schedule(n: int, rng: random.Random) -> list[str | None]:
    """Return a list indexed by height-1: a template kind, or None for a generateblocks block."""
    if n >= MIN_BLOCKS_ALL_KINDS:
        t = min(n // 2, max(len(TEMPLATE_KINDS), n // 8))
    else:
        t = n // 2
    kinds = list(TEMPLATE_KINDS)
    rng.shuffle(kinds)
    if t <= len(kinds):
        kinds = kinds[:t]
    else:
        kinds += [rng.choice(TEMPLATE_KINDS) for _ in range(t - len(kinds))]
        rng.shuffle(kinds)
    # Spread: one template block per equal-sized segment of 1..n, at a random place in the segment.
    schedule: list[str | None] = [None] * n
    for i, kind in enumerate(kinds):
        lo = (i * n) // t
        hi = ((i + 1) * n) // t  # exclusive; segments are >= 2 long since t <= n // 2
        schedule[rng.randrange(lo, hi)] = kind
    return schedule


def ascii_text(rng: random.Random, seed: int, height: int) -> bytes:
    words = " ".join(rng.choice(ASCII_WORDS) for _ in range(rng.randint(2, 6)))
    return f"dualrun fixture seed={seed} h={height}: {words}".encode("ascii")[:MAX_RESERVE_SIZE]


def template_payload(kind: str, rng: random.Random, seed: int, height: int) -> tuple[int, bytes, str]:
    """(reserve_size, bytes to write at reserved_offset, description)."""
    if kind == KIND_R0:
        return 0, b"", "reserve_size=0 (no extra nonce field)"
    if kind == KIND_RANDOM8:
        b = rng.randbytes(8)
        return 8, b, f"reserve_size=8 random {b.hex()}"
    if kind == KIND_PAYID:
        b = b"\x00" + rng.randbytes(32)
        return 33, b, f"reserve_size=33 payment-id-like 00+32 random {b.hex()}"
    if kind == KIND_ASCII:
        b = ascii_text(rng, seed, height)
        return len(b), b, f"reserve_size={len(b)} ascii {b.decode('ascii')!r}"
    if kind == KIND_R127:
        b = rng.randbytes(MAX_RESERVE_SIZE)
        return MAX_RESERVE_SIZE, b, f"reserve_size={MAX_RESERVE_SIZE} random (max for monerod 0.18.0.0)"
    if kind == KIND_TAG09:
        b = rng.randbytes(8)
        return 8, b, f"unknown-tag 0x09 (nonce tag 0x02 replaced; reserve_size=8 random {b.hex()})"
    raise AssertionError(kind)


def read_varint(buf: bytes | bytearray, pos: int) -> tuple[int, int]:
    """Monero varint (LEB128) at pos -> (value, position after it)."""
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise FixtureError("template blob: truncated or overlong varint in block header")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def nonce_offset(blob: bytes | bytearray) -> int:
    """Offset of the u32 LE nonce: after major, minor, timestamp varints and the 32-byte prev_id."""
    pos = 0
    for _ in range(3):
        _, pos = read_varint(blob, pos)
    return pos + 32


def tip(rpc: Rpc) -> tuple[int, str]:
    """(number of blocks, top block hash) from get_info."""
    info = rpc.call("get_info")
    return int(info["height"]), str(info["top_block_hash"]).lower()


def make_template_block(rpc: Rpc, kind: str, rng: random.Random, seed: int, height: int,
                        prev_tip: str) -> dict:
    reserve_size, payload, desc = template_payload(kind, rng, seed, height)
    tpl = rpc.call("get_block_template", {"wallet_address": WALLET_ADDRESS, "reserve_size": reserve_size})
    if int(tpl["height"]) != height:
        raise FixtureError(f"RPC get_block_template: template height {tpl['height']} != expected {height}")
    if str(tpl.get("prev_hash", "")).lower() != prev_tip:
        raise FixtureError(f"RPC get_block_template: prev_hash {tpl.get('prev_hash')} != current tip {prev_tip}")
    blob = bytearray(bytes.fromhex(tpl["blocktemplate_blob"]))
    off = int(tpl["reserved_offset"])
    if reserve_size == 0:
        if off != 0:
            log(f"note: reserve_size 0 gave reserved_offset {off}")
    else:
        # Template extra: 01 <32-byte pubkey> 02 <len> <len zero bytes>; reserved_offset = first reserved byte.
        if not (35 <= off and off + reserve_size <= len(blob)):
            raise FixtureError(f"RPC get_block_template: reserved_offset {off} out of range for a "
                               f"{len(blob)}-byte blob (reserve_size {reserve_size})")
        if blob[off - 35] != PUBKEY_TAG or blob[off - 2] != NONCE_TAG or blob[off - 1] != reserve_size \
                or any(blob[off:off + reserve_size]):
            raise FixtureError(
                f"RPC get_block_template: unexpected bytes around reserved_offset {off}: "
                f"{bytes(blob[off - 35:off + reserve_size]).hex()} (want 01 <32> 02 {reserve_size:02x} zeros)")
        blob[off:off + reserve_size] = payload
        if kind == KIND_TAG09:
            blob[off - 2] = UNKNOWN_TAG
    # Fixed difficulty 1: every nonce is valid PoW, so use a random one (exercises LE nonce decoding).
    nonce = rng.getrandbits(32)
    npos = nonce_offset(blob)
    blob[npos:npos + 4] = nonce.to_bytes(4, "little")
    desc += f", nonce {nonce}"
    blob_hex = bytes(blob).hex()
    try:
        res = rpc.call("submit_block", [blob_hex], check_status=False)
    except FixtureError as e:
        raise FixtureError(f"{e} (block at height {height}, {desc})") from None
    if res.get("status") != "OK":
        raise FixtureError(f"RPC submit_block (height {height}, {desc}): daemon answered {json.dumps(res)}")
    return {"kind": "template", "payload": desc, "reserve_size": reserve_size,
            "reserved_offset": off, "submitted_blob": blob_hex, "template_kind": kind, "nonce": nonce}


def confirm_new_tip(rpc: Rpc, height: int, prev_tip: str, what: str) -> str:
    count, top = tip(rpc)
    if count != height + 1:
        raise FixtureError(f"{what}: block did not become the tip: get_info height is {count}, "
                           f"expected {height + 1} (submit_block answers OK even for blocks kept off the main chain)")
    hdr = rpc.call("get_last_block_header")["block_header"]
    if str(hdr["prev_hash"]).lower() != prev_tip or int(hdr["height"]) != height \
            or str(hdr["hash"]).lower() != top:
        raise FixtureError(f"{what}: get_last_block_header does not extend the previous tip {prev_tip}: "
                           f"{json.dumps(hdr)[:400]}")
    return top


def build_chain(rpc: Rpc, n: int, seed: int) -> dict[int, dict]:
    rng = random.Random(seed)
    schedule = make_schedule(n, rng)
    count, top = tip(rpc)
    if count != 1 or top != GENESIS_ID:
        raise FixtureError(f"RPC get_info: fresh regtest chain expected (height 1, top {GENESIS_ID}), "
                           f"got height {count}, top {top}")
    meta: dict[int, dict] = {0: {"kind": "genesis", "payload": "regtest genesis (= mainnet genesis)"}}
    h = 1
    batch_no = 0
    while h <= n:
        kind = schedule[h - 1]
        if kind is not None:
            m = make_template_block(rpc, kind, rng, seed, h, top)
            top = confirm_new_tip(rpc, h, top, f"submit_block at height {h} ({m['payload']})")
            meta[h] = m
            log(f"height {h}: template block, {m['payload']} -> {top}")
            h += 1
            continue
        run = 0
        while h + run <= n and schedule[h + run - 1] is None:
            run += 1
        while run > 0:
            size = min(run, rng.randint(1, MAX_GENERATE_BATCH))
            batch_no += 1
            res = rpc.call("generateblocks", {"amount_of_blocks": size, "wallet_address": WALLET_ADDRESS},
                           timeout=GENERATE_TIMEOUT)
            hashes = [str(x).lower() for x in res.get("blocks", [])]
            count, new_top = tip(rpc)
            if count != h + size or len(hashes) != size or hashes[-1] != new_top:
                raise FixtureError(f"RPC generateblocks (batch {batch_no}, {size} blocks from height {h}): "
                                   f"chain is now {count} blocks, top {new_top}; answer {json.dumps(res)[:400]}")
            for i in range(size):
                meta[h + i] = {"kind": "generateblocks",
                               "payload": f"generateblocks batch {batch_no} ({size} blocks), block {i + 1}/{size}",
                               "batch_hash": hashes[i]}
            log(f"heights {h}..{h + size - 1}: generateblocks batch {batch_no} -> {new_top}")
            top = new_top
            h += size
            run -= size
    return meta


def record(rpc: Rpc, n: int, meta: dict[int, dict]) -> tuple[list[list], list[dict]]:
    rows: list[list] = []
    objs: list[dict] = []
    prev = ZERO_HASH
    for h in range(n + 1):
        hdr = rpc.call("get_block_header_by_height", {"height": h})["block_header"]
        blk = rpc.call("get_block", {"height": h})
        blob = str(blk["blob"]).lower()
        bid = str(hdr["hash"]).lower()
        prev_id = str(hdr["prev_hash"]).lower()
        if int(hdr["height"]) != h or prev_id != prev:
            raise FixtureError(f"RPC get_block_header_by_height {h}: inconsistent header {json.dumps(hdr)[:400]}")
        if str(blk["block_header"]["hash"]).lower() != bid:
            raise FixtureError(f"RPC get_block {h}: hash {blk['block_header']['hash']} != header hash {bid}")
        m = meta[h]
        if m["kind"] == "template" and (m["submitted_blob"] != blob or int(hdr["nonce"]) != m["nonce"]):
            raise FixtureError(f"RPC get_block {h}: stored blob/nonce differs from the submitted block")
        if m["kind"] == "generateblocks" and m["batch_hash"] != bid:
            raise FixtureError(f"height {h}: hash {bid} != generateblocks answer {m['batch_hash']}")
        rows.append([h, bid, prev_id, int(hdr["timestamp"]), int(hdr["major_version"]),
                     int(hdr["minor_version"]), int(hdr["nonce"]), int(hdr["num_txes"]),
                     str(hdr["miner_tx_hash"]).lower(), len(blob) // 2])
        obj = {"height": h, "block_id": bid, "blob": blob, "kind": m["kind"], "payload": m["payload"]}
        if m["kind"] == "template":
            obj["reserve_size"] = m["reserve_size"]
            obj["reserved_offset"] = m["reserved_offset"]
            obj["template_kind"] = m["template_kind"]
        objs.append(obj)
        prev = bid
    if rows[0][1] != GENESIS_ID:
        raise FixtureError(f"height 0 id {rows[0][1]} is not the regtest genesis {GENESIS_ID}")
    return rows, objs


# ------------------------------------------------------------------------------------------- main


def check_out_dir(out: str) -> None:
    if os.path.exists(out):
        if not os.path.isdir(out):
            raise UsageError(f"--out {out} exists and is not a directory")
        if os.listdir(out):
            raise UsageError(f"--out {out} exists and is not empty; refusing to overwrite")
    parent = os.path.dirname(os.path.abspath(out)) or "/"
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise UsageError(f"--out {out}: parent directory {parent} missing or not writable")


class UsageError(FixtureError):
    pass


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_outputs(out: str, db_src: str, rows: list[list], objs: list[dict], fixture: dict) -> tuple[int, str]:
    created = not os.path.exists(out)
    os.makedirs(out, exist_ok=True)
    try:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(CSV_HEADER)
        w.writerows(rows)
        with open(os.path.join(out, "expected.csv"), "w", newline="") as f:
            f.write(buf.getvalue())
        with open(os.path.join(out, "blocks.jsonl"), "w", newline="") as f:
            for o in objs:
                f.write(json.dumps(o, sort_keys=False) + "\n")
        dst = os.path.join(out, "data.mdb")
        shutil.copyfile(db_src, dst)
        size = os.path.getsize(dst)
        digest = sha256_file(dst)
        if digest != sha256_file(db_src):
            raise FixtureError("data.mdb copy differs from the source")
        fixture["data_mdb"] = {"file": "data.mdb", "size": size, "sha256": digest}
        with open(os.path.join(out, "fixture.json"), "w", newline="") as f:
            json.dump(fixture, f, indent=2)
            f.write("\n")
        return size, digest
    except BaseException:
        for name in ("expected.csv", "blocks.jsonl", "data.mdb", "fixture.json"):
            try:
                os.remove(os.path.join(out, name))
            except FileNotFoundError:
                pass
        if created:
            try:
                os.rmdir(out)
            except OSError:
                pass
        raise


def find_dualrun(explicit: str | None) -> str:
    if explicit:
        return explicit
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for kind in ("release", "debug"):
        cand = os.path.join(repo, "target", kind, "dualrun")
        if os.access(cand, os.X_OK):
            return cand
    raise UsageError("no dualrun binary found: build it (cargo build) or pass --dualrun")


def produce_leader_blocks(args: argparse.Namespace, rpc_port: int, workdir: str) -> dict[int, dict]:
    """Runs `dualrun leader produce` against the daemon; returns {height: expected row} from its --expected."""
    expected_file = os.path.join(workdir, "leader-produced.csv")
    cmd = [find_dualrun(args.dualrun), "leader", "produce", "--daemon", f"http://127.0.0.1:{rpc_port}",
           "--profile", args.leader_profile, "--blocks", str(args.leader_blocks), "--expected", expected_file]
    for k in args.leader_key:
        cmd += ["--key", k]
    for f in args.fault:
        cmd += ["--fault", f]
    log("leader blocks: " + " ".join(cmd))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise FixtureError(f"dualrun leader produce failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    log(proc.stdout.strip())
    with open(expected_file, newline="") as f:
        return {int(r["height"]): r for r in csv.DictReader(f)}


def profile_activation_height(path: str) -> int:
    import tomllib
    with open(path, "rb") as f:
        return int(tomllib.load(f)["leader"]["activation_height"])


def run(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    out = args.out
    n = args.blocks
    check_out_dir(out)
    if n < 1:
        raise UsageError("--blocks must be >= 1")
    if n < MIN_BLOCKS_ALL_KINDS:
        log(f"warning: with --blocks {n} < {MIN_BLOCKS_ALL_KINDS} not every payload kind appears")
    if args.leader_blocks and not (args.leader_profile and args.leader_key):
        raise UsageError("--leader-blocks needs --leader-profile and at least one --leader-key")
    if args.leader_profile and profile_activation_height(args.leader_profile) < n + 1:
        raise UsageError(f"{args.leader_profile}: activation_height must be >= {n + 1} "
                         f"(blocks 1..{n} are made without leader records)")
    monerod = shutil.which(args.monerod) or args.monerod
    if not os.path.isfile(monerod) or not os.access(monerod, os.X_OK):
        raise UsageError(f"--monerod {args.monerod}: not an executable file")
    version = monerod_version(monerod)
    log(f"monerod: {version.splitlines()[0]}")

    workdir = tempfile.mkdtemp(prefix="dualrun-fixture-")
    log(f"workdir {workdir}")
    daemon = None
    ok = False
    try:
        p2p, rpc_port, zmq = free_loopback_ports(3)
        cmd = build_command(monerod, workdir, p2p, rpc_port, zmq)
        log("command: " + " ".join(cmd))
        daemon = Daemon(cmd, os.path.join(workdir, "monerod.stdout.log"))
        daemon.start()
        rpc = Rpc(rpc_port)
        info = daemon.wait_ready(rpc, STARTUP_TIMEOUT)
        log(f"monerod ready after {time.monotonic() - t0:.1f} s: nettype {info.get('nettype')}, "
            f"height {info.get('height')}, version {info.get('version')}")
        if info.get("nettype") not in (None, "fakechain"):
            raise FixtureError(f"RPC get_info: nettype {info.get('nettype')!r}, expected 'fakechain' (regtest)")

        t_chain = time.monotonic()
        meta = build_chain(rpc, n, args.seed)
        log(f"built {n} blocks in {time.monotonic() - t_chain:.1f} s")
        produced: dict[int, dict] = {}
        if args.leader_blocks:
            produced = produce_leader_blocks(args, rpc_port, workdir)
            for h, r in produced.items():
                meta[h] = {"kind": "leader", "payload": f"leader block: signed by {r['leader_id'] or '-'}, "
                                                        f"expected {r['verdict']} {r['reason']}".rstrip()}
        total = n + args.leader_blocks
        rows, objs = record(rpc, total, meta)
        tip_hash = rows[-1][1]
        if len(rows) != total + 1 or rows[-1][0] != total:
            raise FixtureError(f"recorded {len(rows)} rows, expected {total + 1}")
        verdicts = []
        for row in rows:
            h, bid = row[0], row[1]
            r = produced.get(h)
            if r is not None and r["block_id"] != bid:
                raise FixtureError(f"height {h}: dualrun produced {r['block_id']} but monerod stores {bid}")
            verdicts.append([h, bid, r["verdict"], r["reason"], r["leader_id"]] if r else [h, bid, "accept", "", ""])

        log("stopping monerod via /stop_daemon")
        t_stop = time.monotonic()
        if not daemon.stop_clean(rpc, STOP_TIMEOUT):
            daemon.kill()
            raise FixtureError("monerod did not stop cleanly via /stop_daemon; it was terminated and the DB "
                               "is NOT copied (a DB from a killed daemon is suspect). Log tail:\n"
                               + log_tail(daemon.log_path))
        log(f"monerod exited cleanly in {time.monotonic() - t_stop:.1f} s")
        daemon.close_log()

        db_src = os.path.join(workdir, "fake", "lmdb", "data.mdb")
        if not os.path.isfile(db_src):
            raise FixtureError(f"{db_src} not found after monerod exited (regtest DB lives under fake/lmdb)")
        kinds_present = sorted({o["template_kind"] for o in objs if o["kind"] == "template"})
        fixture = {
            "generator": {"name": GENERATOR_NAME, "version": GENERATOR_VERSION},
            "monerod_version": version,
            "blocks": n,
            "tip_height": n,
            "tip_id": tip_hash,
            "seed": args.seed,
            "wallet_address": WALLET_ADDRESS,
            "monerod_command": cmd,
            "template_blocks": [o["height"] for o in objs if o["kind"] == "template"],
            "template_payload_kinds": kinds_present,
            "unknown_tag_heights": [o["height"] for o in objs if o.get("template_kind") == KIND_TAG09],
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if produced:
            fixture["leader"] = {"profile": os.path.basename(args.leader_profile), "blocks": args.leader_blocks,
                                 "faults": args.fault, "keys": [os.path.basename(k) for k in args.leader_key]}
        size, digest = write_outputs(out, db_src, rows, objs, fixture)
        if produced:
            with open(os.path.join(out, "leader-expected.csv"), "w", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(["height", "block_id", "verdict", "reason", "leader_id"])
                w.writerows(verdicts)
        log(f"wrote {out}: expected.csv ({len(rows)} rows), blocks.jsonl, data.mdb ({size} bytes, "
            f"sha256 {digest}), fixture.json; total {time.monotonic() - t0:.1f} s")
        ok = True
        print(f"made {out}: {total} blocks, tip {tip_hash}")
        return 0
    finally:
        if daemon is not None:
            daemon.kill()  # no-op if it already exited
            daemon.close_log()
        if args.keep_workdir:
            log(f"keeping workdir {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        if not ok and not args.keep_workdir:
            log("(re-run with --keep-workdir to inspect monerod's log and DB after a failure)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output directory (must not exist, or be empty)")
    p.add_argument("--blocks", required=True, type=int, help="number of blocks on top of genesis (tip height)")
    p.add_argument("--seed", type=int, default=0, help="seed for payload choice and placement (default 0)")
    p.add_argument("--monerod", default="/usr/bin/monerod", help="monerod binary (default /usr/bin/monerod)")
    p.add_argument("--keep-workdir", action="store_true", help="keep the temporary monerod data dir")
    g = p.add_argument_group("migration network (leader blocks on top, made by `dualrun leader produce`)")
    g.add_argument("--leader-profile", help="network profile; its activation_height must be >= --blocks + 1")
    g.add_argument("--leader-key", action="append", default=[], help="leader key file (repeat)")
    g.add_argument("--leader-blocks", type=int, default=0, help="leader blocks to produce after --blocks")
    g.add_argument("--fault", action="append", default=[], help="HEIGHT:KIND passed to `dualrun leader produce`")
    g.add_argument("--dualrun", default=None, help="dualrun binary (default: target/release or target/debug)")
    args = p.parse_args(argv)

    def on_term(signum, frame):  # make SIGTERM/SIGHUP run the finally blocks (monerod gets stopped)
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        return run(args)
    except FixtureError as e:
        print(f"make_fixture_chain: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("make_fixture_chain: interrupted; monerod stopped", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
