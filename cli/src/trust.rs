//! The parties' public keys, as auditors and operators give them: `.pub` files holding one
//! verifier key line (`--trust`, `--peer`). Built on `dyad-verifier` only, so the
//! auditor's commands (`dyad verify`, `dyad audit`) can use it without the ledger.

use std::path::{Path, PathBuf};

use dyad_verifier::key::{SignatureType, VerifierKey};

use crate::bounded::{read_bounded, MAX_KEY_FILE};
use crate::error::{CliError, Result};

/// Reads a `.pub` file: one verifier key line. A party key must be type 0x01 (what
/// `dyad keygen` writes); a private key file given by mistake is refused without
/// echoing it.
pub fn read_public_key(path: &Path) -> Result<VerifierKey> {
    let bytes = read_bounded(path, MAX_KEY_FILE)?;
    let text =
        String::from_utf8(bytes).map_err(|_| CliError::malformed(path, "not a text file"))?;
    let line = text.trim();
    if line.starts_with("PRIVATE+KEY+") {
        return Err(CliError::usage_hint(
            format!(
                "{} is a private key; a verifier key (.pub) is needed here",
                path.display()
            ),
            "pass the NAME.pub file that `dyad keygen` wrote beside the .key file",
        ));
    }
    VerifierKey::parse(line).map_err(|source| CliError::PublicKey {
        path: path.to_owned(),
        source,
    })
}

/// Reads a party's `.pub` file and requires a type-0x01 key.
pub fn read_party_key(path: &Path) -> Result<VerifierKey> {
    let key = read_public_key(path)?;
    if key.signature_type() != SignatureType::Ed25519 {
        return Err(CliError::usage(format!(
            "{}: a party key must be an Ed25519 (type 0x01) verifier key, as `dyad keygen` writes",
            path.display()
        )));
    }
    Ok(key)
}

/// The party keys given with --trust; `.pub` files of type 0x01 (or 0x04 for a witness).
pub fn read_trust(paths: &[PathBuf]) -> Result<Vec<VerifierKey>> {
    let mut keys: Vec<VerifierKey> = Vec::new();
    for p in paths {
        let key = read_public_key(p)?;
        if keys.contains(&key) {
            return Err(CliError::usage(format!(
                "{} is given twice with --trust",
                p.display()
            )));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// Exactly two party keys, as receipts and audits need.
pub fn read_two_parties(paths: &[PathBuf]) -> Result<(VerifierKey, VerifierKey)> {
    let keys = read_trust(paths)?;
    match <[VerifierKey; 2]>::try_from(keys) {
        Ok([a, b])
            if a.signature_type() == SignatureType::Ed25519
                && b.signature_type() == SignatureType::Ed25519 =>
        {
            Ok((a, b))
        }
        Ok(_) => Err(CliError::usage(
            "--trust takes the parties' .pub files (type 0x01 keys), as `dyad keygen` writes them",
        )),
        Err(keys) => Err(CliError::usage(format!(
            "give both parties' keys: --trust SEQUENCER.pub --trust COSIGNER.pub (got {})",
            keys.len()
        ))),
    }
}
