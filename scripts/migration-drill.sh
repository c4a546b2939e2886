#!/usr/bin/env bash
# The migration drill: a whole consensus migration, end to end, on one machine, against real daemons.
#
#   scripts/migration-drill.sh [EVIDENCE_DIR]        (default: drill/, which must not exist yet)
#
# Three regtest monerods (Debian's) joined as one P2P network on loopback; leader keys and gate
# operators; the isolation pre-flight; LEGACY -> SHADOW on a quorum's approval; a SHADOW period with
# the leader producer, follow on every node with metrics and fleet over all three; a planted leader
# fault and a candidate bug (a split) found, the gate refusing, the bug turned into a golden vector and
# fixed; SHADOW -> PRIMARY, a rollback drill, PRIMARY -> ONLY held back by an active allowlist entry
# until it expires; and an audit of the evidence by a separate invocation. Every step is a dualrun
# command and a check of its outcome: the drill exits 1 at the first outcome that is not the expected
# one (or a command that fails), naming it, 2 when it cannot start, and 0 when the whole journey went
# as it must. EVIDENCE_DIR/README.md says what each file it leaves is; EVIDENCE_DIR.work/ keeps what is
# not evidence (the private keys, the daemons' data directories); docs/migration-network.md walks the
# same steps for a real network.
#
# Needs monerod (Debian's `monero`), curl, jq, python3, and for the build python3.11 with libpython3.11.
# DUALRUN names the dualrun binary to use; without it the drill builds the release binary first.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"

out="${1:-drill}"
out="${out%/}"
for dir in "$out" "$out.work"; do
    if [ -e "$dir" ]; then
        echo "migration-drill: $dir exists; give a new evidence directory (or remove it)" >&2
        exit 2
    fi
done
for tool in monerod curl jq python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "migration-drill: $tool is needed (ci/test.sh installs it)" >&2; exit 2; }
done
if [ -z "${DUALRUN:-}" ]; then
    echo "migration-drill: building dualrun (cargo build --release)" >&2
    (cd "$repo" && cargo build --release --locked -q)
    DUALRUN="$repo/target/release/dualrun"
fi
if [ ! -x "$DUALRUN" ] || [ -d "$DUALRUN" ]; then
    echo "migration-drill: DUALRUN=$DUALRUN is not an executable file" >&2
    exit 2
fi
DUALRUN="$(cd "$(dirname "$DUALRUN")" && pwd)/$(basename "$DUALRUN")"
mkdir -p "$out" "$out.work"
D="$(cd "$out" && pwd)"
W="$D.work" # not evidence: the private keys, the daemons' data directories, scratch copies
L="$D/logs" # every command's standard output and error
mkdir -p "$W/keys" "$L" "$D/runs" "$D/chains" "$D/legacy" "$D/evaluations"
exec > >(tee "$D/transcript.log") 2>&1
tee_pid=$!
started=$SECONDS

# ---------------------------------------------------------------------------------------------- helpers
step_no=0
log_no=0 # numbers the logs of commands run more than once
step() {
    step_no=$((step_no + 1))
    printf '\n== %d. %s  [%d s]\n' "$step_no" "$1" "$((SECONDS - started))"
}
note() { printf '   %s\n' "$*"; }
fail() {
    printf '\nDRILL FAILED at step %d: %s\n' "$step_no" "$*"
    exit 1
}
# Any command that fails outside a check is a failed step too, named (in a command substitution the
# subshell only exits; the command that used it then fails here).
on_error() {
    local code=$? line="$1" command="$2"
    [ "$BASH_SUBSHELL" -eq 0 ] || exit "$code"
    fail "line $line: $command exited $code"
}
set -E
trap 'on_error "$LINENO" "$BASH_COMMAND"' ERR
ok() { printf '   ok: %s\n' "$*"; }
# A path as the transcript shows it: relative to the evidence directory.
rel() { local a="$*"; printf '%s' "${a//$D\//}"; }

# show ARGS…: a command as the transcript prints it, quoted where the shell needs it.
show() {
    local a out="   \$"
    for a in "$@"; do
        a="$(rel "$a")"
        if [ "$a" = "&" ]; then
            out+=" &" # the transcript's mark of a command left running in the background
        elif [[ "$a" =~ [^A-Za-z0-9_./:=@,+%-] ]]; then out+=" '${a//\'/\'\\\'\'}'"; else out+=" $a"; fi
    done
    printf '%s\n' "$out"
}
# expect CODE NAME dualrun ARGS…: runs dualrun, its output kept in logs/NAME.{out,err}, and
# requires exit CODE.
expect() {
    local want="$1" name="$2"
    shift 2
    show dualrun "$@"
    local code=0
    "$DUALRUN" "$@" >"$L/$name.out" 2>"$L/$name.err" || code=$?
    if [ "$code" != "$want" ]; then
        sed 's/^/     | /' "$L/$name.out" | tail -n 15
        sed 's/^/     ! /' "$L/$name.err" | tail -n 15
        fail "dualrun $(rel "$1 $2") exited $code, expected $want"
    fi
    printf '     -> exit %s, as expected\n' "$code"
}
# The standard output of the last `expect NAME`.
said() { cat "$L/$1.out"; }
# require COMMAND… -- MESSAGE: the check must hold.
require() {
    local msg="${*: -1}"
    set -- "${@:1:$#-2}"
    "$@" || fail "expected: $msg"
    ok "$msg"
}
equal() { [ "$1" = "$2" ] || { printf '     got %q, want %q\n' "$1" "$2"; return 1; }; }

# The background processes still running (daemons, follows, fleets), stopped on any exit.
declare -A running=()
started_bg() { running[$1]=1; }
# within SECONDS COMMAND…: COMMAND holds, asked every 0.3 s; false once SECONDS have passed without.
within() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.3
    done
}
gone() { ! kill -0 "$1" 2>/dev/null; }
# stop PID: SIGTERM, then SIGKILL after 60 s; sets `stopped_code` to its exit status.
stop() {
    kill -TERM "$1" 2>/dev/null || true
    within 60 gone "$1" || kill -KILL "$1" 2>/dev/null || true
    stopped_code=0
    wait "$1" 2>/dev/null || stopped_code=$?
    unset "running[$1]"
}
cleanup() {
    local p
    trap - ERR
    for p in "${!running[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${!running[@]}"; do stop "$p"; done
    exec >&- 2>&-
    wait "$tee_pid" 2>/dev/null || true
}
trap cleanup EXIT

# Free loopback ports below the ephemeral range (32768 and up), so no outgoing connection the drill
# makes in the meantime takes one before its server binds it.
free_ports() {
    python3 - "$1" <<'EOF'
import random, socket, sys
found = []
while len(found) < int(sys.argv[1]):
    port = random.randrange(20000, 32000)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
    if port not in found:
        found.append(port)
print(" ".join(map(str, found)))
EOF
}
read -r -a ports <<<"$(free_ports 15)"
p2p=("${ports[@]:0:3}") rpc=("${ports[@]:3:3}") zmq=("${ports[@]:6:3}") metrics=("${ports[@]:9:3}")
fleet_metrics=("${ports[12]}" "${ports[13]}")
url() { printf 'http://127.0.0.1:%s' "${rpc[$1]}"; }
daemon_pid=("" "" "")

# start_node I [EXTRA…]: node I (0-based) of the network, its peers the two others, on its own chain.
start_node() {
    local i="$1" j args=()
    shift
    for j in 0 1 2; do [ "$j" = "$i" ] || args+=(--add-exclusive-node "127.0.0.1:${p2p[$j]}"); done
    mkdir -p "$W/n$((i + 1))"
    monerod --regtest --fixed-difficulty 1 --non-interactive --no-igd --disable-dns-checkpoints \
        --check-updates disabled --hide-my-port --rpc-ssl disabled \
        --p2p-bind-ip 127.0.0.1 --rpc-bind-ip 127.0.0.1 --zmq-rpc-bind-ip 127.0.0.1 \
        --p2p-bind-port "${p2p[$i]}" --rpc-bind-port "${rpc[$i]}" --zmq-rpc-bind-port "${zmq[$i]}" \
        "${args[@]}" --out-peers 2 --max-connections-per-ip 8 --data-dir "$W/n$((i + 1))" --log-file "$W/n$((i + 1))/monerod.log" \
        "$@" >>"$W/monerod-n$((i + 1)).out" 2>&1 &
    daemon_pid[$i]=$!
    started_bg $!
}
stop_node() { stop "${daemon_pid[$1]}"; }
height() { curl -s --max-time 2 "$(url "$1")/get_height" | jq -r '.height // empty' 2>/dev/null || true; }
# heights_are H: every node's chain holds H blocks (heights 0..H-1).
heights_are() {
    local i
    for i in 0 1 2; do [ "$(height "$i")" = "$1" ] || return 1; done
}
wait_heights() { within "$2" heights_are "$1"; } # wait_heights H SECONDS
rpc_call() { curl -s --max-time 10 "$(url "$1")/json_rpc" -d "$2"; }
# has_peer I: node I has a peer (a connection either way).
has_peer() {
    local n
    n="$(rpc_call "$1" '{"jsonrpc":"2.0","id":0,"method":"get_info"}' |
        jq -r '(.result.incoming_connections_count // 0) + (.result.outgoing_connections_count // 0)' 2>/dev/null || true)"
    [ "${n:-0}" -ge 1 ]
}
connected() { within "$2" has_peer "$1"; } # connected I SECONDS
# The metric NAME{LABELS} as follow I serves it (empty when absent).
metric() { curl -s --max-time 2 "http://127.0.0.1:${metrics[$1]}/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }
judged_is() { [ "$(metric "$1" dualrun_judged_height)" = "$2" ]; }
wait_judged() { within "$3" judged_is "$1" "$2"; } # wait_judged I HEIGHT SECONDS
# Every record of a run directory (divergences, errors, fallbacks, …) as "height:class" words, in order.
records() { jq -r '"\(.height):\(.class)"' "$1/divergences.jsonl" | tr '\n' ' ' | sed 's/ $//'; }
block_id_at() { jq -r --argjson h "$2" 'select(.height == $h) | .block_id' "$1/divergences.jsonl" | head -n 1; }

legacy=(--legacy python:drill_legacy --python-path "$D/legacy")
# follow_of NAME NODE PROFILE MODE: sets `follow` to the follow command of run NAME on node NODE.
follow_of() {
    follow=(follow --daemon "$(url "$2")" --profile "$3" "${legacy[@]}" --mode "$4" --out "$D/runs/$1" --poll-ms 100)
}
follow_bg() { # follow_bg NAME NODE PROFILE MODE FROM [METRICS_INDEX]: a live run in the background
    local name="$1" i="$2" m=()
    [ -n "${6:-}" ] && m=(--metrics "127.0.0.1:${metrics[$6]}")
    follow_of "$name" "$i" "$3" "$4"
    show dualrun "${follow[@]}" --from "$5" "${m[@]}" "&"
    "$DUALRUN" "${follow[@]}" --from "$5" "${m[@]}" >"$L/$name.out" 2>"$L/$name.err" &
    follow_pid[$i]=$!
    started_bg $!
}
# close_follow NAME NODE PROFILE MODE TO WANT: stop the live run (exit 2, checkpointed) and close it over
# from..=TO by resuming with --to, as an operator closes a run for the gate; WANT is the closing exit.
close_follow() {
    local name="$1" i="$2"
    stop "${follow_pid[$i]}"
    [ "$stopped_code" = 2 ] || { tail -n 5 "$L/$name.err"; fail "follow runs/$name stopped with exit $stopped_code, expected 2"; }
    follow_of "$name" "$i" "$3" "$4"
    expect "$6" "$name-close" "${follow[@]}" --resume --to "$5"
    equal "$(jq -r '.complete' "$D/runs/$name/manifest.json")" true || fail "runs/$name is not complete"
}
follow_pid=("" "" "")
# fleet_bg NAME [ARGS…]: dualrun fleet over the three nodes, in the background.
fleet_bg() {
    local name="$1" f=(fleet --daemon "n1=$(url 0)" --daemon "n2=$(url 1)" --daemon "n3=$(url 2)" --poll-ms 200
        --split-depth 2 --unreachable-seconds 120)
    shift
    show dualrun "${f[@]}" --out "$D/runs/$name" "$@" "&"
    "$DUALRUN" "${f[@]}" --out "$D/runs/$name" "$@" >"$L/$name.out" 2>"$L/$name.err" &
    fleet_pid=$!
    started_bg $!
}
# fleet_sees PORT TIP: the fleet serving metrics on PORT has seen all three nodes at TIP.
fleet_sees() {
    [ "$(curl -s --max-time 2 "http://127.0.0.1:$1/metrics" |
        awk -v t="$2" '$1 ~ /^dualrun_fleet_node_height/ && $2 == t { n++ } END { print n + 0 }')" = 3 ]
}
# end_fleet NAME METRICS_PORT TIP: once the fleet has seen every node at TIP, stop it (it ends complete)
# and require that it agreed and that its summary has every node at TIP.
end_fleet() {
    local name="$1" port="$2" tip="$3"
    within 60 fleet_sees "$port" "$tip" || fail "fleet runs/$name did not see the three nodes at height $tip within 60 s"
    stop "$fleet_pid"
    require equal "$stopped_code" 0 -- "fleet runs/$name ended complete, exit 0: the nodes agreed throughout"
    require equal "$(jq -r '[.agreed, (.nodes | map(.tip) | unique)] | tostring' "$D/runs/$name/summary.json")" "[true,[$tip]]" \
        -- "runs/$name/summary.json: agreed, every node watched up to its tip $tip"
}
# digest_in FILE: the evaluation digest of a `gate evaluate --format json` output (64 hex digits).
digest_in() {
    local d
    d="$(jq -er '.evaluation_digest' "$1")"
    [[ "$d" =~ ^[0-9a-f]{64}$ ]] || fail "$(rel "$1"): no evaluation digest"
    printf '%s' "$d"
}
# approve MODE DIGEST OPERATOR…: each operator's signed approval of the move to MODE.
approve() {
    local mode="$1" digest="$2" op
    shift 2
    for op in "$@"; do
        expect 0 "approve-$mode-$op-$((++log_no))" gate approve --ledger "$D/ledger.jsonl" --key "$W/keys/$op.key" \
            --to "$mode" --evaluation-digest "$digest"
    done
}
# mode_is MODE: gate status says the ledger is in MODE.
mode_is() {
    local name="status-$1-$((++log_no))"
    expect 0 "$name" gate status --ledger "$D/ledger.jsonl" --format json
    equal "$(said "$name" | jq -r '.mode')" "$1"
}
# The criteria of an evaluation (gate evaluate --format json) that did not pass, by name.
failing() { jq -er 'if (.criteria | length) > 0 then [.criteria[] | select(.outcome != "pass") | .name] | join(" ") else error("no criteria") end' "$1"; }
# A follow that judges blocks already on a node, from FROM to TO, in the foreground.
follow_range() { # follow_range NAME NODE PROFILE MODE FROM TO WANT
    follow_of "$1" "$2" "$3" "$4"
    expect "$7" "$1" "${follow[@]}" --from "$5" --to "$6"
}
# evaluation WANT FILE ARGS…: `gate evaluate ARGS… --format json` must exit WANT; its output is kept as
# evaluations/FILE.json.
evaluation() {
    local want="$1" file="$2"
    shift 2
    expect "$want" "eval-$file" gate evaluate "$@" --format json
    said "eval-$file" >"$D/evaluations/$file.json"
}

# What each file of the evidence directory is (written once the drill passed).
write_readme() { sed "s|@DRILL@|$D|g" "$repo/scripts/drill/evidence-README.md" >"$D/README.md"; }

# ------------------------------------------------------------------------------------------------ steps
cp "$repo/scripts/drill/drill_legacy.py" "$D/legacy/"
echo "migration drill into $D (dualrun: $DUALRUN)"

step "A migration network: three regtest monerods, one P2P network on loopback"
for i in 0 1 2; do start_node "$i"; done
note "monerod --regtest --fixed-difficulty 1 --max-connections-per-ip 8 ×3, each --add-exclusive-node for the other two (P2P ports ${p2p[*]}), RPC on 127.0.0.1 (${rpc[*]})"
wait_heights 1 90 || fail "the three daemons did not answer within 90 s (see $W/monerod-n*.out)"
wallet=42ey1afDFnn4886T7196doS9GPMzexD9gXpsZJDwVjeRVdFCSoHnv7KPbBeGpzJBzHRCAs9UxqeoyFQMYbqSWYTfJJQAWDm
# A daemon answers BUSY until it has heard from its peers that it is synchronized.
deadline=$((SECONDS + 60))
while :; do
    mined="$(curl -s --max-time 120 "$(url 0)/json_rpc" \
        -d "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"generateblocks\",\"params\":{\"amount_of_blocks\":20,\"wallet_address\":\"$wallet\"}}")"
    [ "$(jq -r '.result.status' <<<"$mined" 2>/dev/null)" = BUSY ] && [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.5
done
equal "$(jq -r '.result.blocks | length' <<<"$mined" 2>/dev/null)" 20 || fail "generateblocks on n1 answered ${mined:0:300}"
ok "n1 mined 20 ordinary blocks (generateblocks)"
require wait_heights 21 60 -- "all three nodes hold the same 21 blocks (0..20): they are one network"
genesis="$(rpc_call 0 '{"jsonrpc":"2.0","id":0,"method":"get_block_header_by_height","params":{"height":0}}' | jq -r '.result.block_header.hash')"
note "genesis $genesis"

step "Keys: three leaders (round-robin with failover), three gate operators (quorum 2 of 3), an auditor"
declare -A pub
for id in leader-1 leader-2 leader-3 alice bob carol auditor; do
    expect 0 "keygen-$id" keygen --id "$id" --out "$W/keys/$id.key"
    pub[$id]="$(said "keygen-$id" | awk '{print $2}')"
    printf '%s %s\n' "$id" "${pub[$id]}" >>"$D/public-keys.txt"
done
validators=""
for id in leader-1 leader-2 leader-3; do
    validators+=$'\n'"[[leader.validators]]"$'\n'"id = \"$id\""$'\n'"public_key = \"${pub[$id]}\""$'\n'
done
profile_text() { # profile_text ACTIVATION
    cat <<EOF
# The drill network's profile (activation at height $1).
[network]
name = "dualrun-drill"
network_id = "6475616c72756e2d6472696c6c000001"
genesis_id = "$genesis"

[leader]
activation_height = $1
schedule = "round-robin"
failover_seconds = 30
min_interval_seconds = 0

[leader.finality]
quorum = "2/3"
activation_height = $1
$validators
EOF
}
profile_text 21 >"$D/network.toml"
profile_text 24 >"$D/candidate-v1.toml"
note "network.toml: the network's parameters (leader rules from height 21), as the leaders run them"
note "candidate-v1.toml: the profile the candidate build shipped with: activation_height 24 (the bug the drill finds)"
cat >"$D/policy.toml" <<EOF
# The drill's gate policy. A regtest network shares mainnet's P2P id and cannot prove isolation
# (docs/migration-network.md), so require_isolation is off; the isolation evidence is kept all the same.
profile_digest = "PROFILE_DIGEST"

[to_shadow]
require_golden = true

[to_primary]
min_blocks = 100
max_divergences = 0
max_error_rate = 0.0
require_golden = true
require_isolation = false
require_fleet = true

[to_only]
min_blocks = 15
max_divergences = 0
max_error_rate = 0.001
# The drill checks outcomes, not speed: its PRIMARY runs of 5 and 10 blocks have no p99 of their own
# (the gate would call the bound inconclusive), and a timed outcome would make the drill fail on a
# loaded machine. A real network keeps the default 1.0 over weeks of blocks.
max_latency_ratio_p99 = "none"
require_golden = true
require_isolation = false
require_fleet = true

[quorum]
approvals = 2
operators = ["${pub[alice]}", "${pub[bob]}", "${pub[carol]}"]
EOF
# The policy pins the profile the evidence must be made with: the one RUN was made with.
pin_profile_of() { sed -i "s/^profile_digest = .*/profile_digest = \"$(jq -r '.inputs.profile.digest' "$D/runs/$1/manifest.json")\"/" "$D/policy.toml"; }

step "Isolation pre-flight: net isolation against every node, its evidence kept"
expect 1 isolation net isolation --profile "$D/network.toml" \
    --peer "127.0.0.1:${p2p[0]}" --peer "127.0.0.1:${p2p[1]}" --peer "127.0.0.1:${p2p[2]}" --out "$D/isolation.json"
findings_of() { jq -r --arg f "$1" '[.findings[] | select(.finding == $f) | .peer] | unique | length' "$D/isolation.json"; }
require equal "$(findings_of own_refused) $(findings_of foreign_accepted)" "3 3" \
    -- "every node refuses the network's own P2P id and takes a peer of mainnet: a regtest network cannot prove isolation"
require equal "$(jq -r '[.checks[].peer] | unique | length' "$D/isolation.json")" 3 -- "isolation.json holds the three nodes' handshakes"
require equal "$(jq -r '.proven' "$D/isolation.json")" false -- "isolation.json says: not proven"

step "LEGACY -> SHADOW: gate init, a dry run of both verifiers, evaluate, two approvals, promote"
cp -r "$repo/golden-vectors" "$D/golden"
expect 0 gate-init gate init --ledger "$D/ledger.jsonl" --key "$W/keys/alice.key" --operator alice
follow_range pre-shadow-n1 0 "$D/candidate-v1.toml" shadow 1 20 0
pin_profile_of pre-shadow-n1
to_shadow=(--ledger "$D/ledger.jsonl" --policy "$D/policy.toml" --golden "$D/golden" --evidence "$D/runs/pre-shadow-n1")
evaluation 0 legacy-to-shadow "${to_shadow[@]}"
d_shadow="$(digest_in "$D/evaluations/legacy-to-shadow.json")"
expect 1 promote-shadow-unapproved gate promote "${to_shadow[@]}" --key "$W/keys/alice.key" --reason "shadow"
require grep -q "$d_shadow" "$L/promote-shadow-unapproved.out" "$L/promote-shadow-unapproved.err" -- "promote without approvals is refused, naming the evaluation digest to approve"
approve shadow "$d_shadow" alice bob
expect 0 promote-shadow gate promote "${to_shadow[@]}" --key "$W/keys/alice.key" \
    --reason "SHADOW: both verifiers agree on the 20 blocks before activation; golden vectors pass"
require mode_is shadow -- "the ledger is in SHADOW"

step "SHADOW period: leader blocks with finality votes on n1; follow on every node; fleet over all three"
for i in 0 1 2; do follow_bg "shadow-v1-n$((i + 1))" "$i" "$D/candidate-v1.toml" shadow 1 "$i"; done
fleet_bg fleet-shadow --metrics "127.0.0.1:${fleet_metrics[0]}"
for i in 0 1 2; do require wait_judged "$i" 20 60 -- "follow on n$((i + 1)) judged the chain so far (dualrun_judged_height 20)"; done
expect 0 produce-shadow leader produce --daemon "$(url 0)" --profile "$D/network.toml" \
    --key "$W/keys/leader-1.key" --key "$W/keys/leader-2.key" --key "$W/keys/leader-3.key" --blocks 20 \
    --fault 22:missing --fault 30:bad-signature --compete 35:failover \
    --votes-out "$D/votes-shadow.jsonl" --expected "$D/produced-shadow.csv"
note "blocks 21..40 signed by the scheduled leaders; two planted on purpose: 22 without a leader record, 30 with a bad signature"
require grep -q "height 35: kept" "$L/produce-shadow.err" -- "at 35 the failover validator's block came first and is kept; the scheduled leader's is an alternative"
require wait_heights 41 60 -- "the three nodes hold blocks 0..40"
for i in 0 1 2; do require wait_judged "$i" 40 60 -- "follow on n$((i + 1)) judged block 40"; done
for i in 0 1 2; do
    require equal "$(metric "$i" 'dualrun_divergences_total{class="halt"}') $(metric "$i" 'dualrun_divergences_total{class="split"}')" "1 1" \
        -- "n$((i + 1)) metrics: one halt, one split"
done
end_fleet fleet-shadow "${fleet_metrics[0]}" 40
for i in 0 1 2; do close_follow "shadow-v1-n$((i + 1))" "$i" "$D/candidate-v1.toml" shadow 40 1; done
for i in 1 2 3; do
    require equal "$(records "$D/runs/shadow-v1-n$i")" "22:split 30:halt" \
        -- "n$i records a split at 22 and a halt at the planted leader fault (30), and nothing else (no error, no fallback)"
done
halt_id="$(block_id_at "$D/runs/shadow-v1-n1" 30)"
[[ "$halt_id" =~ ^[0-9a-f]{64}$ ]] || fail "runs/shadow-v1-n1 names no block id at height 30"
note "block 30 is $halt_id"
stop_node 1
mkdir -p "$D/chains/n2-shadow"
cp "$W/n2/fake/lmdb/data.mdb" "$D/chains/n2-shadow/data.mdb"
start_node 1 --keep-fakechain
note "n2 stopped, its chain copied to chains/n2-shadow/, n2 restarted on its chain"
expect 1 replay-v1-n2 replay --chain "$D/chains/n2-shadow" --profile "$D/candidate-v1.toml" "${legacy[@]}" \
    --mode shadow --from 1 --to 40 --out "$D/runs/replay-v1-n2"
require cmp -s "$D/runs/shadow-v1-n2/divergences.csv" "$D/runs/replay-v1-n2/divergences.csv" -- "the cold replay of n2's chain records byte for byte what follow recorded live"
require equal "$(jq -r '.inputs.chain.chain_digest' "$D/runs/shadow-v1-n2/manifest.json")" \
    "$(jq -r '.inputs.chain.chain_digest' "$D/runs/replay-v1-n2/manifest.json")" -- "live and cold chain digests are equal"
expect 0 finality leader finality --chain "$D/chains/n2-shadow" --profile "$D/network.toml" --votes "$D/votes-shadow.jsonl"
said finality >"$D/finality-shadow.csv"
require equal "$(grep -c ',final,' "$D/finality-shadow.csv")" 20 -- "every leader block 21..40 is final under the committee's votes (2 of 3)"
expect 1 leader-check leader check --chain "$D/chains/n2-shadow" --profile "$D/network.toml" --from 21
require cmp -s "$L/leader-check.out" "$D/produced-shadow.csv" \
    -- "leader check of n2's copy gives every block 21..40 the verdict the producer expected of it, byte for byte"
leader_at() { awk -F, -v h="$1" '$1 == h { print $5 }' "$D/produced-shadow.csv"; }
require equal "$(leader_at 35 | grep -c '^leader-[123]$') $([ "$(leader_at 35)" != "$(leader_at 32)" ] && echo failover)" "1 failover" \
    -- "block 35 is signed by the failover validator ($(leader_at 35)), not by the leader scheduled for its slot ($(leader_at 32)), and accepted"
require connected 1 60 -- "n2 is back in the network (connected to a peer)"
# The losing block of the race stays with the node it was submitted to: n1's chain holds it.
stop_node 0
mkdir -p "$D/chains/n1-shadow"
cp "$W/n1/fake/lmdb/data.mdb" "$D/chains/n1-shadow/data.mdb"
start_node 0 --keep-fakechain
note "n1 stopped, its chain (with the alternative block it was given) copied to chains/n1-shadow/, n1 restarted on its chain"
expect 1 forks leader forks --chain "$D/chains/n1-shadow" --profile "$D/network.toml"
said forks >"$D/forks-shadow.csv"
# Each row as height:main_chain:verdict:rank:canonical:finding.
require equal "$(awk -F, 'NR > 1 { print $1 ":" $4 ":" $5 ":" $7 ":" $8 ":" $9 }' "$D/forks-shadow.csv" | sort | paste -sd ' ')" \
    "35:false:accept:0:true: 35:true:accept:1:false: 35:true:accept:1:false:fork.not_canonical" \
    -- "leader forks of n1's copy: one race, at 35, both blocks valid; the failover block (rank 1) is on the main chain, the scheduled leader's (rank 0) is the canonical one, and the finding says so"
require connected 0 60 -- "n1 is back in the network (connected to a peer)"
require wait_heights 41 60 -- "n2 holds the network's 41 blocks"

step "A candidate bug: the split at 22 refuses SHADOW -> PRIMARY; it becomes a golden vector; the fix"
cat >"$D/allowlist.toml" <<EOF
# The planted leader fault of the drill: the leader's bad signature at height 30 is the candidate
# rejecting a bad block; the legacy (which checks no leader signatures) accepts it.
[[entries]]
block_id = "$halt_id"
class = "halt"
justification = "planted leader fault of the migration drill (bad signature at height 30)"
author = "alice"
expires_height = 50
EOF
v1_evidence=(--evidence "$D/runs/shadow-v1-n1" "$D/runs/shadow-v1-n2" "$D/runs/shadow-v1-n3" "$D/runs/replay-v1-n2")
evaluation 1 shadow-to-primary-refused --ledger "$D/ledger.jsonl" --policy "$D/policy.toml" --golden "$D/golden" \
    "${v1_evidence[@]}" --fleet "$D/runs/fleet-shadow" --allowlist "$D/allowlist.toml"
require equal "$(failing "$D/evaluations/shadow-to-primary-refused.json")" "no_splits max_divergences" \
    -- "the gate refuses SHADOW -> PRIMARY on the splits alone (no_splits: a split is never excused); the halts are allowlisted"
note "cause: block 22 has no leader record; the candidate, deployed with activation_height 24, took it for a pre-activation block"
expect 0 golden-record golden record --run "$D/runs/shadow-v1-n2" --height 22 --out "$D/golden/drill" --profile "$D/network.toml"
vector="$(said golden-record)"
require equal "$(jq -r '.expected.verdict + " " + .expected.reason' "$vector")" "reject leader.missing" -- "the vector expects the legacy's verdict: reject, leader.missing"
expect 0 golden-legacy golden check "$D/golden/drill" --legacy "python:drill_legacy" --python-path "$D/legacy"
ok "the candidate on network.toml and the network's legacy both pass the vector"
expect 0 golden-as-deployed golden record --run "$D/runs/shadow-v1-n2" --height 22 --out "$W/golden-as-deployed"
expect 1 golden-as-deployed-check golden check "$W/golden-as-deployed"
require grep -q "expected reject, got accept" "$L/golden-as-deployed-check.out" -- "under candidate-v1.toml the same block fails: the bug as deployed"
expect 0 golden-all golden check "$D/golden"
note "the fix: the candidate is redeployed with the network's profile (network.toml); SHADOW is judged again"
for i in 0 1 2; do follow_range "shadow-v2-n$((i + 1))" "$i" "$D/network.toml" shadow 1 40 1; done
expect 1 replay-v2-n2 replay --chain "$D/chains/n2-shadow" --profile "$D/network.toml" "${legacy[@]}" \
    --mode shadow --from 1 --to 40 --out "$D/runs/replay-v2-n2"
for r in shadow-v2-n1 shadow-v2-n2 shadow-v2-n3 replay-v2-n2; do
    require equal "$(records "$D/runs/$r")" "30:halt" -- "runs/$r: the split is gone; the planted halt at 30 remains"
done
pin_profile_of shadow-v2-n1
note "policy.toml now pins network.toml's digest"

step "SHADOW -> PRIMARY on the combined evidence, two approvals; a rollback drill and forward again"
to_primary=(--ledger "$D/ledger.jsonl" --policy "$D/policy.toml" --golden "$D/golden"
    --evidence "$D/runs/shadow-v2-n1" "$D/runs/shadow-v2-n2" "$D/runs/shadow-v2-n3" "$D/runs/replay-v2-n2"
    --fleet "$D/runs/fleet-shadow" --allowlist "$D/allowlist.toml")
evaluation 1 shadow-to-primary-isolation-refused "${to_primary[@]}" --isolation "$D/isolation.json"
require equal "$(failing "$D/evaluations/shadow-to-primary-isolation-refused.json")" isolation.proven \
    -- "given the isolation evidence, the gate refuses on isolation.proven alone: this network could take Monero's peers"
evaluation 0 shadow-to-primary "${to_primary[@]}"
require equal "$(jq -r '.outcome' "$D/evaluations/shadow-to-primary.json")" pass -- "the evaluation passes (the halt excused by the allowlist, the fleet agreed)"
d_primary="$(digest_in "$D/evaluations/shadow-to-primary.json")"
approve primary "$d_primary" bob carol
expect 0 promote-primary gate promote "${to_primary[@]}" --key "$W/keys/bob.key" \
    --reason "PRIMARY: shadow on n1-n3 and a cold replay agree but for the allowlisted planted fault; fleet agreed"
expect 0 rollback gate rollback --ledger "$D/ledger.jsonl" --to shadow --key "$W/keys/carol.key" --reason "rollback drill"
require mode_is shadow -- "rolled back to SHADOW at once"
expect 1 promote-primary-stale gate promote "${to_primary[@]}" --key "$W/keys/bob.key" --reason "forward again"
require grep -q "has 0" "$L/promote-primary-stale.err" -- "approvals given before the rollback do not count: the quorum approves again"
approve primary "$d_primary" alice carol
expect 0 promote-primary-2 gate promote "${to_primary[@]}" --key "$W/keys/alice.key" --reason "PRIMARY again after the rollback drill"
require mode_is primary -- "the ledger is in PRIMARY"

step "PRIMARY -> ONLY: refused while the allowlist entry is active (until height 50), passed once it expires"
for i in 0 1 2; do follow_bg "primary-a-n$((i + 1))" "$i" "$D/network.toml" primary 41 "$i"; done
fleet_bg fleet-primary --metrics "127.0.0.1:${fleet_metrics[1]}"
leader_keys=(--key "$W/keys/leader-1.key" --key "$W/keys/leader-2.key" --key "$W/keys/leader-3.key")
expect 0 produce-primary-a leader produce --daemon "$(url 0)" --profile "$D/network.toml" "${leader_keys[@]}" --blocks 5
require wait_heights 46 60 -- "the nodes hold blocks 0..45"
for i in 0 1 2; do require wait_judged "$i" 45 60 -- "follow (primary) on n$((i + 1)) judged block 45"; done
for i in 0 1 2; do close_follow "primary-a-n$((i + 1))" "$i" "$D/network.toml" primary 45 0; done
to_only=(--ledger "$D/ledger.jsonl" --policy "$D/policy.toml" --golden "$D/golden" --allowlist "$D/allowlist.toml")
evaluation 1 primary-to-only-refused "${to_only[@]}" \
    --evidence "$D/runs/primary-a-n1" "$D/runs/primary-a-n2" "$D/runs/primary-a-n3" --fleet "$D/runs/fleet-shadow"
require equal "$(failing "$D/evaluations/primary-to-only-refused.json")" no_active_allowlist_entries \
    -- "PRIMARY -> ONLY refused on one criterion only: the allowlist entry is active until the evidence reaches 50"
for i in 0 1 2; do follow_bg "primary-b-n$((i + 1))" "$i" "$D/network.toml" primary 46 "$i"; done
expect 0 produce-primary-b leader produce --daemon "$(url 0)" --profile "$D/network.toml" "${leader_keys[@]}" --blocks 10
require wait_heights 56 60 -- "the nodes hold blocks 0..55"
for i in 0 1 2; do require wait_judged "$i" 55 60 -- "follow (primary) on n$((i + 1)) judged block 55"; done
end_fleet fleet-primary "${fleet_metrics[1]}" 55
for i in 0 1 2; do close_follow "primary-b-n$((i + 1))" "$i" "$D/network.toml" primary 55 0; done
to_only+=(--evidence "$D/runs/primary-a-n1" "$D/runs/primary-a-n2" "$D/runs/primary-a-n3"
    "$D/runs/primary-b-n1" "$D/runs/primary-b-n2" "$D/runs/primary-b-n3" --fleet "$D/runs/fleet-primary")
evaluation 0 primary-to-only "${to_only[@]}"
require equal "$(failing "$D/evaluations/primary-to-only.json")" "" -- "PRIMARY -> ONLY passes on 41..55: the entry expired at 50"
d_only="$(digest_in "$D/evaluations/primary-to-only.json")"
approve only "$d_only" alice bob
expect 0 promote-only gate promote "${to_only[@]}" --key "$W/keys/bob.key" \
    --reason "ONLY: PRIMARY on n1-n3 over 41..55 without divergence; the allowlist entry expired at 50"
require mode_is only -- "the ledger is in ONLY"
for i in 0 1 2; do stop_node "$i"; done
note "the daemons are stopped"

step "Audit: the report over every run with the ledger, signed by the auditor, verified by a separate invocation"
all_runs=()
for r in "$D"/runs/*/; do
    if [ -e "$r/manifest.json" ]; then all_runs+=("${r%/}"); fi
done
expect 0 report report "${all_runs[@]}" --ledger "$D/ledger.jsonl" --out "$D/report.html" --markdown "$D/report.md"
for f in fleet-shadow fleet-primary; do expect 0 "report-$f" report "$D/runs/$f"; done
for r in "${all_runs[@]}" "$D/runs/fleet-shadow" "$D/runs/fleet-primary"; do
    expect 0 "sign-$(basename "$r")" report sign "$r" --key "$W/keys/auditor.key"
done
# Every file the evidence names — each run's chain, profile and legacy code, each run the ledger relies
# on — lies in the evidence directory: an auditor given it needs nothing else.
named_files() {
    local m
    for m in "$D"/runs/*/manifest.json; do
        jq -r '.inputs | (if .chain.live then empty else .chain.path end), .profile.path,
            (.settings.python_path // [])[], ([.legacy, .candidate][] | (.files // {}) | keys[])' "$m"
    done
    jq -r '.evidence[]? | .run // empty' "$D/ledger.jsonl"
}
require equal "$(named_files | grep -v "^$D/" | sort -u || true)" "" \
    -- "every chain, profile, legacy file and run the evidence names is inside the evidence directory"
{
    printf '#!/usr/bin/env bash\n'
    printf '# Where the drill wrote this directory: the ledger and the run manifests name files under it.\n'
    printf 'recorded=%q\n' "$D"
    cat <<'EOF'
# The auditor's check of this evidence directory, by itself: run from anywhere, with DUALRUN naming a
# dualrun binary (default: `dualrun` on PATH). Everything it reads is in this directory. The ledger and
# the run manifests name files by absolute path, under $recorded; a copy elsewhere is checked where it
# is (`--moved $recorded=HERE`), never at $recorded.
set -euo pipefail
cd "$(dirname "$0")"
here="$(pwd -P)"
moved=()
[ "$here" = "$recorded" ] || moved=(--moved "$recorded=$here")
dualrun="${DUALRUN:-dualrun}"
keys() { awk -v who="$1" '$1 == who { print $2 }' public-keys.txt; }
# The ledger: every entry's hash chain and signature, each promotion's quorum and evidence, against the
# operators' pinned keys.
"$dualrun" gate verify --ledger ledger.jsonl "${moved[@]}" \
    --trusted-key "$(keys alice)" --trusted-key "$(keys bob)" --trusted-key "$(keys carol)"
# Every run and fleet run: its attestation by the auditor's key, every file's digest; and the cold
# replays rerun.
for run in runs/*/; do
    run="${run%/}"
    [ -e "$run/manifest.json" ] || [ -e "$run/fleet.json" ] || continue
    case "$run" in
    runs/replay-*) "$dualrun" report verify "$run" --trusted-key "$(keys auditor)" --rerun "${moved[@]}" ;;
    *) "$dualrun" report verify "$run" --trusted-key "$(keys auditor)" ;;
    esac
done
echo "verify.sh: the ledger and every run check out, in $here"
EOF
} >"$D/verify.sh"
chmod +x "$D/verify.sh"
# verify_sh SCRIPT OUT: SCRIPT run as an auditor would, from / in an empty environment, its output into
# OUT; prints its exit code.
verify_sh() {
    local code=0
    (cd / && env -i PATH=/usr/bin:/bin DUALRUN="$DUALRUN" "$1") >"$2" 2>&1 || code=$?
    echo "$code"
}
printf '   $ env -i DUALRUN=… verify.sh   (a fresh environment that sees only the evidence directory)\n'
code="$(verify_sh "$D/verify.sh" "$L/verify.out")"
sed 's/^/     | /' "$L/verify.out" | tail -n 20
require equal "$code" 0 -- "the auditor's separate check passes: ledger, attestations, reruns"

step "An auditor's copy elsewhere: audited where it is, with the original out of reach, and an edit in it named"
copy="$W/auditor copy"
cp -a "$D" "$copy"
# The copy's own verify.sh, with the original moved out of reach: every check, the re-runs included,
# reads the copy.
printf '   $ mv %s %s.away; env -i DUALRUN=… "auditor copy/verify.sh"; mv back\n' "$(basename "$D")" "$(basename "$D")"
mv "$D" "$D.away"
code="$(verify_sh "$copy/verify.sh" "$W/verify-copy.out")"
mv "$D.away" "$D"
mv "$W/verify-copy.out" "$L/verify-sh-copy.out"
sed 's/^/     | /' "$L/verify-sh-copy.out" | tail -n 6
require equal "$code" 0 -- "the copy's verify.sh passes with the original gone: ledger, attestations, reruns, all read in the copy"
require grep -q "identical, the recorded paths read where the evidence is now" "$L/verify-sh-copy.out" \
    -- "the copy's cold replays were re-run from the copy"
operators=(--trusted-key "${pub[alice]}" --trusted-key "${pub[bob]}" --trusted-key "${pub[carol]}")
expect 0 verify-copy gate verify --ledger "$copy/ledger.jsonl" "${operators[@]}" --moved "$D=$copy"
expect 0 verify-copy-run report verify "$copy/runs/replay-v2-n2" --trusted-key "${pub[auditor]}"
sed -i 's/"halt"/"fact"/' "$copy/runs/replay-v2-n2/divergences.jsonl"
expect 1 verify-copy-edited-run report verify "$copy/runs/replay-v2-n2" --trusted-key "${pub[auditor]}"
require grep -q "divergences.jsonl" "$L/verify-copy-edited-run.out" "$L/verify-copy-edited-run.err" \
    -- "report verify names the edited file"
expect 1 verify-copy-edited gate verify --ledger "$copy/ledger.jsonl" "${operators[@]}" --moved "$D=$copy"
require grep -q "$copy/runs/replay-v2-n2" "$L/verify-copy-edited.out" "$L/verify-copy-edited.err" \
    -- "gate verify --moved fails on the copy's edited run, naming it: the audit read the copy, not the original"

write_readme
printf '\nDRILL PASSED in %d s: evidence in %s (README.md says what each file is)\n' "$((SECONDS - started))" "$D"
