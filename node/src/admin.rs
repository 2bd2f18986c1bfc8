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
