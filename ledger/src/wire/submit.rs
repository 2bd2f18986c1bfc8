//! `POST /submit-batch` (spec/node.md section 4.2): many of the co-signer's entries in one
//! request, answered with a result per entry and ONE promise of inclusion covering every
//! accepted entry ([`BatchPromise`]).
//!
//! Request body: 1 to [`MAX_SUBMIT_BATCH`] encoded entries, each prefixed by its length as
//! a big-endian u16 (the framing of tlog-tiles entry bundles), nothing after the last; at
//! most [`MAX_SUBMIT_BATCH_BYTES`]. Response body (200, `text/plain; charset=utf-8`): one
//! line per entry, in order, `200 <index>` or `<status> <message>`, then an empty line,
//! then the signed promise note when at least one entry is accepted.

use dyad_verifier::key::VerifierKey;
use dyad_verifier::text::parse_decimal;

use super::promise::{BatchPromise, PromiseError, MAX_BATCH_PROMISE_BYTES, MAX_PROMISED_ENTRIES};
use crate::entry::SignedEntry;

/// Most entries in one `POST /submit-batch`: what one promise can cover.
pub const MAX_SUBMIT_BATCH: usize = MAX_PROMISED_ENTRIES;
/// The largest `POST /submit-batch` body: a client splits bigger batches.
pub const MAX_SUBMIT_BATCH_BYTES: usize = 4 << 20;
/// The longest message of a refused entry in a response line.
pub const MAX_RESULT_MESSAGE: usize = 300;
/// The largest `POST /submit-batch` response a client reads: the result lines and the
/// promise.
pub const MAX_SUBMIT_RESULTS_BYTES: usize =
    MAX_SUBMIT_BATCH * (MAX_RESULT_MESSAGE + 8) + MAX_BATCH_PROMISE_BYTES;

/// Why a `POST /submit-batch` body or answer was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// A batch with no entry.
    #[error("the batch holds no entry")]
    Empty,
    /// A batch over [`MAX_SUBMIT_BATCH`] entries.
    #[error("the batch holds more than {MAX_SUBMIT_BATCH} entries")]
    TooManyEntries,
    /// The length prefix of the entry at this position is zero or runs past the body.
    #[error("entry {0} of the batch: its length prefix is zero or runs past the body")]
    BadFraming(usize),
    /// The answer is not this many result lines, an empty line and a promise.
    #[error("the response is not {0} result lines, an empty line and a promise")]
    BadResults(usize),
    /// The promise in the answer was not accepted.
    #[error("the promise does not verify: {0}")]
    Promise(#[from] PromiseError),
    /// The promise covers other entries or indexes than the ones accepted.
    #[error("the promise does not cover exactly the accepted entries at their indexes")]
    PromiseMismatch,
    /// An entry was accepted (200) but the answer carries no promise.
    #[error("a result is 200 but the response carries no promise")]
    MissingPromise,
}

/// Frames entries as a `POST /submit-batch` body. An entry is 1 to 65535 bytes (the
/// entry format's own bound), so that its length fits the u16 prefix.
pub fn encode_batch<'a>(
    entries: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, SubmitError> {
    let mut out = Vec::new();
    for (i, e) in entries.into_iter().enumerate() {
        let len = u16::try_from(e.len())
            .ok()
            .filter(|&l| l > 0)
            .ok_or(SubmitError::BadFraming(i))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Splits a `POST /submit-batch` body into its entries' bytes (not decoded here).
pub fn parse_batch(body: &[u8]) -> Result<Vec<&[u8]>, SubmitError> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        if out.len() == MAX_SUBMIT_BATCH {
            return Err(SubmitError::TooManyEntries);
        }
        let bad = || SubmitError::BadFraming(out.len());
        let (len, tail) = rest.split_first_chunk::<2>().ok_or_else(bad)?;
        let len = usize::from(u16::from_be_bytes(*len));
        if len == 0 || tail.len() < len {
            return Err(bad());
        }
        let (entry, tail) = tail.split_at(len);
        out.push(entry);
        rest = tail;
    }
    if out.is_empty() {
        return Err(SubmitError::Empty);
    }
    Ok(out)
}

/// What the sequencer said about one entry of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitResult {
    /// Durable in the log at this index (and covered by the batch's promise).
    Accepted {
        /// The entry's index in the log.
        index: u64,
    },
    /// Refused with the status `POST /submit` would have answered, and why.
    Refused {
        /// The HTTP status.
        status: u16,
        /// Why, on one line.
        message: String,
    },
}

/// A `POST /submit-batch` response: a result per entry and the promise note (present
/// exactly when some entry is accepted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitResults {
    /// One result per entry of the request, in its order.
    pub results: Vec<SubmitResult>,
    /// The signed promise note covering the accepted entries.
    pub promise: Option<Vec<u8>>,
}

/// One line of printable text: control characters become spaces, the length is bounded.
fn one_line(message: &str) -> String {
    let mapped: String = message
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_RESULT_MESSAGE)
        .collect();
    // Trimmed again after mapping and cutting, so that the result is a fixed point:
    // `parse` accepts a message only if this function leaves it unchanged.
    let line = mapped.trim();
    if line.is_empty() {
        "refused".into()
    } else {
        line.to_owned()
    }
}

impl SubmitResults {
    /// The response body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = String::new();
        for r in &self.results {
            match r {
                SubmitResult::Accepted { index } => out.push_str(&format!("200 {index}\n")),
                SubmitResult::Refused { status, message } => {
                    out.push_str(&format!("{status} {}\n", one_line(message)))
                }
            }
        }
        out.push('\n');
        let mut out = out.into_bytes();
        if let Some(p) = &self.promise {
            out.extend_from_slice(p);
        }
        out
    }

    /// Parses the response to a batch of `count` entries. The promise is not verified
    /// here ([`check_promise`] does).
    pub fn parse(body: &[u8], count: usize) -> Result<SubmitResults, SubmitError> {
        let bad = || SubmitError::BadResults(count);
        let mut results = Vec::with_capacity(count.min(MAX_SUBMIT_BATCH));
        let mut rest = body;
        for _ in 0..count {
            let end = rest.iter().position(|&b| b == b'\n').ok_or_else(bad)?;
            let line = std::str::from_utf8(&rest[..end]).map_err(|_| bad())?;
            rest = &rest[end + 1..];
            let (status, text) = line.split_once(' ').ok_or_else(bad)?;
            // Only what `encode` writes is accepted, so that a response has one reading:
            // a message is one trimmed line of at most MAX_RESULT_MESSAGE characters.
            if status.len() != 3 || one_line(text) != text {
                return Err(bad());
            }
            let status = parse_decimal(status.as_bytes())
                .filter(|s| (100..600).contains(s))
                .ok_or_else(bad)? as u16;
            results.push(if status == 200 {
                SubmitResult::Accepted {
                    index: parse_decimal(text.as_bytes()).ok_or_else(bad)?,
                }
            } else {
                SubmitResult::Refused {
                    status,
                    message: text.to_owned(),
                }
            });
        }
        let rest = rest.strip_prefix(b"\n").ok_or_else(bad)?;
        let accepted = results
            .iter()
            .any(|r| matches!(r, SubmitResult::Accepted { .. }));
        let promise = match (accepted, rest.is_empty()) {
            (true, false) => Some(rest.to_vec()),
            (false, true) => None,
            (true, true) => return Err(SubmitError::MissingPromise),
            (false, false) => return Err(bad()),
        };
        Ok(SubmitResults { results, promise })
    }
}

/// Verifies the batch's promise under the log key and checks that it covers exactly the
/// accepted entries, at the indexes their result lines give, for `origin`.
pub fn check_promise(
    results: &SubmitResults,
    entries: &[SignedEntry],
    origin: &str,
    log_key: &VerifierKey,
) -> Result<Option<BatchPromise>, SubmitError> {
    let Some(note) = &results.promise else {
        return Ok(None);
    };
    let promise = BatchPromise::verify(note, log_key)?;
    let mut accepted: Vec<(u64, [u8; 32])> = results
        .results
        .iter()
        .zip(entries)
        .filter_map(|(r, e)| match r {
            SubmitResult::Accepted { index } => Some((*index, e.leaf_hash)),
            SubmitResult::Refused { .. } => None,
        })
        .collect();
    // The promise lists each entry once, by increasing index, whatever the request order.
    accepted.sort_unstable();
    accepted.dedup();
    if promise.origin != origin || promise.entries != accepted || accepted.iter().any(|a| a.0 == 0)
    {
        return Err(SubmitError::PromiseMismatch);
    }
    Ok(Some(promise))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzz/fuzz_targets/node_bodies.rs: a refusal message with spaces around it,
    /// or longer than `encode` writes, was accepted and then written back differently.
    #[test]
    fn result_messages_are_accepted_only_as_encode_writes_them() {
        let long = "x".repeat(MAX_RESULT_MESSAGE + 1);
        for message in ["  padded", "padded ", long.as_str(), "tab\there"] {
            let body = format!("409 {message}\n\n");
            assert!(
                matches!(
                    SubmitResults::parse(body.as_bytes(), 1),
                    Err(SubmitError::BadResults(1))
                ),
                "accepted {message:?}"
            );
        }
        // What `encode` writes for any message parses back.
        let cut = format!("{} y", "x".repeat(MAX_RESULT_MESSAGE - 1));
        for message in ["\u{1}odd\u{1}", cut.as_str(), "", " "] {
            let results = SubmitResults {
                results: vec![SubmitResult::Refused {
                    status: 422,
                    message: message.into(),
                }],
                promise: None,
            };
            let body = results.encode();
            assert!(SubmitResults::parse(&body, 1).is_ok(), "{message:?}");
        }
        let body = b"409 sequence number 2 is not the next one\n\n";
        let parsed = SubmitResults::parse(body, 1).unwrap();
        assert_eq!(parsed.encode(), body);
    }

    #[test]
    fn batches_frame_and_parse_strictly() {
        let a = vec![1u8; 3];
        let b = vec![2u8; 300];
        let body = encode_batch([a.as_slice(), b.as_slice()]).unwrap();
        assert!(encode_batch([&[][..]]).is_err());
        assert!(encode_batch([&[0u8; 65536][..]]).is_err());
        assert_eq!(&body[..5], &[0, 3, 1, 1, 1]);
        assert_eq!(parse_batch(&body).unwrap(), vec![&a[..], &b[..]]);
        assert!(matches!(parse_batch(&[]), Err(SubmitError::Empty)));
        assert!(matches!(
            parse_batch(&[0, 0]),
            Err(SubmitError::BadFraming(0))
        ));
        assert!(matches!(
            parse_batch(&body[..body.len() - 1]),
            Err(SubmitError::BadFraming(1))
        ));
        let mut trailing = body.clone();
        trailing.push(0);
        assert!(matches!(
            parse_batch(&trailing),
            Err(SubmitError::BadFraming(2))
        ));
        let many = encode_batch(std::iter::repeat_n(&a[..], MAX_SUBMIT_BATCH + 1)).unwrap();
        assert!(matches!(
            parse_batch(&many),
            Err(SubmitError::TooManyEntries)
        ));
        let most = encode_batch(std::iter::repeat_n(&a[..], MAX_SUBMIT_BATCH)).unwrap();
        assert_eq!(parse_batch(&most).unwrap().len(), MAX_SUBMIT_BATCH);
    }

    #[test]
    fn results_round_trip_and_parse_strictly() {
        let r = SubmitResults {
            results: vec![
                SubmitResult::Accepted { index: 7 },
                SubmitResult::Refused {
                    status: 409,
                    message: "a gap".into(),
                },
            ],
            promise: Some(b"note\n\n\xe2\x80\x94 sig\n".to_vec()),
        };
        let body = r.encode();
        assert!(body.starts_with(b"200 7\n409 a gap\n\nnote"));
        assert_eq!(SubmitResults::parse(&body, 2).unwrap(), r);
        assert!(SubmitResults::parse(&body, 3).is_err());
        let refused_only = SubmitResults {
            results: vec![SubmitResult::Refused {
                status: 403,
                message: "bad\nsignature".into(),
            }],
            promise: None,
        };
        let body = refused_only.encode();
        assert_eq!(body, b"403 bad signature\n\n");
        assert!(SubmitResults::parse(&body, 1).is_ok());
        for bad in [
            &b"200 7\n\n"[..],
            b"200 07\n\nnote",
            b"20 7\n\nnote",
            b"999 x\n\n",
            b"403 \n\n",
            b"403 x\n\ntrailing",
            b"403 x\n",
            b"403 x\x01y\n\n",
        ] {
            assert!(
                SubmitResults::parse(bad, 1).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
