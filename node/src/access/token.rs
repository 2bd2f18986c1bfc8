//! Read tokens (spec/node.md 9.5): `dyadr_` and 43 characters of unpadded base64url (32
//! random bytes). A token is a secret: its `Debug` hides it and it has no `Display`.

use std::fmt;

use base64::Engine;
use sha2::{Digest, Sha256};

/// What every read token starts with (so that a leaked one is recognisable in a scan).
pub const TOKEN_PREFIX: &str = "dyadr_";
const TOKEN_RANDOM_BYTES: usize = 32;
/// The length of a token's text.
pub const TOKEN_LEN: usize = TOKEN_PREFIX.len() + 43;

/// A bearer token for the read API.
#[derive(Clone, PartialEq, Eq)]
pub struct ReadToken(String);

impl fmt::Debug for ReadToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReadToken(..)")
    }
}

impl ReadToken {
    /// A new random token.
    pub fn generate() -> ReadToken {
        let mut random = [0u8; TOKEN_RANDOM_BYTES];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut random);
        ReadToken(format!(
            "{TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
        ))
    }

    /// A token from its text, if it has a token's form (the prefix, then the canonical
    /// base64url of 32 bytes).
    pub fn parse(text: &str) -> Option<ReadToken> {
        let b64 = text.strip_prefix(TOKEN_PREFIX)?;
        if text.len() != TOKEN_LEN {
            return None;
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .ok()?;
        let canonical = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        (bytes.len() == TOKEN_RANDOM_BYTES && canonical == b64).then(|| ReadToken(text.into()))
    }

    /// The token's text, for the one place it goes: a credential file or an
    /// `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the token's text: what the credential store keeps.
    pub fn hash(&self) -> [u8; 32] {
        token_hash(&self.0)
    }
}

/// SHA-256 of a presented token's text (any text: the store compares hashes).
pub fn token_hash(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_well_formed_and_hidden_from_debug() {
        let a = ReadToken::generate();
        let b = ReadToken::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), TOKEN_LEN);
        assert_eq!(ReadToken::parse(a.expose()), Some(a.clone()));
        assert_eq!(format!("{a:?}"), "ReadToken(..)");
        assert!(!format!("{a:?}").contains(&a.expose()[6..]));
        for bad in [
            "",
            "dyadr_",
            &a.expose()[1..],
            &format!("{}A", a.expose()),
            &a.expose().replace("dyadr_", "dyadx_"),
            &format!("{TOKEN_PREFIX}{}", "=".repeat(43)),
        ] {
            assert_eq!(ReadToken::parse(bad), None, "{bad}");
        }
    }
}
