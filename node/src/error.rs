//! [`NodeError`]: why a node did not start, or stopped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dyad_ledger::channel::ChannelError;

use crate::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the key {0} is not this replica's party")]
    NotOurKey(String),
    #[error(
        "the admin token file {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`"
    )]
    InsecureToken { path: String, mode: u32 },
    #[error("the admin token file {0} is empty or malformed")]
    BadToken(String),
    #[error(transparent)]
    PrivateDir(#[from] dyad_ledger::private_dir::PrivateDirError),
    #[error("a node already answers on the admin socket {0}; stop it first, or use another data directory")]
    AdminSocketInUse(String),
    #[error("cannot serve the admin socket {path}: {source} (a Unix socket path has at most about 100 bytes)")]
    AdminSocket {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the node is stopping")]
    Stopped,
    /// A commit failed after writing began: the node stopped itself (restart it; the
    /// store is reopened from what is on disk).
    #[error("the node stopped because a write to its store failed: {0}; restart it once the cause (e.g. a full disk) is fixed")]
    StoreFailed(String),
    /// Closing the store did not finish in time (sled's flush may hang on a failing disk).
    #[error("the store did not close within {0:?}; the node stopped without waiting for it (check the disk; the store is reopened from what is on disk)")]
    CloseTimeout(Duration),
    #[error("a node task failed: {0}")]
    Task(String),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
    move |source| NodeError::Io {
        path: path.to_owned(),
        source,
    }
}
