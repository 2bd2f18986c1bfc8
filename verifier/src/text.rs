//! The text the line-based formats share (receipts, evidence files, promises,
//! checkpoints, signed notes): canonical decimals and base64 hashes, each with exactly one
//! accepted spelling, a reader of numbered lines, the writer of hash lines, and the control
//! bytes a note may not contain.

use alloc::string::String;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::hash::Hash;

/// ASCII decimal digits, no sign, no leading zeros unless it is `0`; of any length.
pub fn is_canonical_decimal(digits: &[u8]) -> bool {
    !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits.len() == 1 || digits[0] != b'0')
}

/// ASCII decimal, no sign, no leading zeros unless it is `0`, fits in u64.
pub fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if !is_canonical_decimal(digits) {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Canonical standard base64 of exactly 32 bytes.
pub(crate) fn parse_hash(text: &[u8]) -> Option<Hash> {
    // 32 bytes are 44 base64 characters; checking first bounds the allocation.
    if text.len() != 44 {
        return None;
    }
    let bytes = BASE64.decode(text).ok()?;
    if BASE64.encode(&bytes).as_bytes() != text {
        return None;
    }
    Hash::try_from(bytes.as_slice()).ok()
}

/// Appends each hash in canonical base64 on a line of its own, as [`parse_hash`] reads it.
pub(crate) fn push_hash_lines(out: &mut String, hashes: &[Hash]) {
    for hash in hashes {
        out.push_str(&BASE64.encode(hash));
        out.push('\n');
    }
}

/// The first control character (below 0x20) other than a newline, with its offset: the
/// bytes a signed note, and so a checkpoint, may not contain.
pub(crate) fn control_byte(text: &str) -> Option<(usize, u8)> {
    text.bytes()
        .enumerate()
        .find(|&(_, b)| b < 0x20 && b != b'\n')
}

/// The two notes that follow an evidence file's head: `rest` split after `first` bytes,
/// when the stated lengths add up to exactly its length. Otherwise, the stated sum
/// (saturating), for the error.
pub(crate) fn split_notes(rest: &[u8], first: u64, second: u64) -> Result<(&[u8], &[u8]), u64> {
    let stated = first.saturating_add(second);
    if stated != rest.len() as u64 {
        return Err(stated);
    }
    // first <= stated == rest.len(), so it fits in usize and the split is in range.
    Ok(rest.split_at(first as usize))
}

/// What a [`Lines`] reader found wrong; each format turns it into its own error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineError {
    /// A line ends without a newline: the input is truncated.
    Truncated {
        /// The line number, from 1.
        line: usize,
    },
    /// A line is not what the format has at that place.
    Unexpected {
        /// The line number, from 1.
        line: usize,
        /// What the format has there.
        expected: &'static str,
    },
}

/// Reads newline-ended lines off the front of a byte slice, numbering them from 1.
pub(crate) struct Lines<'a> {
    rest: &'a [u8],
    /// The number of the next line, from 1.
    line: usize,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Lines {
            rest: bytes,
            line: 1,
        }
    }

    /// The number of the next line, from 1.
    pub(crate) fn line(&self) -> usize {
        self.line
    }

    /// The bytes after the lines read so far.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// The next line, without its newline.
    pub(crate) fn next(&mut self) -> Result<&'a [u8], LineError> {
        let line = self.line;
        let end = self
            .rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(LineError::Truncated { line })?;
        let out = &self.rest[..end];
        self.rest = &self.rest[end + 1..];
        self.line += 1;
        Ok(out)
    }

    /// The next line, which must be `<keyword> <value>`; returns the value.
    pub(crate) fn field(
        &mut self,
        keyword: &str,
        expected: &'static str,
    ) -> Result<&'a [u8], LineError> {
        let line = self.line;
        let text = self.next()?;
        text.strip_prefix(keyword.as_bytes())
            .and_then(|t| t.strip_prefix(b" "))
            .ok_or(LineError::Unexpected { line, expected })
    }

    /// The next line, which must be `<keyword> <canonical decimal>`.
    pub(crate) fn decimal(
        &mut self,
        keyword: &str,
        expected: &'static str,
    ) -> Result<u64, LineError> {
        let line = self.line;
        let value = self.field(keyword, expected)?;
        parse_decimal(value).ok_or(LineError::Unexpected { line, expected })
    }

    /// The next line, which must be `<keyword> <canonical base64 of 32 bytes>`.
    pub(crate) fn hash(
        &mut self,
        keyword: &str,
        expected: &'static str,
    ) -> Result<Hash, LineError> {
        let line = self.line;
        let value = self.field(keyword, expected)?;
        parse_hash(value).ok_or(LineError::Unexpected { line, expected })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    // The copies these helpers replaced, kept here to show that every caller accepts and
    // rejects exactly what it did before.

    /// checkpoint.rs: `Err(0)` for a malformed size, `Err(1)` for one above u64.
    fn checkpoint_size(line: &str) -> Result<u64, u8> {
        let digits_only = !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit());
        if !digits_only || (line.len() > 1 && line.starts_with('0')) {
            return Err(0);
        }
        line.parse().map_err(|_| 1)
    }

    /// promise_evidence.rs, equivocation.rs and receipt.rs: one check after another.
    fn evidence_decimal(digits: &[u8]) -> Option<u64> {
        if digits.is_empty()
            || !digits.iter().all(u8::is_ascii_digit)
            || (digits.len() > 1 && digits[0] == b'0')
        {
            return None;
        }
        digits.iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
    }

    /// equivocation.rs: no re-encoding check.
    fn equivocation_hash(text: &[u8]) -> Option<Hash> {
        if text.len() != 44 {
            return None;
        }
        let bytes = BASE64.decode(text).ok()?;
        Hash::try_from(bytes.as_slice()).ok()
    }

    /// receipt.rs: no length check before decoding.
    fn receipt_hash(text: &[u8]) -> Option<Hash> {
        BASE64
            .decode(text)
            .ok()
            .and_then(|h| Hash::try_from(h.as_slice()).ok())
    }

    fn decimals() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{0,21}",
            "0[0-9]{0,3}",
            "1844674407370955161[0-9]",
            "[-+ 0-9a]{0,4}",
        ]
    }

    /// Canonical encodings of 32 bytes, and encodings with one change: a character
    /// replaced (which may leave non-zero trailing bits), cut short, or added.
    fn hash_texts() -> impl Strategy<Value = Vec<u8>> {
        const ALPHABET: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
        (any::<[u8; 32]>(), 0usize..46, any::<u8>(), 0u8..4).prop_map(|(hash, at, byte, change)| {
            let mut text = BASE64.encode(hash).into_bytes();
            let c = ALPHABET[usize::from(byte) % ALPHABET.len()];
            match change {
                0 => {}
                1 => text[at % 44] = c,
                2 => text.truncate(at),
                _ => text.insert(at % 45, c),
            }
            text
        })
    }

    proptest! {
        #[test]
        fn decimals_are_read_as_before(text in decimals()) {
            let bytes = text.as_bytes();
            let now = if is_canonical_decimal(bytes) {
                parse_decimal(bytes).ok_or(1)
            } else {
                Err(0)
            };
            prop_assert_eq!(now, checkpoint_size(&text));
            prop_assert_eq!(parse_decimal(bytes), evidence_decimal(bytes));
        }

        #[test]
        fn hashes_are_read_as_before(text in hash_texts()) {
            let now = parse_hash(&text);
            prop_assert_eq!(now, equivocation_hash(&text));
            prop_assert_eq!(now, receipt_hash(&text));
        }
    }

    #[test]
    fn decimals_have_one_spelling() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        for text in [
            "",
            "00",
            "01",
            "+1",
            "-0",
            " 1",
            "1 ",
            "18446744073709551616",
        ] {
            assert_eq!(parse_decimal(text.as_bytes()), None, "{text:?}");
        }
        assert!(is_canonical_decimal(b"18446744073709551616"));
    }

    #[test]
    fn hashes_have_one_spelling() {
        let text = BASE64.encode([0xffu8; 32]);
        assert_eq!(parse_hash(text.as_bytes()), Some([0xff; 32]));
        // The last character carries two bits past the 32 bytes: they must be zero.
        let mut changed = text.clone().into_bytes();
        changed[42] = b'/';
        assert_eq!(parse_hash(&changed), None);
        assert_eq!(parse_hash(text.trim_end_matches('=').as_bytes()), None);
    }
}
