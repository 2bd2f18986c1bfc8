//! The receipt directory (spec section 8, "Receipt directory"): a receipt and the bytes of
//! its entry's attachments, laid out so that anyone can check both offline. The file names
//! are computed here only, for the tool that writes a directory and the one that checks it.

use alloc::string::String;
use alloc::vec::Vec;

use crate::hash::Hash;

/// The receipt's file in a receipt directory.
pub const RECEIPT_FILE: &str = "receipt.tlog-proof";
/// The receipt of an endorsed record's endorsement, proved against the same checkpoint
/// (spec section 8.2).
pub const ENDORSEMENT_FILE: &str = "endorsement.tlog-proof";
/// The subdirectory holding the entry's attachments.
pub const ATTACHMENTS_DIR: &str = "attachments";
/// The subdirectory holding the receipt's key history (spec section 8.1): one receipt per
/// key change below the checkpoint's size, named [`key_change_file_name`].
pub const KEY_CHANGES_DIR: &str = "key-changes";

/// The file name of the key change at `index` in [`KEY_CHANGES_DIR`]:
/// `<index in decimal>.tlog-proof`.
pub fn key_change_file_name(index: u64) -> String {
    alloc::format!("{index}.tlog-proof")
}

/// The index a key-change file name names: the inverse of [`key_change_file_name`] (a
/// canonical decimal, no sign, no leading zeros); `None` for any other name.
pub fn key_change_file_index(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".tlog-proof")?;
    crate::text::parse_decimal(digits.as_bytes())
}

/// The longest file name written, in bytes (most file systems' limit).
pub const MAX_FILE_NAME: usize = 255;

/// The file name of each attachment of an entry, in the entry's order (field 11), given
/// each attachment's name and SHA-256.
///
/// If no two names are the same (comparing ASCII letters without case, as case-insensitive
/// file systems do), each attachment's file is named as the attachment. Otherwise every
/// attachment's file is named `<sha256 in lowercase hex>-<name>`, cut to
/// [`MAX_FILE_NAME`] bytes at a character boundary: the hashes of an entry's attachments
/// are all different, so these names are too, and none can equal another attachment's
/// plain name however the sender chose the names.
pub fn attachment_file_names(attachments: &[(&str, Hash)]) -> Vec<String> {
    let clash = attachments.iter().enumerate().any(|(i, (a, _))| {
        attachments[..i]
            .iter()
            .any(|(b, _)| a.eq_ignore_ascii_case(b))
    });
    attachments
        .iter()
        .map(|(name, sha256)| {
            if !clash {
                return String::from(*name);
            }
            let mut file = hex(sha256);
            file.push('-');
            for c in name.chars() {
                if file.len() + c.len_utf8() > MAX_FILE_NAME {
                    break;
                }
                file.push(c);
            }
            file
        })
        .collect()
}

fn hex(hash: &Hash) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * hash.len());
    for byte in hash {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;
    use alloc::vec;

    use super::*;

    #[test]
    fn distinct_names_are_kept() {
        let names = attachment_file_names(&[("plan.pdf", [1; 32]), ("feed.json", [2; 32])]);
        assert_eq!(names, vec!["plan.pdf".to_string(), "feed.json".to_string()]);
        assert!(attachment_file_names(&[]).is_empty());
    }

    #[test]
    fn one_shared_name_renames_every_attachment_by_its_hash() {
        let names = attachment_file_names(&[
            ("Plan.pdf", [0xab; 32]),
            ("other", [0xcd; 32]),
            ("plan.PDF", [0xef; 32]),
        ]);
        assert_eq!(
            names,
            vec![
                alloc::format!("{}-Plan.pdf", "ab".repeat(32)),
                alloc::format!("{}-other", "cd".repeat(32)),
                alloc::format!("{}-plan.PDF", "ef".repeat(32)),
            ]
        );
    }

    #[test]
    fn a_renamed_file_is_cut_to_the_limit_at_a_character_boundary() {
        let long = "é".repeat(127); // 254 bytes
        let names = attachment_file_names(&[(&long, [1; 32]), (&long, [2; 32])]);
        for name in &names {
            assert!(name.len() <= MAX_FILE_NAME, "{}", name.len());
            assert_eq!(name.len(), 65 + 2 * 95);
        }
        assert_ne!(names[0], names[1]);
    }
}
