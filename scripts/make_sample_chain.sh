#!/usr/bin/env bash
# Regenerates the bundled sample chain (harness/sample/) on a real monerod: 60 ordinary regtest blocks
# (varied extra-nonce payloads, one with an unknown extra tag), then 140 leader-signed blocks from the
# three throwaway test validators of harness/sample/profile.toml under round-robin, with two faults of
# every kind. The keys and profile are kept; data.mdb, expected.csv, leader-expected.csv, blocks.jsonl
# and fixture.json are replaced. Rebuild dualrun afterwards: the binary embeds data.mdb.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p dualrun
sample=harness/sample
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 600 "$sample"/keys/*.key
python3 scripts/make_fixture_chain.py --out "$tmp/chain" --blocks 60 --seed 2026 \
    --dualrun target/release/dualrun \
    --leader-profile "$sample/profile.toml" \
    --leader-key "$sample/keys/throwaway-test-leader-1.key" \
    --leader-key "$sample/keys/throwaway-test-leader-2.key" \
    --leader-key "$sample/keys/throwaway-test-leader-3.key" \
    --leader-blocks 140 \
    --fault 70:missing --fault 150:missing \
    --fault 85:unknown --fault 170:unknown \
    --fault 100:not-scheduled --fault 180:not-scheduled \
    --fault 115:bad-signature --fault 190:bad-signature \
    --fault 130:malformed --fault 195:malformed
for f in data.mdb expected.csv leader-expected.csv blocks.jsonl fixture.json; do
    cp "$tmp/chain/$f" "$sample/$f"
done
echo "sample chain regenerated in $sample"
