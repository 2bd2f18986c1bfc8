//! A third implementation, written from the texts alone and kept naive on purpose, that the
//! targets hold the ledger and the verifier against:
//!
//! - RFC 9162 section 2.1.1 tree hashing (recursive MTH), 2.1.3.1 inclusion paths and
//!   2.1.4.1 consistency proofs (recursive PATH and SUBPROOF);
//! - RFC 9162 sections 2.1.3.2 and 2.1.4.2 proof verification, step by step as the RFC
//!   words it, plus dyad's own rules from spec section 5;
//! - the entry encoding of spec section 3.1, field by field, with no validation, so that
//!   it can also write invalid entries.

use sha2::{Digest, Sha256};

use crate::Hash;

/// MTH({}) = SHA-256 of the empty string (spec section 5).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two smaller than `n` (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]) over leaf hashes.
pub fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// PATH(m, D[n]), leaf upwards. `m < leaves.len()`.
pub fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

/// PROOF(m, D[n]) for 0 < m <= n; empty for m == 0 (dyad's rule) and m == n.
pub fn consistency(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    fn subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if whole { Vec::new() } else { vec![mth(leaves)] };
        }
        let k = split(n);
        if m <= k {
            let mut p = subproof(m, &leaves[..k], whole);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = subproof(m - k, &leaves[k..], false);
            p.push(mth(&leaves[..k]));
            p
        }
    }
    if m == 0 {
        return Vec::new();
    }
    subproof(m, leaves, true)
}

/// RFC 9162 section 2.1.3.2 up to the final comparison: the root the path leads to, or
/// `None` where the RFC's algorithm fails (and for spec section 5's size 0 and index >= size).
pub fn inclusion_root(leaf: &Hash, index: u64, size: u64, proof: &[Hash]) -> Option<Hash> {
    if size == 0 || index >= size {
        return None;
    }
    let mut fnode = index;
    let mut snode = size - 1;
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return None;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    (snode == 0).then_some(r)
}

/// RFC 9162 section 2.1.3.2, with spec section 5's extra rules (size > 0, index < size).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    inclusion_root(leaf, index, size, proof) == Some(*root)
}

/// RFC 9162 section 2.1.4.2 steps 1 to 6 for 0 < old < new: the old and new roots the
/// proof leads to, or `None` where the algorithm fails. `old_root` is only used when the
/// old size is a power of two (step 2 prepends it to the path).
pub fn consistency_roots(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    proof: &[Hash],
) -> Option<(Hash, Hash)> {
    if old_size == 0 || old_size >= new_size {
        return None;
    }
    // 1. An empty consistency path fails.
    if proof.is_empty() {
        return None;
    }
    // 2. If first_size is an exact power of 2, prepend first_hash.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    // 3.
    let mut fnode = old_size - 1;
    let mut snode = new_size - 1;
    // 4.
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    // 5.
    let mut fr = path[0];
    let mut sr = path[0];
    // 6.
    for c in &path[1..] {
        if snode == 0 {
            return None;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    // 7. (the size part)
    (snode == 0).then_some((fr, sr))
}

/// RFC 9162 section 2.1.4.2, with spec section 5's rules for the cases the RFC leaves
/// out: old > new fails; old == new needs an empty proof and equal roots; old == 0 needs
/// an empty proof and the empty tree's root as the old root.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == new_size {
        // Same tree, same root; for two empty trees that root is MTH({}).
        return proof.is_empty()
            && old_root == new_root
            && (old_size > 0 || *old_root == empty_root());
    }
    if old_size == 0 {
        return proof.is_empty() && *old_root == empty_root();
    }
    // 7.
    consistency_roots(old_size, new_size, old_root, proof) == Some((*old_root, *new_root))
}

/// An attachment as spec section 3.1 lays it out, unchecked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawAttachment {
    pub sha256: Hash,
    pub size: u64,
    pub name: Vec<u8>,
    pub content_type: Vec<u8>,
}

/// An entry as spec section 3.1 lays it out, unchecked: any byte strings, any kind, any
/// number of signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEntry {
    pub version: u8,
    pub origin: Vec<u8>,
    pub kind: u8,
    pub sender: u32,
    pub sequence: u64,
    pub timestamp_ms: u64,
    pub reply_to: Option<u64>,
    pub subject: Vec<u8>,
    pub content_type: Vec<u8>,
    pub payload: Vec<u8>,
    pub attachments: Vec<RawAttachment>,
    pub signatures: Vec<(u32, [u8; 64])>,
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u64).to_be_bytes());
    out.extend_from_slice(b);
}

impl RawEntry {
    /// Fields 1 to 11.
    pub fn encode_body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.payload.len());
        out.push(self.version);
        put_bytes(&mut out, &self.origin);
        out.push(self.kind);
        out.extend_from_slice(&self.sender.to_be_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        match self.reply_to {
            None => out.push(0),
            Some(r) => {
                out.push(1);
                out.extend_from_slice(&r.to_be_bytes());
            }
        }
        put_bytes(&mut out, &self.subject);
        put_bytes(&mut out, &self.content_type);
        put_bytes(&mut out, &self.payload);
        out.extend_from_slice(&(self.attachments.len() as u64).to_be_bytes());
        for a in &self.attachments {
            out.extend_from_slice(&a.sha256);
            out.extend_from_slice(&a.size.to_be_bytes());
            put_bytes(&mut out, &a.name);
            put_bytes(&mut out, &a.content_type);
        }
        out
    }

    /// Fields 1 to 12.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.encode_body();
        out.extend_from_slice(&(self.signatures.len() as u64).to_be_bytes());
        for (key_id, sig) in &self.signatures {
            out.extend_from_slice(&key_id.to_be_bytes());
            out.extend_from_slice(sig);
        }
        out
    }

    /// `"dyad-entry/v1" || 0x00 || body` (spec 3.4).
    pub fn signed_message(&self) -> Vec<u8> {
        let mut m = b"dyad-entry/v1\x00".to_vec();
        m.extend_from_slice(&self.encode_body());
        m
    }

    /// The verifier's decoded entry, field by field.
    pub fn from_verifier(e: &dyad_verifier::Entry) -> RawEntry {
        RawEntry {
            version: e.version,
            origin: e.origin.as_bytes().to_vec(),
            kind: e.kind.as_u8(),
            sender: e.sender,
            sequence: e.sequence,
            timestamp_ms: e.timestamp_ms,
            reply_to: e.reply_to,
            subject: e.subject.as_bytes().to_vec(),
            content_type: e.content_type.as_bytes().to_vec(),
            payload: e.payload.clone(),
            attachments: e
                .attachments
                .iter()
                .map(|a| RawAttachment {
                    sha256: a.sha256,
                    size: a.size,
                    name: a.name.as_bytes().to_vec(),
                    content_type: a.content_type.as_bytes().to_vec(),
                })
                .collect(),
            signatures: e
                .signatures
                .iter()
                .map(|s| (s.key_id, s.signature))
                .collect(),
        }
    }
}

/// The genesis record of spec section 4, unchecked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawGenesis {
    pub version: u8,
    pub origin: Vec<u8>,
    /// (name, public key): sequencer, co-signer, then witnesses.
    pub sequencer: (Vec<u8>, [u8; 32]),
    pub cosigner: (Vec<u8>, [u8; 32]),
    pub witnesses: Vec<(Vec<u8>, [u8; 32])>,
    pub witness_threshold: u8,
    pub max_payload: u32,
    pub max_attachment_size: u64,
    pub max_clock_skew_s: u32,
}

impl RawGenesis {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.version];
        put_bytes(&mut out, &self.origin);
        for (name, key) in [&self.sequencer, &self.cosigner] {
            put_bytes(&mut out, name);
            out.extend_from_slice(key);
        }
        out.extend_from_slice(&(self.witnesses.len() as u64).to_be_bytes());
        for (name, key) in &self.witnesses {
            put_bytes(&mut out, name);
            out.extend_from_slice(key);
        }
        out.push(self.witness_threshold);
        out.extend_from_slice(&self.max_payload.to_be_bytes());
        out.extend_from_slice(&self.max_attachment_size.to_be_bytes());
        out.extend_from_slice(&self.max_clock_skew_s.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_proofs_verify_with_the_reference_verifiers() {
        let leaves: Vec<Hash> = (0u32..40).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for n in 1..=leaves.len() {
            let root = mth(&leaves[..n]);
            for m in 0..n {
                let p = path(m, &leaves[..n]);
                assert!(verify_inclusion(&leaves[m], m as u64, n as u64, &p, &root));
            }
            for m in 0..=n {
                let p = consistency(m, &leaves[..n]);
                let old = mth(&leaves[..m]);
                assert!(
                    verify_consistency(m as u64, n as u64, &old, &root, &p),
                    "{m} {n}"
                );
            }
        }
    }
}
