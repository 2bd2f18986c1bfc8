//! C2SP tlog-witness `add-checkpoint` (`c2sp.org/tlog-witness`): the request body, the
//! 409 size body and the cosignature response, formatted and parsed strictly.
//!
//! Request body: `old <size>\n`, zero to 63 lines of base64 consistency-proof hashes, an
//! empty line, then the checkpoint note. Response: 200 with one or more note signature
//! lines (`— <name> <base64>\n`); 409 with `<size>\n` as `text/x.tlog.size` when `old` is
//! not the witness's latest co-signed size.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use dyad_verifier::text::parse_decimal;

use crate::tree::Hash;

/// tlog-witness: a client MUST NOT send more than 63 consistency proof lines.
pub const MAX_PROOF_LINES: usize = 63;
/// The largest add-checkpoint body a node reads: the old line, 63 proof lines and a note
/// with room for a hundred signatures.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// The largest cosignature response read.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The content type of a 409 body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// One add-checkpoint request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the client believes the witness last co-signed.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The checkpoint note, signed by the log.
    pub note: Vec<u8>,
}

/// Why an add-checkpoint body (request, 200 or 409 answer) was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// The body does not start with `old <size>`.
    #[error("the body does not start with a line \"old <size>\"")]
    MissingOldLine,
    /// The old size is not a canonical decimal.
    #[error("the old size is not a canonical decimal")]
    BadOldSize,
    /// The proof line at this position (counted from 1) is not the base64 of a 32-byte hash.
    #[error("proof line {0} is not the base64 of a 32-byte hash")]
    BadProofLine(usize),
    /// More than [`MAX_PROOF_LINES`] proof lines.
    #[error("more than {MAX_PROOF_LINES} consistency proof lines")]
    TooManyProofLines,
    /// No empty line between the proof and the checkpoint.
    #[error("no empty line between the proof and the checkpoint")]
    MissingEmptyLine,
    /// Nothing after the empty line.
    #[error("no checkpoint after the empty line")]
    MissingCheckpoint,
    /// A 200 answer that is not one or more signature lines.
    #[error("the response is not one or more signature lines")]
    BadResponse,
    /// A 409 answer that is not `<decimal>\n`.
    #[error("the size body is not \"<decimal>\\n\"")]
    BadSizeBody,
}

impl AddCheckpoint {
    /// The request body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old).into_bytes();
        for h in &self.proof {
            out.extend_from_slice(STANDARD.encode(h).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.note);
        out
    }

    /// Parses a request body. The note itself is not looked at here.
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, WitnessError> {
        let mut lines = body.split_inclusive(|&b| b == b'\n');
        let first = lines.next().ok_or(WitnessError::MissingOldLine)?;
        let old = first
            .strip_prefix(b"old ")
            .and_then(|l| l.strip_suffix(b"\n"))
            .ok_or(WitnessError::MissingOldLine)?;
        let old = parse_decimal(old).ok_or(WitnessError::BadOldSize)?;
        let mut consumed = first.len();
        let mut proof = Vec::new();
        loop {
            let line = lines.next().ok_or(WitnessError::MissingEmptyLine)?;
            consumed += line.len();
            let Some(line) = line.strip_suffix(b"\n") else {
                return Err(WitnessError::MissingEmptyLine);
            };
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(WitnessError::TooManyProofLines);
            }
            proof.push(decode_hash(line).ok_or(WitnessError::BadProofLine(proof.len() + 1))?);
        }
        let note = &body[consumed..];
        if note.is_empty() {
            return Err(WitnessError::MissingCheckpoint);
        }
        Ok(AddCheckpoint {
            old,
            proof,
            note: note.to_vec(),
        })
    }
}

/// Canonical padded standard base64 of exactly 32 bytes.
fn decode_hash(line: &[u8]) -> Option<Hash> {
    if line.len() != 44 {
        return None;
    }
    let bytes = STANDARD.decode(line).ok()?;
    let hash: Hash = bytes.try_into().ok()?;
    // Reject non-canonical encodings (stray bits in the last character).
    (STANDARD.encode(hash).as_bytes() == line).then_some(hash)
}

/// Checks a 200 response: one or more lines, each `— ` + something + `\n`, valid UTF-8,
/// no other control characters. Returns it unchanged, ready to append to the note.
pub fn parse_cosignature_response(body: &[u8]) -> Result<&[u8], WitnessError> {
    if body.is_empty() || body.len() > MAX_RESPONSE_BYTES || !body.ends_with(b"\n") {
        return Err(WitnessError::BadResponse);
    }
    let text = std::str::from_utf8(body).map_err(|_| WitnessError::BadResponse)?;
    for line in text.split_terminator('\n') {
        if !line.starts_with("\u{2014} ") || line.chars().any(|c| c.is_control()) {
            return Err(WitnessError::BadResponse);
        }
    }
    Ok(body)
}

/// The body of a 409 response: `<size>\n`.
pub fn size_body(size: u64) -> String {
    format!("{size}\n")
}

/// Parses a 409 body.
pub fn parse_size_body(body: &[u8]) -> Result<u64, WitnessError> {
    body.strip_suffix(b"\n")
        .and_then(parse_decimal)
        .ok_or(WitnessError::BadSizeBody)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips_and_parses_strictly() {
        let req = AddCheckpoint {
            old: 20,
            proof: vec![[1; 32], [2; 32]],
            note: b"origin\n22\nroot\n\n\xe2\x80\x94 sig\n".to_vec(),
        };
        let body = req.encode();
        assert!(body.starts_with(b"old 20\nAQEB"));
        assert_eq!(AddCheckpoint::parse(&body), Ok(req));
        let empty = AddCheckpoint {
            old: 0,
            proof: vec![],
            note: b"x".to_vec(),
        };
        assert_eq!(AddCheckpoint::parse(&empty.encode()), Ok(empty));
        for (bad, err) in [
            (&b"old 01\n\nx"[..], WitnessError::BadOldSize),
            (b"old -1\n\nx", WitnessError::BadOldSize),
            (b"old 1", WitnessError::MissingOldLine),
            (b"new 1\n\nx", WitnessError::MissingOldLine),
            (b"old 1\n\n", WitnessError::MissingCheckpoint),
            (b"old 1\nAQ==\n\nx", WitnessError::BadProofLine(1)),
            (b"old 1\nx", WitnessError::MissingEmptyLine),
            (b"old 18446744073709551616\n\nx", WitnessError::BadOldSize),
        ] {
            assert_eq!(
                AddCheckpoint::parse(bad),
                Err(err),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut many = b"old 1\n".to_vec();
        for _ in 0..64 {
            many.extend_from_slice(format!("{}\n", STANDARD.encode([3u8; 32])).as_bytes());
        }
        many.extend_from_slice(b"\nx");
        assert_eq!(
            AddCheckpoint::parse(&many),
            Err(WitnessError::TooManyProofLines)
        );
    }

    #[test]
    fn responses_parse_strictly() {
        assert!(parse_cosignature_response("\u{2014} a b\n".as_bytes()).is_ok());
        assert!(parse_cosignature_response(b"").is_err());
        assert!(parse_cosignature_response("\u{2014} a b".as_bytes()).is_err());
        assert!(parse_cosignature_response(b"- a b\n").is_err());
        assert_eq!(parse_size_body(b"12\n"), Ok(12));
        assert!(parse_size_body(b"12").is_err());
        assert!(parse_size_body(b"012\n").is_err());
    }
}
