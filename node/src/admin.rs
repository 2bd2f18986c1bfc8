//! The operator's admin API (spec/node.md, "Admin API"): its request and response bodies,
//! which the node's handlers (`http/admin.rs`) and its client ([`crate::AdminClient`]) share.
//!
//! The admin API is served on the Unix socket `<data_dir>/admin.sock` (only the owner of
//! the 0700 data directory can create or reach it), optionally also on a loopback TCP
//! listener, and every request needs `Authorization: Bearer <token>`, the token being the
//! content of `<data_dir>/admin.token` (written anew, mode 0600, at every start). The
//! operator's tools find the node through the socket only: a TCP port can be taken by
//! anyone on the machine once the node is gone, the socket cannot.

use serde::{Deserialize, Serialize};

/// The body of `POST /admin/append`: the operator's own message.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    /// `inquiry`, `response`, `threat-indicators` or `notification`.
    pub kind: String,
    /// A short subject line (may be empty).
    #[serde(default)]
    pub subject: String,
    /// The payload's media type.
    pub content_type: String,
    /// The payload, standard padded base64.
    #[serde(default)]
    pub payload: String,
    /// The index of the entry this message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<u64>,
    /// `queued` (co-signer: durably queued), `accepted` (the default; sequencer: durable
    /// in the log; co-signer: promised by the sequencer) or `committed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<String>,
    /// How long to wait for that state (default 10 s, at most the node's `max_wait`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The attachments the entry names (spec/dyad.md 3.5), each already in the data
    /// directory's attachment store with that size and hash: the node checks it holds them
    /// before it signs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentRef>,
}

/// An attachment named by an [`AppendRequest`].
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AttachmentRef {
    /// Its file name (spec/dyad.md 3.1).
    pub name: String,
    /// Its media type.
    pub content_type: String,
    /// Its SHA-256, 64 lowercase hex digits.
    pub sha256: String,
    /// Its length in bytes.
    pub size: u64,
}

/// The answer to `POST /admin/append` (200 when the wanted state was reached, 202 when the
/// wait ran out first: `state` says where the message is).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AppendResponse {
    /// `queued` (co-signer: signed and queued for the sequencer), `pending` (in the log,
    /// not yet covered by a co-signed checkpoint) or `committed`.
    pub state: String,
    /// The entry's index, once the sequencer has assigned it.
    pub index: Option<u64>,
    /// Hex SHA-256 leaf hash of the entry (RFC 9162: SHA-256(0x00 || entry)).
    pub leaf_hash: String,
    /// Co-signer: the sequencer's promise of inclusion, a signed note.
    pub promise: Option<String>,
}

/// The body of `POST /admin/snapshot`: where the node writes a consistent, verified copy
/// of its store.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRequest {
    /// The new directory: an absolute path, or one relative to the node's data directory
    /// (and inside it). It must not exist, or be empty; its parent must exist.
    pub dir: String,
}

/// The answer to `POST /admin/snapshot`: what the copy holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SnapshotResponse {
    /// The directory written, absolute.
    pub dir: String,
    /// Entries in the copy.
    pub size: u64,
    /// Their Merkle root, standard padded base64.
    pub root: String,
    /// The committed size: the newest co-signed checkpoint's.
    pub committed_size: u64,
    /// The commits the store had made.
    pub commits: u64,
    /// Bytes of the store's flat files copied.
    pub file_bytes: u64,
    /// How long the node held its replica for the capture (commits waited), in ms.
    pub paused_ms: u64,
    /// How long the whole snapshot took (copy and verification included), in ms.
    pub total_ms: u64,
}

/// The body of `POST /admin/rotate-key` (spec/node.md 5.5): this party replaces its key
/// (spec/dyad.md 3.7). The node reads the new private key from a file on its own machine;
/// the key itself never travels over the admin API.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RotateKeyRequest {
    /// The new private key file: an absolute path, mode 0600, under this party's key name.
    pub new_key_file: String,
}

/// The answer to `POST /admin/rotate-key`: the key change made.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RotateKeyResponse {
    /// `pending` (sequencer: in the log, awaiting co-signing) or `queued` (co-signer:
    /// signed and queued for the sequencer).
    pub state: String,
    /// Sequencer: the key change's index in the log.
    pub index: Option<u64>,
    /// Co-signer: the key change's sequence number in its queue.
    pub sequence: Option<u64>,
    /// Hex SHA-256 leaf hash of the key-change entry.
    pub leaf_hash: String,
    /// The old key's ID (type 0x01), 8 hex digits.
    pub old_key_id: String,
    /// The new key's ID (type 0x01), 8 hex digits.
    pub new_key_id: String,
}

/// A witness as the witness-change routes name it (spec/node.md 5.6): its key name, its
/// Ed25519 public key, and optionally its add-checkpoint base URL (which the sequencer's
/// node needs; the channel's record holds only the name and key).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WitnessSpec {
    /// The witness's key name (spec/dyad.md 2.1).
    pub name: String,
    /// Its public key: standard padded base64 of the 32 bytes, or (in a request) its
    /// verifier key string `name+hex+base64` (type 0x01 or 0x04).
    pub public_key: String,
    /// Its add-checkpoint base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The body of `POST /admin/witness-change/approve`: the witness set and threshold this
/// party agrees the other party may give the channel (spec/dyad.md 3.8).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WitnessChangeApproveRequest {
    /// The new witness set, in the order the record lists it (0..=32).
    pub witnesses: Vec<WitnessSpec>,
    /// How many of them must co-sign a checkpoint (0..=len).
    pub witness_threshold: u8,
}

/// The key that signed an approval.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Approver {
    /// Its key name.
    pub name: String,
    /// Its key ID (type 0x01), 8 hex digits.
    pub key_id: String,
}

/// The answer to `POST /admin/witness-change/approve`, and the body of
/// `POST /admin/witness-change` on the other party's node: the approval of one witness
/// change (spec/dyad.md 3.8). It is not secret.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WitnessChangeApproval {
    /// The channel's origin the approval binds.
    pub origin: String,
    /// The witness change's number: the count of witness changes before it, plus one.
    pub number: u32,
    /// The new witness set (`public_key` in base64).
    pub witnesses: Vec<WitnessSpec>,
    /// The new threshold.
    pub witness_threshold: u8,
    /// The approver's Ed25519 signature over the witness-change statement, base64.
    pub approval: String,
    /// The key that signed it.
    pub approver: Approver,
    /// Only in a request to `POST /admin/witness-change`: add-checkpoint base URLs by
    /// witness name, beside (and over) those in `witnesses`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub witness_urls: std::collections::BTreeMap<String, String>,
}

/// The answer to `POST /admin/witness-change`: the witness-change entry made.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct WitnessChangeResponse {
    /// `pending` (sequencer: in the log, awaiting co-signing) or `queued` (co-signer:
    /// signed and queued for the sequencer).
    pub state: String,
    /// Sequencer: the entry's index in the log.
    pub index: Option<u64>,
    /// Co-signer: the entry's sequence number in its queue.
    pub sequence: Option<u64>,
    /// The witness change's number.
    pub number: u32,
    /// Hex SHA-256 leaf hash of the entry.
    pub leaf_hash: String,
    /// The witness URLs this node stored (sequencer), by name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub stored_urls: std::collections::BTreeMap<String, String>,
}
