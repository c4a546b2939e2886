//! The crafted vector set for leader protocol v1: every rule and reason code, accepting and rejecting.
//!
//! Expectations here are written by hand from the specification, never computed by the validator; the
//! blocks are built and signed here too (ids come from `dualrun-format`, which is checked against
//! monerod). Keys are derived from fixed seeds, Ed25519 signatures are deterministic, so the set is the
//! same byte for byte on every run: a test regenerates it and compares with `golden-vectors/`.

use dualrun_format::block::{BlockHeader, TxOut, TxOutTarget};
use dualrun_format::{encode, keccak256, varint, Block, Hash32};
use ed25519_dalek::{Signer, SigningKey};

use crate::vector::{
    Case, Expected, ExpectedFacts, LeaderCase, Provenance, Vector, VectorBlock, VectorContext, VectorEnv, SCHEMA,
};

const GENERATOR: &str = "dualrun-golden crafted leader-v1 set, v1";
pub(crate) const NET_A: [u8; 16] = *b"dualrun-golden-A";
pub(crate) const NET_B: [u8; 16] = *b"dualrun-golden-B";
pub(crate) const T: u64 = 1_700_000_000;
const REGTEST_GENESIS: &str = "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3";
use dualrun_leader::record::RESERVE;

pub(crate) fn key(i: usize) -> SigningKey {
    SigningKey::from_bytes(&keccak256(format!("dualrun golden vectors / leader-{i}").as_bytes()).0)
}

pub(crate) fn id(i: usize) -> String {
    format!("leader-{i}")
}

pub(crate) struct ProfileSpec {
    pub(crate) schedule: &'static str,
    pub(crate) activation: u64,
    pub(crate) failover: u64,
    pub(crate) min_interval: u64,
}

pub(crate) const RR: ProfileSpec = ProfileSpec { schedule: "round-robin", activation: 1, failover: 0, min_interval: 0 };

pub(crate) fn profile_toml(p: &ProfileSpec) -> String {
    let mut s = format!(
        "[network]\nname = \"golden-a\"\nnetwork_id = \"{}\"\ngenesis_id = \"{REGTEST_GENESIS}\"\n\n\
         [leader]\nactivation_height = {}\nschedule = \"{}\"\nfailover_seconds = {}\nmin_interval_seconds = {}\n",
        hex::encode(NET_A),
        p.activation,
        p.schedule,
        p.failover,
        p.min_interval
    );
    for i in 1..=3 {
        s.push_str(&format!(
            "\n[[leader.validators]]\nid = \"{}\"\npublic_key = \"{}\"\n",
            id(i),
            hex::encode(key(i).verifying_key().as_bytes())
        ));
    }
    s
}

/// The hash schedule, computed here from the specification (not with the validator's code).
fn hash_schedule(h: u64) -> usize {
    let mut input = h.to_le_bytes().to_vec();
    for i in 1..=3 {
        let v = id(i);
        input.push(v.len() as u8);
        input.extend_from_slice(v.as_bytes());
    }
    (u64::from_le_bytes(keccak256(&input).0[..8].try_into().unwrap()) % 3) as usize
}

#[derive(Clone)]
pub(crate) struct Craft {
    pub(crate) height: u64,
    pub(crate) gen_height: u64,
    pub(crate) prev_id: Hash32,
    pub(crate) timestamp: u64,
    /// Bytes placed in the extra after the pubkey and before the nonces.
    pub(crate) before_nonces: Vec<u8>,
    /// Extra-nonce payloads, in order.
    pub(crate) nonces: Vec<Vec<u8>>,
    pub(crate) trailing_byte: bool,
}

pub(crate) fn prev_of(h: u64) -> Hash32 {
    keccak256(format!("golden prev {h}").as_bytes())
}

impl Craft {
    fn new(height: u64, timestamp: u64) -> Craft {
        Craft {
            height,
            gen_height: height,
            prev_id: prev_of(height),
            timestamp,
            before_nonces: Vec::new(),
            nonces: Vec::new(),
            trailing_byte: false,
        }
    }

    pub(crate) fn blob(&self) -> Vec<u8> {
        let mut extra = vec![0x01];
        extra.extend_from_slice(&keccak256(format!("golden tx key {}", self.height).as_bytes()).0);
        extra.extend_from_slice(&self.before_nonces);
        for n in &self.nonces {
            extra.push(0x02);
            varint::write(&mut extra, n.len() as u64);
            extra.extend_from_slice(n);
        }
        let out = TxOut {
            amount: 600_000_000_000,
            target: TxOutTarget::ToTaggedKey {
                key: keccak256(format!("golden out {}", self.height).as_bytes()),
                view_tag: 7,
            },
        };
        let tx = encode::miner_tx(2, self.height + 60, self.gen_height, &[out], &extra);
        let header = BlockHeader {
            major_version: 16,
            minor_version: 16,
            timestamp: self.timestamp,
            prev_id: self.prev_id,
            nonce: self.height as u32,
        };
        let mut blob = encode::block(&header, &tx, &[]);
        if self.trailing_byte {
            blob.push(0);
        }
        blob
    }
}

pub(crate) fn block_id(blob: &[u8]) -> Hash32 {
    Block::parse(blob).expect("crafted block parses").hashes().expect("hashes").block_id
}

fn payload(id: &[u8], sig: &[u8; 64]) -> Vec<u8> {
    let mut p = vec![0xCA, id.len() as u8];
    p.extend_from_slice(id);
    p.extend_from_slice(sig);
    p.resize(RESERVE.max(p.len()), 0);
    p
}

fn message(network: &[u8; 16], signing_hash: &Hash32) -> Vec<u8> {
    [&b"dualrun/leader/v1"[..], network, &signing_hash.0].concat()
}

/// Signs nonce `slot` as `signer_id` with `key` on `network`; returns the signing hash (the id of the
/// blob with a zero signature).
pub(crate) fn sign(c: &mut Craft, slot: usize, signer_id: &str, key: &SigningKey, network: &[u8; 16]) -> Hash32 {
    c.nonces[slot] = payload(signer_id.as_bytes(), &[0; 64]);
    let signing_hash = block_id(&c.blob());
    let sig = key.sign(&message(network, &signing_hash)).to_bytes();
    c.nonces[slot] = payload(signer_id.as_bytes(), &sig);
    signing_hash
}

/// A block at `h` with one nonce, signed by validator `v` (1-based) on network A.
pub(crate) fn signed_by(h: u64, ts: u64, v: usize) -> (Craft, Hash32) {
    let mut c = Craft::new(h, ts);
    c.nonces.push(Vec::new());
    let sh = sign(&mut c, 0, &id(v), &key(v), &NET_A);
    (c, sh)
}

/// `n` timestamps 120 s apart, the last being `last`.
pub(crate) fn timestamps(n: usize, last: u64) -> Vec<u64> {
    (0..n as u64).map(|i| last - (n as u64 - 1 - i) * 120).collect()
}

struct Scenario {
    name: &'static str,
    description: &'static str,
    profile: ProfileSpec,
    craft: Craft,
    prev_id: Option<Hash32>,
    timestamps: Vec<u64>,
    now: Option<u64>,
    reason: Option<&'static str>,
    signing_hash: Option<Hash32>,
    leader_id: Option<String>,
}

impl Scenario {
    fn new(name: &'static str, description: &'static str, profile: ProfileSpec, craft: Craft) -> Scenario {
        let prev_id = Some(craft.prev_id);
        let timestamps = timestamps(10, craft.timestamp - 120);
        Scenario {
            name,
            description,
            profile,
            craft,
            prev_id,
            timestamps,
            now: None,
            reason: None,
            signing_hash: None,
            leader_id: None,
        }
    }

    fn signed(mut self, sh: Hash32, leader: &str) -> Scenario {
        self.signing_hash = Some(sh);
        self.leader_id = Some(leader.into());
        self
    }

    fn rejects(mut self, reason: &'static str) -> Scenario {
        self.reason = Some(reason);
        self
    }

    fn vector(self) -> Vector {
        let blob = self.craft.blob();
        let parses = Block::parse(&blob).is_ok();
        Vector {
            schema: SCHEMA.into(),
            name: self.name.into(),
            description: self.description.into(),
            case: Case::Leader(LeaderCase {
                profile: profile_toml(&self.profile),
                block: VectorBlock { height: self.craft.height, blob: hex::encode(&blob) },
                context: VectorContext { prev_id: self.prev_id, timestamps: self.timestamps },
                env: VectorEnv { now: self.now.unwrap_or(self.craft.timestamp) },
                expected: Expected {
                    verdict: if self.reason.is_some() { "reject" } else { "accept" }.into(),
                    reason: self.reason.map(Into::into),
                    facts: ExpectedFacts {
                        block_id: parses.then(|| block_id(&blob)),
                        signing_hash: self.signing_hash,
                        leader_id: self.leader_id,
                    },
                    facts_compare: Default::default(),
                },
            }),
            skip: None,
            provenance: Provenance { generator: GENERATOR.into(), source: "crafted".into(), height: None },
        }
    }
}

/// The whole crafted set.
#[allow(clippy::too_many_lines)] // a data table: one case per rule and code, read top to bottom
pub fn leader_v1_vectors() -> Vec<Vector> {
    let mut cases = Vec::new();
    let h = 10; // round-robin from activation 1: i(10) = 9 mod 3 = 0 → leader-1
    let ts = T;

    // Schedules.
    let (c, sh) = signed_by(h, ts, 1);
    cases.push(
        Scenario::new("round-robin-scheduled-accept", "round-robin: (10 − 1) mod 3 = 0, leader-1 signs", RR, c)
            .signed(sh, "leader-1"),
    );
    let (c, sh) = signed_by(h, ts, 2);
    cases.push(
        Scenario::new("round-robin-not-scheduled", "round-robin: height 10 is leader-1's; leader-2 signs", RR, c)
            .signed(sh, "leader-2")
            .rejects("leader.not_scheduled"),
    );
    let fixed = || ProfileSpec { schedule: "fixed", ..RR };
    let (c, sh) = signed_by(7, ts, 1);
    cases.push(
        Scenario::new("fixed-scheduled-accept", "fixed: validator 0 (leader-1) signs every height", fixed(), c)
            .signed(sh, "leader-1"),
    );
    let (c, sh) = signed_by(7, ts, 3);
    cases.push(
        Scenario::new("fixed-not-scheduled", "fixed: leader-3 may never sign", fixed(), c)
            .signed(sh, "leader-3")
            .rejects("leader.not_scheduled"),
    );
    let hash = || ProfileSpec { schedule: "hash", ..RR };
    let hh = 1234;
    let s = hash_schedule(hh) + 1;
    let other = s % 3 + 1;
    let (c, sh) = signed_by(hh, ts, s);
    cases.push(
        Scenario::new("hash-scheduled-accept", "hash: the validator picked by Keccak(u64le(h) ‖ ids) signs", hash(), c)
            .signed(sh, &id(s)),
    );
    let (c, sh) = signed_by(hh, ts, other);
    cases.push(
        Scenario::new("hash-not-scheduled", "hash: a validator the hash did not pick signs", hash(), c)
            .signed(sh, &id(other))
            .rejects("leader.not_scheduled"),
    );

    // Failover, F = 30 s, height 10 scheduled for leader-1.
    let fo = || ProfileSpec { failover: 30, ..RR };
    let with_delta = |v: usize, delta: i64| {
        let (c, sh) = signed_by(h, (ts as i64 + delta) as u64, v);
        let mut case = Scenario::new("", "", fo(), c).signed(sh, &id(v));
        case.timestamps = timestamps(10, ts);
        case
    };
    let mut c = with_delta(2, 29);
    (c.name, c.description) =
        ("failover-k0-next-rejected", "failover 30 s, Δ = 29 s: k = 0, only leader-1; leader-2 signs");
    cases.push(c.rejects("leader.not_scheduled"));
    let mut c = with_delta(1, 29);
    (c.name, c.description) = ("failover-k0-scheduled-accept", "failover 30 s, Δ = 29 s: the scheduled leader-1 signs");
    cases.push(c);
    let mut c = with_delta(2, 30);
    (c.name, c.description) = ("failover-k1-next-accept", "failover 30 s, Δ = 30 s: k = 1, leader-2 may sign");
    cases.push(c);
    let mut c = with_delta(3, 59);
    (c.name, c.description) =
        ("failover-k1-second-next-rejected", "failover 30 s, Δ = 59 s: k = 1, leader-3 may not sign yet");
    cases.push(c.rejects("leader.not_scheduled"));
    let mut c = with_delta(3, 3000);
    (c.name, c.description) =
        ("failover-k-capped-accept", "failover 30 s, Δ = 3000 s: k = min(100, n − 1) = 2, every validator may sign");
    cases.push(c);
    let mut c = with_delta(2, -50);
    (c.name, c.description) = (
        "failover-negative-delta-rejected",
        "failover 30 s, timestamp 50 s before its parent: Δ counts as 0, so k = 0",
    );
    cases.push(c.rejects("leader.not_scheduled"));

    // The median of the previous 60 timestamps.
    let median_case = |name, description, height: u64, window: Vec<u64>, block_ts: u64, reject: bool| {
        let (c, sh) = signed_by(height, block_ts, ((height - 1) % 3 + 1) as usize);
        let mut case = Scenario::new(name, description, RR, c).signed(sh, &id(((height - 1) % 3 + 1) as usize));
        case.timestamps = window;
        case.now = Some(T);
        if reject {
            case = case.rejects("block.timestamp_too_old");
        }
        case
    };
    // 60 timestamps: 30 at T−600 and 30 at T−599, so the two middle values are T−600 and T−599 and the
    // median is their mean rounded down, T−600.
    let even: Vec<u64> = (0..60).map(|i| if i % 2 == 0 { T - 600 } else { T - 599 }).collect();
    cases.push(median_case(
        "median-below-60-not-checked",
        "59 previous timestamps: the median rule does not apply yet",
        59,
        vec![T; 59],
        T - 5000,
        false,
    ));
    cases.push(median_case(
        "median-at-60-too-old",
        "60 previous timestamps: a timestamp 1 s below their median is rejected",
        60,
        even.clone(),
        T - 601,
        true,
    ));
    cases.push(median_case(
        "median-at-60-rounds-down-accept",
        "60 previous timestamps, middle values T−600 and T−599: the median is T−600 (rounded down), equal is fine",
        60,
        even.clone(),
        T - 600,
        false,
    ));
    cases.push(median_case(
        "median-after-60-too-old",
        "height 100, window of the last 60 timestamps: below the median is rejected",
        100,
        timestamps(60, T),
        T - 60 * 120 / 2 - 100,
        true,
    ));

    // The future limit, with an injected now.
    let (c, sh) = signed_by(h, T + 7200, 1);
    let mut case =
        Scenario::new("future-limit-exact-accept", "timestamp = now + 7200 is allowed", RR, c).signed(sh, "leader-1");
    case.now = Some(T);
    case.timestamps = timestamps(10, T);
    cases.push(case);
    let (c, sh) = signed_by(h, T + 7201, 1);
    let mut case = Scenario::new("future-limit-exceeded", "timestamp = now + 7201 is in the future", RR, c)
        .signed(sh, "leader-1")
        .rejects("block.timestamp_in_future");
    case.now = Some(T);
    case.timestamps = timestamps(10, T);
    cases.push(case);

    // Signatures.
    let mut c = Craft::new(h, ts);
    c.nonces.push(Vec::new());
    let sh = sign(&mut c, 0, "leader-1", &key(1), &NET_B);
    cases.push(
        Scenario::new(
            "signature-for-another-network",
            "leader-1's valid signature, but over network id B; the profile is network A",
            RR,
            c,
        )
        .signed(sh, "leader-1")
        .rejects("leader.bad_signature"),
    );
    let mut c = Craft::new(h, ts);
    c.nonces.push(payload(b"leader-1", &[0xff; 64]));
    let not_zeroed = block_id(&c.blob());
    let sig = key(1).sign(&message(&NET_A, &not_zeroed)).to_bytes();
    c.nonces[0] = payload(b"leader-1", &sig);
    let mut zeroed = c.clone();
    zeroed.nonces[0] = payload(b"leader-1", &[0; 64]);
    let sh = block_id(&zeroed.blob());
    cases.push(
        Scenario::new(
            "signing-hash-not-zeroed",
            "signed over the id of the blob with 0xff in the signature bytes instead of zeros",
            RR,
            c,
        )
        .signed(sh, "leader-1")
        .rejects("leader.bad_signature"),
    );
    let (mut c, sh) = signed_by(h, ts, 1);
    c.nonces[0][2 + 8 + 20] ^= 0x01;
    cases.push(
        Scenario::new("bad-signature-flipped-bit", "leader-1's signature with one bit flipped", RR, c)
            .signed(sh, "leader-1")
            .rejects("leader.bad_signature"),
    );

    // Records.
    let mut c = Craft::new(h, ts);
    c.nonces = vec![Vec::new(), Vec::new()];
    let sh0 = sign(&mut c, 0, "leader-1", &key(1), &NET_A);
    let _ = sh0;
    sign(&mut c, 1, "leader-1", &key(1), &NET_A);
    cases.push(
        Scenario::new("two-records", "two extra nonces, each a leader record: exactly one is allowed", RR, c)
            .rejects("leader.malformed"),
    );
    let mut c = Craft::new(h, ts);
    c.nonces.push(payload(&[b'x'; 33], &[7; 64]));
    cases
        .push(Scenario::new("record-id-over-long", "id_len 33 (the maximum is 32)", RR, c).rejects("leader.malformed"));
    let mut c = Craft::new(h, ts);
    c.nonces.push(payload("l\u{e9}ader-1".as_bytes(), &[7; 64]));
    cases.push(
        Scenario::new("record-id-non-ascii", "an id with a non-ASCII byte (é)", RR, c).rejects("leader.malformed"),
    );
    let mut c = Craft::new(h, ts);
    c.nonces.push(payload(b"", &[7; 64]));
    cases.push(Scenario::new("record-id-empty", "id_len 0", RR, c).rejects("leader.malformed"));
    let mut c = Craft::new(h, ts);
    c.nonces.push([&[0xCA, 8][..], b"leader-1", &[7; 40]].concat());
    cases.push(
        Scenario::new("record-signature-truncated", "a record that ends 24 bytes into its signature", RR, c)
            .rejects("leader.malformed"),
    );
    let (mut c, _) = signed_by(h, ts, 1);
    let last = c.nonces[0].len() - 1;
    c.nonces[0][last] = 1;
    cases.push(
        Scenario::new("record-nonzero-padding", "a signed record whose padding has a non-zero byte", RR, c)
            .rejects("leader.malformed"),
    );
    let mut c = Craft::new(h, ts);
    c.nonces.push(Vec::new());
    c.nonces.push(Vec::new());
    c.nonces[0] = [&[0x00][..], &[0x42; 32]].concat(); // a payment id first
    let sh = sign(&mut c, 1, "leader-1", &key(1), &NET_A);
    cases.push(
        Scenario::new(
            "record-in-second-nonce-accept",
            "a payment-id nonce, then the leader record in a second nonce",
            RR,
            c,
        )
        .signed(sh, "leader-1"),
    );
    let mut c = Craft::new(h, ts);
    c.nonces.push(vec![0u8; RESERVE]);
    cases.push(
        Scenario::new("record-missing", "a 100-byte extra nonce of zeros, no record", RR, c).rejects("leader.missing"),
    );
    let (mut c, _) = signed_by(h, ts, 1);
    c.before_nonces = vec![0x09, 0x01, 0x00];
    cases.push(
        Scenario::new(
            "record-missing-extra-unparseable",
            "an unknown tag before the nonce stops extra parsing, so the record is not seen",
            RR,
            c,
        )
        .rejects("leader.missing"),
    );
    let mut c = Craft::new(h, ts);
    c.nonces.push(Vec::new());
    let sh = sign(&mut c, 0, "mallory", &key(1), &NET_A);
    cases.push(
        Scenario::new("leader-unknown", "a well-formed record naming \"mallory\", who is not a validator", RR, c)
            .signed(sh, "mallory")
            .rejects("leader.unknown"),
    );

    // Activation.
    let late = || ProfileSpec { activation: 100, ..RR };
    let c = Craft::new(50, ts);
    cases.push(Scenario::new(
        "pre-activation-no-record-accept",
        "height 50 < activation 100: no record needed",
        late(),
        c,
    ));
    let (c, _) = signed_by(50, ts, 3);
    cases.push(Scenario::new(
        "pre-activation-record-ignored-accept",
        "height 50 < activation 100: a record is ignored, and reported as no fact",
        late(),
        c,
    ));

    // The minimum interval.
    let spaced = || ProfileSpec { min_interval: 60, ..RR };
    let (c, sh) = signed_by(h, T + 59, 1);
    let mut case = Scenario::new("too-soon", "minimum interval 60 s; 59 s after the previous block", spaced(), c)
        .signed(sh, "leader-1")
        .rejects("leader.too_soon");
    case.timestamps = timestamps(10, T);
    cases.push(case);
    let (c, sh) = signed_by(h, T + 60, 1);
    let mut case = Scenario::new(
        "min-interval-exact-accept",
        "minimum interval 60 s; exactly 60 s after the previous block",
        spaced(),
        c,
    )
    .signed(sh, "leader-1");
    case.timestamps = timestamps(10, T);
    cases.push(case);

    // Structure (blocks a real daemon would never build).
    let (c, sh) = signed_by(h, ts, 1);
    let mut case = Scenario::new("prev-mismatch", "prev_id is not the id of block h − 1", RR, c)
        .signed(sh, "leader-1")
        .rejects("block.prev_mismatch");
    case.prev_id = Some(keccak256(b"some other parent"));
    cases.push(case);
    let mut c = Craft::new(h, ts);
    c.gen_height = h + 1;
    c.nonces.push(Vec::new());
    let sh = sign(&mut c, 0, "leader-1", &key(1), &NET_A);
    cases.push(
        Scenario::new("height-mismatch", "the miner tx's gen height is h + 1", RR, c)
            .signed(sh, "leader-1")
            .rejects("block.height_mismatch"),
    );
    let (mut c, _) = signed_by(h, ts, 1);
    c.trailing_byte = true;
    cases.push(
        Scenario::new("malformed-trailing-byte", "a block blob with one byte after the tx-hash list", RR, c)
            .rejects("block.malformed"),
    );

    // Rule order: the first failing rule is the reason.
    let (mut c, sh) = signed_by(h, ts, 2);
    c.nonces[0][2 + 8 + 3] ^= 0x01;
    cases.push(
        Scenario::new(
            "order-not-scheduled-before-bad-signature",
            "leader-2 at leader-1's height with a broken signature",
            RR,
            c,
        )
        .signed(sh, "leader-2")
        .rejects("leader.not_scheduled"),
    );
    let (mut c, sh) = signed_by(h, ts, 1);
    c.nonces[0][2 + 8 + 3] ^= 0x01;
    let mut case = Scenario::new("order-prev-before-signature", "wrong parent and a broken signature", RR, c)
        .signed(sh, "leader-1")
        .rejects("block.prev_mismatch");
    case.prev_id = Some(keccak256(b"some other parent"));
    cases.push(case);
    let (c, sh) = signed_by(h, T + 9000, 2);
    let mut case = Scenario::new("order-future-before-leader", "a future timestamp and the wrong leader", RR, c)
        .signed(sh, "leader-2")
        .rejects("block.timestamp_in_future");
    case.now = Some(T);
    cases.push(case);

    // Genesis.
    let genesis = encode::genesis_blob(10000);
    let g = Vector {
        schema: SCHEMA.into(),
        name: "genesis-accept".into(),
        description: "block 0, the regtest (= Monero mainnet) genesis, with no context".into(),
        case: Case::Leader(LeaderCase {
            profile: profile_toml(&RR),
            block: VectorBlock { height: 0, blob: hex::encode(&genesis) },
            context: VectorContext { prev_id: None, timestamps: vec![] },
            env: VectorEnv { now: 0 },
            expected: Expected {
                verdict: "accept".into(),
                reason: None,
                facts: ExpectedFacts { block_id: Some(block_id(&genesis)), ..Default::default() },
                facts_compare: Default::default(),
            },
        }),
        skip: None,
        provenance: Provenance { generator: GENERATOR.into(), source: "crafted".into(), height: None },
    };

    let mut out: Vec<Vector> = cases.into_iter().map(Scenario::vector).collect();
    out.push(g);
    out
}
