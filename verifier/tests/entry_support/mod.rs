//! Test-only helpers shared by the entry, receipt, audit and equivocation tests: an entry
//! encoder written from spec/dyad.md section 3.1 (independent of the crate's decoder),
//! signing from fixed seeds, a recursive RFC 9162 tree, and checkpoint notes built by hand
//! from the C2SP signed-note and tlog-cosignature texts.
#![allow(dead_code)]

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use dyad_verifier::entry::{Attachment, Entry, EntrySignature, Kind};
use dyad_verifier::genesis::{Genesis, Party};
use dyad_verifier::key::{SignatureType, VerifierKey};
use dyad_verifier::Hash;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

pub fn sha256(data: &[u8]) -> Hash {
    Sha256::digest(data).into()
}

/// A party or witness with a key pair from a fixed seed.
#[derive(Clone)]
pub struct TestKey {
    pub name: String,
    pub signing: SigningKey,
}

impl TestKey {
    pub fn new(name: &str) -> TestKey {
        let seed = sha256(format!("dyad verifier test key {name}").as_bytes());
        TestKey {
            name: name.to_string(),
            signing: SigningKey::from_bytes(&seed),
        }
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    pub fn party(&self) -> Party {
        Party {
            name: self.name.clone(),
            public_key: self.public_key(),
        }
    }

    /// key_id(N, T, K) = first 4 bytes of SHA-256(N || 0x0A || T || K) (spec 2.1).
    pub fn key_id_as(&self, name: &str, sig_type: u8) -> u32 {
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update([0x0a, sig_type]);
        h.update(self.public_key());
        let d = h.finalize();
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }

    pub fn key_id(&self) -> u32 {
        self.key_id_as(&self.name, 0x01)
    }

    pub fn entry_vkey(&self) -> VerifierKey {
        VerifierKey::new(&self.name, SignatureType::Ed25519, self.public_key()).unwrap()
    }

    pub fn cosignature_vkey(&self) -> VerifierKey {
        VerifierKey::new(&self.name, SignatureType::CosignatureV1, self.public_key()).unwrap()
    }

    pub fn log_vkey(&self, origin: &str) -> VerifierKey {
        VerifierKey::new(origin, SignatureType::Ed25519, self.public_key()).unwrap()
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// A signed-note signature line over `text` as key `name` (type 0x01).
    pub fn note_line(&self, name: &str, text: &str) -> String {
        let mut bytes = self.key_id_as(name, 0x01).to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.sign(text.as_bytes()));
        format!("\u{2014} {name} {}\n", BASE64.encode(bytes))
    }

    /// A cosignature/v1 line over `text` made at `timestamp` (type 0x04 under its name).
    pub fn cosignature_line(&self, text: &str, timestamp: u64) -> String {
        let message = format!("cosignature/v1\ntime {timestamp}\n{text}");
        let mut bytes = self.key_id_as(&self.name, 0x04).to_be_bytes().to_vec();
        bytes.extend_from_slice(&timestamp.to_be_bytes());
        bytes.extend_from_slice(&self.sign(message.as_bytes()));
        format!("\u{2014} {} {}\n", self.name, BASE64.encode(bytes))
    }
}

// --- The entry encoding of spec section 3.1, written independently of the decoder. ---

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u64).to_be_bytes());
    out.extend_from_slice(b);
}

/// Fields 1 to 11.
pub fn encode_body(e: &Entry) -> Vec<u8> {
    let mut out = vec![e.version];
    put_string(&mut out, &e.origin);
    out.push(e.kind.as_u8());
    out.extend_from_slice(&e.sender.to_be_bytes());
    out.extend_from_slice(&e.sequence.to_be_bytes());
    out.extend_from_slice(&e.timestamp_ms.to_be_bytes());
    match e.reply_to {
        None => out.push(0),
        Some(r) => {
            out.push(1);
            out.extend_from_slice(&r.to_be_bytes());
        }
    }
    put_string(&mut out, &e.subject);
    put_string(&mut out, &e.content_type);
    put_bytes(&mut out, &e.payload);
    out.extend_from_slice(&(e.attachments.len() as u64).to_be_bytes());
    for a in &e.attachments {
        out.extend_from_slice(&a.sha256);
        out.extend_from_slice(&a.size.to_be_bytes());
        put_string(&mut out, &a.name);
        put_string(&mut out, &a.content_type);
    }
    out
}

/// Fields 1 to 12.
pub fn encode(e: &Entry) -> Vec<u8> {
    let mut out = encode_body(e);
    out.extend_from_slice(&(e.signatures.len() as u64).to_be_bytes());
    for s in &e.signatures {
        out.extend_from_slice(&s.key_id.to_be_bytes());
        out.extend_from_slice(&s.signature);
    }
    out
}

/// "dyad-entry/v1" || 0x00 || body (spec 3.4).
pub fn signed_message(e: &Entry) -> Vec<u8> {
    let mut m = b"dyad-entry/v1\x00".to_vec();
    m.extend_from_slice(&encode_body(e));
    m
}

/// Replaces the signatures with ones by `signers`, in order, and encodes.
pub fn sign_and_encode(e: &mut Entry, signers: &[&TestKey]) -> Vec<u8> {
    let message = signed_message(e);
    e.signatures = signers
        .iter()
        .map(|k| EntrySignature {
            key_id: k.key_id(),
            signature: k.sign(&message),
        })
        .collect();
    encode(e)
}

pub fn draft(
    origin: &str,
    kind: Kind,
    sender: &TestKey,
    sequence: u64,
    timestamp_ms: u64,
) -> Entry {
    Entry {
        version: 1,
        origin: origin.to_string(),
        kind,
        sender: sender.key_id(),
        sequence,
        timestamp_ms,
        reply_to: None,
        subject: format!("{kind} {sequence}"),
        content_type: "text/plain; charset=utf-8".to_string(),
        payload: format!("message {sequence} from {}", sender.name).into_bytes(),
        attachments: Vec::new(),
        signatures: Vec::new(),
    }
}

pub fn attachment(content: &[u8], name: &str) -> Attachment {
    Attachment {
        sha256: sha256(content),
        size: content.len() as u64,
        name: name.to_string(),
        content_type: "text/plain".to_string(),
    }
}

/// The genesis record of spec section 4.
pub fn encode_genesis_record(g: &Genesis) -> Vec<u8> {
    let mut out = vec![1u8];
    put_string(&mut out, &g.origin);
    for p in [&g.sequencer, &g.cosigner] {
        put_string(&mut out, &p.name);
        out.extend_from_slice(&p.public_key);
    }
    out.extend_from_slice(&(g.witnesses.len() as u64).to_be_bytes());
    for p in &g.witnesses {
        put_string(&mut out, &p.name);
        out.extend_from_slice(&p.public_key);
    }
    out.push(g.witness_threshold);
    out.extend_from_slice(&g.max_payload.to_be_bytes());
    out.extend_from_slice(&g.max_attachment_size.to_be_bytes());
    out.extend_from_slice(&g.max_clock_skew_s.to_be_bytes());
    out
}

pub fn genesis_record(
    origin: &str,
    seq: &TestKey,
    cos: &TestKey,
    witnesses: &[TestKey],
    threshold: u8,
) -> Genesis {
    Genesis {
        origin: origin.to_string(),
        sequencer: seq.party(),
        cosigner: cos.party(),
        witnesses: witnesses.iter().map(TestKey::party).collect(),
        witness_threshold: threshold,
        max_payload: 61440,
        max_attachment_size: 1 << 30,
        max_clock_skew_s: 300,
    }
}

pub fn genesis_draft(g: &Genesis, seq: &TestKey, timestamp_ms: u64) -> Entry {
    Entry {
        version: 1,
        origin: g.origin.clone(),
        kind: Kind::Genesis,
        sender: seq.key_id(),
        sequence: 0,
        timestamp_ms,
        reply_to: None,
        subject: "channel terms".to_string(),
        content_type: "application/vnd.dyad.genesis.v1".to_string(),
        payload: encode_genesis_record(g),
        attachments: Vec::new(),
        signatures: Vec::new(),
    }
}

pub fn genesis_entry(g: &Genesis, seq: &TestKey, cos: &TestKey, timestamp_ms: u64) -> Vec<u8> {
    sign_and_encode(&mut genesis_draft(g, seq, timestamp_ms), &[seq, cos])
}

// --- RFC 9162 Merkle tree, recursively from the definition (section 2.1). ---

pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

pub fn node_hash(l: &Hash, r: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

// The RFC 9162 definitions, from the one copy of the test oracles.
// (Not every test binary that includes this module uses each of them.)
#[allow(unused_imports)]
pub use dyad_testkit::merkle::{inclusion_proof, root as mth};

// --- Checkpoints and notes (C2SP tlog-checkpoint, signed-note, tlog-cosignature). ---

pub fn checkpoint_text(origin: &str, size: u64, root: &Hash) -> String {
    format!("{origin}\n{size}\n{}\n", BASE64.encode(root))
}

/// A checkpoint note signed by `log` as the log (under the origin) and co-signed by each
/// of `cosigners` at its timestamp.
pub fn note(
    origin: &str,
    size: u64,
    root: &Hash,
    log: Option<&TestKey>,
    cosigners: &[(&TestKey, u64)],
) -> Vec<u8> {
    let text = checkpoint_text(origin, size, root);
    let mut note = format!("{text}\n");
    if let Some(log) = log {
        note.push_str(&log.note_line(origin, &text));
    }
    for (key, timestamp) in cosigners {
        note.push_str(&key.cosignature_line(&text, *timestamp));
    }
    note.into_bytes()
}

/// A synthetic channel: keys, genesis and a log of entries with a fixed shape.
pub struct Channel {
    pub origin: String,
    pub alpha: TestKey,
    pub bravo: TestKey,
    pub witnesses: Vec<TestKey>,
    pub genesis: Genesis,
    pub leaves: Vec<Vec<u8>>,
    /// Entry timestamps, in ms.
    pub times: Vec<u64>,
}

pub const ORIGIN: &str = "test.example/dyad/alpha-bravo";
pub const T0_MS: u64 = 1_767_225_600_000;

impl Channel {
    pub fn new(witnesses: usize, threshold: u8) -> Channel {
        let alpha = TestKey::new("test.example/alpha");
        let bravo = TestKey::new("test.example/bravo");
        let witnesses: Vec<TestKey> = (0..witnesses)
            .map(|i| TestKey::new(&format!("witness{i}.example")))
            .collect();
        let genesis = genesis_record(ORIGIN, &alpha, &bravo, &witnesses, threshold);
        let leaves = vec![genesis_entry(&genesis, &alpha, &bravo, T0_MS)];
        Channel {
            origin: ORIGIN.to_string(),
            alpha,
            bravo,
            witnesses,
            genesis,
            leaves,
            times: vec![T0_MS],
        }
    }

    /// A channel with `n` entries after the genesis: senders alternate in runs, every
    /// fifth entry is a response to the one before it, and the time advances a second
    /// per entry.
    pub fn with_entries(n: usize, witnesses: usize, threshold: u8) -> Channel {
        Channel::with_entries_edited(n, witnesses, threshold, &|_, _| None)
    }

    /// Who sends entry `i` (0 = alpha, the sequencer) in [`Channel::with_entries`].
    pub fn sender_of(i: u64) -> usize {
        ((i / 3) % 2) as usize
    }

    /// As [`Channel::with_entries`], but `edit` may change each entry before it is signed,
    /// and may return another signer.
    pub fn with_entries_edited(
        n: usize,
        witnesses: usize,
        threshold: u8,
        edit: &dyn Fn(u64, &mut Entry) -> Option<TestKey>,
    ) -> Channel {
        let mut c = Channel::new(witnesses, threshold);
        let mut sequences = [0u64; 2];
        for i in 1..=n as u64 {
            let who = Channel::sender_of(i);
            sequences[who] += 1;
            let kind = if i % 5 == 0 {
                Kind::Response
            } else {
                [Kind::Inquiry, Kind::ThreatIndicators, Kind::Notification][(i % 3) as usize]
            };
            let reply_to = if kind == Kind::Response {
                Some(i - 1)
            } else {
                None
            };
            let mut e = c.make(who, kind, sequences[who], T0_MS + i * 1000, reply_to);
            let signer = edit(i, &mut e).unwrap_or_else(|| c.party(who).clone());
            c.times.push(e.timestamp_ms);
            c.leaves.push(sign_and_encode(&mut e, &[&signer]));
        }
        c
    }

    pub fn party(&self, who: usize) -> &TestKey {
        if who == 0 {
            &self.alpha
        } else {
            &self.bravo
        }
    }

    pub fn make(
        &self,
        who: usize,
        kind: Kind,
        sequence: u64,
        timestamp_ms: u64,
        reply_to: Option<u64>,
    ) -> Entry {
        let mut e = draft(&self.origin, kind, self.party(who), sequence, timestamp_ms);
        e.reply_to = reply_to;
        if kind == Kind::ThreatIndicators && sequence % 2 == 0 {
            e.attachments = vec![
                attachment(b"192.0.2.1\n", "a.txt"),
                attachment(b"192.0.2.2\n", "b.txt"),
            ];
            e.attachments.sort_by_key(|a| a.sha256);
        }
        e
    }

    pub fn push(
        &mut self,
        who: usize,
        kind: Kind,
        sequence: u64,
        timestamp_ms: u64,
        reply_to: Option<u64>,
    ) {
        let mut e = self.make(who, kind, sequence, timestamp_ms, reply_to);
        let signer = self.party(who).clone();
        self.leaves.push(sign_and_encode(&mut e, &[&signer]));
        self.times.push(timestamp_ms);
    }

    pub fn leaf_hashes(&self) -> Vec<Hash> {
        self.leaves.iter().map(|l| leaf_hash(l)).collect()
    }

    pub fn root(&self, size: usize) -> Hash {
        mth(&self.leaf_hashes()[..size])
    }

    /// A committed checkpoint of the first `size` leaves, co-signed at `cosigned_at`
    /// (seconds) by the co-signer and every witness.
    pub fn checkpoint(&self, size: usize, cosigned_at: u64) -> Vec<u8> {
        let root = self.root(size);
        let mut cosigners: Vec<(&TestKey, u64)> = vec![(&self.bravo, cosigned_at)];
        cosigners.extend(self.witnesses.iter().map(|w| (w, cosigned_at + 1)));
        note(
            &self.origin,
            size as u64,
            &root,
            Some(&self.alpha),
            &cosigners,
        )
    }

    /// The co-signature time that comfortably covers the first `size` entries.
    pub fn time_for(&self, size: usize) -> u64 {
        self.times[..size].iter().max().copied().unwrap_or(T0_MS) / 1000 + 1
    }
}

// --- spec/vectors/entries.json, written by the ledger's generator. ---

pub const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/vectors/entries.json");

/// Loads spec/vectors/entries.json, failing loudly if it is missing or malformed.
pub fn vectors() -> serde_json::Value {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|e| {
        panic!(
            "cannot read the spec vectors {VECTORS}: {e}\n\
             They are generated by `cargo run -p dyad-ledger --example gen_vectors`; \
             the verifier's tests check the verifier against them and must not pass without them."
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{VECTORS} is not valid JSON: {e}"))
}

pub fn field<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v.get(name)
        .unwrap_or_else(|| panic!("vector has no {name:?}: {v}"))
}

pub fn str_of<'a>(v: &'a serde_json::Value, name: &str) -> &'a str {
    field(v, name)
        .as_str()
        .unwrap_or_else(|| panic!("{name:?} is not a string: {v}"))
}

pub fn u64_of(v: &serde_json::Value, name: &str) -> u64 {
    field(v, name)
        .as_u64()
        .unwrap_or_else(|| panic!("{name:?} is not a u64: {v}"))
}

pub fn array_of<'a>(v: &'a serde_json::Value, name: &str) -> &'a Vec<serde_json::Value> {
    let a = field(v, name)
        .as_array()
        .unwrap_or_else(|| panic!("{name:?} is not an array"));
    a
}

/// Every party of the vectors, by role.
pub fn vector_party<'a>(v: &'a serde_json::Value, role: &str) -> &'a serde_json::Value {
    array_of(v, "parties")
        .iter()
        .find(|p| str_of(p, "role") == role)
        .unwrap_or_else(|| panic!("no party with role {role:?} in the vectors"))
}

/// The leaves of the vector log, in index order (entries[i].index == i is checked).
pub fn vector_leaves(v: &serde_json::Value) -> Vec<Vec<u8>> {
    let entries = array_of(v, "entries");
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            assert_eq!(
                u64_of(e, "index"),
                i as u64,
                "entries are listed in index order"
            );
            unhex(str_of(e, "entry_hex"))
        })
        .collect()
}

pub fn vector_genesis_party(p: &serde_json::Value) -> Party {
    Party {
        name: str_of(p, "name").to_string(),
        public_key: unhex(str_of(p, "public_key_hex"))
            .try_into()
            .expect("32-byte key"),
    }
}

/// The "genesis" object of the vectors as a Genesis.
pub fn vector_genesis(v: &serde_json::Value) -> Genesis {
    let g = field(v, "genesis");
    Genesis {
        origin: str_of(g, "origin").to_string(),
        sequencer: vector_genesis_party(field(g, "sequencer")),
        cosigner: vector_genesis_party(field(g, "cosigner")),
        witnesses: array_of(g, "witnesses")
            .iter()
            .map(vector_genesis_party)
            .collect(),
        witness_threshold: u64_of(g, "witness_threshold").try_into().unwrap(),
        max_payload: u64_of(g, "max_payload").try_into().unwrap(),
        max_attachment_size: u64_of(g, "max_attachment_size"),
        max_clock_skew_s: u64_of(g, "max_clock_skew_s").try_into().unwrap(),
    }
}
