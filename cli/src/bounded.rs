//! Reading files that come from outside (receipts, checkpoints, evidence, proofs, keys,
//! message payloads, proposals, the configuration) with a bound: at most `limit + 1`
//! bytes are ever read, so a huge file or an endless one (`/dev/zero`, a FIFO) costs at
//! most the limit, and is refused with an error naming the file and the limit.
//!
//! | input | limit |
//! |---|---|
//! | receipt (`dyad verify receipt`) | [`MAX_RECEIPT`]: the verifier's `MAX_RECEIPT_BYTES` (1 MiB + 128 KiB) |
//! | checkpoint note (`dyad verify checkpoint`) | [`MAX_CHECKPOINT`]: the verifier's `MAX_NOTE_BYTES` (1 MiB) |
//! | evidence (`dyad verify evidence`) | [`MAX_EVIDENCE`]: 4 MiB (an equivocation is at most 2 MiB + 16 KiB) |
//! | proof JSON (`dyad verify inclusion/consistency`) | [`MAX_PROOF_JSON`]: 1 MiB |
//! | verifier key `.pub` (`--trust`, `--peer`) | [`MAX_KEY_FILE`]: 16 KiB |
//! | message payload (`dyad append FILE`) | [`MAX_PAYLOAD_FILE`]: 64 KiB (an entry is at most 65535 bytes) |
//! | proposal / signed genesis file (`dyad init`) | [`MAX_GENESIS_FILE`]: 4 MiB |
//! | `dyad.json`, `node.url` in the data directory | [`MAX_DATA_FILE`]: 64 KiB |
//! | witness-change approval (`dyad witness-change submit`) | [`MAX_APPROVAL_FILE`]: 256 KiB (32 witnesses with URLs) |
//!
//! Sync bundles (`dyad sync import`, `dyad audit --bundle`) are read record by record with
//! every line bounded (`dyad_ledger::sync::MAX_LINE`), proposals and signed genesis files
//! through [`crate::bundle::Bundle::read_at_most`]; attachments are streamed into the
//! store with the channel's `max_attachment_size`.

use std::io::{self, Read};
use std::path::Path;

use crate::error::{CliError, Result};

pub const MAX_RECEIPT: u64 = dyad_verifier::receipt::MAX_RECEIPT_BYTES as u64;
pub const MAX_CHECKPOINT: u64 = dyad_verifier::note::MAX_NOTE_BYTES as u64;
pub const MAX_EVIDENCE: u64 = 4 << 20;
pub const MAX_PROOF_JSON: u64 = 1 << 20;
/// The ledger's bound for a private key file serves for `.pub` files too: both are one line.
pub const MAX_KEY_FILE: u64 = dyad_ledger::keys::MAX_KEY_FILE_BYTES;
pub const MAX_PAYLOAD_FILE: u64 = 64 << 10;
pub const MAX_GENESIS_FILE: u64 = 4 << 20;
pub const MAX_DATA_FILE: u64 = 64 << 10;
/// The node's bound on a witness-change request body (spec/node.md 5.6).
pub const MAX_APPROVAL_FILE: u64 = 256 << 10;

/// Reads `path` (`-`: standard input) whole if it holds at most `limit` bytes; reads at
/// most `limit + 1` bytes to find out. Larger: [`CliError::TooLarge`].
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let read = if path == Path::new("-") {
        io::stdin()
            .lock()
            .take(limit.saturating_add(1))
            .read_to_end(&mut buf)
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(limit.saturating_add(1)).read_to_end(&mut buf))
    };
    read.map_err(CliError::read(path))?;
    if buf.len() as u64 > limit {
        return Err(CliError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(buf)
}

/// [`read_bounded`], as UTF-8 text.
pub fn read_bounded_text(path: &Path, limit: u64) -> Result<String> {
    String::from_utf8(read_bounded(path, limit)?)
        .map_err(|_| CliError::malformed(path, "not a UTF-8 text file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_limit_is_read_and_one_byte_more_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![7u8; 100]).unwrap();
        assert_eq!(read_bounded(&p, 100).unwrap().len(), 100);
        let e = read_bounded(&p, 99).unwrap_err();
        assert!(matches!(e, CliError::TooLarge { limit: 99, .. }));
        assert!(e.to_string().contains(&p.display().to_string()), "{e}");
        assert!(e.to_string().contains("99 bytes"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn an_endless_file_costs_the_limit_only() {
        let e = read_bounded(Path::new("/dev/zero"), 4096).unwrap_err();
        assert!(matches!(e, CliError::TooLarge { limit: 4096, .. }));
    }
}
