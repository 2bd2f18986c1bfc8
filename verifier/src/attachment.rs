//! Attachment bytes checked against the entry that names them (spec section 3.5).
//!
//! An entry commits to each attachment by its SHA-256 and size, so whoever holds the entry
//! (in a receipt, an audited log or a bundle) can check supplied bytes without trusting
//! their source. The check streams: a 1 GiB attachment is hashed chunk by chunk, and bytes
//! beyond the named size are refused as soon as they arrive.

use sha2::{Digest, Sha256};

use crate::entry_codec::Attachment;
use crate::hash::Hash;

/// Why supplied bytes are not the attachment an entry names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttachmentError {
    /// More bytes than the entry's `size`.
    #[error("it is longer than the {expected} bytes its entry names")]
    AttachmentTooLong {
        /// The size the entry names.
        expected: u64,
    },
    /// Fewer bytes than the entry's `size`: a truncated copy.
    #[error("it has {got} bytes, but its entry names {expected}")]
    AttachmentTooShort {
        /// The size the entry names.
        expected: u64,
        /// The bytes supplied.
        got: u64,
    },
    /// The right size, but not the bytes the entry's SHA-256 names.
    #[error("its SHA-256 is not the one its entry names (the bytes were changed)")]
    AttachmentHashMismatch,
}

/// A streaming check of one attachment: feed the bytes with [`update`](Self::update),
/// then [`finish`](Self::finish).
#[derive(Clone)]
pub struct AttachmentCheck {
    sha256: Hash,
    size: u64,
    seen: u64,
    hasher: Sha256,
}

impl AttachmentCheck {
    /// Starts checking bytes against `attachment` as its entry names it.
    pub fn new(attachment: &Attachment) -> AttachmentCheck {
        AttachmentCheck::expecting(attachment.sha256, attachment.size)
    }

    /// Starts checking bytes against a SHA-256 and size.
    pub fn expecting(sha256: Hash, size: u64) -> AttachmentCheck {
        AttachmentCheck {
            sha256,
            size,
            seen: 0,
            hasher: Sha256::new(),
        }
    }

    /// Adds the next bytes; fails as soon as they run past the named size.
    pub fn update(&mut self, bytes: &[u8]) -> Result<(), AttachmentError> {
        let seen = self.seen.saturating_add(bytes.len() as u64);
        if seen > self.size {
            return Err(AttachmentError::AttachmentTooLong {
                expected: self.size,
            });
        }
        self.seen = seen;
        self.hasher.update(bytes);
        Ok(())
    }

    /// The number of bytes fed so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Ends the check: the bytes fed are exactly the attachment.
    pub fn finish(self) -> Result<(), AttachmentError> {
        if self.seen != self.size {
            return Err(AttachmentError::AttachmentTooShort {
                expected: self.size,
                got: self.seen,
            });
        }
        let digest: Hash = self.hasher.finalize().into();
        if digest != self.sha256 {
            return Err(AttachmentError::AttachmentHashMismatch);
        }
        Ok(())
    }
}

/// Checks whole attachment bytes held in memory.
pub fn check_attachment(attachment: &Attachment, bytes: &[u8]) -> Result<(), AttachmentError> {
    let mut check = AttachmentCheck::new(attachment);
    check.update(bytes)?;
    check.finish()
}

#[cfg(test)]
mod tests {
    use alloc::string::String;
    use alloc::vec;

    use super::*;

    fn named(bytes: &[u8]) -> Attachment {
        Attachment {
            sha256: Sha256::digest(bytes).into(),
            size: bytes.len() as u64,
            name: String::from("report.pdf"),
            content_type: String::from("application/pdf"),
        }
    }

    #[test]
    fn the_named_bytes_pass_in_one_piece_or_in_chunks() {
        let bytes = vec![7u8; 10_000];
        let a = named(&bytes);
        assert_eq!(check_attachment(&a, &bytes), Ok(()));
        let mut check = AttachmentCheck::new(&a);
        for chunk in bytes.chunks(333) {
            check.update(chunk).unwrap();
        }
        assert_eq!(check.seen(), 10_000);
        assert_eq!(check.finish(), Ok(()));
    }

    #[test]
    fn changed_cut_and_extended_bytes_are_refused_by_name() {
        let bytes = vec![1u8, 2, 3, 4];
        let a = named(&bytes);
        assert_eq!(
            check_attachment(&a, &[1, 2, 3, 5]),
            Err(AttachmentError::AttachmentHashMismatch)
        );
        assert_eq!(
            check_attachment(&a, &[1, 2, 3]),
            Err(AttachmentError::AttachmentTooShort {
                expected: 4,
                got: 3
            })
        );
        let mut check = AttachmentCheck::new(&a);
        check.update(&bytes).unwrap();
        assert_eq!(
            check.update(&[0]),
            Err(AttachmentError::AttachmentTooLong { expected: 4 })
        );
    }
}
