//! Entries: the leaf data of a channel's Merkle log (spec section 3).
//!
//! The wire format is bincode 2.0.1 with one fixed configuration (big-endian, fixed-width
//! integers, u64 lengths), which spec section 3.1 describes byte for byte so that the
//! verifier can decode it without bincode. Decoding is canonical: besides bincode's own
//! checks we reject trailing bytes and every value outside the spec's rules, and re-encode
//! to confirm the input was the one valid encoding.

use bincode::config::{BigEndian, Configuration, Fixint, Limit};
use bincode::de::Decoder;
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{Decode, Encode};
use dyad_verifier::keyed::KeyedVerifier;
use ed25519_dalek::{Signature, VerifyingKey};

use crate::keys::SignerKey;
use crate::tree::{leaf_hash, Hash};

/// The entry format version this build writes and reads (spec section 3.1).
pub const VERSION: u8 = 1;
/// tlog-tiles entry bundles prefix each entry with a u16 length.
pub const MAX_ENTRY_LEN: usize = 65535;
/// The longest channel origin, in bytes.
pub const MAX_ORIGIN_LEN: usize = 255;
/// The longest subject, in bytes.
pub const MAX_SUBJECT_LEN: usize = 1024;
/// The longest content type, in bytes.
pub const MAX_CONTENT_TYPE_LEN: usize = 255;
/// The most attachments an entry names.
pub const MAX_ATTACHMENTS: usize = 16;
/// The longest attachment name, in bytes.
pub const MAX_ATTACHMENT_NAME_LEN: usize = 255;
/// The domain-separation label of entry signatures; the NUL after it cannot occur in a note.
pub const SIGNATURE_LABEL: &[u8] = b"dyad-entry/v1\0";

/// bincode's limit is only an allocation guard: it charges the in-memory size of each
/// decoded item (88 bytes for an attachment that can encode in 58), so it is set above the
/// exact bound that `Entry::decode` checks on the input length.
const DECODE_LIMIT: usize = 2 * MAX_ENTRY_LEN;

type WireConfig = Configuration<BigEndian, Fixint, Limit<DECODE_LIMIT>>;

pub(crate) fn wire_config() -> WireConfig {
    bincode::config::standard()
        .with_big_endian()
        .with_fixed_int_encoding()
        .with_limit::<DECODE_LIMIT>()
}

/// What an entry is (spec section 3.2); its number is its encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// The channel's terms, signed by both parties (entry 0 only).
    Genesis = 0,
    /// A question to the other party.
    Inquiry = 1,
    /// An answer to an earlier entry (it names it in `reply_to`).
    Response = 2,
    /// Shared threat indicators.
    ThreatIndicators = 3,
    /// A notice that asks for no answer.
    Notification = 4,
    /// A working-group record (agenda, minutes, joint statement) for the other party to
    /// endorse (spec 3.6).
    Record = 5,
    /// The other party's endorsement of a record, by index and leaf hash (spec 3.6).
    Endorsement = 6,
    /// The sender replaces its key (spec 3.7): signed by the old key, the payload carries
    /// the new key and its signature over the key-change statement.
    KeyChange = 7,
    /// Both parties replace the witnesses and their threshold (spec 3.8): signed by one
    /// party, the payload carries the new set and the other party's approval of it.
    WitnessChange = 8,
}

impl Kind {
    /// Every kind, in the order of their numbers.
    pub const ALL: [Kind; 9] = [
        Kind::Genesis,
        Kind::Inquiry,
        Kind::Response,
        Kind::ThreatIndicators,
        Kind::Notification,
        Kind::Record,
        Kind::Endorsement,
        Kind::KeyChange,
        Kind::WitnessChange,
    ];

    /// The kind of a number, if there is one.
    pub fn from_u8(value: u8) -> Option<Kind> {
        Self::ALL.get(usize::from(value)).copied()
    }

    /// The kind's name, as the CLI and the node show and parse it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Genesis => "genesis",
            Kind::Inquiry => "inquiry",
            Kind::Response => "response",
            Kind::ThreatIndicators => "threat-indicators",
            Kind::Notification => "notification",
            Kind::Record => "record",
            Kind::Endorsement => "endorsement",
            Kind::KeyChange => "key-change",
            Kind::WitnessChange => "witness-change",
        }
    }

    /// The kind of a name given by [`Kind::as_str`].
    pub fn parse(name: &str) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Encode for Kind {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        (*self as u8).encode(encoder)
    }
}

impl<Context> Decode<Context> for Kind {
    fn decode<D: Decoder<Context = Context>>(decoder: &mut D) -> Result<Self, DecodeError> {
        let value = u8::decode(decoder)?;
        Kind::from_u8(value).ok_or(DecodeError::UnexpectedVariant {
            type_name: "Kind",
            allowed: &bincode::error::AllowedEnumVariants::Range { min: 0, max: 8 },
            found: u32::from(value),
        })
    }
}
bincode::impl_borrow_decode!(Kind);

/// A file an entry names: its hash, size, name and type (spec section 3.1).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Attachment {
    /// The SHA-256 of its content, the name it is stored under.
    pub sha256: [u8; 32],
    /// Its length in bytes.
    pub size: u64,
    /// Its file name, as the sender gave it.
    pub name: String,
    /// Its media type.
    pub content_type: String,
}

/// One signature of an entry: the signer's key id and the Ed25519 signature.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct EntrySignature {
    /// The signer's key id (type 0x01, under its party name).
    pub key_id: u32,
    /// The Ed25519 signature over the entry's signed bytes.
    pub signature: [u8; 64],
}

/// Fields 1–11 of spec section 3.1: what the sender signs.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct EntryBody {
    /// The format version, [`VERSION`].
    pub version: u8,
    /// The channel's origin.
    pub origin: String,
    /// What the entry is.
    pub kind: Kind,
    /// The sender's key id.
    pub sender: u32,
    /// The sender's own message counter (spec section 3.3).
    pub sequence: u64,
    /// When the sender signed it, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The index of the entry it answers, if any.
    pub reply_to: Option<u64>,
    /// A one-line subject.
    pub subject: String,
    /// The payload's media type.
    pub content_type: String,
    /// The content (up to the channel's payload limit).
    pub payload: Vec<u8>,
    /// The attachments it names, sorted by hash.
    pub attachments: Vec<Attachment>,
}

/// A log entry: the signed body and its signatures (spec section 3).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Entry {
    /// What was signed.
    pub body: EntryBody,
    /// The sender's signature (and the co-signer's, on the genesis entry).
    pub signatures: Vec<EntrySignature>,
}

/// Why bytes are not a valid entry, or an entry breaks a rule of spec section 3.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EntryError {
    /// The encoding is longer than [`MAX_ENTRY_LEN`].
    #[error(
        "entry is {len} bytes; the limit is {MAX_ENTRY_LEN} (send large content as an attachment)"
    )]
    TooLarge {
        /// Its length in bytes.
        len: usize,
    },
    /// The bytes do not decode as an entry.
    #[error("entry is not a valid encoding: {0}")]
    Malformed(String),
    /// Bytes follow the entry.
    #[error("entry has {extra} bytes after its end")]
    TrailingBytes {
        /// How many bytes follow.
        extra: usize,
    },
    /// The bytes decode but are not the entry's one encoding.
    #[error("entry is not in its one canonical encoding")]
    NonCanonical,
    /// A format version this build does not know.
    #[error("unknown entry version {0}")]
    UnknownVersion(u8),
    /// An empty or too long origin.
    #[error("origin must be 1..={MAX_ORIGIN_LEN} bytes")]
    BadOrigin,
    /// A subject too long or with forbidden characters.
    #[error("subject is longer than {MAX_SUBJECT_LEN} bytes or has control or bidirectional-formatting characters")]
    BadSubject,
    /// A content type empty, too long or not printable ASCII.
    #[error("content type must be 1..={MAX_CONTENT_TYPE_LEN} bytes of printable ASCII")]
    BadContentType,
    /// More than [`MAX_ATTACHMENTS`] attachments.
    #[error("an entry has at most {MAX_ATTACHMENTS} attachments")]
    TooManyAttachments,
    /// Attachments not sorted by hash, or one named twice.
    #[error("attachments must be sorted by hash without duplicates")]
    AttachmentsUnsorted,
    /// An attachment name that could not be a plain file name.
    #[error("attachment name must be 1..={MAX_ATTACHMENT_NAME_LEN} bytes, not \".\" or \"..\", without '/', '\\' or control characters")]
    BadAttachmentName,
    /// Not as many signatures as the kind needs.
    #[error("a {kind} entry must carry {expected} signature(s), found {found}")]
    WrongSignatureCount {
        /// The entry's kind.
        kind: Kind,
        /// Signatures the kind needs.
        expected: usize,
        /// Signatures the entry carries.
        found: usize,
    },
    /// A signature by another key than the sender's.
    #[error("signature key id {found:08x} is not the sender's {sender:08x}")]
    SignatureNotBySender {
        /// The sender's key id.
        sender: u32,
        /// The signature's key id.
        found: u32,
    },
}

/// Characters a subject or attachment name may not contain (spec 3.1): C0 and C1 controls,
/// DEL, and the bidirectional formatting characters that can make displayed text lie.
pub fn is_forbidden_char(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Whether `name` may name an attachment (spec 3.1): 1..=255 bytes, no forbidden
/// characters, and a safe file name (not "." or "..", no "/" or "\\").
pub fn is_safe_attachment_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_ATTACHMENT_NAME_LEN
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(is_forbidden_char)
}

fn printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

impl EntryBody {
    /// The exact bytes the sender signs (spec 3.4).
    pub fn signed_message(&self) -> Vec<u8> {
        let mut message = SIGNATURE_LABEL.to_vec();
        // Encoding into a Vec only fails past the size limit, which validate() rules out.
        let body = bincode::encode_to_vec(self, wire_config()).unwrap_or_default();
        message.extend_from_slice(&body);
        message
    }

    /// The structural rules of spec 3.1 that need no channel context.
    pub fn validate(&self) -> Result<(), EntryError> {
        if self.version != VERSION {
            return Err(EntryError::UnknownVersion(self.version));
        }
        if self.origin.is_empty() || self.origin.len() > MAX_ORIGIN_LEN {
            return Err(EntryError::BadOrigin);
        }
        if self.subject.len() > MAX_SUBJECT_LEN || self.subject.chars().any(is_forbidden_char) {
            return Err(EntryError::BadSubject);
        }
        if self.content_type.is_empty()
            || self.content_type.len() > MAX_CONTENT_TYPE_LEN
            || !printable_ascii(&self.content_type)
        {
            return Err(EntryError::BadContentType);
        }
        if self.attachments.len() > MAX_ATTACHMENTS {
            return Err(EntryError::TooManyAttachments);
        }
        if self
            .attachments
            .windows(2)
            .any(|w| w[0].sha256 >= w[1].sha256)
        {
            return Err(EntryError::AttachmentsUnsorted);
        }
        for a in &self.attachments {
            if !is_safe_attachment_name(&a.name) {
                return Err(EntryError::BadAttachmentName);
            }
            if a.content_type.is_empty()
                || a.content_type.len() > MAX_CONTENT_TYPE_LEN
                || !printable_ascii(&a.content_type)
            {
                return Err(EntryError::BadContentType);
            }
        }
        Ok(())
    }
}

impl Entry {
    /// Decodes an entry, accepting only its canonical encoding and a valid form.
    pub fn decode(bytes: &[u8]) -> Result<Entry, EntryError> {
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(EntryError::TooLarge { len: bytes.len() });
        }
        let (entry, read): (Entry, usize) = bincode::decode_from_slice(bytes, wire_config())
            .map_err(|e| EntryError::Malformed(e.to_string()))?;
        if read != bytes.len() {
            return Err(EntryError::TrailingBytes {
                extra: bytes.len() - read,
            });
        }
        entry.validate()?;
        if entry.encode()? != bytes {
            return Err(EntryError::NonCanonical);
        }
        Ok(entry)
    }

    /// Encodes without checking any rule: only for making invalid test vectors and fuzz seeds.
    pub fn encode_unchecked(&self) -> Vec<u8> {
        bincode::encode_to_vec(
            self,
            bincode::config::standard()
                .with_big_endian()
                .with_fixed_int_encoding(),
        )
        .unwrap_or_default()
    }

    /// The entry's canonical encoding, once [`Entry::validate`] passes.
    pub fn encode(&self) -> Result<Vec<u8>, EntryError> {
        let bytes = bincode::encode_to_vec(self, wire_config())
            .map_err(|_| EntryError::TooLarge { len: usize::MAX })?;
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(EntryError::TooLarge { len: bytes.len() });
        }
        Ok(bytes)
    }

    /// The body's rules (spec section 3.1) and the signature count its kind needs.
    pub fn validate(&self) -> Result<(), EntryError> {
        self.body.validate()?;
        let expected = if self.body.kind == Kind::Genesis {
            2
        } else {
            1
        };
        if self.signatures.len() != expected {
            return Err(EntryError::WrongSignatureCount {
                kind: self.body.kind,
                expected,
                found: self.signatures.len(),
            });
        }
        if self.signatures[0].key_id != self.body.sender {
            return Err(EntryError::SignatureNotBySender {
                sender: self.body.sender,
                found: self.signatures[0].key_id,
            });
        }
        Ok(())
    }

    /// Checks signature `i` against `key` (strict Ed25519: spec 3.4).
    pub fn signature_verifies(&self, i: usize, key: &VerifyingKey) -> bool {
        let Some(sig) = self.signatures.get(i) else {
            return false;
        };
        key.verify_strict(
            &self.body.signed_message(),
            &Signature::from_bytes(&sig.signature),
        )
        .is_ok()
    }
}

/// What an operator writes; the channel fills in origin, sender, sequence and time.
/// [`Draft::check`] (in `channel/rules.rs`) says whether it can become an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    /// What the entry will be.
    pub kind: Kind,
    /// Its subject.
    pub subject: String,
    /// Its payload's media type.
    pub content_type: String,
    /// Its content.
    pub payload: Vec<u8>,
    /// The index of the entry it answers, if any.
    pub reply_to: Option<u64>,
    /// The attachments it names, in any order.
    pub attachments: Vec<Attachment>,
}

impl Draft {
    /// A draft of `kind` without a reply or attachments.
    pub fn new(kind: Kind, subject: &str, content_type: &str, payload: Vec<u8>) -> Self {
        Self {
            kind,
            subject: subject.to_owned(),
            content_type: content_type.to_owned(),
            payload,
            reply_to: None,
            attachments: Vec::new(),
        }
    }

    /// The draft, answering entry `index`.
    pub fn reply_to(mut self, index: u64) -> Self {
        self.reply_to = Some(index);
        self
    }

    /// The rules of spec 3.1 the draft must meet in a channel of `origin` whatever its
    /// genesis and log (fields, sizes, names, the encoded size): what a client can check
    /// before it stores anything for the draft. [`Draft::check`] checks these and the rest.
    pub fn check_form(&self, origin: &str) -> Result<(), EntryError> {
        // Sender, sequence, time and signature are fixed-width: placeholders give the
        // entry's exact encoded size.
        let entry = Entry {
            body: self.clone().into_body(origin, 0, 0, 0),
            signatures: vec![EntrySignature {
                key_id: 0,
                signature: [0; 64],
            }],
        };
        entry.body.validate()?;
        entry.encode().map(|_| ())
    }

    /// The body of the entry this draft makes, attachments in the order spec 3.1 wants.
    pub(crate) fn into_body(
        mut self,
        origin: &str,
        sender: u32,
        sequence: u64,
        timestamp_ms: u64,
    ) -> EntryBody {
        self.attachments.sort_by_key(|a| a.sha256);
        EntryBody {
            version: VERSION,
            origin: origin.to_owned(),
            kind: self.kind,
            sender,
            sequence,
            timestamp_ms,
            reply_to: self.reply_to,
            subject: self.subject,
            content_type: self.content_type,
            payload: self.payload,
            attachments: self.attachments,
        }
    }

    /// Signs the draft as `key`'s `sequence`-th message in channel `origin`.
    pub fn sign(
        self,
        key: &SignerKey,
        origin: &str,
        sequence: u64,
        timestamp_ms: u64,
    ) -> Result<SignedEntry, EntryError> {
        let body = self.into_body(origin, key.key_id(), sequence, timestamp_ms);
        body.validate()?;
        let signature = key.sign(&body.signed_message());
        let entry = Entry {
            body,
            signatures: vec![EntrySignature {
                key_id: key.key_id(),
                signature,
            }],
        };
        SignedEntry::new(entry)
    }
}

/// An entry together with its encoding and leaf hash, computed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedEntry {
    /// The entry.
    pub entry: Entry,
    /// Its canonical encoding.
    pub bytes: Vec<u8>,
    /// The leaf hash of the encoding.
    pub leaf_hash: Hash,
}

impl SignedEntry {
    /// Encodes the entry (checking its form) and hashes it.
    pub fn new(entry: Entry) -> Result<Self, EntryError> {
        entry.validate()?;
        let bytes = entry.encode()?;
        let leaf_hash = leaf_hash(&bytes);
        Ok(Self {
            entry,
            bytes,
            leaf_hash,
        })
    }

    /// Decodes an entry (see [`Entry::decode`]), keeping its bytes and hash.
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryError> {
        let entry = Entry::decode(bytes)?;
        Ok(Self {
            entry,
            bytes: bytes.to_vec(),
            leaf_hash: leaf_hash(bytes),
        })
    }

    /// The bytes the sender signed (spec 3.4), taken from the encoding in hand: the body is
    /// the encoding without its signature list (a u64 count, then a u32 key id and 64
    /// signature bytes each), so nothing is re-encoded.
    pub fn signed_message(&self) -> Vec<u8> {
        let tail = 8 + SIGNATURE_ENTRY_LEN * self.entry.signatures.len();
        let body = &self.bytes[..self.bytes.len().saturating_sub(tail)];
        let mut message = Vec::with_capacity(SIGNATURE_LABEL.len() + body.len());
        message.extend_from_slice(SIGNATURE_LABEL);
        message.extend_from_slice(body);
        message
    }

    /// Checks signature `i` against `key` (strict Ed25519: spec 3.4), like
    /// [`Entry::signature_verifies`] but over the encoding in hand.
    pub fn signature_verifies(&self, i: usize, key: &VerifyingKey) -> bool {
        let Some(sig) = self.entry.signatures.get(i) else {
            return false;
        };
        key.verify_strict(
            &self.signed_message(),
            &Signature::from_bytes(&sig.signature),
        )
        .is_ok()
    }

    /// [`Self::signature_verifies`] through a key's precomputed table, which decides the same.
    pub fn signature_verifies_keyed(&self, i: usize, key: &KeyedVerifier) -> bool {
        self.entry
            .signatures
            .get(i)
            .is_some_and(|sig| key.verify(&self.signed_message(), &sig.signature))
    }
}

/// The encoded size of one [`EntrySignature`]: a u32 key id and 64 bytes.
const SIGNATURE_ENTRY_LEN: usize = 4 + 64;

pub mod key_change;
#[cfg(test)]
mod tests;
pub mod witness_change;
