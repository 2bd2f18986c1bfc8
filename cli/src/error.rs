//! The one error type of the `dyad` binary. Every failure is a variant naming what went
//! wrong; `exit_code` maps it to the contract's exit codes (1: a check did not hold,
//! 2: bad usage or unreadable input) and `hint` says what to do about it.

use std::io;
use std::path::{Path, PathBuf};

use dyad_ledger::attachments::AttachmentError;
use dyad_ledger::channel::ChannelError;
use dyad_ledger::genesis::GenesisError;
use dyad_ledger::keys::KeyError;
use dyad_ledger::private_dir::PrivateDirError;
use dyad_ledger::store::StoreError;
use dyad_node::{ClientError, ExportError, NodeError};

use crate::bundle::BundleError;

/// Exit code for "a verification failed or a check did not hold".
pub const EXIT_CHECK: u8 = 1;
/// Exit code for "bad usage or unreadable input" (clap uses it for usage errors too).
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line asks for something that cannot be done as asked.
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{} already exists; refusing to overwrite it", path.display())]
    Exists { path: PathBuf },
    #[error("{}: {reason}", path.display())]
    Malformed { path: PathBuf, reason: String },
    /// An input file larger than this kind of input can be (read no further than that).
    #[error("{} is larger than the {limit} bytes accepted for it", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("no dyad data directory at {} (it has no dyad.json)", dir.display())]
    NotInitialised { dir: PathBuf },
    #[error("{} is already initialised for channel {origin:?}", dir.display())]
    AlreadyInitialised { dir: PathBuf, origin: String },
    #[error("the channel in {} is not created yet: the genesis still needs the co-signer's signature", dir.display())]
    AwaitingGenesis { dir: PathBuf },
    #[error("{} is not a dyad data directory: {reason}", dir.display())]
    BadConfig { dir: PathBuf, reason: String },
    #[error("{0}")]
    Key(#[from] KeyError),
    /// A private key file that holds no usable private key (the error names the file).
    #[error("private key file {}: {source}", path.display())]
    KeyFile { path: PathBuf, source: KeyError },
    /// A verifier key (`.pub`) file given where the party's private key is needed.
    #[error("{} is a public key (a verifier key line); a private key file is needed here", path.display())]
    PublicKeyAsPrivate { path: PathBuf },
    #[error("{}: not a verifier key line (name+keyid+base64): {source}", path.display())]
    PublicKey {
        path: PathBuf,
        source: dyad_verifier::key::KeyError,
    },
    #[error("{0}")]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("the genesis: {0}")]
    Genesis(#[from] GenesisError),
    #[error("the store: {0}")]
    Store(#[from] StoreError),
    #[error("attachment: {0}")]
    Attachment(#[from] AttachmentError),
    /// A verification or consistency check did not hold.
    #[error("{message}")]
    Check {
        message: String,
        hint: Option<String>,
    },
    /// A node or tile server could not be reached, or answered with an error.
    #[error("{0}")]
    Client(#[from] ClientError),
    /// The node (`dyad serve`, the live demo) could not start or stopped with an error.
    #[error("the node: {0}")]
    Node(#[from] NodeError),
    #[error("export: {0}")]
    Export(#[from] ExportError),
    /// Publishing to object storage (`dyad export tiles --to`) failed.
    #[error("publish: {0}")]
    Publish(#[from] dyad_node::publish::PublishError),
    #[error("cannot write to standard output: {0}")]
    Output(io::Error),
    /// The data directory, or a file in it, is not its owner's only.
    #[error("{0}")]
    PrivateDir(#[from] PrivateDirError),
    /// A running node accepted a message but did not reach the state asked for (`--wait`)
    /// in time.
    #[error("the wait for {wait} ran out after {seconds} s; the message is accepted and the node carries on")]
    WaitRanOut { wait: String, seconds: u64 },
    /// An error with what the command has to add to its JSON object (an append's index
    /// and state, a verification's `"valid": false`); otherwise the error itself.
    #[error("{error}")]
    WithFields {
        error: Box<CliError>,
        fields: serde_json::Map<String, serde_json::Value>,
    },
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::Usage {
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage_hint(message: impl Into<String>, hint: impl Into<String>) -> CliError {
        CliError::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn check(message: impl Into<String>) -> CliError {
        CliError::Check {
            message: message.into(),
            hint: None,
        }
    }

    pub fn check_hint(message: impl Into<String>, hint: impl Into<String>) -> CliError {
        CliError::Check {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn malformed(path: &Path, reason: impl Into<String>) -> CliError {
        CliError::Malformed {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }

    pub fn read(path: &Path) -> impl FnOnce(io::Error) -> CliError + '_ {
        move |source| CliError::Read {
            path: path.to_owned(),
            source,
        }
    }

    pub fn write(path: &Path) -> impl FnOnce(io::Error) -> CliError + '_ {
        move |source| CliError::Write {
            path: path.to_owned(),
            source,
        }
    }

    /// This error, with `fields` added to its JSON object.
    pub fn with_fields(self, fields: serde_json::Value) -> CliError {
        match fields {
            serde_json::Value::Object(fields) => CliError::WithFields {
                error: Box::new(self),
                fields,
            },
            _ => self,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::WithFields { error, .. } => error.exit_code(),
            CliError::Usage { .. }
            | CliError::Read { .. }
            | CliError::Write { .. }
            | CliError::Exists { .. }
            | CliError::Malformed { .. }
            | CliError::TooLarge { .. }
            | CliError::NotInitialised { .. }
            | CliError::AlreadyInitialised { .. }
            | CliError::AwaitingGenesis { .. }
            | CliError::BadConfig { .. }
            | CliError::Key(_)
            | CliError::KeyFile { .. }
            | CliError::PublicKeyAsPrivate { .. }
            | CliError::PublicKey { .. }
            | CliError::Bundle(_)
            | CliError::Attachment(_)
            | CliError::Client(_)
            | CliError::Output(_)
            | CliError::PrivateDir(_) => EXIT_USAGE,
            CliError::Node(NodeError::Channel(e)) => channel_exit_code(e),
            CliError::Node(_) => EXIT_USAGE,
            CliError::Export(ExportError::Store(e)) => store_exit_code(e),
            CliError::Export(ExportError::NoCommittedCheckpoint) => EXIT_CHECK,
            CliError::Export(_) => EXIT_USAGE,
            CliError::Publish(dyad_node::publish::PublishError::Store(e)) => store_exit_code(e),
            CliError::Publish(dyad_node::publish::PublishError::NoCommittedCheckpoint) => {
                EXIT_CHECK
            }
            CliError::Publish(_) => EXIT_USAGE,
            CliError::Genesis(_) | CliError::Check { .. } | CliError::WaitRanOut { .. } => {
                EXIT_CHECK
            }
            CliError::Store(e) => store_exit_code(e),
            CliError::Channel(e) => channel_exit_code(e),
        }
    }

    /// What the operator can do about it, when there is a standard answer.
    pub fn hint(&self) -> Option<String> {
        match self {
            CliError::WithFields { error, .. } => error.hint(),
            CliError::Usage { hint, .. } | CliError::Check { hint, .. } => hint.clone(),
            CliError::NotInitialised { .. } => Some(
                "create the channel with `dyad init`, or point to an existing data directory with --data DIR or DYAD_DATA"
                    .into(),
            ),
            CliError::AlreadyInitialised { .. } => {
                Some("use another data directory (--data DIR) for another channel".into())
            }
            CliError::AwaitingGenesis { dir } => Some(format!(
                "import the signed genesis the co-signer sent back: `dyad --data {} sync import genesis.signed`",
                dir.display()
            )),
            CliError::Exists { .. } => Some("choose another file name or move the existing file away".into()),
            CliError::TooLarge { .. } => Some("check that this is the right file; nothing of this kind is that large".into()),
            CliError::Channel(ChannelError::WrongRole { needed, .. }) => {
                Some(format!("run this on the {needed}'s data directory"))
            }
            CliError::Channel(ChannelError::Store(StoreError::Locked { .. }))
            | CliError::Store(StoreError::Locked { .. })
            | CliError::Node(NodeError::Channel(ChannelError::Store(StoreError::Locked { .. })))
            | CliError::Export(ExportError::Store(StoreError::Locked { .. })) => {
                Some("another dyad process is using this data directory (a node started with `dyad serve`?); stop it, or wait for it to finish".into())
            }
            CliError::Store(StoreError::Damaged(_))
            | CliError::Channel(ChannelError::Store(StoreError::Damaged(_)))
            | CliError::Export(ExportError::Store(StoreError::Damaged(_))) => Some(
                "stop the node if it runs, then `dyad verify store` checks every byte and names what is damaged and where; put back a backup (`dyad restore --from DIR`) or rebuild the replica from the peer (`dyad restore --from-peer URL`): either way the node catches up from the peer before it signs again".into(),
            ),
            CliError::Client(e @ ClientError::Http { .. }) if e.to_string().contains("certificate") => {
                Some("a dyad node presents its own certificate, not one from a public CA: read it with the read credential its operator gave you (--access FILE, written by `dyad access grant`), which pins it".into())
            }
            CliError::Client(ClientError::Http { .. }) => {
                Some("check the URL, and that the server (`dyad serve`) is running and reachable".into())
            }
            CliError::Client(ClientError::Status { status: 401, .. }) => {
                Some("the node's read API is closed: give --access FILE, a read credential from its operator (`dyad access grant`); it may have been revoked or have expired".into())
            }
            CliError::Node(NodeError::Bind { .. }) => {
                Some("choose another address or port with --listen / --admin-listen (port 0 picks a free one)".into())
            }
            CliError::Export(ExportError::NoCommittedCheckpoint) => {
                Some("a log is exported up to its latest co-signed checkpoint; wait until the co-signer has co-signed one".into())
            }
            CliError::PublicKeyAsPrivate { path } => Some(format!(
                "give the private key file `dyad keygen` wrote beside it ({}); the .pub file is for --peer and --trust",
                path.with_extension("key").display()
            )),
            CliError::WaitRanOut { .. } => Some(
                "check its state with `dyad log`, or wait longer with --timeout SECS".into(),
            ),
            _ => None,
        }
    }

    /// The error as the one JSON object `--json` prints on standard output:
    /// `{"error": ..., "hint": ... or null, "exit": N}`, after what the command adds
    /// ([`CliError::with_fields`]).
    pub fn to_json(&self) -> serde_json::Value {
        let mut object = match self {
            CliError::WithFields { fields, .. } => fields.clone(),
            _ => serde_json::Map::new(),
        };
        object.insert("error".into(), self.to_string().into());
        object.insert("hint".into(), self.hint().into());
        object.insert("exit".into(), self.exit_code().into());
        serde_json::Value::Object(object)
    }
}

/// A usage error clap found on the command line, as the JSON object `--json` prints
/// (the same shape as [`CliError::to_json`]): its first line is the error, the rest
/// (tips, usage) the hint.
pub fn clap_error_json(e: &clap::Error) -> serde_json::Value {
    let (error, hint) = match e.kind() {
        clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => (
            "a subcommand is needed".to_owned(),
            Some("--help after the command lists its subcommands".to_owned()),
        ),
        _ => {
            let text = e.render().to_string();
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or_default();
            let error = first.strip_prefix("error: ").unwrap_or(first).to_owned();
            let rest: Vec<&str> = lines
                .map(|l| l.strip_prefix("tip: ").unwrap_or(l))
                .collect();
            (error, (!rest.is_empty()).then(|| rest.join("\n")))
        }
    };
    serde_json::json!({"error": error, "hint": hint, "exit": e.exit_code()})
}

fn store_exit_code(e: &StoreError) -> u8 {
    match e {
        StoreError::Damaged(_) | StoreError::Tree(_) | StoreError::CheckpointRejected { .. } => {
            EXIT_CHECK
        }
        _ => EXIT_USAGE,
    }
}

fn channel_exit_code(e: &ChannelError) -> u8 {
    match e {
        ChannelError::Store(s) => store_exit_code(s),
        ChannelError::WrongRole { .. }
        | ChannelError::NotOurKey { .. }
        | ChannelError::RetiredOwnKey { .. }
        | ChannelError::KeyNotCurrentAt { .. }
        | ChannelError::NewKeyName { .. }
        | ChannelError::MissingRole => EXIT_USAGE,
        // An entry from a bundle, a peer or the store that breaks a channel rule is a check
        // that did not hold (the operator's own message breaking one is a usage error,
        // mapped where it is appended: commands::append).
        ChannelError::Refused(_) => EXIT_CHECK,
        ChannelError::Genesis(_)
        | ChannelError::Note(_)
        | ChannelError::Checkpoint(_)
        | ChannelError::CheckpointOrigin { .. }
        | ChannelError::MissingLogSignature
        | ChannelError::MissingCosignature
        | ChannelError::WitnessQuorum { .. }
        | ChannelError::CheckpointBeyondLog { .. }
        | ChannelError::Rollback { .. }
        | ChannelError::RootMismatch { .. }
        | ChannelError::EntryCountMismatch { .. }
        | ChannelError::DuplicateEntry { .. }
        | ChannelError::BadStoredGenesis(_)
        | ChannelError::CheckpointDamaged { .. } => EXIT_CHECK,
    }
}
