//! The primitive encodings of spec/dyad.md section 3.1 (fixed-width integers,
//! length-prefixed bytes and strings), read with every length checked against the bytes
//! that remain. Entries and genesis records are both made of them.

use crate::rules::EntryError;

/// Reads the fields of section 3.1 off the front of a byte slice, checking every length
/// against the bytes that remain before using it, so no length can make it allocate more
/// than the input's own size.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: u64, field: &'static str) -> Result<&'a [u8], EntryError> {
        let remaining = self.remaining();
        match usize::try_from(n) {
            Ok(n) if n <= remaining => {
                let out = &self.bytes[self.pos..self.pos + n];
                self.pos += n;
                Ok(out)
            }
            _ => Err(EntryError::Truncated {
                field,
                offset: self.pos,
                needed: n,
                remaining,
            }),
        }
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], EntryError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64, field)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, EntryError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, EntryError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, EntryError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    /// `bytes` = u64 length || bytes.
    pub(crate) fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], EntryError> {
        let len = self.u64(field)?;
        self.take(len, field)
    }

    /// `string` = u64 length || UTF-8 bytes, with the length in `min..=max`.
    /// Returns the string and the offset of its bytes (for error messages).
    pub(crate) fn string(
        &mut self,
        field: &'static str,
        min: u64,
        max: u64,
    ) -> Result<(&'a str, usize), EntryError> {
        let raw = self.bytes(field)?;
        let offset = self.pos - raw.len();
        let len = raw.len() as u64;
        if len < min || len > max {
            return Err(EntryError::Length {
                field,
                offset,
                len,
                min,
                max,
            });
        }
        let s = core::str::from_utf8(raw).map_err(|_| EntryError::InvalidUtf8 { field, offset })?;
        Ok((s, offset))
    }

    /// The end of the input: anything left is an error.
    pub(crate) fn finish(&self) -> Result<(), EntryError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(EntryError::TrailingBytes {
                offset: self.pos,
                count,
            }),
        }
    }
}
