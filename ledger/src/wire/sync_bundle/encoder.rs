//! Writing a bundle (spec/sync.md section 1), its checksum computed as it goes.

use std::io::{self, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::{Record, MAGIC};

/// Writes a bundle, hashing as it goes. The origin is written as given: the caller's
/// channel origin is valid by construction.
pub struct Encoder<W: Write> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> Encoder<W> {
    /// Writes the magic and the origin line.
    pub fn new(inner: W, origin: &str) -> io::Result<Self> {
        let mut w = Encoder {
            inner,
            hasher: Sha256::new(),
            count: 0,
        };
        w.put(&format!("{MAGIC}\norigin {origin}\n"))?;
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

    /// Writes the end line and returns the writer and the number of records.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        let digest = std::mem::take(&mut self.hasher).finalize();
        let end = format!("end {} {}\n", self.count, STANDARD.encode(digest));
        self.inner.write_all(end.as_bytes())?;
        self.inner.flush()?;
        Ok((self.inner, self.count))
    }
}
