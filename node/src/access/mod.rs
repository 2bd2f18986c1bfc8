//! Read access for those who are not the peer (spec/node.md 9.5 and 9.6): the node's
//! credential store (named grants, tokens kept only as hashes, revocable) and the
//! credential file a grant's holder keeps (its token and the node's pin).

pub mod credential;
pub mod lock;
pub mod store;
pub mod token;

pub use credential::{CredentialError, ReadCredential, CREDENTIAL_HEADER, MAX_CREDENTIAL_LEN};
pub use lock::{LockError, StoreLock, ACCESS_LOCK_FILE};
pub use store::{parse_grants, AccessError, CredentialStore, Grant, ACCESS_FILE, MAX_GRANTS};
pub use token::{ReadToken, TOKEN_PREFIX};

/// The longest grant name.
pub const MAX_NAME_LEN: usize = 64;

/// A grant name: 1 to [`MAX_NAME_LEN`] bytes of `A-Z a-z 0-9 . _ -`.
pub fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests;
