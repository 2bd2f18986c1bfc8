//! The read credential file (spec/node.md 9.5): a versioned, bounded text file holding a
//! grant's name, its token, the node's pin and an optional expiry. Parsing is strict and
//! its errors never repeat the token.

use std::io::Read;
use std::path::{Path, PathBuf};

use dyad_ledger::durable::{self, WriteOptions};

use super::token::ReadToken;
use super::valid_name;
use crate::tls::fingerprint::{parse_pin, pin_text};

/// The first line of every credential file.
pub const CREDENTIAL_HEADER: &str = "dyad-read-credential/v1";
/// A credential file is at most this long.
pub const MAX_CREDENTIAL_LEN: usize = 4096;

/// Why a credential file is refused. No variant carries the token.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is over [`MAX_CREDENTIAL_LEN`] bytes.
    #[error("the credential file is larger than {MAX_CREDENTIAL_LEN} bytes")]
    TooLarge,
    /// The file is not UTF-8 text.
    #[error("the credential file is not UTF-8 text")]
    NotUtf8,
    /// The last line does not end with a newline (a cut-off file).
    #[error("the credential file does not end with a newline")]
    NoFinalNewline,
    /// The first line is not [`CREDENTIAL_HEADER`].
    #[error("the first line is not {CREDENTIAL_HEADER}")]
    BadHeader,
    /// A required line (named) is missing.
    #[error("the credential file has no `{0}` line")]
    MissingLine(&'static str),
    /// A line is not the field expected at its place.
    #[error("line {line}: expected `{expected}`, found `{found}`")]
    UnexpectedLine {
        /// The line number, from 1.
        line: usize,
        /// The field expected there.
        expected: &'static str,
        /// What the line holds (never a token).
        found: String,
    },
    /// The grant name is not 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
    #[error("the name must be 1 to 64 characters of A-Z a-z 0-9 . _ -")]
    BadName,
    /// The token is not a dyad read token.
    #[error("the token is not a dyad read token (dyadr_ and 43 base64url characters)")]
    BadToken,
    /// The server pin is not `sha256//` and the base64 of 32 bytes.
    #[error("the server pin is not sha256// and the base64 of 32 bytes")]
    BadPin,
    /// The expiry is not a decimal number of seconds.
    #[error("expires is not a number of seconds in decimal")]
    BadExpiry,
    /// The credential expired.
    #[error("the credential expired at {expires} (now {now})")]
    Expired {
        /// When it expired (Unix seconds).
        expires: u64,
        /// The time of the check (Unix seconds).
        now: u64,
    },
}

/// A read credential: what its holder needs to read a node's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadCredential {
    /// The grant's name in the node's credential store.
    pub name: String,
    /// The bearer token (hidden from `Debug`).
    pub token: ReadToken,
    /// SHA-256 of the node's SubjectPublicKeyInfo: the server's key, checked in the handshake.
    pub server_pin: [u8; 32],
    /// When the credential stops being valid, in seconds since the epoch.
    pub expires: Option<u64>,
}

impl ReadCredential {
    /// The file's text.
    pub fn encode(&self) -> String {
        let mut text = format!(
            "{CREDENTIAL_HEADER}\nname {}\ntoken {}\nserver-pin {}\n",
            self.name,
            self.token.expose(),
            pin_text(&self.server_pin)
        );
        if let Some(expires) = self.expires {
            text.push_str(&format!("expires {expires}\n"));
        }
        text
    }

    /// Parses a credential file's bytes (its expiry is [`Self::check_expiry`]'s).
    pub fn parse(bytes: &[u8]) -> Result<ReadCredential, CredentialError> {
        if bytes.len() > MAX_CREDENTIAL_LEN {
            return Err(CredentialError::TooLarge);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| CredentialError::NotUtf8)?;
        let body = text
            .strip_suffix('\n')
            .ok_or(CredentialError::NoFinalNewline)?;
        let mut lines = body.split('\n');
        if lines.next() != Some(CREDENTIAL_HEADER) {
            return Err(CredentialError::BadHeader);
        }
        let mut fields = Fields { lines, at: 1 };
        let name = fields.required("name")?;
        if !valid_name(name) {
            return Err(CredentialError::BadName);
        }
        let token = ReadToken::parse(fields.required("token")?).ok_or(CredentialError::BadToken)?;
        let server_pin =
            parse_pin(fields.required("server-pin")?).ok_or(CredentialError::BadPin)?;
        let expires = match fields.optional("expires") {
            None => None,
            Some(v) => Some(parse_seconds(v).ok_or(CredentialError::BadExpiry)?),
        };
        fields.end()?;
        Ok(ReadCredential {
            name: name.to_owned(),
            token,
            server_pin,
            expires,
        })
    }

    /// Refuses a credential whose expiry is before `now` (seconds since the epoch).
    pub fn check_expiry(&self, now: u64) -> Result<(), CredentialError> {
        match self.expires {
            Some(expires) if now > expires => Err(CredentialError::Expired { expires, now }),
            _ => Ok(()),
        }
    }

    /// Writes the file, mode 0600, atomically and durably, replacing what was there.
    pub fn write_file(&self, path: &Path) -> Result<(), CredentialError> {
        durable::write(path, self.encode().as_bytes(), WriteOptions::PRIVATE)
            .map(drop)
            .map_err(|source| CredentialError::Io {
                path: path.to_owned(),
                source,
            })
    }

    /// Reads and parses a credential file, refusing it if it expired before `now`.
    pub fn read_file(path: &Path, now: u64) -> Result<ReadCredential, CredentialError> {
        let io = |source| CredentialError::Io {
            path: path.to_owned(),
            source,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .map_err(io)?
            .take(MAX_CREDENTIAL_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        let credential = ReadCredential::parse(&bytes)?;
        credential.check_expiry(now)?;
        Ok(credential)
    }
}

/// Decimal without sign or leading zeros.
fn parse_seconds(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// The `key value` lines after the header, in their fixed order.
struct Fields<'a> {
    lines: std::str::Split<'a, char>,
    at: usize,
}

impl<'a> Fields<'a> {
    fn required(&mut self, key: &'static str) -> Result<&'a str, CredentialError> {
        if let Some(value) = self.optional(key) {
            return Ok(value);
        }
        match self.lines.clone().next() {
            None => Err(CredentialError::MissingLine(key)),
            Some(line) => Err(self.unexpected(key, line)),
        }
    }

    /// The value of the next line if it is `key value`; otherwise nothing is consumed.
    fn optional(&mut self, key: &'static str) -> Option<&'a str> {
        let next = self.lines.clone().next();
        let value = next.and_then(|l| l.strip_prefix(key)?.strip_prefix(' '))?;
        self.lines.next();
        self.at += 1;
        Some(value)
    }

    fn end(&mut self) -> Result<(), CredentialError> {
        match self.lines.next() {
            None => Ok(()),
            Some(line) => Err(self.unexpected("the end of the file", line)),
        }
    }

    fn unexpected(&self, expected: &'static str, line: &str) -> CredentialError {
        // The line's first word only if it looks like a field name: never a value, nor a
        // token that lost its `token ` (a token has `_`, which no field name has).
        let word = line.split(' ').next().unwrap_or("");
        let field_like = (1..=16).contains(&word.len())
            && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
        CredentialError::UnexpectedLine {
            line: self.at + 1,
            expected,
            found: if field_like { word } else { "(not a field)" }.to_owned(),
        }
    }
}
