//! `dyad restore --from DIR`: puts a backup (`dyad backup`) in place of the data
//! directory (docs/operations.md, "Backup and restore").
//!
//! Everything is checked before the data directory is touched: the manifest, every file's
//! size and SHA-256 (while it is copied into a staging directory beside the data
//! directory), and the store, opened and verified whole in the staging copy. Then two
//! renames: the old data directory aside to `<dir>.before-restore-<time>` (kept, never
//! deleted), the staging directory to its name. A crash leaves the old directory in place,
//! or none (the old one aside and the new one staged), never a mix of the two.
//! `--from-peer URL` rebuilds the replica from the peer instead (`restore_peer.rs`).

use std::fs;
use std::path::{Path, PathBuf};

use clap::{ArgGroup, Args};
use dyad_ledger::durable;
use dyad_ledger::private_dir;
use dyad_ledger::store::Store;
use serde_json::json as j;

use super::backup::{copy_file, hash_file, Manifest};
use crate::data::{DataDir, LEDGER_DIR};
use crate::error::{CliError, Result};
use crate::output::{absolute, format_ms, json, now_ms, outln, progress};
use crate::running_node::{probe, Probe};
use crate::Ctx;

pub use dyad_node::RESTORED_MARKER;

pub const EXAMPLES: &str = "\
Examples:
  dyad restore --from /backups/alpha-2026-05-01   # with the node stopped
  dyad restore --from-peer https://dyad.bravo.example:7380

The backup is checked whole (every file's SHA-256, the store verified) before the data
directory is touched; the old data directory is kept as <dir>.before-restore-<time>.
The restored replica may be behind what this party already signed: the node reconciles
with the peer when it is started (and ignores --no-peer-check until it has).
--from-peer rebuilds only the replica (ledger/), from the peer's genesis, entries and
newest committed checkpoint, each checked; the keys and dyad.json must be in place. The
replica that was there is kept as ledger.before-restore-<time>.";

/// Where the replica comes from.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("source").required(true)))]
pub struct RestoreArgs {
    /// A backup directory written by `dyad backup --out DIR`.
    #[arg(long, value_name = "DIR", group = "source")]
    pub from: Option<PathBuf>,
    /// Rebuild the replica from the peer's node at URL: its genesis, entries and newest
    /// committed checkpoint, all checked (the keys and dyad.json must be in place).
    #[arg(long, value_name = "URL", group = "source")]
    pub from_peer: Option<String>,
}

pub fn run(ctx: &Ctx, args: &RestoreArgs) -> Result<()> {
    match (&args.from, &args.from_peer) {
        (Some(dir), _) => restore_from_backup(ctx, dir),
        (None, Some(url)) => super::restore_peer::restore_from_peer(ctx, &ctx.data_dir(), url),
        (None, None) => Err(CliError::usage("give --from DIR or --from-peer URL")),
    }
}

fn restore_from_backup(ctx: &Ctx, from: &Path) -> Result<()> {
    let target = absolute(&ctx.data)?;
    refuse_running_node(&target)?;
    let manifest = Manifest::read(from)?;
    let parent = target
        .parent()
        .ok_or_else(|| CliError::usage("the data directory cannot be the root"))?
        .to_owned();
    durable::create_dir_all(&parent, durable::Durability::Durable)
        .map_err(CliError::write(&parent))?;
    let stamp = format_ms(now_ms()).replace(':', "");
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staging_path = parent.join(format!(".{name}.restore-{stamp}"));
    let mut staging = durable::StagingDir::create(staging_path.clone())
        .map_err(CliError::write(&staging_path))?;
    copy_checked(from, &manifest, staging.path())?;
    verify_staged_store(staging.path(), &manifest)?;
    let marker = format!("{} {}\n", format_ms(now_ms()), manifest.store.size);
    private_dir::write_file(&staging.path().join(RESTORED_MARKER), marker.as_bytes())?;
    durable::sync_dir(staging.path()).map_err(CliError::write(staging.path()))?;

    // A node may have been started while the backup was checked.
    refuse_running_node(&target)?;
    // The target is touched from here on: two renames in one directory.
    let aside = parent.join(format!("{name}.before-restore-{stamp}"));
    let moved_aside = target.exists();
    if moved_aside {
        fs::rename(&target, &aside).map_err(CliError::write(&target))?;
    }
    fs::rename(staging.path(), &target).map_err(CliError::write(&target))?;
    staging.keep();
    durable::sync_dir(&parent).map_err(CliError::write(&parent))?;

    let aside = moved_aside.then_some(aside);
    if ctx.json {
        return json(&j!({
            "data": target,
            "from": absolute(from)?,
            "size": manifest.store.size,
            "root": manifest.store.root,
            "committed_size": manifest.store.committed_size,
            "previous": aside,
            "marker": target.join(RESTORED_MARKER),
        }));
    }
    outln(&format!(
        "restored {} from {}: {} entries (root {}, {} committed), verified",
        target.display(),
        from.display(),
        manifest.store.size,
        manifest.store.root,
        manifest.store.committed_size
    ))?;
    if let Some(aside) = &aside {
        outln(&format!(
            "the previous data directory is kept at {}",
            aside.display()
        ))?;
    }
    outln("the replica may be behind what this party already signed: the node reconciles with the peer when it is started (`dyad serve`)")?;
    Ok(())
}

/// Refuses while a node runs on the data directory: one that answers, or one whose socket
/// is there and that still holds the store's lock.
fn refuse_running_node(target: &Path) -> Result<()> {
    if std::fs::symlink_metadata(dyad_node::admin_socket_path(target)).is_err() {
        return Ok(());
    }
    let data = DataDir::new(target);
    let running = match probe(&data)? {
        Probe::Running(_) => true,
        Probe::Absent => false,
        Probe::Silent { .. } => matches!(
            Store::open(&data.ledger_path()),
            Err(dyad_ledger::store::StoreError::Locked { .. })
        ),
    };
    if running {
        return Err(CliError::usage_hint(
            format!("a node (`dyad serve`) runs on {}", target.display()),
            "stop the node (Ctrl-C or SIGTERM), then restore",
        ));
    }
    Ok(())
}

/// Copies every file the manifest lists into `staging`, refusing one whose size or
/// SHA-256 differs (as the copy holds it, so what is checked is what is installed).
fn copy_checked(from: &Path, manifest: &Manifest, staging: &Path) -> Result<()> {
    let bar = progress(manifest.files.len() as u64, "checking the backup");
    for f in &manifest.files {
        let source = from.join(&f.path);
        let target = staging.join(&f.path);
        if let Some(dir) = target.parent() {
            private_dir::create_dir(dir)?;
        }
        if !source.is_file() {
            return Err(CliError::usage(format!(
                "the backup lacks {} that its manifest lists",
                source.display()
            )));
        }
        copy_file(&source, &target)?;
        let (bytes, sha256) = hash_file(&target)?;
        if bytes != f.bytes || sha256 != f.sha256 {
            return Err(CliError::Check {
                message: format!(
                    "{}: {bytes} bytes with SHA-256 {sha256}, but the manifest says {} bytes with {}",
                    source.display(),
                    f.bytes,
                    f.sha256
                ),
                hint: Some("the backup was changed or damaged: restore from another one".to_owned()),
            });
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    // The directories the copies were made in, durable in their parents.
    let mut dirs: Vec<PathBuf> = manifest
        .files
        .iter()
        .filter_map(|f| staging.join(&f.path).parent().map(Path::to_owned))
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs.iter().rev() {
        durable::sync_dir(dir).map_err(CliError::write(dir))?;
    }
    Ok(())
}

/// Opens the staged store and verifies it whole; it must hold the manifest's head.
fn verify_staged_store(staging: &Path, manifest: &Manifest) -> Result<()> {
    let store = Store::open(&staging.join(LEDGER_DIR))?;
    let bar = progress(0, "verifying the store");
    store.verify_all(|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    let root = crate::output::b64(&store.root());
    if store.size() != manifest.store.size || root != manifest.store.root {
        return Err(CliError::Check {
            message: format!(
                "the backup's store holds {} entries with root {root}, but its manifest says {} with {}",
                store.size(),
                manifest.store.size,
                manifest.store.root
            ),
            hint: Some("the backup was changed or damaged: restore from another one".to_owned()),
        });
    }
    Ok(())
}
