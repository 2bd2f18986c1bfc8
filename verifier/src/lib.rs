//! dyad-verifier: checks what a dyad ledger claims, without trusting it.
//!
//! Every function is pure: it takes bytes and keys and returns a typed result or a
//! typed error. There is no I/O, clock or global state, and no input can make it
//! panic or allocate more than a small multiple of the input's own size.
//!
//! | module | standard |
//! |---|---|
//! | [`hash`] | RFC 9162 section 2.1.1 Merkle tree hashing |
//! | [`proof`] | RFC 9162 sections 2.1.3.2 and 2.1.4.2 inclusion and consistency proofs |
//! | [`key`] | C2SP signed-note verifier keys (vkeys) |
//! | [`keyed`] | strict Ed25519 verification with a per-key precomputed table |
//! | [`note`] | C2SP signed-note |
//! | [`cosignature`] | C2SP tlog-cosignature (`cosignature/v1`, Ed25519) |
//! | [`checkpoint`] | C2SP tlog-checkpoint |
//! | [`policy`] | C2SP tlog-policy |
//! | [`entry`] | dyad entries (spec section 3), decoded by hand from the spec |
//! | [`attachment`] | attachment bytes checked against their entry (spec section 3.5) |
//! | [`joint_record`] | records and endorsements: the payload and the rules (spec section 3.6) |
//! | [`key_change`] | key changes: the payload, the statement and the rules of one entry (spec section 3.7) |
//! | [`witness_change`] | witness changes: the payload, the statement and the rules of one entry (spec section 3.8) |
//! | [`endorsement`] | a record's receipt with its endorsement's (spec sections 3.6, 8) |
//! | [`genesis`] | the genesis record and the committed-checkpoint rule (spec sections 4, 7) |
//! | [`receipt`] | receipts: C2SP tlog-proof carrying the entry (spec section 8) |
//! | [`receipt_history`] | a receipt with its key history: the key changes below its checkpoint (spec section 8) |
//! | [`receipt_directory`] | a receipt with its attachments' bytes: the file names (spec section 8) |
//! | [`audit`](mod@audit) | streaming audit of a whole log |
//! | `parallel_audit` | the same audit with the leaves checked on the machine's cores (`std` only) |
//! | [`equivocation`] | portable evidence of equivocation (spec/evidence.md) |
//! | [`tiles`] | C2SP tlog-tiles hash tiles, checked against the entries they cover |
//! | [`promise_evidence`] | portable evidence of a broken promise of inclusion (spec/evidence.md) |
//!
//! `entry` and `genesis` gather public paths; what they name is defined in inner modules,
//! which the rest of the crate uses directly:
//!
//! | inner module | holds |
//! |---|---|
//! | `rules` | constants, entry kinds, party roles, entry and genesis errors (spec 3, 4) |
//! | `wire` | the reader of the primitive encodings (spec 3.1) |
//! | `entry_codec` | entry decoding, signed message and signature checks (spec 3.1, 3.4) |
//! | `genesis_record` | the genesis record and the rules it alone determines (spec 4) |
//! | `witness_history` | the witnesses and threshold at each size, and the witness changes (spec 3.8, 7) |
//! | `key_history` | the parties' current keys, the witnesses, and every key the channel has had (spec 3.7, 3.8) |
//! | `channel` | channel parameters, committed checkpoints, `check_genesis`, `check_entry` |
//! | `text` | canonical decimals, base64 hashes and numbered lines of the text formats |
//!
//! Imports go one way. In this order each module imports only modules before it: `hash`,
//! `keyed`, `key`, `cosignature`, `text`, `rules`, `wire`, `checkpoint`, `note`, `proof`, `policy`,
//! `entry_codec`, `joint_record`, `key_change`, `attachment`, `genesis_record`, `witness_change`, `witness_history`, `key_history`,
//! `channel`, `entry`,
//! `genesis`, `tiles`, `equivocation`, `promise_evidence`, `receipt`, `receipt_history`, `receipt_directory`,
//! `endorsement`, `audit`, `parallel_audit` (tests/module_graph.rs checks
//! that there is no cycle).
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod attachment;
pub mod audit;
mod channel;
pub mod checkpoint;
mod comb;
pub mod cosignature;
pub mod endorsement;
pub mod entry;
mod entry_codec;
pub mod equivocation;
pub mod genesis;
mod genesis_record;
pub mod hash;
pub mod joint_record;
pub mod key;
pub mod key_change;
mod key_history;
pub mod keyed;
pub mod note;
#[cfg(feature = "std")]
pub mod parallel_audit;
pub mod policy;
pub mod promise_evidence;
pub mod proof;
pub mod receipt;
pub mod receipt_directory;
pub mod receipt_history;
mod rules;
pub mod text;
pub mod tiles;
mod wire;
pub mod witness_change;
mod witness_history;

pub use checkpoint::CheckpointError;
pub use hash::Hash;
pub use key::KeyError;
pub use note::NoteError;
pub use policy::PolicyError;
pub use proof::ProofError;

pub use attachment::{check_attachment, AttachmentCheck, AttachmentError};
pub use audit::{audit, AuditError, AuditReport, AuditTrust, Auditor};
pub use entry::{Entry, EntryError, Kind};
pub use equivocation::EvidenceError;
pub use genesis::{ChannelParams, Genesis, GenesisError, KeyChange, Party, WitnessChange};
pub use joint_record::EndorsementError;
pub use receipt::{ReceiptError, ReceiptTrust, VerifiedReceipt};
