//! Writing a bundle (spec/sync.md section 1), its checksum computed as it goes.

use std::io::{self, Read, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dyad_verifier::attachment::{AttachmentCheck, AttachmentError};
use sha2::{Digest, Sha256};

use super::{Record, Version, CHUNK_SIZE};

/// Why an attachment's bytes could not be written into a bundle.
#[derive(Debug, thiserror::Error)]
pub enum WriteAttachmentError {
    /// Reading the attachment's bytes failed.
    #[error("reading the attachment: {0}")]
    Read(#[source] io::Error),
    /// Writing the bundle failed.
    #[error("writing the bundle: {0}")]
    Write(#[source] io::Error),
    /// The bytes read are not those the SHA-256 and size name (the copy read from changed).
    #[error("the attachment's bytes are not the ones named: {0}")]
    Content(#[source] AttachmentError),
}

/// Writes a bundle, hashing as it goes. The origin is written as given: the caller's
/// channel origin is valid by construction.
pub struct Encoder<W: Write> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> Encoder<W> {
    /// Writes the magic of the current version ([`Version::V2`]) and the origin line.
    pub fn new(inner: W, origin: &str) -> io::Result<Self> {
        Self::with_version(inner, origin, Version::V2)
    }

    /// Writes the magic of `version` and the origin line (a version 1 bundle is written
    /// again only to reproduce one byte for byte).
    pub fn with_version(inner: W, origin: &str, version: Version) -> io::Result<Self> {
        let mut w = Encoder {
            inner,
            hasher: Sha256::new(),
            count: 0,
        };
        w.put(&format!("{}\norigin {origin}\n", version.magic()))?;
        Ok(w)
    }

    fn put(&mut self, text: &str) -> io::Result<()> {
        self.hasher.update(text.as_bytes());
        self.inner.write_all(text.as_bytes())
    }

    /// Writes one record's line (the decoder checks their order; the caller keeps it).
    pub fn record(&mut self, record: &Record) -> io::Result<()> {
        self.count += 1;
        self.put(&record.to_line())
    }

    /// Writes an attachment record and its bytes, read from `content` one chunk at a time
    /// (memory stays at one chunk however large the attachment). The bytes are checked
    /// against `sha256` and `size` as they go: a copy that changed is refused, and the
    /// bundle must then be discarded (its last lines are incomplete).
    pub fn attachment(
        &mut self,
        sha256: [u8; 32],
        size: u64,
        content: impl Read,
    ) -> Result<(), WriteAttachmentError> {
        self.record(&Record::Attachment { sha256, size })
            .map_err(WriteAttachmentError::Write)?;
        let mut check = AttachmentCheck::expecting(sha256, size);
        // One byte more than the size is read, so that a longer copy is noticed.
        let mut content = content.take(size.saturating_add(1));
        let mut buf = vec![0u8; CHUNK_SIZE as usize];
        loop {
            let filled = fill(&mut content, &mut buf).map_err(WriteAttachmentError::Read)?;
            if filled == 0 {
                break;
            }
            check
                .update(&buf[..filled])
                .map_err(WriteAttachmentError::Content)?;
            self.record(&Record::Chunk(buf[..filled].to_vec()))
                .map_err(WriteAttachmentError::Write)?;
        }
        check.finish().map_err(WriteAttachmentError::Content)
    }

    /// Writes the end line and returns the writer and the number of records.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        let digest = std::mem::take(&mut self.hasher).finalize();
        let end = format!("end {} {}\n", self.count, STANDARD.encode(digest));
        self.inner.write_all(end.as_bytes())?;
        self.inner.flush()?;
        Ok((self.inner, self.count))
    }
}

/// Reads into `buf` until it is full or the input ends; returns the bytes read.
fn fill(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
