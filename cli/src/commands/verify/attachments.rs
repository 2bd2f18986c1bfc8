//! The attachment files beside a receipt (a receipt directory's `attachments/`, spec/dyad.md
//! section 8), checked against the entry the receipt proves: each file the entry names
//! must be there, and be byte for byte the attachment its SHA-256 and size name. Files are
//! streamed through the verifier's [`AttachmentCheck`], so memory stays flat whatever their
//! size.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use dyad_verifier::entry::Attachment;
use dyad_verifier::receipt_directory::attachment_file_names;
use dyad_verifier::{AttachmentCheck, AttachmentError};

use crate::output::printable;

const CHUNK: usize = 64 * 1024;

/// Why a file does not hold the attachment the entry names.
#[derive(Debug, thiserror::Error)]
pub(super) enum FileProblem {
    #[error("missing")]
    Missing,
    #[error("not a regular file")]
    NotAFile,
    #[error("cannot be read: {0}")]
    Unreadable(io::Error),
    #[error("{0}")]
    NotTheAttachment(#[from] AttachmentError),
}

/// One attachment of the entry and the file that was checked for it.
pub(super) struct AttachmentFile<'a> {
    pub attachment: &'a Attachment,
    pub file: PathBuf,
    /// `Ok` if the file holds the attachment.
    pub outcome: Result<(), FileProblem>,
}

/// The file each of the entry's `attachments` should be in `dir`, each checked.
pub(super) fn check_files<'a>(
    dir: &Path,
    attachments: &'a [Attachment],
) -> Vec<AttachmentFile<'a>> {
    let pairs: Vec<(&str, [u8; 32])> = attachments
        .iter()
        .map(|a| (a.name.as_str(), a.sha256))
        .collect();
    attachments
        .iter()
        .zip(attachment_file_names(&pairs))
        .map(|(attachment, name)| {
            let file = dir.join(name);
            let outcome = check_file(&file, attachment);
            AttachmentFile {
                attachment,
                file,
                outcome,
            }
        })
        .collect()
}

fn check_file(path: &Path, attachment: &Attachment) -> Result<(), FileProblem> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(FileProblem::Missing),
        Err(e) => return Err(FileProblem::Unreadable(e)),
    };
    if !file.metadata().map_err(FileProblem::Unreadable)?.is_file() {
        return Err(FileProblem::NotAFile);
    }
    let mut check = AttachmentCheck::new(attachment);
    let mut buf = vec![0; CHUNK];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => check.update(&buf[..n])?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FileProblem::Unreadable(e)),
        }
    }
    Ok(check.finish()?)
}

/// The files in `dir` that are none of `checked`: not part of what the receipt proves.
pub(super) fn unnamed_files(dir: &Path, checked: &[AttachmentFile]) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            !checked
                .iter()
                .any(|c| c.file.file_name() == Some(&e.file_name()))
        })
        .map(|e| printable(&e.file_name().to_string_lossy()))
        .collect();
    out.sort();
    out
}
