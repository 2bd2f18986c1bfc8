//! The vectors the seeds and the targets' fixed keys come from, compiled in:
//! `spec/vectors/entries.json` (dyad's own) and `../shared/vectors/{notes,tree}.json`
//! (Go x/mod, beside the checkout as `.ci/run` requires).

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use dyad_verifier::cosignature;
use dyad_verifier::key::{SignatureType, VerifierKey};
use dyad_verifier::note;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::Value;

use crate::Hash;

const ENTRIES_JSON: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../spec/vectors/entries.json"
));
const NOTES_JSON: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/vectors/notes.json"
));
const TREE_JSON: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/vectors/tree.json"
));

/// A key pair from the vectors: its name, seed and public key.
#[derive(Clone, Debug)]
pub struct KeyPair {
    pub name: String,
    pub seed: [u8; 32],
    pub public_key: [u8; 32],
}

impl KeyPair {
    pub fn from_seed(name: &str, seed: [u8; 32]) -> KeyPair {
        let public_key = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        KeyPair {
            name: name.to_string(),
            seed,
            public_key,
        }
    }

    pub fn signing_key(&self) -> SigningKey {
        SigningKey::from_bytes(&self.seed)
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing_key().sign(message).to_bytes()
    }

    /// Type 0x01 under the key's own name: entry signatures, plain note signatures.
    pub fn entry_key(&self) -> VerifierKey {
        VerifierKey::new(&self.name, SignatureType::Ed25519, self.public_key)
            .expect("vector key names are valid")
    }

    /// Type 0x04 under the key's own name: cosignatures.
    pub fn cosignature_key(&self) -> VerifierKey {
        VerifierKey::new(&self.name, SignatureType::CosignatureV1, self.public_key)
            .expect("vector key names are valid")
    }

    /// Type 0x01 under `origin`: the log key of a channel this key sequences.
    pub fn log_key(&self, origin: &str) -> VerifierKey {
        VerifierKey::new(origin, SignatureType::Ed25519, self.public_key)
            .expect("vector origins are valid key names")
    }
}

/// One signature line to put on a note.
#[derive(Clone, Debug)]
pub enum NoteSigner<'a> {
    /// A type-0x01 note signature by `key` under `name` (the origin, for a log).
    Ed25519 { key: &'a KeyPair, name: &'a str },
    /// A cosignature/v1 line by `key` under its own name.
    Cosignature { key: &'a KeyPair, timestamp: u64 },
}

/// A signed note: `text`, a blank line, one line per signer (C2SP signed-note and
/// tlog-cosignature, written here from the specs with ed25519-dalek).
pub fn sign_note(text: &str, signers: &[NoteSigner<'_>]) -> Vec<u8> {
    let mut out = String::from(text);
    out.push('\n');
    for s in signers {
        match s {
            NoteSigner::Ed25519 { key, name } => {
                let vkey = VerifierKey::new(name, SignatureType::Ed25519, key.public_key)
                    .expect("valid name");
                let sig = key.sign(text.as_bytes());
                out.push_str(&note::signature_line(name, vkey.key_id(), &sig));
            }
            NoteSigner::Cosignature { key, timestamp } => {
                let vkey = key.cosignature_key();
                let sig = key.sign(&cosignature::signed_message(*timestamp, text));
                let ts = cosignature::timestamped_signature(*timestamp, &sig);
                out.push_str(&note::signature_line(&key.name, vkey.key_id(), &ts));
            }
        }
    }
    out.into_bytes()
}

/// A checkpoint body (tlog-checkpoint) without extension lines.
pub fn checkpoint_text(origin: &str, size: u64, root: &Hash) -> String {
    format!("{origin}\n{size}\n{}\n", BASE64.encode(root))
}

#[derive(Clone, Debug)]
pub struct InclusionCase {
    pub index: u64,
    pub size: u64,
    pub leaf_hash: Hash,
    pub root: Hash,
    pub proof: Vec<Hash>,
}

#[derive(Clone, Debug)]
pub struct ConsistencyCase {
    pub old_size: u64,
    pub new_size: u64,
    pub old_root: Hash,
    pub new_root: Hash,
    pub proof: Vec<Hash>,
}

/// Everything the seeds and targets take from the vectors.
#[derive(Debug)]
pub struct Vectors {
    /// The spec vectors' channel origin.
    pub origin: String,
    pub sequencer: KeyPair,
    pub cosigner: KeyPair,
    /// notes.json keys A, B, C and the extra keys X1..X15.
    pub note_keys: Vec<KeyPair>,
    pub genesis_record: Vec<u8>,
    pub genesis_proposal: Vec<u8>,
    /// The spec vectors' log, in index order.
    pub entries: Vec<Vec<u8>>,
    pub invalid_entries: Vec<Vec<u8>>,
    /// Committed checkpoint notes of the spec vectors' log, by size.
    pub checkpoints: Vec<Vec<u8>>,
    pub receipts: Vec<Vec<u8>>,
    /// notes.json cases (plain Ed25519 notes made by Go's x/mod).
    pub notes: Vec<Vec<u8>>,
    pub checkpoint_bodies: Vec<String>,
    pub verifier_keys: Vec<String>,
    pub signer_keys: Vec<String>,
    pub tree_leaves: Vec<Vec<u8>>,
    pub inclusion: Vec<InclusionCase>,
    pub consistency: Vec<ConsistencyCase>,
}

pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd-length hex");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex32(v: &Value) -> [u8; 32] {
    hex(v.as_str().expect("hex string"))
        .try_into()
        .expect("32 bytes")
}

fn str_of(v: &Value) -> String {
    v.as_str().expect("string").to_string()
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array().expect("array").iter().map(hex32).collect()
}

fn key_pair(v: &Value) -> KeyPair {
    let pair = KeyPair::from_seed(&str_of(&v["name"]), hex32(&v["seed_hex"]));
    assert_eq!(
        pair.public_key,
        hex32(&v["public_key_hex"]),
        "vector key mismatch"
    );
    pair
}

fn load() -> Vectors {
    let entries: Value = serde_json::from_str(ENTRIES_JSON).expect("entries.json");
    let notes: Value = serde_json::from_str(NOTES_JSON).expect("notes.json");
    let tree: Value = serde_json::from_str(TREE_JSON).expect("tree.json");

    let parties = entries["parties"].as_array().expect("parties");
    let by_role = |role: &str| {
        key_pair(
            parties
                .iter()
                .find(|p| p["role"] == role)
                .expect("party role"),
        )
    };
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();

    let mut verifier_keys: Vec<String> = list(&notes["verifier_key_parse"])
        .iter()
        .map(|c| str_of(&c["key"]))
        .collect();
    for p in parties {
        for field in ["vkey", "cosignature_vkey", "log_vkey"] {
            if let Some(k) = p[field].as_str() {
                verifier_keys.push(k.to_string());
            }
        }
    }
    let mut signer_keys: Vec<String> = list(&notes["signer_key_parse"])
        .iter()
        .map(|c| str_of(&c["key"]))
        .collect();
    let mut note_keys = Vec::new();
    for k in list(&notes["keys"])
        .iter()
        .chain(list(&notes["extra_keys"]).iter())
    {
        note_keys.push(key_pair(k));
        signer_keys.push(str_of(&k["signer_key"]));
        verifier_keys.push(str_of(&k["verifier_key"]));
    }

    let mut inclusion = Vec::new();
    for field in ["inclusion", "inclusion_invalid", "inclusion_other_size"] {
        for c in list(&tree[field]) {
            inclusion.push(InclusionCase {
                index: c["index"].as_u64().expect("index"),
                size: c["size"].as_u64().expect("size"),
                leaf_hash: hex32(&c["leaf_hash_hex"]),
                root: hex32(&c["root_hex"]),
                proof: hashes(&c["proof_hex"]),
            });
        }
    }
    let mut consistency = Vec::new();
    for field in [
        "consistency",
        "consistency_invalid",
        "consistency_other_size",
    ] {
        for c in list(&tree[field]) {
            consistency.push(ConsistencyCase {
                old_size: c["old_size"].as_u64().expect("old_size"),
                new_size: c["new_size"].as_u64().expect("new_size"),
                old_root: hex32(&c["old_root_hex"]),
                new_root: hex32(&c["new_root_hex"]),
                proof: hashes(&c["proof_hex"]),
            });
        }
    }

    Vectors {
        origin: str_of(&entries["origin"]),
        sequencer: by_role("sequencer"),
        cosigner: by_role("cosigner"),
        note_keys,
        genesis_record: hex(entries["genesis"]["record_hex"].as_str().expect("record")),
        genesis_proposal: hex(entries["genesis"]["proposal_hex"]
            .as_str()
            .expect("proposal")),
        entries: list(&entries["entries"])
            .iter()
            .map(|e| hex(e["entry_hex"].as_str().expect("entry_hex")))
            .collect(),
        invalid_entries: list(&entries["invalid_entries"])
            .iter()
            .map(|e| hex(e["entry_hex"].as_str().expect("entry_hex")))
            .collect(),
        checkpoints: list(&entries["checkpoints"])
            .iter()
            .map(|c| str_of(&c["note"]).into_bytes())
            .collect(),
        receipts: list(&entries["receipts"])
            .iter()
            .map(|r| str_of(&r["receipt"]).into_bytes())
            .collect(),
        notes: list(&notes["cases"])
            .iter()
            .map(|c| {
                BASE64
                    .decode(c["note_base64"].as_str().expect("note_base64"))
                    .expect("base64")
            })
            .collect(),
        checkpoint_bodies: list(&notes["checkpoint_bodies"])
            .iter()
            .map(|c| str_of(&c["body"]))
            .collect(),
        verifier_keys,
        signer_keys,
        tree_leaves: list(&tree["leaves_hex"])
            .iter()
            .map(|l| hex(l.as_str().expect("leaf")))
            .collect(),
        inclusion,
        consistency,
    }
}

/// The vectors, parsed once.
pub fn vectors() -> &'static Vectors {
    static VECTORS: OnceLock<Vectors> = OnceLock::new();
    VECTORS.get_or_init(load)
}

impl Vectors {
    /// Every key pair whose seed is known: the two parties, then the notes.json keys.
    pub fn all_keys(&self) -> impl Iterator<Item = &KeyPair> {
        [&self.sequencer, &self.cosigner]
            .into_iter()
            .chain(self.note_keys.iter())
    }

    /// The key pair with this public key, if its seed is known.
    pub fn key_for(&self, public_key: &[u8; 32]) -> Option<&KeyPair> {
        self.all_keys().find(|k| k.public_key == *public_key)
    }
}

/// Origin of the second channel the targets know: the spec vectors' parties with three
/// witnesses (notes.json's X1, X2, X3), two of whom must co-sign.
pub const WITNESSED_ORIGIN: &str = "example.org/dyad/witnessed";

/// The genesis record of the witnessed channel.
pub fn witnessed_record() -> Vec<u8> {
    let v = vectors();
    let party = |k: &KeyPair| (k.name.as_bytes().to_vec(), k.public_key);
    crate::reference::RawGenesis {
        version: 1,
        origin: WITNESSED_ORIGIN.as_bytes().to_vec(),
        sequencer: party(&v.sequencer),
        cosigner: party(&v.cosigner),
        witnesses: v.witnesses().iter().map(|k| party(k)).collect(),
        witness_threshold: 2,
        max_payload: 61440,
        max_attachment_size: 1 << 30,
        max_clock_skew_s: 300,
    }
    .encode()
}

impl Vectors {
    /// The witnessed channel's witnesses: X1, X2, X3.
    pub fn witnesses(&self) -> Vec<&KeyPair> {
        self.note_keys.iter().skip(3).take(3).collect()
    }
}
