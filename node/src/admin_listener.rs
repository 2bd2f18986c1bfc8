//! Where the operator's tools find the admin API, and how they know it is their node's:
//! the node serves it on a Unix socket inside the data directory, `<data_dir>/admin.sock`
//! (spec/node.md section 5). The data directory is 0700 (checked at start, see
//! [`dyad_ledger::private_dir`]), so only its owner can create or connect to that socket:
//! nobody else can take its place after a crash, and the bearer token the CLI sends goes
//! to the owner's own node. The token itself is replaced at every start (written 0600,
//! aside then renamed), so a token that leaked from an earlier run is worthless.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use tokio::net::UnixListener;

use crate::{NodeError, Shared, ADMIN_TOKEN_FILE, ADMIN_URL_FILE};

/// The admin API's Unix socket in the data directory, there while the node runs (left
/// behind by a crash; the next start removes it once it is sure no node answers on it).
pub const ADMIN_SOCKET_FILE: &str = "admin.sock";

/// `<data_dir>/admin.sock`.
pub fn admin_socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(ADMIN_SOCKET_FILE)
}

/// Makes the data directory (0700) if missing and checks that it is private; removes an
/// `admin.url` an older version left behind (the CLI no longer reads it).
pub(super) fn prepare_data_dir(data_dir: &Path) -> Result<(), NodeError> {
    dyad_ledger::private_dir::create_dir(data_dir)?;
    dyad_ledger::private_dir::check(data_dir)?;
    let _ = fs::remove_file(data_dir.join(ADMIN_URL_FILE));
    Ok(())
}

/// Refuses to go on when a node answers on the data directory's admin socket; removes a
/// socket nobody answers on (a crashed node's).
pub(super) async fn clear_stale_socket(data_dir: &Path) -> Result<(), NodeError> {
    let path = admin_socket_path(data_dir);
    let Ok(meta) = fs::symlink_metadata(&path) else {
        return Ok(());
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            return Err(NodeError::AdminSocket {
                path: path.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "it exists and is not a socket; move it away",
                ),
            });
        }
    }
    match tokio::net::UnixStream::connect(&path).await {
        Ok(_) => Err(NodeError::AdminSocketInUse(path.display().to_string())),
        Err(_) => {
            tracing::info!(socket = %path.display(), "removing the admin socket a stopped node left behind");
            fs::remove_file(&path).map_err(|source| NodeError::Io { path, source })
        }
    }
}

/// Writes a new admin token (32 random bytes, hex) to `<data_dir>/admin.token`, mode 0600,
/// aside then renamed over the old one.
pub(super) fn rotate_token(data_dir: &Path) -> Result<String, NodeError> {
    let mut bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    dyad_ledger::private_dir::write_file(
        &data_dir.join(ADMIN_TOKEN_FILE),
        format!("{token}\n").as_bytes(),
    )?;
    Ok(token)
}

/// Binds `<data_dir>/admin.sock` (mode 0600).
pub(super) fn bind(data_dir: &Path) -> Result<UnixListener, NodeError> {
    let path = admin_socket_path(data_dir);
    let socket_err = |source| NodeError::AdminSocket {
        path: path.display().to_string(),
        source,
    };
    let listener = UnixListener::bind(&path).map_err(socket_err)?;
    dyad_ledger::private_dir::restrict_file(&path)?;
    Ok(listener)
}

/// Serves the admin router on the socket until the node stops, then removes the socket.
pub(super) async fn run(listener: UnixListener, router: Router, shared: Arc<Shared>) {
    let path = admin_socket_path(&shared.data_dir);
    let stop = {
        let shared = shared.clone();
        async move { shared.stopped().await }
    };
    drop(shared);
    if let Err(e) = axum::serve(listener, router.into_make_service())
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!(listener = "admin socket", error = %e, "server failed");
    }
    let _ = fs::remove_file(path);
}
