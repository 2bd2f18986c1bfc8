//! The data directory of one party in one channel:
//!
//! | path | what |
//! |---|---|
//! | `dyad.json` | the configuration: format, role, origin, the private key file's absolute path, the peer's verifier key |
//! | `ledger/` | the replica (the sled store of `dyad_ledger::channel::Channel`) |
//! | `attachments/` | content-addressed attachment files |
//! | `genesis.proposal` | the sequencer's genesis proposal, while it waits for the co-signer's signature |
//! | `genesis.signed` | the co-signer's copy of the signed genesis, to send back to the sequencer |
//! | `replica.head` | that the replica exists, and its last head (`dyad_ledger::replica_record`): with it and no `ledger/`, the replica is missing, not yet to be created |
//! | `admin.sock`, `admin.token` | a running node's admin API (a Unix socket) and its bearer token, new at every start (`dyad serve`) |
//! | `node.url` | a running node's public URL (tiles API), written by `dyad serve` while it runs |
//! | `tls.key`, `tls.crt` | the node's TLS key and certificate (spec/node.md 9.2), made by `dyad init`, shown by `dyad tls show` |
//! | `access.json`, `access.lock` | the read grants (hashes of their tokens) and the lock their writer, `dyad access`, holds (spec/node.md 9.5) |
//!
//! The directory is its owner's only: mode 0700, and the files at its top level 0600.
//! `dyad init` creates it so, and every command that reads its configuration (and the node
//! at start) refuses it otherwise, naming the `chmod` that fixes it
//! ([`dyad_ledger::private_dir`]).
//!
//! The private key stays where the operator keeps it: the configuration names the file,
//! and every command that signs reads it from there (refusing a file others can read).

use std::path::{Path, PathBuf};

use dyad_ledger::attachments::Attachments;
use dyad_ledger::channel::{Channel, Role};
use dyad_ledger::keys::SignerKey;
use dyad_ledger::private_dir;
use dyad_ledger::replica_record::{ReplicaRecord, REPLICA_RECORD_FILE};
use dyad_verifier::key::VerifierKey;
use serde::{Deserialize, Serialize};

use crate::error::{CliError, Result};

pub const CONFIG_FILE: &str = "dyad.json";
pub const LEDGER_DIR: &str = "ledger";
pub const PROPOSAL_FILE: &str = "genesis.proposal";
pub const SIGNED_GENESIS_FILE: &str = "genesis.signed";
pub const CONFIG_FORMAT: &str = "dyad-data/v1";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Config {
    pub format: String,
    /// `sequencer` or `cosigner`.
    pub role: String,
    pub origin: String,
    /// Absolute path of this party's private key file.
    pub key_file: PathBuf,
    /// The peer's verifier key line (type 0x01 under the peer's name).
    pub peer: String,
    /// The peer node's base URL, saved by `dyad serve --peer URL` and used when `--peer`
    /// is omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_url: Option<String>,
    /// Sequencer: each witness's add-checkpoint base URL, by witness name (`dyad init
    /// --witness FILE.pub=URL`; the running node adds those given to `dyad witness-change`,
    /// spec/node.md 5.6); the genesis and witness changes name witnesses by key only.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub witness_urls: std::collections::BTreeMap<String, String>,
    /// The key file this party had before `key_file`, set by `dyad rotate-key`. It never
    /// signs again; the node binds its TLS certificate with it until the key change is
    /// co-signed, since the peer accepts the new key only from then (spec/node.md 9.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_key_file: Option<PathBuf>,
}

impl Config {
    pub fn role(&self) -> Result<Role> {
        match self.role.as_str() {
            "sequencer" => Ok(Role::Sequencer),
            "cosigner" => Ok(Role::Cosigner),
            other => Err(CliError::BadConfig {
                dir: PathBuf::new(),
                reason: format!("unknown role {other:?}"),
            }),
        }
    }

    pub fn peer_key(&self) -> Result<VerifierKey> {
        VerifierKey::parse(&self.peer).map_err(|e| CliError::BadConfig {
            dir: PathBuf::new(),
            reason: format!("peer key: {e}"),
        })
    }

    /// Reads this party's private key from where the operator keeps it.
    pub fn signer_key(&self) -> Result<SignerKey> {
        read_signer_key(&self.key_file)
    }

    /// The key before the current one, if `dyad rotate-key` recorded it and it can still
    /// be read (once its key change is co-signed it is no longer needed: a warning only).
    pub fn previous_signer_key(&self) -> Option<SignerKey> {
        let path = self.previous_key_file.as_ref()?;
        match read_signer_key(path) {
            Ok(k) => Some(k),
            Err(e) => {
                eprintln!("warning: the previous key file {}: {e}", path.display());
                None
            }
        }
    }
}

/// A party's data directory.
#[derive(Clone, Debug)]
pub struct DataDir {
    pub dir: PathBuf,
}

impl DataDir {
    pub fn new(dir: &Path) -> DataDir {
        DataDir {
            dir: dir.to_owned(),
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }

    pub fn ledger_path(&self) -> PathBuf {
        self.dir.join(LEDGER_DIR)
    }

    pub fn proposal_path(&self) -> PathBuf {
        self.dir.join(PROPOSAL_FILE)
    }

    pub fn signed_genesis_path(&self) -> PathBuf {
        self.dir.join(SIGNED_GENESIS_FILE)
    }

    pub fn has_config(&self) -> bool {
        self.config_path().is_file()
    }

    pub fn has_ledger(&self) -> bool {
        self.ledger_path().join("db").is_file()
    }

    /// Whether the replica exists; refuses when it does not but `replica.head` says it
    /// did: the store was lost, and creating a new one would fork the log.
    pub fn ledger_exists(&self) -> Result<bool> {
        if self.has_ledger() {
            return Ok(true);
        }
        let record_path = self.dir.join(REPLICA_RECORD_FILE);
        let record = match ReplicaRecord::read(&self.dir) {
            Ok(None) => return Ok(false),
            Ok(Some(r)) => format!(
                "the {} of {:?} held {} entries, {} of them co-signed",
                r.role, r.origin, r.size, r.committed
            ),
            Err(e) => format!("{e}"),
        };
        Err(CliError::usage_hint(
            format!(
                "the replica in {} is missing, but {} records that it existed ({record})",
                self.ledger_path().display(),
                record_path.display()
            ),
            format!(
                "put back a backup (`dyad restore --from DIR`) or rebuild the replica from the peer (`dyad restore --from-peer URL`) in {}; starting a new, empty replica forks the log the peer co-signed: only to do that on purpose, delete {} and run the command again",
                self.dir.display(),
                record_path.display()
            ),
        ))
    }

    pub fn read_config(&self) -> Result<Config> {
        let path = self.config_path();
        if !path.is_file() {
            return Err(CliError::NotInitialised {
                dir: self.dir.clone(),
            });
        }
        self.check_private()?;
        let bytes = crate::bounded::read_bounded(&path, crate::bounded::MAX_DATA_FILE)?;
        let config: Config = serde_json::from_slice(&bytes).map_err(|e| CliError::BadConfig {
            dir: self.dir.clone(),
            reason: format!("{CONFIG_FILE}: {e}"),
        })?;
        if config.format != CONFIG_FORMAT {
            return Err(CliError::BadConfig {
                dir: self.dir.clone(),
                reason: format!(
                    "{CONFIG_FILE} has format {:?}; this dyad reads {CONFIG_FORMAT:?}",
                    config.format
                ),
            });
        }
        let with_dir = |e: CliError| match e {
            CliError::BadConfig { reason, .. } => CliError::BadConfig {
                dir: self.dir.clone(),
                reason,
            },
            other => other,
        };
        config.role().map_err(with_dir)?;
        config.peer_key().map_err(with_dir)?;
        Ok(config)
    }

    pub fn write_config(&self, config: &Config) -> Result<()> {
        let mut text =
            serde_json::to_string_pretty(config).map_err(|e| CliError::usage(e.to_string()))?;
        text.push('\n');
        let path = self.config_path();
        if path.exists() {
            return Err(CliError::Exists { path });
        }
        Ok(private_dir::write_file(&path, text.as_bytes())?)
    }

    /// Replaces the configuration of an initialised directory (written aside with mode
    /// 0600, synced, then renamed over `dyad.json`).
    pub fn update_config(&self, config: &Config) -> Result<()> {
        let mut text =
            serde_json::to_string_pretty(config).map_err(|e| CliError::usage(e.to_string()))?;
        text.push('\n');
        Ok(private_dir::write_file(
            &self.config_path(),
            text.as_bytes(),
        )?)
    }

    /// Refuses a directory group or others can reach, or a file at its top level they can
    /// read or write (the error names the `chmod` that fixes it).
    pub fn check_private(&self) -> Result<()> {
        Ok(private_dir::check(&self.dir)?)
    }

    /// Creates the directory with mode 0700 (`dyad init`). An existing directory is left
    /// as it is and must already be private (the error names the `chmod` that fixes it):
    /// dyad does not change the mode of a directory it did not create.
    pub fn create_private(&self) -> Result<()> {
        if self.dir.exists() {
            return self.check_private();
        }
        Ok(private_dir::create_dir(&self.dir)?)
    }

    /// The configuration of a directory whose channel is created (its replica exists);
    /// [`CliError::AwaitingGenesis`] while the genesis still waits for the co-signer.
    pub fn read_created_config(&self) -> Result<Config> {
        let config = self.read_config()?;
        if !self.ledger_exists()? {
            return Err(CliError::AwaitingGenesis {
                dir: self.dir.clone(),
            });
        }
        Ok(config)
    }

    /// The configuration and the open replica. Fails with a clear message when the
    /// directory is not initialised or still waits for the signed genesis.
    pub fn open(&self) -> Result<(Config, Channel)> {
        let config = self.read_created_config()?;
        let mut channel = match Channel::open(&self.ledger_path()) {
            Ok(c) => c,
            Err(dyad_ledger::channel::ChannelError::Store(
                dyad_ledger::store::StoreError::Locked { .. },
            )) if self.dir.join(dyad_node::ADMIN_SOCKET_FILE).exists() => {
                return Err(CliError::usage_hint(
                    format!(
                        "a node (`dyad serve`) runs on {} and holds its store",
                        self.dir.display()
                    ),
                    "`dyad log`, `dyad show`, `dyad status`, `dyad checkpoint`, `dyad receipt`, `dyad prove`, `dyad append`, `dyad export tiles`, `dyad audit --data`, `dyad sync export` and `dyad backup` go through the running node, and `dyad audit --url URL` reads its tiles API; for this command, stop the node (Ctrl-C or SIGTERM) first",
                ))
            }
            Err(e) => return Err(e.into()),
        };
        if channel.origin() != config.origin || channel.role() != config.role()? {
            return Err(CliError::BadConfig {
                dir: self.dir.clone(),
                reason: format!(
                    "{CONFIG_FILE} says {} of {:?} but the replica is the {} of {:?}",
                    config.role,
                    config.origin,
                    channel.role().as_str(),
                    channel.origin()
                ),
            });
        }
        if let Some(size) = channel.repaired_checkpoint() {
            eprintln!(
                "warning: the stored checkpoint of size {size} did not verify; it was rebuilt from its signature lines that do"
            );
        }
        if let Some(d) = channel.checkpoint_damage() {
            eprintln!(
                "warning: this replica is READ-ONLY: its newest checkpoint (size {}) does not verify ({}); put back a backup of {} (`dyad restore --from DIR`) or rebuild the replica from the peer (`dyad restore --from-peer URL`)",
                d.size,
                d.reason,
                self.dir.display()
            );
        }
        // A full disk must not keep the replica from being read: the record can wait.
        if let Err(e) = channel.keep_replica_record(&self.dir) {
            eprintln!("warning: cannot record the replica's head: {e}");
        }
        Ok((config, channel))
    }

    pub fn attachments(&self, max_size: u64) -> Result<Attachments> {
        Ok(Attachments::open(&self.dir, max_size)?)
    }
}

/// Reads a private key file, refusing one that group or others can read. Every refusal
/// names the file, and a `.pub` file given by mistake is told apart (its mode and its
/// text would otherwise draw advice about either).
pub fn read_signer_key(path: &Path) -> Result<SignerKey> {
    use dyad_ledger::keys::KeyError;
    SignerKey::read_private_file(path).map_err(|e| match e {
        KeyError::InsecurePermissions { .. }
        | KeyError::MissingPrivatePrefix
        | KeyError::Malformed
        | KeyError::Incomplete { .. }
            if holds_verifier_key(path) =>
        {
            CliError::PublicKeyAsPrivate {
                path: path.to_owned(),
            }
        }
        // These name the file already.
        KeyError::Read { .. }
        | KeyError::InsecurePermissions { .. }
        | KeyError::Incomplete { .. }
        | KeyError::FileExists { .. }
        | KeyError::Write { .. } => CliError::Key(e),
        source => CliError::KeyFile {
            path: path.to_owned(),
            source,
        },
    })
}

/// Whether a file holds one verifier key line (what a `.pub` file holds).
fn holds_verifier_key(path: &Path) -> bool {
    dyad_ledger::keys::read_small_text(path, crate::bounded::MAX_KEY_FILE)
        .is_ok_and(|text| VerifierKey::parse(text.trim()).is_ok())
}

/// The store directory of a data directory (its `ledger/`), or `dir` itself when it has
/// none: `dyad audit` and `dyad verify store` accept either.
pub fn store_dir(dir: &Path) -> PathBuf {
    if dir.join(LEDGER_DIR).is_dir() {
        dir.join(LEDGER_DIR)
    } else {
        dir.to_owned()
    }
}
