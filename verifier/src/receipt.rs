//! Receipts: the offline proof of one message (spec/dyad.md section 8).
//!
//! A receipt is a C2SP tlog-proof v1 file whose `extra` line, required here, carries the
//! entry bytes:
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64(entry bytes)>
//! index <index in decimal, no leading zeros>
//! <base64(inclusion proof hash)>        (zero or more lines, leaf upwards)
//!
//! <the committed checkpoint note, verbatim>
//! ```
//!
//! [`format()`] writes exactly what [`parse`] reads. [`verify`] checks the receipt against a
//! [`ReceiptTrust`]: the two parties' keys (roles not needed), or a channel's genesis.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::channel::{self, ChannelParams, CommitError, CommitKeys, Committed};
use crate::entry_codec::{self, Entry};
use crate::genesis_record::Genesis;
use crate::hash::{leaf_hash, Hash};
use crate::joint_record;
use crate::key::{KeyError, SignatureType, VerifierKey};
use crate::key_change;
use crate::key_history::KeyChange;
use crate::note::{self, NoteError};
use crate::policy::{PartiesError, Policy, PolicyError};
use crate::proof::{self, ProofError};
use crate::rules::{EntryError, GenesisError, Kind, PartyRole, MAX_ENTRY_SIZE};
use crate::text::{parse_decimal, parse_hash, push_hash_lines, LineError, Lines};
use crate::witness_change;
use crate::witness_history::WitnessChange;

/// The first line of every C2SP tlog-proof v1 file.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Largest receipt accepted: a 65535-byte entry in base64, a full proof, and a note of
/// the largest size `note` accepts, with room to spare.
pub const MAX_RECEIPT_BYTES: usize = note::MAX_NOTE_BYTES + 128 * 1024;
/// Most inclusion proof lines: a tree of up to 2^64 - 1 leaves is 64 levels high.
pub const MAX_PROOF_HASHES: usize = proof::MAX_INCLUSION_PROOF_HASHES;

/// Most key-change receipts a key history may hold (spec 8): far more key changes than a
/// channel will see, few enough that the history's entries fit in memory.
pub const MAX_KEY_HISTORY: usize = 256;

/// A parsed receipt; nothing verified yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The entry bytes from the `extra` line.
    pub entry_bytes: Vec<u8>,
    /// The entry's index in the log.
    pub index: u64,
    /// The inclusion proof, leaf upwards.
    pub proof: Vec<Hash>,
    /// The checkpoint note, verbatim.
    pub checkpoint_note: Vec<u8>,
}

/// Why a receipt was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// Larger than [`MAX_RECEIPT_BYTES`].
    #[error("receipt is {len} bytes, more than the {MAX_RECEIPT_BYTES} accepted")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// The first line is not [`HEADER`].
    #[error("the first line is not {HEADER:?}")]
    NotATlogProof,
    /// A line the format requires ends without a newline.
    #[error("line {line} has no newline: the receipt is truncated")]
    Truncated {
        /// The line number, from 1.
        line: usize,
    },
    /// The second line is not `extra <base64>`: dyad requires the entry bytes.
    #[error("line 2 is not 'extra <base64(entry)>': a dyad receipt carries its entry")]
    MissingExtra,
    /// The `extra` data is not canonical standard base64.
    #[error("the extra line is not canonical standard base64")]
    ExtraNotBase64,
    /// The `extra` data is longer than an entry can be.
    #[error(
        "the extra line holds {len} bytes, more than an entry's {}",
        MAX_ENTRY_SIZE
    )]
    EntryTooLarge {
        /// Its decoded length.
        len: usize,
    },
    /// The third line is not `index <decimal>` (no sign, no leading zeros, fits in u64).
    #[error("line 3 is not 'index <decimal>'")]
    MalformedIndex,
    /// A proof line is not canonical base64 of 32 bytes.
    #[error("line {line} is not a base64 SHA-256 hash")]
    MalformedProofHash {
        /// The line number, from 1.
        line: usize,
    },
    /// More than [`MAX_PROOF_HASHES`] proof lines.
    #[error("more than {MAX_PROOF_HASHES} inclusion proof hashes")]
    TooManyProofHashes,
    /// Nothing follows the blank line.
    #[error("no checkpoint after the blank line")]
    MissingCheckpoint,
    /// A trusted key is not usable as a party key.
    #[error("trusted key {key}: {reason}")]
    BadTrustedKey {
        /// The key.
        key: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// A trusted key cannot be renamed to the checkpoint's origin (the log key's name).
    #[error("the checkpoint origin is not a valid key name: {0}")]
    InvalidOrigin(KeyError),
    /// The checkpoint's origin is not the one the trust pins.
    #[error("checkpoint origin {found:?} is not the trusted origin {expected:?}")]
    WrongOrigin {
        /// The trusted origin.
        expected: String,
        /// The checkpoint's.
        found: String,
    },
    /// The checkpoint is not committed under the trusted keys (section 7).
    #[error("checkpoint is not committed: {0}")]
    NotCommitted(#[from] CommitError),
    /// The checkpoint does not satisfy the trusted policy.
    #[error("checkpoint does not satisfy the policy: {0}")]
    Policy(#[from] PolicyError),
    /// The policy does not name the channel's parties (section 9).
    #[error("the policy does not name the channel's parties: {0}")]
    PolicyParties(#[from] PartiesError),
    /// The policy's log that signed the checkpoint is neither party's key.
    #[error("the log key {0} that signed the checkpoint is not a trusted party's key")]
    LogNotAParty(String),
    /// The entry is malformed, or breaks an entry rule.
    #[error("entry: {0}")]
    Entry(#[from] EntryError),
    /// The entry belongs to another channel.
    #[error("entry origin {entry:?} is not the checkpoint origin {checkpoint:?}")]
    OriginMismatch {
        /// The entry's origin.
        entry: String,
        /// The checkpoint's origin.
        checkpoint: String,
    },
    /// The genesis entry does not name the trusted parties in the roles the checkpoint
    /// shows.
    #[error("the genesis entry does not name the trusted parties in these roles")]
    GenesisNotTrusted,
    /// The inclusion proof does not verify (including `index >= size`).
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] ProofError),
    /// The checkpoint is signed by neither the trusted keys nor, given no key history,
    /// any key the verifier knows: after a key change below its size, it is signed with
    /// the new key (spec 3.7, 8); or too few of the trusted witnesses co-signed it: after a
    /// witness change below its size, the new witnesses co-sign it (spec 3.8, 8).
    #[error("checkpoint is not committed under the trusted keys: {0}; if a party changed its key or the parties changed the witnesses below this checkpoint, this receipt may need its key history: key-changes/ in a receipt directory (spec 8.1)")]
    MayNeedKeyHistory(CommitError),
    /// More key-change receipts than [`MAX_KEY_HISTORY`].
    #[error(
        "{count} key-change receipts, more than the {} accepted",
        MAX_KEY_HISTORY
    )]
    KeyHistoryTooLong {
        /// How many were given.
        count: usize,
    },
    /// A key-change receipt (the `position`-th given) does not parse.
    #[error("key-change receipt {position}: {error}")]
    KeyHistoryReceipt {
        /// Its position among those given, from 0.
        position: usize,
        /// What is wrong.
        error: alloc::boxed::Box<ReceiptError>,
    },
    /// A key-change receipt is proved against another checkpoint than the receipt's.
    #[error("the key-change receipt of entry {index} is against another checkpoint: a key history is proved against the receipt's own checkpoint, byte for byte (spec 8)")]
    KeyHistoryCheckpointDiffers {
        /// The key change's index.
        index: u64,
    },
    /// Two key-change receipts of the same index.
    #[error("two key-change receipts of entry {index}")]
    KeyHistoryDuplicate {
        /// The index.
        index: u64,
    },
    /// A key-change receipt's entry is neither a key change nor a witness change.
    #[error("the key-change receipt of entry {index} holds a {kind} entry, not a key change or a witness change")]
    KeyHistoryNotAKeyChange {
        /// Its index.
        index: u64,
        /// Its kind.
        kind: Kind,
    },
    /// A key-change receipt does not verify as one (spec 3.7, 3.8, 8).
    #[error("the key or witness change at entry {index}: {error}")]
    KeyHistory {
        /// The key change's index.
        index: u64,
        /// What is wrong.
        error: alloc::boxed::Box<ReceiptError>,
    },
}

/// Whom a receipt's verifier trusts.
///
/// Built from the two parties' entry keys ([`ReceiptTrust::parties`]; type 0x01 under the
/// party names, which is what `NAME.pub` holds), optionally with witnesses, or from a
/// channel's genesis ([`ReceiptTrust::genesis`]), or from a C2SP tlog-policy plus the party
/// keys ([`ReceiptTrust::policy`]). With the party keys alone the roles are
/// found from the checkpoint: the sequencer is the party whose key, named by the origin,
/// signed it as the log (section 2.2); the other party must have co-signed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptTrust {
    parties: [VerifierKey; 2],
    /// Whether `parties` is (sequencer, co-signer) in that order.
    roles_known: bool,
    origin: Option<String>,
    witnesses: Vec<VerifierKey>,
    witness_threshold: usize,
    policy: Option<Policy>,
}

impl ReceiptTrust {
    /// Trusts two parties, given by their entry keys (type 0x01 under their names), in
    /// either order.
    pub fn parties(a: VerifierKey, b: VerifierKey) -> Result<ReceiptTrust, ReceiptError> {
        for key in [&a, &b] {
            if key.signature_type() != SignatureType::Ed25519 {
                return Err(ReceiptError::BadTrustedKey {
                    key: key.to_string(),
                    reason: "a party key must be an Ed25519 (type 0x01) key",
                });
            }
        }
        if a.public_key_bytes() == b.public_key_bytes() || a.name() == b.name() {
            return Err(ReceiptError::BadTrustedKey {
                key: b.to_string(),
                reason: "the two parties must have different names and keys",
            });
        }
        Ok(ReceiptTrust {
            parties: [a, b],
            roles_known: false,
            origin: None,
            witnesses: Vec::new(),
            witness_threshold: 0,
            policy: None,
        })
    }

    /// Trusts the checkpoints a C2SP tlog-policy accepts (section 9: an auditor MAY use a
    /// policy stricter than the channel's), with the two parties' entry keys (type 0x01
    /// under their names) for the entry signatures. The log that signs must be one of the
    /// parties, and the other party must have co-signed as one of the policy's witnesses
    /// (section 7), whatever else the policy asks for.
    pub fn policy(
        policy: Policy,
        a: VerifierKey,
        b: VerifierKey,
    ) -> Result<ReceiptTrust, ReceiptError> {
        let mut trust = ReceiptTrust::parties(a, b)?;
        trust.policy = Some(policy);
        Ok(trust)
    }

    /// Trusts the checkpoints a C2SP tlog-policy accepts, with the parties the policy
    /// names (section 9): its one log is the sequencer, and its witnesses `sequencer` and
    /// `cosigner` give the parties' names. The co-signer must have co-signed as witness
    /// `cosigner` whatever the quorum asks for (section 7).
    pub fn from_policy(policy: Policy) -> Result<ReceiptTrust, ReceiptError> {
        let parties = policy.parties()?;
        let mut trust = ReceiptTrust::policy(policy, parties.sequencer, parties.cosigner)?;
        trust.roles_known = true;
        Ok(trust.with_origin(&parties.origin))
    }

    /// Trusts the channel a genesis describes: its origin, parties in their roles, and its
    /// witnesses with its threshold.
    pub fn genesis(genesis: &Genesis) -> Result<ReceiptTrust, GenesisError> {
        let params = ChannelParams::new(genesis.clone())?;
        let keys = params.commit_keys();
        Ok(ReceiptTrust {
            parties: [
                params.sequencer_key().clone(),
                params.cosigner_key().clone(),
            ],
            roles_known: true,
            origin: Some(genesis.origin.clone()),
            witnesses: keys.witnesses.clone(),
            witness_threshold: keys.witness_threshold,
            policy: None,
        })
    }

    /// The same trust with every key's verification table precomputed
    /// ([`VerifierKey::precomputed`]): for verifying many receipts with it.
    #[must_use]
    pub fn precomputed(mut self) -> ReceiptTrust {
        self.parties = self.parties.map(VerifierKey::precomputed);
        self.witnesses = self
            .witnesses
            .into_iter()
            .map(VerifierKey::precomputed)
            .collect();
        self
    }

    /// Also requires `threshold` of these witnesses (cosignature keys, type 0x04) to have
    /// co-signed the checkpoint.
    pub fn with_witnesses(
        mut self,
        witnesses: Vec<VerifierKey>,
        threshold: usize,
    ) -> Result<ReceiptTrust, ReceiptError> {
        for key in &witnesses {
            if key.signature_type() != SignatureType::CosignatureV1 {
                return Err(ReceiptError::BadTrustedKey {
                    key: key.to_string(),
                    reason: "a witness key must be a cosignature/v1 (type 0x04) key",
                });
            }
        }
        if threshold > witnesses.len() {
            return Err(ReceiptError::BadTrustedKey {
                key: String::new(),
                reason: "the witness threshold exceeds the number of witnesses",
            });
        }
        self.witnesses = witnesses;
        self.witness_threshold = threshold;
        Ok(self)
    }

    /// Also requires the checkpoint (and so the entry) to be of this origin.
    pub fn with_origin(mut self, origin: &str) -> ReceiptTrust {
        self.origin = Some(String::from(origin));
        self
    }

    /// The trusted party keys.
    pub fn party_keys(&self) -> &[VerifierKey; 2] {
        &self.parties
    }

    /// The keys a checkpoint of `origin` is committed under if party `sequencer` (0 or 1)
    /// sequences.
    fn commit_keys(&self, origin: &str, sequencer: usize) -> Result<CommitKeys, ReceiptError> {
        let log = self.parties[sequencer]
            .with_name(origin)
            .map_err(ReceiptError::InvalidOrigin)?;
        let cosigner =
            self.parties[1 - sequencer].with_signature_type(SignatureType::CosignatureV1);
        Ok(CommitKeys {
            origin: String::from(origin),
            log,
            cosigner,
            witnesses: self.witnesses.clone(),
            witness_threshold: self.witness_threshold,
        })
    }

    /// Checks the note against `policy` (the trusted one, or it with the parties' keys at
    /// the checkpoint's size, `parties`); returns the commitment and which party (0 or 1)
    /// sequenced.
    pub(crate) fn committed_by_policy(
        &self,
        policy: &Policy,
        parties: &[VerifierKey; 2],
        note_bytes: &[u8],
    ) -> Result<(Committed, usize), ReceiptError> {
        let verified = policy.verify_checkpoint(note_bytes)?;
        let origin = &verified.checkpoint.origin;
        if let Some(expected) = &self.origin {
            if expected != origin {
                return Err(ReceiptError::WrongOrigin {
                    expected: expected.clone(),
                    found: origin.clone(),
                });
            }
        }
        let sequencer = parties
            .iter()
            .position(|p| p.public_key_bytes() == verified.log.public_key_bytes())
            .ok_or_else(|| ReceiptError::LogNotAParty(verified.log.to_string()))?;
        let cosigner = parties[1 - sequencer].with_signature_type(SignatureType::CosignatureV1);
        let witness_key = |name: &str| {
            policy
                .witnesses()
                .iter()
                .find(|w| w.name == name)
                .map(|w| w.key.clone())
        };
        let mut cosigned_at = None;
        let mut witnesses = Vec::new();
        for (name, timestamp) in &verified.cosigners {
            match witness_key(name) {
                Some(key) if key == cosigner => cosigned_at = Some(*timestamp),
                Some(key) => witnesses.push((key, *timestamp)),
                None => {}
            }
        }
        let cosigned_at =
            cosigned_at.ok_or_else(|| CommitError::MissingCosignature(cosigner.to_string()))?;
        let committed = Committed {
            checkpoint: verified.checkpoint,
            log: verified.log,
            cosigner,
            cosigned_at,
            witnesses,
        };
        Ok((committed, sequencer))
    }

    /// Checks that a checkpoint note (one a receipt does not carry: a published copy's,
    /// a later one) is committed under this trust, as a receipt's checkpoint must be.
    pub fn verify_checkpoint(&self, note_bytes: &[u8]) -> Result<Committed, ReceiptError> {
        self.committed(note_bytes).map(|(committed, _)| committed)
    }

    /// Checks that `note_bytes` is committed under this trust; returns the commitment and
    /// which party (0 or 1) sequenced.
    fn committed(&self, note_bytes: &[u8]) -> Result<(Committed, usize), ReceiptError> {
        if let Some(policy) = &self.policy {
            return self.committed_by_policy(policy, &self.parties, note_bytes);
        }
        // The origin comes from the note itself: the log key is named by it.
        let origin = channel::read_checkpoint(note_bytes)?.origin;
        if let Some(expected) = &self.origin {
            if *expected != origin {
                return Err(ReceiptError::WrongOrigin {
                    expected: expected.clone(),
                    found: origin,
                });
            }
        }
        let candidates: &[usize] = if self.roles_known { &[0] } else { &[0, 1] };
        let assignments = candidates
            .iter()
            .map(|&s| self.commit_keys(&origin, s).map(|k| (s, k)))
            .collect::<Result<Vec<_>, _>>()?;
        // Verify once against every key either assignment knows, so that a failing
        // signature by any trusted key rejects the note whatever the roles.
        let mut keys: Vec<VerifierKey> = Vec::new();
        for (_, k) in &assignments {
            for key in k.keys() {
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        let verified = note::verify(note_bytes, &keys).map_err(CommitError::Note)?;
        let mut error = None;
        for (sequencer, k) in &assignments {
            match k.committed(&verified) {
                Ok(c) => return Ok((c, *sequencer)),
                // Prefer the error of an assignment whose log signature is there: it says
                // what is really missing.
                Err(e) => {
                    if error.is_none() || !matches!(e, CommitError::MissingLogSignature(_)) {
                        error = Some(e);
                    }
                }
            }
        }
        Err(error
            .unwrap_or(CommitError::MissingLogSignature(origin))
            .into())
    }
}

/// A receipt that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedReceipt {
    /// The decoded entry.
    pub entry: Entry,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// Its index in the log.
    pub index: u64,
    /// The sender's entry key.
    pub sender: VerifierKey,
    /// Whether the sender is the sequencer or the co-signer.
    pub sender_role: PartyRole,
    /// The committed checkpoint, who signed it and when.
    pub committed: Committed,
    /// The key changes of the key history it was verified with, in index order (empty
    /// without one: spec 8, "Receipts after a key change").
    pub key_changes: Vec<KeyChange>,
    /// The witness changes of the key history it was verified with, in index order: the
    /// checkpoint was judged by the last one's witnesses (spec 3.8, 8).
    pub witness_changes: Vec<WitnessChange>,
}

/// A receipt's lines are read with [`Lines::next`] alone, which fails only at a line
/// without a newline.
fn truncated(error: LineError) -> ReceiptError {
    match error {
        LineError::Truncated { line } | LineError::Unexpected { line, .. } => {
            ReceiptError::Truncated { line }
        }
    }
}

/// Parses a receipt exactly as section 8 lays it out; the `extra` line is required.
/// Nothing is verified: see [`verify`].
pub fn parse(bytes: &[u8]) -> Result<Receipt, ReceiptError> {
    if bytes.len() > MAX_RECEIPT_BYTES {
        return Err(ReceiptError::TooLarge { len: bytes.len() });
    }
    let mut lines = Lines::new(bytes);
    let header = lines.next().map_err(|_| ReceiptError::NotATlogProof)?;
    if header != HEADER.as_bytes() {
        return Err(ReceiptError::NotATlogProof);
    }
    let extra = lines.next().map_err(truncated)?;
    let encoded = extra
        .strip_prefix(b"extra ")
        .ok_or(ReceiptError::MissingExtra)?;
    // Bound the decoded size before decoding: 4 base64 characters per 3 bytes.
    let max_encoded = MAX_ENTRY_SIZE.div_ceil(3) * 4;
    if encoded.len() > max_encoded {
        return Err(ReceiptError::EntryTooLarge {
            len: encoded.len() / 4 * 3,
        });
    }
    let entry_bytes = BASE64
        .decode(encoded)
        .map_err(|_| ReceiptError::ExtraNotBase64)?;
    if entry_bytes.len() > MAX_ENTRY_SIZE {
        return Err(ReceiptError::EntryTooLarge {
            len: entry_bytes.len(),
        });
    }
    let index_line = lines.next().map_err(truncated)?;
    let index = index_line
        .strip_prefix(b"index ")
        .and_then(parse_decimal)
        .ok_or(ReceiptError::MalformedIndex)?;
    let mut proof = Vec::new();
    loop {
        let line = lines.line();
        let hash_line = lines.next().map_err(truncated)?;
        if hash_line.is_empty() {
            break;
        }
        if proof.len() == MAX_PROOF_HASHES {
            return Err(ReceiptError::TooManyProofHashes);
        }
        let hash = parse_hash(hash_line).ok_or(ReceiptError::MalformedProofHash { line })?;
        proof.push(hash);
    }
    let rest = lines.rest();
    if rest.is_empty() {
        return Err(ReceiptError::MissingCheckpoint);
    }
    Ok(Receipt {
        entry_bytes,
        index,
        proof,
        checkpoint_note: rest.to_vec(),
    })
}

/// Writes a receipt: the inverse of [`parse`].
pub fn format(entry_bytes: &[u8], index: u64, proof: &[Hash], checkpoint_note: &[u8]) -> Vec<u8> {
    let mut out = String::new();
    out.push_str(HEADER);
    out.push_str("\nextra ");
    out.push_str(&BASE64.encode(entry_bytes));
    out.push_str("\nindex ");
    out.push_str(&alloc::format!("{index}"));
    out.push('\n');
    push_hash_lines(&mut out, proof);
    out.push('\n');
    let mut out = out.into_bytes();
    out.extend_from_slice(checkpoint_note);
    out
}

/// Verifies a receipt (section 8): it parses exactly; the checkpoint is committed under
/// the trusted keys (section 7); the entry decodes canonically, has the checkpoint's
/// origin, and its signature verifies under the key of its sender, which is one of the
/// parties; `index < size`; and the inclusion proof verifies the entry's leaf hash at
/// `index` against the checkpoint's root.
///
/// Beyond section 8 it also applies the entry rules that need no other entry: a genesis
/// entry only at index 0 (and there, with both parties' signatures and naming the trusted
/// parties in the roles the checkpoint shows), a response has `reply_to`, and `reply_to`
/// is earlier than the entry and not 0. The channel's payload and attachment limits are
/// not checked, since they are in the genesis, which the receipt does not carry.
pub fn verify(bytes: &[u8], trust: &ReceiptTrust) -> Result<VerifiedReceipt, ReceiptError> {
    let receipt = parse(bytes)?;
    let (committed, sequencer) =
        trust
            .committed(&receipt.checkpoint_note)
            .map_err(|e| match e {
                // What a key change below the checkpoint's size would cause (spec 8).
                // With both parties' keys changed, no line verifies under a trusted key.
                // Too few witnesses is what a witness change left out causes (3.8).
                ReceiptError::NotCommitted(
                    e @ (CommitError::MissingLogSignature(_)
                    | CommitError::MissingCosignature(_)
                    | CommitError::NotEnoughWitnesses { .. }
                    | CommitError::Note(NoteError::NoVerifiedSignature)),
                ) if trust.policy.is_none() => ReceiptError::MayNeedKeyHistory(e),
                other => other,
            })?;
    let entry = entry_codec::decode(&receipt.entry_bytes)?;
    check_origin(&entry, &committed.checkpoint.origin)?;
    let roles = trust.roles(sequencer);
    let (sender_role, sender) = roles
        .iter()
        .find(|(_, key)| key.key_id() == entry.sender)
        .map(|(role, key)| (*role, (*key).clone()))
        .ok_or(EntryError::SenderNotAParty {
            key_id: entry.sender,
        })?;
    check_entry(&receipt, &entry, &sender, roles)?;
    finish(
        receipt,
        entry,
        (sender_role, sender),
        committed,
        (Vec::new(), Vec::new()),
    )
}

impl ReceiptTrust {
    /// The trusted parties in their roles when party `sequencer` (0 or 1) sequences.
    pub(crate) fn roles(&self, sequencer: usize) -> [(PartyRole, &VerifierKey); 2] {
        [
            (PartyRole::Sequencer, &self.parties[sequencer]),
            (PartyRole::Cosigner, &self.parties[1 - sequencer]),
        ]
    }

    /// Whether the roles are known (a genesis or a policy), or found from the checkpoint.
    pub(crate) fn roles_known(&self) -> bool {
        self.roles_known
    }

    /// The trusted policy, if any.
    pub(crate) fn trusted_policy(&self) -> Option<&Policy> {
        self.policy.as_ref()
    }

    /// The trusted origin, if any.
    pub(crate) fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The trusted witnesses' keys and how many must co-sign.
    pub(crate) fn witnesses(&self) -> (&[VerifierKey], usize) {
        (&self.witnesses, self.witness_threshold)
    }
}

/// The entry is of the checkpoint's channel.
pub(crate) fn check_origin(entry: &Entry, origin: &str) -> Result<(), ReceiptError> {
    if entry.origin != origin {
        return Err(ReceiptError::OriginMismatch {
            entry: entry.origin.clone(),
            checkpoint: String::from(origin),
        });
    }
    Ok(())
}

/// The rules of one entry a receipt shows (section 8), with `sender` the key its sender
/// signs with at its index: at index 0 a genesis naming the `genesis_roles` parties, with
/// both signatures; elsewhere no genesis, the signature's key ID, the form rules of 3.6,
/// 3.7 and 3.8, the reply rules of 3.3 and the sender's signature.
pub(crate) fn check_entry(
    receipt: &Receipt,
    entry: &Entry,
    sender: &VerifierKey,
    genesis_roles: [(PartyRole, &VerifierKey); 2],
) -> Result<(), ReceiptError> {
    if receipt.index == 0 || entry.kind == Kind::Genesis {
        if receipt.index != 0 {
            return Err(EntryError::GenesisNotFirst {
                index: receipt.index,
            }
            .into());
        }
        let (_, genesis) = channel::check_genesis(&receipt.entry_bytes)?;
        if !genesis.sequencer.is_key(genesis_roles[0].1)
            || !genesis.cosigner.is_key(genesis_roles[1].1)
        {
            return Err(ReceiptError::GenesisNotTrusted);
        }
        return Ok(());
    }
    if entry.signatures[0].key_id != entry.sender {
        return Err(EntryError::SignatureKeyMismatch {
            position: 0,
            expected: entry.sender,
            found: entry.signatures[0].key_id,
        }
        .into());
    }
    joint_record::check_form(&entry.joint_fields(), receipt.index).map_err(EntryError::from)?;
    key_change::check_form(entry).map_err(EntryError::from)?;
    witness_change::check_form(entry).map_err(EntryError::from)?;
    entry_codec::check_reply_to(entry, receipt.index)?;
    entry_codec::verify_signature(&receipt.entry_bytes, entry, sender)?;
    Ok(())
}

/// The inclusion proof, and the verified receipt.
pub(crate) fn finish(
    receipt: Receipt,
    entry: Entry,
    (sender_role, sender): (PartyRole, VerifierKey),
    committed: Committed,
    (key_changes, witness_changes): (Vec<KeyChange>, Vec<WitnessChange>),
) -> Result<VerifiedReceipt, ReceiptError> {
    let leaf_hash = leaf_hash(&receipt.entry_bytes);
    proof::verify_inclusion(
        &leaf_hash,
        receipt.index,
        committed.checkpoint.size,
        &receipt.proof,
        &committed.checkpoint.root,
    )?;
    Ok(VerifiedReceipt {
        entry,
        leaf_hash,
        index: receipt.index,
        sender,
        sender_role,
        committed,
        key_changes,
        witness_changes,
    })
}
