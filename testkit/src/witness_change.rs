//! The witness-change entry of spec/dyad.md section 3.8, written from the spec's text rather
//! than from either implementation: the kind's value, its content type, the witness-change
//! record (the payload), and the statement the other party's approval signs. It checks no
//! rule and signs nothing: a test signs [`statement`] with the approving party's key and
//! puts the signature in [`payload`].

/// `witness-change` in the table of spec 3.2.
pub const KIND: u8 = 8;

/// The witness change's `content_type` (spec 3.8).
pub const CONTENT_TYPE: &str = "application/vnd.dyad.witness-change.v1";

/// The label the approval is over, before the channel and the record (spec 3.8).
pub const STATEMENT_LABEL: &[u8] = b"dyad-witness-change/v1\0";

/// The witness-change record without its approval: `number: u32 || witnesses: list<party>
/// || witness_threshold: u8`, `list` a u64 count and the items, `party` = `name: string ||
/// public_key: 32 bytes`, `string` a u64 length and the bytes (spec 3.1, 4), big-endian.
pub fn record(number: u32, witnesses: &[(&str, [u8; 32])], threshold: u8) -> Vec<u8> {
    let mut out = number.to_be_bytes().to_vec();
    out.extend_from_slice(&(witnesses.len() as u64).to_be_bytes());
    for (name, public_key) in witnesses {
        out.extend_from_slice(&(name.len() as u64).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(public_key);
    }
    out.push(threshold);
    out
}

/// The witness-change statement: `"dyad-witness-change/v1" || 0x00 || string(origin) ||
/// record` (the payload without its last 64 bytes).
pub fn statement(origin: &str, record: &[u8]) -> Vec<u8> {
    let mut out = STATEMENT_LABEL.to_vec();
    out.extend_from_slice(&(origin.len() as u64).to_be_bytes());
    out.extend_from_slice(origin.as_bytes());
    out.extend_from_slice(record);
    out
}

/// The payload: the record, then the 64-byte approval.
pub fn payload(record: &[u8], approval: &[u8; 64]) -> Vec<u8> {
    [record, approval.as_slice()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_and_statement_are_laid_out_as_the_spec_says() {
        let r = record(2, &[("w", [7; 32])], 1);
        let mut expected = vec![0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1];
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, b'w']);
        expected.extend_from_slice(&[7; 32]);
        expected.push(1);
        assert_eq!(r, expected);
        let s = statement("o", &r);
        assert!(s.starts_with(b"dyad-witness-change/v1\0\0\0\0\0\0\0\0\x01o\0\0\0\x02"));
        assert_eq!(s.len(), STATEMENT_LABEL.len() + 9 + r.len());
        assert_eq!(payload(&r, &[3; 64]).len(), r.len() + 64);
    }
}
