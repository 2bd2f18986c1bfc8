//! `dyad backup --out DIR`: a consistent, verified copy of the party's data directory
//! (docs/operations.md, "Backup and restore"). The store is a snapshot (spec/store.md,
//! "Snapshot"), taken through the running node when there is one, else from the store
//! itself; the directory's other files are copied beside it; a manifest listing every
//! file with its SHA-256 and the snapshot's head is written last, so a backup without it
//! is incomplete and `dyad restore` refuses it.

use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use clap::Args;
use dyad_ledger::durable::{self, WriteOptions};
use dyad_ledger::private_dir;
use dyad_ledger::replica_record::{ReplicaRecord, REPLICA_RECORD_FILE};
use dyad_ledger::store::{SnapshotPhase, Store};
use serde::{Deserialize, Serialize};
use serde_json::json as j;
use sha2::Digest as _;

use crate::data::{Config, DataDir, LEDGER_DIR};
use crate::error::{CliError, Result};
use crate::node_snapshot::{is_temp_name, running_admin, snapshot_error, snapshot_through};
use crate::output::{absolute, b64, format_ms, json, now_ms, outln, progress};
use crate::Ctx;

pub const EXAMPLES: &str = "\
Examples:
  dyad backup --out /backups/alpha-2026-05-01     # while the node runs, or not
  dyad restore --from /backups/alpha-2026-05-01   # with the node stopped

The backup holds the store (a consistent snapshot, verified), the configuration, the TLS
key and certificate, the read grants, attachments and evidence: everything but the running
node's socket, token and URL. The private key file named in dyad.json is copied only if it
lies in the data directory. MANIFEST.json, written last, lists every file with its SHA-256.";

/// The manifest's name in a backup directory.
pub const MANIFEST_FILE: &str = "MANIFEST.json";
const MANIFEST_FORMAT: &str = "dyad-backup/1";

/// What is not copied from the top of a data directory: the running node's own files
/// (new at every start) and locks.
const NOT_BACKED_UP: &[&str] = &[
    "admin.sock",
    "admin.token",
    crate::running_node::NODE_URL_FILE,
    LEDGER_DIR,
    REPLICA_RECORD_FILE,
];

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The new backup directory (must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// The head of the store in a backup.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoreSummary {
    pub size: u64,
    /// Standard padded base64.
    pub root: String,
    pub committed_size: u64,
    pub commits: u64,
}

/// One file of a backup.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestFile {
    /// Relative to the backup directory, `/`-separated.
    pub path: String,
    pub bytes: u64,
    /// Lowercase hex.
    pub sha256: String,
}

/// `MANIFEST.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub created: String,
    pub origin: String,
    pub role: String,
    pub store: StoreSummary,
    pub files: Vec<ManifestFile>,
}

impl Manifest {
    /// Reads and checks the manifest of the backup in `dir`.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST_FILE);
        if !path.is_file() {
            return Err(CliError::usage_hint(
                format!(
                    "{} has no {MANIFEST_FILE}: it is not a backup, or an incomplete one",
                    dir.display()
                ),
                "a backup gets its manifest last; take a new one with `dyad backup --out DIR`",
            ));
        }
        let bytes = crate::bounded::read_bounded(&path, 64 << 20)?;
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| CliError::Malformed {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if manifest.format != MANIFEST_FORMAT {
            return Err(CliError::Malformed {
                path,
                reason: format!("format {:?}, not {MANIFEST_FORMAT:?}", manifest.format),
            });
        }
        for f in &manifest.files {
            if !is_plain_relative(&f.path) {
                return Err(CliError::Malformed {
                    path,
                    reason: format!("it lists {:?}, not a path inside the backup", f.path),
                });
            }
        }
        Ok(manifest)
    }
}

/// A relative path of normal components only (no `..`, no root, no `.`).
fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

pub fn run(ctx: &Ctx, args: &BackupArgs) -> Result<()> {
    let data = ctx.data_dir();
    let config = data.read_created_config()?;
    let out = absolute(&args.out)?;
    prepare_out(&out)?;
    let (store, node_paused_ms) = snapshot_store(&data, &out.join(LEDGER_DIR))?;
    let through_node = node_paused_ms.is_some();
    copy_tree(&data.dir, &out, true)?;
    write_replica_record(&config, &store, &out)?;
    let files = hash_tree(&out)?;
    let bytes: u64 = files.iter().map(|f| f.bytes).sum();
    let manifest = Manifest {
        format: MANIFEST_FORMAT.to_owned(),
        created: format_ms(now_ms()),
        origin: config.origin.clone(),
        role: config.role.clone(),
        store: store.clone(),
        files,
    };
    let mut text = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
    text.push(b'\n');
    // Last: a backup without its manifest is refused by `dyad restore`.
    private_dir::write_file(&out.join(MANIFEST_FILE), &text)?;
    let key_inside = config.key_file.starts_with(&data.dir);
    if ctx.json {
        return json(&j!({
            "out": out,
            "through_node": through_node,
            "node_paused_ms": node_paused_ms,
            "size": store.size,
            "root": store.root,
            "committed_size": store.committed_size,
            "files": manifest.files.len(),
            "bytes": bytes,
            "key_file_included": key_inside,
        }));
    }
    outln(&format!(
        "backed up {} to {}: {} entries (root {}, {} committed){}, {} files, {bytes} bytes, verified",
        data.dir.display(),
        out.display(),
        store.size,
        store.root,
        store.committed_size,
        if through_node { ", through the running node" } else { "" },
        manifest.files.len(),
    ))?;
    if !key_inside {
        outln(&format!(
            "note: the private key {} lies outside the data directory and is not in the backup: keep a copy of it too",
            config.key_file.display()
        ))?;
    }
    Ok(())
}

/// Refuses an existing non-empty `out`; creates it (mode 0700) or makes an empty one private.
fn prepare_out(out: &Path) -> Result<()> {
    if let Ok(mut entries) = fs::read_dir(out) {
        if entries.next().is_some() {
            return Err(CliError::usage_hint(
                format!("{} exists and is not empty", out.display()),
                "give a new directory for the backup",
            ));
        }
        set_private(out)?;
    } else if out.exists() {
        return Err(CliError::Exists {
            path: out.to_owned(),
        });
    } else {
        if let Some(parent) = out.parent() {
            durable::create_dir_all(parent, durable::Durability::Durable)
                .map_err(CliError::write(parent))?;
        }
        private_dir::create_dir(out)?;
    }
    durable::sync_dir(out.parent().unwrap_or(Path::new("/"))).map_err(CliError::write(out))
}

fn set_private(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(CliError::write(dir))
}

/// The store's snapshot into `dest`: through the running node, else from the store.
/// Returns its head and, when the node took it, how long its commits waited (ms).
fn snapshot_store(data: &DataDir, dest: &Path) -> Result<(StoreSummary, Option<u64>)> {
    if let Some(admin) = running_admin(data)? {
        let r = snapshot_through(&admin, dest)?;
        let summary = StoreSummary {
            size: r.size,
            root: r.root,
            committed_size: r.committed_size,
            commits: r.commits,
        };
        return Ok((summary, Some(r.paused_ms)));
    }
    let store = Store::open(&data.ledger_path())?;
    let copying = progress(0, "copying the store");
    let verifying = progress(0, "verifying the copy");
    let info = store
        .snapshot(dest, |phase, done, total| {
            let bar = match phase {
                SnapshotPhase::Copying => &copying,
                SnapshotPhase::Verifying => &verifying,
            };
            bar.set_length(total);
            bar.set_position(done);
        })
        .map_err(snapshot_error)?;
    copying.finish_and_clear();
    verifying.finish_and_clear();
    let summary = StoreSummary {
        size: info.head.size,
        root: b64(&info.head.root),
        committed_size: info.checkpoint.unwrap_or(0),
        commits: info.commits,
    };
    Ok((summary, None))
}

/// `replica.head` of the backup: the snapshot's head, not the data directory's record,
/// which the running node may have moved past the snapshot meanwhile.
fn write_replica_record(config: &Config, store: &StoreSummary, out: &Path) -> Result<()> {
    let root = crate::output::hash_from_b64(&store.root).ok_or_else(|| {
        CliError::usage(format!(
            "the snapshot's root {:?} is not a hash",
            store.root
        ))
    })?;
    ReplicaRecord {
        origin: config.origin.clone(),
        role: config.role.clone(),
        size: store.size,
        root,
        committed: store.committed_size,
    }
    .write(out)
    .map_err(CliError::write(&out.join(REPLICA_RECORD_FILE)))
}

/// Copies the files and directories of `from` into `to` (which exists), each file durably
/// with mode 0600 and each directory 0700. At the top of a data directory (`top`), the
/// running node's files, the store and temporary files are left out; everywhere, anything
/// but regular files and directories (the admin socket, links) and crash leftovers.
pub(crate) fn copy_tree(from: &Path, to: &Path, top: bool) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(from)
        .map_err(CliError::read(from))?
        .collect::<io::Result<_>>()
        .map_err(CliError::read(from))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let Some(name_str) = name.to_str() else {
            continue;
        };
        if durable::is_temporary_name(name_str)
            || is_temp_name(name_str)
            || (top && (NOT_BACKED_UP.contains(&name_str) || name_str.ends_with(".lock")))
        {
            continue;
        }
        let kind = entry.file_type().map_err(CliError::read(&entry.path()))?;
        let target = to.join(&name);
        if kind.is_dir() {
            private_dir::create_dir(&target)?;
            copy_tree(&entry.path(), &target, false)?;
            durable::sync_dir(&target).map_err(CliError::write(&target))?;
        } else if kind.is_file() {
            copy_file(&entry.path(), &target)?;
        }
    }
    durable::sync_dir(to).map_err(CliError::write(to))
}

/// One file, streamed, written durably with mode 0600.
pub(crate) fn copy_file(from: &Path, to: &Path) -> Result<()> {
    let mut source = fs::File::open(from).map_err(CliError::read(from))?;
    durable::write_with(to, WriteOptions::PRIVATE, |f| io::copy(&mut source, f))
        .map_err(CliError::write(to))?;
    Ok(())
}

/// Every regular file under `dir` (its manifest aside) with its size and SHA-256, sorted by path.
fn hash_tree(dir: &Path) -> Result<Vec<ManifestFile>> {
    let mut paths = Vec::new();
    list_files(dir, "", &mut paths)?;
    paths.retain(|p| p != MANIFEST_FILE);
    paths.sort();
    let bar = progress(paths.len() as u64, "hashing the backup");
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let (bytes, sha256) = hash_file(&dir.join(&path))?;
        files.push(ManifestFile {
            path,
            bytes,
            sha256,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(files)
}

fn list_files(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(CliError::read(dir))? {
        let entry = entry.map_err(CliError::read(dir))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let kind = entry.file_type().map_err(CliError::read(&entry.path()))?;
        if kind.is_dir() {
            list_files(&entry.path(), &rel, out)?;
        } else if kind.is_file() {
            out.push(rel);
        }
    }
    Ok(())
}

/// A file's size and lowercase-hex SHA-256, streamed.
pub(crate) fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut file = fs::File::open(path).map_err(CliError::read(path))?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0; 1 << 20];
    let mut bytes = 0;
    loop {
        let n = file.read(&mut buf).map_err(CliError::read(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((bytes, hex::encode(hasher.finalize())))
}
