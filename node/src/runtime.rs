//! The one place Tokio runtimes are built, so every caller gets the same settings and
//! the same error when the operating system refuses threads.
//!
//! Two shapes: [`client`], one thread for a synchronous caller's own requests, and
//! [`workers`], a pool for a node (or two, in the demo) that serves while it fetches.

use tokio::runtime::{Builder, Runtime};

use crate::ClientError;

/// A runtime on the calling thread, for a synchronous caller's requests to a node.
pub fn client() -> Result<Runtime, ClientError> {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ClientError::Runtime)
}

/// A runtime with `threads` worker threads named `name` (`None`: one per core).
pub fn workers(name: &str, threads: Option<usize>) -> Result<Runtime, ClientError> {
    let mut builder = Builder::new_multi_thread();
    if let Some(threads) = threads {
        builder.worker_threads(threads);
    }
    builder
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(ClientError::Runtime)
}
