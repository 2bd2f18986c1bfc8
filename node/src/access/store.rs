//! The node's credential store (spec/node.md 9.5): the read grants, by name, each with
//! SHA-256 of its token, in `<data dir>/access.json` (mode 0600, written aside, synced and
//! renamed, so it survives a crash and a restart). Tokens themselves are never stored.
//! Writers hold `access.lock` ([`super::lock`]) from reading the file to saving it.

use std::path::{Path, PathBuf};

use dyad_ledger::private_dir::{self, PrivateDirError};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::lock::{LockError, StoreLock, LOCK_WAIT};
use super::token::{token_hash, ReadToken};
use super::valid_name;

/// The credential store's file in the data directory.
pub const ACCESS_FILE: &str = "access.json";
/// At most this many grants (a bound on the file and on each check's cost).
pub const MAX_GRANTS: usize = 1024;
/// The file is refused beyond this size.
const MAX_ACCESS_FILE_LEN: u64 = 256 * 1024;
const STORE_VERSION: u32 = 1;

/// Why a grant, a revocation or the store itself fails.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The store file could not be written.
    #[error(transparent)]
    File(#[from] PrivateDirError),
    /// The store file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The store file is not a dyad credential store.
    #[error("{}: not a dyad credential store: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The grant name is not 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
    #[error("the name must be 1 to 64 characters of A-Z a-z 0-9 . _ -")]
    BadName,
    /// A grant of that name exists already.
    #[error("a grant named {0} exists already (revoke it first)")]
    NameTaken(String),
    /// No grant has that name.
    #[error("no grant is named {0}")]
    UnknownName(String),
    /// The store holds [`MAX_GRANTS`] grants already.
    #[error("the store holds {MAX_GRANTS} grants already")]
    TooManyGrants,
    /// The expiry asked for is not after the time of the grant.
    #[error("the grant would expire at {expires}, not after the time of the grant ({now})")]
    ExpiresBeforeGrant {
        /// The expiry asked for (Unix seconds).
        expires: u64,
        /// The time of the grant (Unix seconds).
        now: u64,
    },
    /// The writers' lock could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// One grant as the file holds it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct GrantRecord {
    name: String,
    /// SHA-256 of the token's text, lowercase hex.
    token_sha256: String,
    /// Seconds since the epoch.
    granted_at: u64,
    /// Seconds since the epoch after which the token is refused; absent: never (the
    /// files written before grants could expire have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires: Option<u64>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreFile {
    version: u32,
    grants: Vec<GrantRecord>,
}

/// A grant as [`CredentialStore::list`] shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The name it was granted under.
    pub name: String,
    /// Seconds since the epoch.
    pub granted_at: u64,
    /// Seconds since the epoch after which its token is refused (`None`: never).
    pub expires: Option<u64>,
}

impl Grant {
    /// Whether the grant's token is refused at `now` (seconds since the epoch).
    pub fn expired_at(&self, now: u64) -> bool {
        expired(self.expires, now)
    }
}

/// Past `expires`, not at it: like a credential file's `expires` (spec/node.md 9.5).
fn expired(expires: Option<u64>, now: u64) -> bool {
    expires.is_some_and(|expires| now > expires)
}

#[derive(Clone, Debug)]
struct StoredGrant {
    name: String,
    token_hash: [u8; 32],
    granted_at: u64,
    expires: Option<u64>,
}

/// The read grants of a node. Changes are written before they take effect in memory, so
/// what is in memory is always what is on disk.
#[derive(Debug)]
pub struct CredentialStore {
    path: PathBuf,
    grants: Vec<StoredGrant>,
    /// Held by a store opened with [`CredentialStore::open_for_change`].
    lock: Option<StoreLock>,
}

impl CredentialStore {
    /// Opens the store of `data_dir`; a missing file is an empty store.
    pub fn open(data_dir: &Path) -> Result<CredentialStore, AccessError> {
        let path = data_dir.join(ACCESS_FILE);
        let text = match dyad_ledger::keys::read_small_text(&path, MAX_ACCESS_FILE_LEN) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(CredentialStore {
                    path,
                    grants: Vec::new(),
                    lock: None,
                })
            }
            Err(source) => return Err(AccessError::Read { path, source }),
        };
        let grants = parse_store(&text).map_err(|reason| AccessError::Corrupt {
            path: path.clone(),
            reason,
        })?;
        Ok(CredentialStore {
            path,
            grants,
            lock: None,
        })
    }

    /// Opens the store of `data_dir` to change it: takes the writers' lock (waiting up to
    /// [`LOCK_WAIT`] for another writer), then reads the file. The lock is held until the
    /// store is dropped, so no other writer's change is lost between reading and saving.
    pub fn open_for_change(data_dir: &Path) -> Result<CredentialStore, AccessError> {
        let lock = StoreLock::acquire(data_dir, LOCK_WAIT)?;
        let mut store = CredentialStore::open(data_dir)?;
        store.lock = Some(lock);
        Ok(store)
    }

    /// Grants read access under `name` at `now`, without expiry, and returns the new
    /// token (the only time it exists outside its holder's credential file).
    pub fn grant(&mut self, name: &str, now: u64) -> Result<ReadToken, AccessError> {
        self.grant_until(name, now, None)
    }

    /// Grants read access under `name` at `now` until `expires` (seconds since the epoch;
    /// `None`: no expiry) and returns the new token.
    pub fn grant_until(
        &mut self,
        name: &str,
        now: u64,
        expires: Option<u64>,
    ) -> Result<ReadToken, AccessError> {
        if !valid_name(name) {
            return Err(AccessError::BadName);
        }
        if self.grants.iter().any(|g| g.name == name) {
            return Err(AccessError::NameTaken(name.to_owned()));
        }
        if self.grants.len() >= MAX_GRANTS {
            return Err(AccessError::TooManyGrants);
        }
        if let Some(expires) = expires.filter(|&e| e <= now) {
            return Err(AccessError::ExpiresBeforeGrant { expires, now });
        }
        let token = ReadToken::generate();
        let mut grants = self.grants.clone();
        grants.push(StoredGrant {
            name: name.to_owned(),
            token_hash: token.hash(),
            granted_at: now,
            expires,
        });
        self.save(grants)?;
        Ok(token)
    }

    /// Removes the grant `name`: its token is refused from now on.
    pub fn revoke(&mut self, name: &str) -> Result<(), AccessError> {
        let Some(at) = self.grants.iter().position(|g| g.name == name) else {
            return Err(AccessError::UnknownName(name.to_owned()));
        };
        let mut grants = self.grants.clone();
        grants.remove(at);
        self.save(grants)
    }

    /// The grants, in the order they were made.
    pub fn list(&self) -> Vec<Grant> {
        self.grants
            .iter()
            .map(|g| Grant {
                name: g.name.clone(),
                granted_at: g.granted_at,
                expires: g.expires,
            })
            .collect()
    }

    /// The name of the grant whose token `presented` is, if any and if it has not
    /// expired by the wall clock now ([`Self::verify_at`]).
    pub fn verify(&self, presented: &str) -> Option<&str> {
        self.verify_at(presented, dyad_ledger::clock::now_ms() / 1000)
    }

    /// The name of the grant whose token `presented` is, if any and if it has not expired
    /// at `now` (seconds since the epoch). The presented token's hash is compared with
    /// every grant's in constant time.
    pub fn verify_at(&self, presented: &str, now: u64) -> Option<&str> {
        let hash = token_hash(presented);
        let mut found = None;
        for grant in &self.grants {
            if bool::from(grant.token_hash.ct_eq(&hash)) {
                found = Some(grant);
            }
        }
        found
            .filter(|grant| !expired(grant.expires, now))
            .map(|grant| grant.name.as_str())
    }

    fn save(&mut self, grants: Vec<StoredGrant>) -> Result<(), AccessError> {
        let file = StoreFile {
            version: STORE_VERSION,
            grants: grants
                .iter()
                .map(|g| GrantRecord {
                    name: g.name.clone(),
                    token_sha256: hex::encode(g.token_hash),
                    granted_at: g.granted_at,
                    expires: g.expires,
                })
                .collect(),
        };
        let mut text = serde_json::to_string_pretty(&file).expect("the store serializes");
        text.push('\n');
        private_dir::write_file(&self.path, text.as_bytes())?;
        self.grants = grants;
        Ok(())
    }
}

/// The grants an `access.json` text holds, as [`CredentialStore::list`] shows them, or why
/// it is refused: the store's parser on its own (the fuzz target `access_store` runs it).
pub fn parse_grants(text: &str) -> Result<Vec<Grant>, String> {
    Ok(parse_store(text)?
        .into_iter()
        .map(|g| Grant {
            name: g.name,
            granted_at: g.granted_at,
            expires: g.expires,
        })
        .collect())
}

fn parse_store(text: &str) -> Result<Vec<StoredGrant>, String> {
    let file: StoreFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if file.version != STORE_VERSION {
        return Err(format!(
            "version {} (this dyad reads {STORE_VERSION})",
            file.version
        ));
    }
    if file.grants.len() > MAX_GRANTS {
        return Err(format!("more than {MAX_GRANTS} grants"));
    }
    let mut grants: Vec<StoredGrant> = Vec::with_capacity(file.grants.len());
    for record in file.grants {
        if !valid_name(&record.name) || grants.iter().any(|g| g.name == record.name) {
            return Err(format!("a bad or repeated grant name {:?}", record.name));
        }
        let mut token_hash = [0u8; 32];
        hex::decode_to_slice(&record.token_sha256, &mut token_hash)
            .map_err(|_| format!("grant {}: token_sha256 is not 64 hex digits", record.name))?;
        grants.push(StoredGrant {
            name: record.name,
            token_hash,
            granted_at: record.granted_at,
            expires: record.expires,
        });
    }
    Ok(grants)
}
