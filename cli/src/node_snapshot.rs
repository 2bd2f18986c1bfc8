//! A consistent copy of the store of the node running on a data directory
//! (`POST /admin/snapshot`, spec/node.md 5.3), for the commands that read the whole store
//! while the node holds it: `dyad audit --data`, `dyad sync export` and `dyad backup`.
//! They run their offline code on the copy, in a private temporary directory inside the
//! data directory that is removed afterwards, on error too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dyad_ledger::private_dir;
use dyad_ledger::store::SnapshotError;
use dyad_node::{AdminClient, SnapshotResponse};

use crate::data::{DataDir, CONFIG_FILE, LEDGER_DIR};
use crate::error::{CliError, Result};
use crate::running_node::{probe, Probe};

/// The temporary directories' names start so; the process id follows, then a nonce.
const TEMP_PREFIX: &str = ".cli-snapshot-";
/// The copy and its verification are O(size); a store of millions of entries takes
/// minutes on a slow disk.
pub const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(3600);

/// The node running on `data`, if `probe` finds one that answers.
pub fn running_admin(data: &DataDir) -> Result<Option<AdminClient>> {
    if std::fs::symlink_metadata(dyad_node::admin_socket_path(&data.dir)).is_err() {
        return Ok(None);
    }
    match probe(data)? {
        Probe::Running(running) => Ok(Some(running.admin)),
        Probe::Absent | Probe::Silent { .. } => Ok(None),
    }
}

/// Asks the node to write its store into `dest` (absolute).
pub fn snapshot_through(admin: &AdminClient, dest: &Path) -> Result<SnapshotResponse> {
    Ok(admin.snapshot_blocking(dest, SNAPSHOT_TIMEOUT)?)
}

/// A snapshot of the running node's store with a copy of the configuration beside it: a
/// data directory of its own (private, inside the real one) that the offline code opens
/// like the real one. Removed when dropped.
pub struct TempDataDir {
    dir: PathBuf,
}

impl TempDataDir {
    /// The copy, as a data directory.
    pub fn data_dir(&self) -> DataDir {
        DataDir::new(&self.dir)
    }
}

impl Drop for TempDataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// When a node runs on `data`: a [`TempDataDir`] holding a snapshot of its store and its
/// configuration. `None` when no node answers there (the caller reads the store itself).
pub fn through_running_node(data: &DataDir) -> Result<Option<TempDataDir>> {
    let Some(admin) = running_admin(data)? else {
        return Ok(None);
    };
    remove_abandoned(&data.dir);
    let name = format!(
        "{TEMP_PREFIX}{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let dir = crate::output::absolute(&data.dir.join(name))?;
    private_dir::create_dir(&dir)?;
    let temp = TempDataDir { dir };
    let config = std::fs::read(data.config_path()).map_err(CliError::read(&data.config_path()))?;
    private_dir::write_file(&temp.dir.join(CONFIG_FILE), &config)?;
    snapshot_through(&admin, &temp.dir.join(LEDGER_DIR))?;
    Ok(Some(temp))
}

/// Removes the temporary directories of commands that were killed (their process is gone):
/// best effort, and only where the system says which processes exist.
fn remove_abandoned(data_dir: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(TEMP_PREFIX))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether `name`, at the top of a data directory, is one of these temporary directories.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX)
}

/// A snapshot's refusal as the CLI reports it.
pub fn snapshot_error(e: SnapshotError) -> CliError {
    match e {
        SnapshotError::Store(e) => CliError::Store(e),
        SnapshotError::DestinationNotEmpty { path } => CliError::usage_hint(
            format!("{} exists and is not empty", path.display()),
            "give a new directory",
        ),
        other => CliError::usage(other.to_string()),
    }
}
