#!/usr/bin/env bash
# Builds the fuzz targets' seed corpora in fuzz/corpus/<target>/ from real inputs (docs/fuzzing.md):
#
#   block          the sample chain's blobs (harness/sample/blocks.jsonl), ../shared/vectors/mainnet/*.bin,
#                  Monero's fuzz blocks (/usr/share/monero/testdata/fuzz/block, Debian's monero-tests),
#                  the golden vectors' blobs
#   extra          the tx_extra of every block above, Monero's fuzz tx_extra files
#   leader_record  a base-block byte and the tx_extra of the sample's blocks around the activation height
#   profile        harness/sample/profile.toml, the golden vectors' profiles, the TOML examples of
#                  docs/gate.md (policy, quorum, allowlist), a policy and a reason map
#   ledger_line    real ledgers made with the CLI (keygen, gate init, promote --force, rollback; and one
#                  under an operator quorum: approvals, a promotion, a key rotation)
#   exec_answer    answer lines of the exec protocol (docs/exec-protocol.md), good and bad
#   golden_vector  the golden vector files (golden-vectors/**/*.json)
#   block_info     the sample database's block_info records (mdb_dump), in both layouts
#   keccak         the block seeds' blobs (inputs for dualrun's Keccak-256 against the portable one)
#
# Seeds are named by their SHA-1 (as libFuzzer names what it adds), so running this again adds nothing
# twice (but the ledgers, signed afresh each time) and keeps what fuzzing found; `--clean` starts the
# corpora afresh. Nothing here is committed (fuzz/.gitignore), and ../shared is only read, never copied
# into the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--clean" ]; then
    rm -rf fuzz/corpus
fi
mkdir -p fuzz/corpus

dualrun=target/debug/dualrun
if [ ! -x "$dualrun" ]; then
    echo "fuzz-corpus: building the CLI for the ledger seed" >&2
    nice -n 19 cargo build -q
fi

python=python3
[ -x /usr/bin/python3.11 ] && python=/usr/bin/python3.11

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Real ledgers, signed by throwaway keys: init, two forced promotions, a rollback; and one under an
# operator quorum (policy [quorum] of 2 of 3): two approvals, a promotion, a key rotation approved by two.
ledger=$work/ledger.jsonl
for i in 1 2 3 4; do
    "$dualrun" keygen --id "fuzz-op$i" --out "$work/k$i.key" | awk '{print $2}' >"$work/pk$i"
done
"$dualrun" gate init --ledger "$ledger" --key "$work/k1.key" --operator fuzz-corpus >/dev/null
"$dualrun" gate promote --ledger "$ledger" --key "$work/k1.key" --reason "corpus seed" --force >/dev/null
"$dualrun" gate promote --ledger "$ledger" --key "$work/k1.key" --reason "corpus seed" --force >/dev/null
"$dualrun" gate rollback --ledger "$ledger" --key "$work/k1.key" --to shadow --reason "corpus seed" >/dev/null
q=$work/quorum.jsonl
printf '[quorum]\napprovals = 2\noperators = ["%s", "%s", "%s"]\n' \
    "$(cat "$work/pk1")" "$(cat "$work/pk2")" "$(cat "$work/pk3")" >"$work/policy.toml"
# (`gate evaluate` exits 3, inconclusive, without evidence: its JSON still names the digest.)
if "$dualrun" gate init --ledger "$q" --key "$work/k1.key" --operator fuzz-corpus >/dev/null &&
    { "$dualrun" gate evaluate --ledger "$q" --policy "$work/policy.toml" --format json >"$work/eval.json" || true; } &&
    digest=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["evaluation_digest"])' \
        "$work/eval.json") &&
    "$dualrun" gate approve --ledger "$q" --key "$work/k1.key" --to shadow --evaluation-digest "$digest" &&
    "$dualrun" gate approve --ledger "$q" --key "$work/k2.key" --to shadow --evaluation-digest "$digest" &&
    "$dualrun" gate promote --ledger "$q" --key "$work/k1.key" --policy "$work/policy.toml" --force --reason seed &&
    "$dualrun" gate approve --ledger "$q" --key "$work/k2.key" --rotation "$(cat "$work/pk3"):$(cat "$work/pk4")" &&
    "$dualrun" gate approve --ledger "$q" --key "$work/k1.key" --rotation "$(cat "$work/pk3"):$(cat "$work/pk4")" &&
    "$dualrun" gate rotate --ledger "$q" --key "$work/k3.key" --new-key "$work/k4.key" --reason seed; then
    :
else
    echo "fuzz-corpus: no quorum ledger seed (this CLI has no operator quorum)" >&2
    rm -f "$q"
fi >/dev/null

# The sample database's block_info records, if LMDB's tools are installed (dumped from a copy: opening
# an environment creates a lock file beside it, and nothing is ever written next to a chain).
if command -v mdb_dump >/dev/null 2>&1; then
    mkdir "$work/db" && cp harness/sample/data.mdb "$work/db/"
    mdb_dump -s block_info "$work/db" >"$work/block_info.dump" 2>/dev/null || true
fi

"$python" - "$work" <<'EOF'
import glob, hashlib, json, os, re, struct, sys

sys.path.insert(0, "adapters/python")
import dualrun_legacy.chain as chain

work = sys.argv[1]
counts = {}


def seed(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join("fuzz/corpus", target)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, hashlib.sha1(data).hexdigest())
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        counts[target] = counts.get(target, 0) + 1


# The reference legacy's parser reads tx_extra with one take(n, "tx_extra"): note what it took.
_take = chain._Reader.take
extras = []


def _noting_take(self, n, what):
    out = _take(self, n, what)
    if what == "tx_extra":
        extras.append(bytes(out))
    return out


chain._Reader.take = _noting_take


def extra_of(blob):
    extras.clear()
    try:
        chain.parse_block(blob)
    except chain.BlockError:
        pass
    return extras[0] if extras else None


blobs = []
sample = [json.loads(line) for line in open("harness/sample/blocks.jsonl") if line.strip()]
for b in sample:
    blobs.append(bytes.fromhex(b["blob"]))
for path in sorted(glob.glob("../shared/vectors/mainnet/*.bin")):
    blobs.append(open(path, "rb").read())
for path in sorted(glob.glob("/usr/share/monero/testdata/fuzz/block/*")):
    blobs.append(open(path, "rb").read())

vectors = sorted(glob.glob("golden-vectors/**/*.json", recursive=True))
profiles = {open("harness/sample/profile.toml").read()}


def vector_blobs(v):
    """Every block blob a vector holds (a leader vector's block.blob, a fork-choice vector's blocks)."""
    found = []
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "blob" and isinstance(x, str):
                found.append(x)
            elif k == "blocks" and isinstance(x, list):
                found.extend(b for b in x if isinstance(b, str))
            else:
                found.extend(vector_blobs(x))
    elif isinstance(v, list):
        for x in v:
            found.extend(vector_blobs(x))
    return found


for path in vectors:
    raw = open(path, "rb").read()
    seed("golden_vector", raw)
    v = json.loads(raw)
    for h in vector_blobs(v):
        try:
            blobs.append(bytes.fromhex(h))
        except ValueError:
            pass
    if isinstance(v.get("profile"), str):
        profiles.add(v["profile"])

for blob in blobs:
    seed("block", blob)
    seed("keccak", blob)
    e = extra_of(blob)
    if e is not None:
        seed("extra", e)
for path in sorted(glob.glob("/usr/share/monero/testdata/fuzz/tx-extra/*")):
    seed("extra", open(path, "rb").read())

# leader_record: byte 0 picks the base block (sample height 60 + byte % 20), the rest is its new extra.
for b in sample:
    e = extra_of(bytes.fromhex(b["blob"]))
    h = b["height"]
    if 60 <= h < 80:
        seed("leader_record", bytes([h - 60]) + e)
    elif h >= 80:
        seed("leader_record", bytes([h % 20]) + e)
seed("leader_record", bytes([1]))

for p in profiles:
    seed("profile", p)
for doc in ("docs/gate.md",):
    if os.path.exists(doc):
        for block in re.findall(r"```toml\n(.*?)```", open(doc).read(), re.S):
            seed("profile", block)
seed("profile", '[to_primary]\nmin_blocks = 5\nmax_error_rate = 0.25\n[to_only]\nmax_latency_ratio_p99 = 1.5\n')
seed("profile", '[reasons]\n"bad leader signature" = "leader.bad_signature"\n"no record" = "leader.missing"\n')

# ledger_line: byte 0 even: the file as it is; odd: lines the target signs itself, with the keys and
# rotation digests written as "@k0".."@k3" and "@rAB" (see fuzz/fuzz_targets/ledger_line.rs).
pks = [open(os.path.join(work, f"pk{i}")).read().strip() for i in (1, 2, 3, 4)]
from dualrun_legacy.hashing import keccak256
for name in ("ledger.jsonl", "quorum.jsonl"):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        continue
    raw = open(path, "rb").read()
    seed("ledger_line", b"\x00" + raw)
    seed("ledger_line", b"\x00" + raw.split(b"\n")[0] + b"\n")
    aliases = {pk: f"@k{i}" for i, pk in enumerate(pks)}
    for a in range(4):
        for b in range(4):
            d = keccak256(f"dualrun/rotate/v1\n{pks[a]}\n{pks[b]}".encode()).hex()
            aliases[d] = f"@r{a}{b}"

    def alias(v):
        if isinstance(v, str):
            return aliases.get(v, v)
        if isinstance(v, list):
            return [alias(x) for x in v]
        if isinstance(v, dict):
            return {k: alias(x) for k, x in v.items()}
        return v

    lines = []
    for line in raw.decode().splitlines():
        e = json.loads(line)
        for k in ("hash", "signature", "prev_hash", "new_key_signature"):
            e.pop(k, None)
        lines.append(json.dumps(alias(e), separators=(",", ":"), ensure_ascii=False))
    seed("ledger_line", b"\x01" + "\n".join(lines).encode())

# exec_answer: byte 0 picks the line limit (1 + 16 × byte), byte 1 the read buffer, then stdout.
answers = [
    b'{"id":1,"verdict":"accept","facts":{"block_id":"' + b"ab" * 32 + b'","leader_id":"leader-1"}}\n',
    b'{"id":1,"verdict":"reject","reason":"leader.missing","detail":"no leader record"}\n',
    b'{"id":1,"error":"the verifier failed"}\n',
    b'{"id":1,"verdict":"accept"}\n{"id":2,"verdict":"reject","reason":"r","facts":{}}\n{"id":3,"error":null}\n',
    b'{"id":2,"verdict":"accept"}\n',
    b'{"id":1,"verdict":"maybe"}\n',
    b'{"id":1,"verdict":"accept","facts":{"n":1}}\n',
    b'not json\n',
    b'{"id":1,"verdict":"accept","detail":"\xff\xfe"}\n',
]
for a in answers:
    seed("exec_answer", bytes([255, 63]) + a)
seed("exec_answer", bytes([2, 7]) + b'{"id":1,"verdict":"accept","facts":{"x":"' + b"y" * 64 + b'"}}\n')

dump = os.path.join(work, "block_info.dump")
records = []
if os.path.exists(dump):
    text = open(dump).read().split("HEADER=END\n", 1)[-1]
    lines = [l.strip() for l in text.splitlines() if l.startswith(" ")]
    records = [bytes.fromhex(v) for v in lines[1::2]]
for r in records[:64]:
    if len(r) == 96:
        seed("block_info", r)
        # The same block in X-Cash's 80-byte layout: no high difficulty word, no long-term weight.
        seed("block_info", r[:40] + r[48:88])
if not records:
    for h in range(8):
        v5 = struct.pack("<6Q", h, 1_600_000_000 + h, 10 * h, 300 + h, h + 1, 0) + bytes([h]) * 32
        v5 += struct.pack("<2Q", h, 300 + h)
        seed("block_info", v5)
        seed("block_info", v5[:40] + v5[48:88])

for t in sorted(os.listdir("fuzz/corpus")):
    n = len(os.listdir(os.path.join("fuzz/corpus", t)))
    print(f"fuzz-corpus: {t}: {n} seeds ({counts.get(t, 0)} new)")
EOF
