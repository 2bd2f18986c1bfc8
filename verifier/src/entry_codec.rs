//! The entry's encoding (spec/dyad.md section 3.1) and signatures (3.4): the decoded
//! form, decoded by hand from the byte table, not with the ledger's bincode types (the
//! ledger and this crate are two implementations that agree only through the spec and its
//! vectors). [`decode`] enforces every context-free rule of 3.1; the rules that need the
//! channel are `channel`'s, those that need earlier entries the auditor's.

use alloc::string::String;
use alloc::vec::Vec;

use crate::hash::Hash;
use crate::key::{SignatureType, VerifierKey};
use crate::rules::{
    EntryError, Kind, MAX_ATTACHMENTS, MAX_ENTRY_SIZE, MAX_ORIGIN_LEN, MAX_SHORT_STRING_LEN,
    MAX_SUBJECT_LEN, SIGNATURE_LEN, SIGNED_MESSAGE_PREFIX, VERSION,
};
use crate::wire::Reader;

/// A file the entry names by hash (section 3.5).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Attachment {
    /// SHA-256 of the attachment's bytes.
    pub sha256: Hash,
    /// Length of the attachment in bytes.
    pub size: u64,
    /// A file name: 1..=255 bytes, no control characters, no `/`.
    pub name: String,
    /// A media type: 1..=255 bytes of printable ASCII.
    pub content_type: String,
}

/// One signature over the entry's signed message (section 3.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntrySignature {
    /// The type-0x01 key ID of the signing party's key.
    pub key_id: u32,
    /// The Ed25519 signature.
    pub signature: [u8; 64],
}

/// A decoded entry: fields 1 to 12 of section 3.1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Field 1; always [`VERSION`].
    pub version: u8,
    /// Field 2: the channel's origin.
    pub origin: String,
    /// Field 3.
    pub kind: Kind,
    /// Field 4: the type-0x01 key ID of the sender's party key.
    pub sender: u32,
    /// Field 5: the sender's own message counter (section 3.3).
    pub sequence: u64,
    /// Field 6: the sender's clock, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Field 7: the index of the entry this one answers.
    pub reply_to: Option<u64>,
    /// Field 8.
    pub subject: String,
    /// Field 9.
    pub content_type: String,
    /// Field 10.
    pub payload: Vec<u8>,
    /// Field 11, strictly ascending by `sha256`.
    pub attachments: Vec<Attachment>,
    /// Field 12: one signature, two for the genesis entry.
    pub signatures: Vec<EntrySignature>,
}

impl Entry {
    /// The length of the encoded body (fields 1 to 11), computed from the fields.
    ///
    /// Every field has exactly one encoding (section 3.1), so the body of the bytes this
    /// entry was decoded from is exactly this long.
    pub fn body_len(&self) -> usize {
        let string = |s: &str| 8 + s.len();
        let attachments: usize = self
            .attachments
            .iter()
            .map(|a| 32 + 8 + string(&a.name) + string(&a.content_type))
            .sum();
        1 + string(&self.origin)
            + 1
            + 4
            + 8
            + 8
            + if self.reply_to.is_some() { 9 } else { 1 }
            + string(&self.subject)
            + string(&self.content_type)
            + 8
            + self.payload.len()
            + 8
            + attachments
    }

    /// The length of the whole encoding (fields 1 to 12).
    pub fn encoded_len(&self) -> usize {
        self.body_len() + 8 + SIGNATURE_LEN * self.signatures.len()
    }
}

/// C0 and C1 controls, DEL, and the bidirectional formatting characters (section 3.1).
pub(crate) fn has_control(s: &str) -> bool {
    s.chars().any(|c| {
        matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    })
}

fn is_printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

fn text(
    r: &mut Reader<'_>,
    field: &'static str,
    min: u64,
    max: u64,
) -> Result<(String, usize), EntryError> {
    let (s, offset) = r.string(field, min, max)?;
    Ok((String::from(s), offset))
}

fn no_control(
    r: &mut Reader<'_>,
    field: &'static str,
    min: u64,
    max: u64,
) -> Result<String, EntryError> {
    let (s, offset) = text(r, field, min, max)?;
    if has_control(&s) {
        return Err(EntryError::ControlCharacter { field, offset });
    }
    Ok(s)
}

fn media_type(r: &mut Reader<'_>, field: &'static str) -> Result<String, EntryError> {
    let (s, offset) = text(r, field, 1, MAX_SHORT_STRING_LEN)?;
    if !is_printable_ascii(&s) {
        return Err(EntryError::NotPrintableAscii { field, offset });
    }
    Ok(s)
}

/// Decodes an entry canonically (section 3.1): rejects trailing bytes, lengths and counts
/// that run past the end, option tags other than 0 and 1, invalid UTF-8, unknown versions
/// and kinds, and every field outside the rules of the table, including a signature count
/// other than the kind's (1, or 2 for genesis). Every accepted input re-encodes to itself.
///
/// The checks that need the channel or the entry's index are
/// [`check_entry`](crate::entry::check_entry)'s.
pub fn decode(bytes: &[u8]) -> Result<Entry, EntryError> {
    if bytes.len() > MAX_ENTRY_SIZE {
        return Err(EntryError::TooLarge { len: bytes.len() });
    }
    let mut r = Reader::new(bytes);

    let version = r.u8("version")?;
    if version != VERSION {
        return Err(EntryError::UnknownVersion(version));
    }
    let (origin, _) = text(&mut r, "origin", 1, MAX_ORIGIN_LEN)?;
    let kind_byte = r.u8("kind")?;
    let kind = Kind::from_u8(kind_byte).ok_or(EntryError::UnknownKind(kind_byte))?;
    let sender = r.u32("sender")?;
    let sequence = r.u64("sequence")?;
    let timestamp_ms = r.u64("timestamp_ms")?;
    let reply_to = match r.u8("reply_to")? {
        0 => None,
        1 => Some(r.u64("reply_to")?),
        tag => {
            return Err(EntryError::BadOptionTag {
                field: "reply_to",
                tag,
            })
        }
    };
    let subject = no_control(&mut r, "subject", 0, MAX_SUBJECT_LEN)?;
    let content_type = media_type(&mut r, "content_type")?;
    let payload = r.bytes("payload")?.to_vec();

    let count = r.u64("attachments")?;
    if count > MAX_ATTACHMENTS {
        return Err(EntryError::TooManyAttachments { count });
    }
    // count <= 16, so this allocation is bounded whatever the input says.
    let mut attachments: Vec<Attachment> = Vec::with_capacity(count as usize);
    for index in 0..count as usize {
        let sha256 = r.array::<32>("attachment sha256")?;
        let size = r.u64("attachment size")?;
        let name = no_control(&mut r, "attachment name", 1, MAX_SHORT_STRING_LEN)?;
        if name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(EntryError::UnsafeAttachmentName { index });
        }
        let content_type = media_type(&mut r, "attachment content_type")?;
        if let Some(previous) = attachments.last() {
            if previous.sha256 >= sha256 {
                return Err(EntryError::AttachmentsUnsorted { index });
            }
        }
        attachments.push(Attachment {
            sha256,
            size,
            name,
            content_type,
        });
    }

    let found = r.u64("signatures")?;
    let expected = kind.signature_count();
    if found != expected as u64 {
        return Err(EntryError::WrongSignatureCount {
            kind,
            expected,
            found,
        });
    }
    let mut signatures = Vec::with_capacity(expected);
    for _ in 0..expected {
        let key_id = r.u32("signature key_id")?;
        let signature = r.array::<64>("signature")?;
        signatures.push(EntrySignature { key_id, signature });
    }
    r.finish()?;

    Ok(Entry {
        version,
        origin,
        kind,
        sender,
        sequence,
        timestamp_ms,
        reply_to,
        subject,
        content_type,
        payload,
        attachments,
        signatures,
    })
}

/// The body (fields 1 to 11) of `entry_bytes`, which `entry` was decoded from.
fn body<'a>(entry_bytes: &'a [u8], entry: &Entry) -> Result<&'a [u8], EntryError> {
    if entry_bytes.len() != entry.encoded_len() {
        return Err(EntryError::EntryBytesMismatch);
    }
    Ok(&entry_bytes[..entry.body_len()])
}

fn message_for_body(body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(SIGNED_MESSAGE_PREFIX.len() + body.len());
    message.extend_from_slice(SIGNED_MESSAGE_PREFIX);
    message.extend_from_slice(body);
    message
}

/// The message an entry's signatures sign (section 3.4):
/// `"dyad-entry/v1" || 0x00 || body`, where `body` is the encoding of fields 1 to 11.
///
/// The entry must decode (canonically), so that its body is well defined.
pub fn signed_message(entry_bytes: &[u8]) -> Result<Vec<u8>, EntryError> {
    let entry = decode(entry_bytes)?;
    Ok(message_for_body(body(entry_bytes, &entry)?))
}

/// Verifies the signature in `entry` made by `key`, strictly (section 3.4: non-canonical
/// `R`/`S` and small-order keys are rejected).
///
/// `entry` must be the decoding of `entry_bytes`. The key must be a type-0x01 key; the
/// signature checked is the one whose key ID is the key's. This does not check that the
/// key is the entry's sender or a party: [`check_entry`](crate::entry::check_entry) does.
pub fn verify_signature(
    entry_bytes: &[u8],
    entry: &Entry,
    key: &VerifierKey,
) -> Result<(), EntryError> {
    let key_id = key.key_id();
    if key.signature_type() != SignatureType::Ed25519 {
        return Err(EntryError::WrongKeyType { key_id });
    }
    let signature = entry
        .signatures
        .iter()
        .find(|s| s.key_id == key_id)
        .ok_or(EntryError::MissingSignature { key_id })?;
    let message = message_for_body(body(entry_bytes, entry)?);
    if key.verify_strict(&message, &signature.signature) {
        Ok(())
    } else {
        Err(EntryError::BadSignature { key_id })
    }
}

/// The `reply_to` rules of sections 3.2 and 3.3.
pub(crate) fn check_reply_to(entry: &Entry, index: u64) -> Result<(), EntryError> {
    match entry.reply_to {
        None if entry.kind == Kind::Response => Err(EntryError::ResponseWithoutReplyTo),
        None => Ok(()),
        Some(0) => Err(EntryError::ReplyToGenesis { index }),
        Some(reply_to) if reply_to >= index => {
            Err(EntryError::ReplyToNotEarlier { index, reply_to })
        }
        Some(_) => Ok(()),
    }
}
