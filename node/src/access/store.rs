//! The node's credential store (spec/node.md 9.5): the read grants, by name, each with
//! SHA-256 of its token, in `<data dir>/access.json` (mode 0600, written aside, synced and
//! renamed, so it survives a crash and a restart). Tokens themselves are never stored.

use std::path::{Path, PathBuf};

use dyad_ledger::private_dir::{self, PrivateDirError};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

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
}

#[derive(Clone, Debug)]
struct StoredGrant {
    name: String,
    token_hash: [u8; 32],
    granted_at: u64,
}

/// The read grants of a node. Changes are written before they take effect in memory, so
/// what is in memory is always what is on disk.
#[derive(Debug)]
pub struct CredentialStore {
    path: PathBuf,
    grants: Vec<StoredGrant>,
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
                })
            }
            Err(source) => return Err(AccessError::Read { path, source }),
        };
        let grants = parse_store(&text).map_err(|reason| AccessError::Corrupt {
            path: path.clone(),
            reason,
        })?;
        Ok(CredentialStore { path, grants })
    }

    /// Grants read access under `name` at `now` and returns the new token (the only time
    /// it exists outside its holder's credential file).
    pub fn grant(&mut self, name: &str, now: u64) -> Result<ReadToken, AccessError> {
        if !valid_name(name) {
            return Err(AccessError::BadName);
        }
        if self.grants.iter().any(|g| g.name == name) {
            return Err(AccessError::NameTaken(name.to_owned()));
        }
        if self.grants.len() >= MAX_GRANTS {
            return Err(AccessError::TooManyGrants);
        }
        let token = ReadToken::generate();
        let mut grants = self.grants.clone();
        grants.push(StoredGrant {
            name: name.to_owned(),
            token_hash: token.hash(),
            granted_at: now,
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
            })
            .collect()
    }

    /// The name of the grant whose token `presented` is, if any. The presented token's
    /// hash is compared with every grant's in constant time.
    pub fn verify(&self, presented: &str) -> Option<&str> {
        let hash = token_hash(presented);
        let mut found = None;
        for grant in &self.grants {
            if bool::from(grant.token_hash.ct_eq(&hash)) {
                found = Some(grant.name.as_str());
            }
        }
        found
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
        });
    }
    Ok(grants)
}
