//! [`NodeError`]: why a node did not start, or stopped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dyad_ledger::channel::ChannelError;

use crate::ClientError;

/// Why a node did not start, or stopped, or could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The replica refused or failed (its store, its rules).
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// A request to the peer failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A file in the data directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system reported.
        #[source]
        source: std::io::Error,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system reported.
        #[source]
        source: std::io::Error,
    },
    /// The key given is not the replica's own party's.
    #[error("the key {0} is not this replica's party")]
    NotOurKey(String),
    /// The replica's party signs with a key (after a key change, spec/dyad.md 3.7) that
    /// the node was not given: it was started with an older key of the party.
    #[error("this party's key {name} was replaced by a key change in the log (or queued by this party), and the node was started with an older key: finish the rotation with `dyad rotate-key --new-key NEW.key` (it names the new key in dyad.json), then start the node")]
    RotatedKeyNotHeld {
        /// The party's key name.
        name: String,
    },
    /// The admin token file can be read by others.
    #[error(
        "the admin token file {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`"
    )]
    InsecureToken {
        /// The token file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The admin token file holds no token.
    #[error("the admin token file {0} is empty or malformed")]
    BadToken(String),
    /// The data directory is not its owner's only.
    #[error(transparent)]
    PrivateDir(#[from] dyad_ledger::private_dir::PrivateDirError),
    /// Another node serves this data directory.
    #[error("a node already answers on the admin socket {0}; stop it first, or use another data directory")]
    AdminSocketInUse(String),
    /// The admin socket could not be bound.
    #[error("cannot serve the admin socket {path}: {source} (a Unix socket path has at most about 100 bytes)")]
    AdminSocket {
        /// The socket's path.
        path: String,
        /// What the system reported.
        #[source]
        source: std::io::Error,
    },
    /// The node's TLS identity or configuration cannot be loaded or built.
    #[error("TLS: {0}")]
    Tls(String),
    /// The attachment store cannot be opened.
    #[error(transparent)]
    Attachments(dyad_ledger::attachments::AttachmentError),
    /// The node is stopping and takes no more work.
    #[error("the node is stopping")]
    Stopped,
    /// A commit failed after writing began: the node stopped itself (restart it; the
    /// store is reopened from what is on disk).
    #[error("the node stopped because a write to its store failed: {0}; restart it once the cause (e.g. a full disk) is fixed")]
    StoreFailed(String),
    /// Closing the store did not finish in time (sled's flush may hang on a failing disk).
    #[error("the store did not close within {0:?}; the node stopped without waiting for it (check the disk; the store is reopened from what is on disk)")]
    CloseTimeout(Duration),
    /// A task of the node panicked or a lock was poisoned.
    #[error("a node task failed: {0}")]
    Task(String),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
    move |source| NodeError::Io {
        path: path.to_owned(),
        source,
    }
}
