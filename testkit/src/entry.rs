//! The entry encoding of spec/dyad.md section 3.1, written from the spec's table rather than
//! from the ledger's code (which derives it through bincode), so that a test can compare the
//! ledger's encoder with the definition: fields in table order, big-endian integers,
//! `string`/`bytes` as a u64 length and the bytes, `option` as a 0x00/0x01 tag, `list` as a
//! u64 count and the items. It checks no rule: it encodes what it is given.

use serde_json::Value;

/// The kinds of spec section 3.2, by value.
pub const KINDS: [(&str, u8); 9] = [
    ("genesis", 0),
    ("inquiry", 1),
    ("response", 2),
    ("threat-indicators", 3),
    ("notification", 4),
    ("record", 5),
    ("endorsement", 6),
    ("key-change", 7),
    ("witness-change", 8),
];

/// The label the sender's signature is over, before the body (spec 3.4).
pub const SIGNATURE_LABEL: &[u8] = b"dyad-entry/v1\0";

/// `attachment` of spec 3.1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub sha256: [u8; 32],
    pub size: u64,
    pub name: String,
    pub content_type: String,
}

/// `signature` of spec 3.1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub key_id: u32,
    pub signature: [u8; 64],
}

/// Fields 1–11 of spec 3.1 (the body), then field 12.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub version: u8,
    pub origin: String,
    pub kind: u8,
    pub sender: u32,
    pub sequence: u64,
    pub timestamp_ms: u64,
    pub reply_to: Option<u64>,
    pub subject: String,
    pub content_type: String,
    pub payload: Vec<u8>,
    pub attachments: Vec<Attachment>,
    pub signatures: Vec<Signature>,
}

fn u64_be(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// `bytes`: u64 length || bytes (a `string` is its UTF-8 bytes).
fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    u64_be(out, b.len() as u64);
    out.extend_from_slice(b);
}

impl Entry {
    /// Fields 1–11, what the sender signs after the label.
    pub fn encode_body(&self) -> Vec<u8> {
        let mut out = vec![self.version];
        bytes(&mut out, self.origin.as_bytes());
        out.push(self.kind);
        out.extend_from_slice(&self.sender.to_be_bytes());
        u64_be(&mut out, self.sequence);
        u64_be(&mut out, self.timestamp_ms);
        match self.reply_to {
            None => out.push(0),
            Some(index) => {
                out.push(1);
                u64_be(&mut out, index);
            }
        }
        bytes(&mut out, self.subject.as_bytes());
        bytes(&mut out, self.content_type.as_bytes());
        bytes(&mut out, &self.payload);
        u64_be(&mut out, self.attachments.len() as u64);
        for a in &self.attachments {
            out.extend_from_slice(&a.sha256);
            u64_be(&mut out, a.size);
            bytes(&mut out, a.name.as_bytes());
            bytes(&mut out, a.content_type.as_bytes());
        }
        out
    }

    /// The whole entry: the body, then field 12.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.encode_body();
        u64_be(&mut out, self.signatures.len() as u64);
        for s in &self.signatures {
            out.extend_from_slice(&s.key_id.to_be_bytes());
            out.extend_from_slice(&s.signature);
        }
        out
    }

    /// "dyad-entry/v1" || 0x00 || body (spec 3.4).
    pub fn signed_message(&self) -> Vec<u8> {
        let mut message = SIGNATURE_LABEL.to_vec();
        message.extend_from_slice(&self.encode_body());
        message
    }

    /// The entry a spec vector's `decoded` object describes (spec/vectors/entries.json,
    /// whose `description` names the fields); None if a field is missing or malformed.
    pub fn from_decoded(decoded: &Value) -> Option<Entry> {
        let attachments = decoded["attachments"]
            .as_array()?
            .iter()
            .map(|a| {
                Some(Attachment {
                    sha256: fixed(&a["sha256_hex"])?,
                    size: a["size"].as_u64()?,
                    name: a["name"].as_str()?.to_owned(),
                    content_type: a["content_type"].as_str()?.to_owned(),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let signatures = decoded["signatures"]
            .as_array()?
            .iter()
            .map(|s| {
                Some(Signature {
                    key_id: key_id(&s["key_id_hex"])?,
                    signature: fixed(&s["signature_hex"])?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let kind_name = decoded["kind"].as_str()?;
        let kind = KINDS.iter().find(|(name, _)| *name == kind_name)?.1;
        Some(Entry {
            version: u8::try_from(decoded["version"].as_u64()?).ok()?,
            origin: decoded["origin"].as_str()?.to_owned(),
            kind,
            sender: key_id(&decoded["sender_key_id_hex"])?,
            sequence: decoded["sequence"].as_u64()?,
            timestamp_ms: decoded["timestamp_ms"].as_u64()?,
            reply_to: match &decoded["reply_to"] {
                Value::Null => None,
                v => Some(v.as_u64()?),
            },
            subject: decoded["subject"].as_str()?.to_owned(),
            content_type: decoded["content_type"].as_str()?.to_owned(),
            payload: hex::decode(decoded["payload_hex"].as_str()?).ok()?,
            attachments,
            signatures,
        })
    }
}

fn fixed<const N: usize>(v: &Value) -> Option<[u8; N]> {
    hex::decode(v.as_str()?).ok()?.try_into().ok()
}

fn key_id(v: &Value) -> Option<u32> {
    Some(u32::from_be_bytes(fixed(v)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout of spec 3.1 written out for one small entry, field by field.
    #[test]
    fn fields_are_laid_out_in_table_order() {
        let e = Entry {
            version: 1,
            origin: "o".into(),
            kind: 2,
            sender: 0x0a0b_0c0d,
            sequence: 3,
            timestamp_ms: 4,
            reply_to: Some(5),
            subject: "s".into(),
            content_type: "t".into(),
            payload: vec![0xee],
            attachments: vec![],
            signatures: vec![Signature {
                key_id: 0x0a0b_0c0d,
                signature: [7; 64],
            }],
        };
        let mut want = vec![1, 0, 0, 0, 0, 0, 0, 0, 1, b'o', 2, 0x0a, 0x0b, 0x0c, 0x0d];
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4]);
        want.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 5]);
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, b's', 0, 0, 0, 0, 0, 0, 0, 1, b't']);
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0xee, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(e.encode_body(), want);
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0x0a, 0x0b, 0x0c, 0x0d]);
        want.extend_from_slice(&[7; 64]);
        assert_eq!(e.encode(), want);
        assert!(e.signed_message().starts_with(b"dyad-entry/v1\0\x01"));
    }
}
