//! The key-change entry of spec/dyad.md section 3.7, written from the spec's text rather
//! than from either implementation: the kind's value, its content type, the statement the
//! new key signs and the 96-byte payload. It checks no rule and signs nothing: a test signs
//! [`statement`] with the new key it holds and puts the signature in [`payload`].

/// `key-change` in the table of spec 3.2 (testkit/src/entry.rs's `KINDS` lists every kind).
pub const KIND: u8 = 7;

/// The key change's `content_type` (spec 3.7).
pub const CONTENT_TYPE: &str = "application/vnd.dyad.key-change.v1";

/// The label the new key's signature is over, before the fields (spec 3.7).
pub const STATEMENT_LABEL: &[u8] = b"dyad-key-change/v1\0";

/// The key-change statement: `"dyad-key-change/v1" || 0x00 || string(origin) ||
/// u32(sender) || u64(sequence) || new_public_key`, `string` being a u64 length and the
/// bytes (spec 3.1), integers big-endian.
pub fn statement(origin: &str, sender: u32, sequence: u64, new_public_key: &[u8; 32]) -> Vec<u8> {
    let mut out = STATEMENT_LABEL.to_vec();
    out.extend_from_slice(&(origin.len() as u64).to_be_bytes());
    out.extend_from_slice(origin.as_bytes());
    out.extend_from_slice(&sender.to_be_bytes());
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(new_public_key);
    out
}

/// The payload: `new_public_key: 32 bytes || new_key_signature: 64 bytes`.
pub fn payload(new_public_key: &[u8; 32], new_key_signature: &[u8; 64]) -> Vec<u8> {
    [new_public_key.as_slice(), new_key_signature.as_slice()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_is_laid_out_as_the_spec_says() {
        let s = statement("o", 0x0102_0304, 5, &[9; 32]);
        let mut expected = b"dyad-key-change/v1\0".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, b'o', 1, 2, 3, 4]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 5]);
        expected.extend_from_slice(&[9; 32]);
        assert_eq!(s, expected);
        assert_eq!(payload(&[1; 32], &[2; 64]).len(), 96);
    }
}
