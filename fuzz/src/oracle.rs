//! Independent oracles for the differential targets.

use rs_merkle::{Hasher, MerkleTree};

use crate::reference::{empty_root, node_hash};
use crate::Hash;

/// rs_merkle with RFC 6962 interior nodes. rs_merkle builds its tree bottom-up and
/// promotes an odd last node unchanged, which gives the same shape as RFC 9162's
/// largest-power-of-two split; the leaves handed to it are already leaf hashes
/// (SHA-256(0x00 || data)), so `hash` itself is never used on leaf data.
#[derive(Clone)]
pub struct Rfc6962;

impl Hasher for Rfc6962 {
    type Hash = Hash;

    fn hash(data: &[u8]) -> Hash {
        use sha2::Digest as _;
        sha2::Sha256::digest(data).into()
    }

    fn concat_and_hash(left: &Hash, right: Option<&Hash>) -> Hash {
        match right {
            Some(right) => node_hash(left, right),
            None => *left,
        }
    }
}

/// The root rs_merkle computes over these leaf hashes (MTH({}) for none).
pub fn rs_merkle_root(leaves: &[Hash]) -> Hash {
    MerkleTree::<Rfc6962>::from_leaves(leaves)
        .root()
        .unwrap_or_else(empty_root)
}

/// rs_merkle's proof hashes for one leaf.
pub fn rs_merkle_path(leaves: &[Hash], index: usize) -> Vec<Hash> {
    MerkleTree::<Rfc6962>::from_leaves(leaves)
        .proof(&[index])
        .proof_hashes()
        .to_vec()
}

/// Describes how the verifier's and the ledger's decodings of the same bytes differ,
/// field by field; `None` when they agree on every field.
pub fn entry_mismatch(v: &dyad_verifier::Entry, l: &dyad_ledger::entry::Entry) -> Option<String> {
    let b = &l.body;
    let mut diffs = Vec::new();
    macro_rules! same {
        ($name:literal, $x:expr, $y:expr) => {
            if $x != $y {
                diffs.push(format!("{}: verifier {:?} ledger {:?}", $name, $x, $y));
            }
        };
    }
    same!("version", v.version, b.version);
    same!("origin", v.origin, b.origin);
    same!("kind", v.kind.as_u8(), b.kind as u8);
    same!("sender", v.sender, b.sender);
    same!("sequence", v.sequence, b.sequence);
    same!("timestamp_ms", v.timestamp_ms, b.timestamp_ms);
    same!("reply_to", v.reply_to, b.reply_to);
    same!("subject", v.subject, b.subject);
    same!("content_type", v.content_type, b.content_type);
    same!("payload", v.payload, b.payload);
    same!("attachments", v.attachments.len(), b.attachments.len());
    for (x, y) in v.attachments.iter().zip(&b.attachments) {
        same!("attachment sha256", x.sha256, y.sha256);
        same!("attachment size", x.size, y.size);
        same!("attachment name", x.name, y.name);
        same!("attachment content_type", x.content_type, y.content_type);
    }
    same!("signatures", v.signatures.len(), l.signatures.len());
    for (x, y) in v.signatures.iter().zip(&l.signatures) {
        same!("signature key_id", x.key_id, y.key_id);
        same!("signature", x.signature, y.signature);
    }
    if diffs.is_empty() {
        None
    } else {
        Some(diffs.join("; "))
    }
}
