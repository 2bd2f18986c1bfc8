//! C2SP tlog-policy: which logs may sign a checkpoint and which witness
//! cosignatures it needs.
//!
//! ```text
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> all|any|<k> <name>...
//! quorum <name>|none
//! ```
//!
//! Choices where the spec leaves room (dyad's spec records them):
//! - each name is a group member at most once in the whole policy, so that a
//!   witness counts towards the quorum in one way only (spec: "Each defined name
//!   can be listed as a group member at most once");
//! - at most [`MAX_LOGS`] logs, [`MAX_WITNESSES`] witnesses and [`MAX_GROUPS`] groups;
//! - log keys must be Ed25519 (0x01) keys; witness keys may be `cosignature/v1`
//!   (0x04) or Ed25519 (0x01) keys;
//! - the last line need not end in a newline;
//! - a witness whose public key is the signing log's own key never counts
//!   towards the quorum: a log cannot witness itself.
//!
//! [`Policy::parties`] reads a dyad channel's two parties from a policy (spec section 9).

mod model;
mod parties;
mod text;
mod verify;

pub use model::{
    Log, Policy, PolicyError, Threshold, VerifiedCheckpoint, Witness, BUILDER_LINE, MAX_GROUPS,
    MAX_LOGS, MAX_WITNESSES, NONE,
};
pub use parties::{PartiesError, PolicyParties, COSIGNER, SEQUENCER};
pub use text::parse;
