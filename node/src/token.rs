//! The admin bearer token in the data directory (`admin.token`, mode 0600).

use std::fs;
use std::path::Path;

use crate::{io_err, NodeError, ADMIN_TOKEN_FILE, ADMIN_URL_FILE};

/// Reads an admin token file, refusing one group or others can read.
fn admin_token(data_dir: &Path) -> Result<String, NodeError> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    let display = path.display().to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path)
            .map_err(io_err(&path))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(NodeError::InsecureToken {
                path: display,
                mode,
            });
        }
    }
    let text = dyad_ledger::keys::read_small_text(&path, 4096).map_err(io_err(&path))?;
    let token = text.trim();
    if token.len() < 16 || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(NodeError::BadToken(display));
    }
    Ok(token.to_owned())
}

/// Reads the admin token of a node's data directory (for the operator's CLI).
pub fn read_admin_token(data_dir: &Path) -> Result<String, NodeError> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    if !path.exists() {
        return Err(NodeError::Io {
            path,
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no admin token: has the node ever run here?",
            ),
        });
    }
    admin_token(data_dir)
}

/// The admin URL an older version wrote to its data directory, if any. Nothing here
/// authenticates the listener it names: the CLI no longer uses it (see
/// [`crate::AdminClient::for_data_dir`], which uses the admin socket).
pub fn read_admin_url(data_dir: &Path) -> Option<String> {
    let text = fs::read_to_string(data_dir.join(ADMIN_URL_FILE)).ok()?;
    Some(text.trim().to_owned()).filter(|s| !s.is_empty())
}
