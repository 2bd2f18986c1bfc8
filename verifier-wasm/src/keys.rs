//! The trusted keys as a person gives them: the text of `.pub` files (one verifier key
//! line each, as `dyad keygen` writes) and optionally one C2SP tlog-policy file.

use dyad_verifier::key::{SignatureType, VerifierKey};
use dyad_verifier::policy::{self, Policy};

/// The keys and policy read from the given files.
#[derive(Debug, Default)]
pub struct TrustedFiles {
    /// Every verifier key, in the order given.
    pub keys: Vec<VerifierKey>,
    /// The tlog-policy, if one of the files was one.
    pub policy: Option<Policy>,
}

/// Why the given key files cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyFilesError {
    /// A file holds a private key: refused without repeating it.
    PrivateKey(String),
    /// A file is neither a verifier key nor a tlog-policy.
    Unreadable { file: String, reason: String },
    /// Two policy files.
    TwoPolicies,
    /// The same key twice.
    Duplicate(String),
    /// Not exactly two Ed25519 (type 0x01) party keys.
    NotTwoParties(usize),
}

impl core::fmt::Display for KeyFilesError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            KeyFilesError::PrivateKey(file) => write!(
                f,
                "{file} is a private key; give the party's .pub file (never share the .key file)"
            ),
            KeyFilesError::Unreadable { file, reason } => write!(
                f,
                "{file} is neither a verifier key (.pub) nor a tlog-policy: {reason}"
            ),
            KeyFilesError::TwoPolicies => write!(f, "give at most one tlog-policy file"),
            KeyFilesError::Duplicate(key) => write!(f, "the key {key} is given twice"),
            KeyFilesError::NotTwoParties(n) => write!(
                f,
                "give both parties' .pub files (Ed25519 type 0x01 keys, as `dyad keygen` writes them): got {n}"
            ),
        }
    }
}

/// Reads `(file name, text)` pairs: a one-line file is a verifier key, a longer one a
/// tlog-policy.
pub fn read(files: &[(String, String)]) -> Result<TrustedFiles, KeyFilesError> {
    let mut out = TrustedFiles::default();
    for (name, text) in files {
        let trimmed = text.trim();
        if trimmed.starts_with("PRIVATE+KEY+") {
            return Err(KeyFilesError::PrivateKey(name.clone()));
        }
        if !trimmed.contains('\n') {
            let key = VerifierKey::parse(trimmed).map_err(|e| KeyFilesError::Unreadable {
                file: name.clone(),
                reason: e.to_string(),
            })?;
            if out.keys.contains(&key) {
                return Err(KeyFilesError::Duplicate(key.to_string()));
            }
            out.keys.push(key);
            continue;
        }
        let parsed = policy::parse(text).map_err(|e| KeyFilesError::Unreadable {
            file: name.clone(),
            reason: e.to_string(),
        })?;
        if out.policy.replace(parsed).is_some() {
            return Err(KeyFilesError::TwoPolicies);
        }
    }
    Ok(out)
}

impl TrustedFiles {
    /// The two party keys (type 0x01), as receipts and audits need.
    pub fn two_parties(&self) -> Result<(VerifierKey, VerifierKey), KeyFilesError> {
        let parties: Vec<&VerifierKey> = self
            .keys
            .iter()
            .filter(|k| k.signature_type() == SignatureType::Ed25519)
            .collect();
        match parties.as_slice() {
            [a, b] => Ok(((*a).clone(), (*b).clone())),
            other => Err(KeyFilesError::NotTwoParties(other.len())),
        }
    }
}
