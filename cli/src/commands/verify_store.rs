//! `dyad verify store`: the full check of a replica's store on disk (`Store::verify_all`):
//! every entry against its leaf hash, every tree node against its children (the hash tiles
//! and the right edge), every bundle and tile where the layout puts it, the files exactly as
//! long as their records, every checkpoint against the tree. Unlike the rest of `dyad
//! verify` this is the party's own software checking its own files (not an auditor's
//! check): it uses `dyad-ledger`.
//!
//! Exit 0: the store is whole (a damage record left by the node is then removed). Exit 1:
//! damage found, named with where it lies on disk (and recorded for `dyad status`).
//! Exit 2: no store there, or it cannot be opened (in use by a running node, unreadable).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use dyad_ledger::store::{Store, StoreError};
use dyad_ledger::store_check;
use serde_json::json as j;

use crate::data::store_dir;
use crate::error::{CliError, Result, EXIT_CHECK};
use crate::output::{json, outln, progress};
use crate::Ctx;

pub const EXAMPLES: &str = "\
Examples:
  dyad --data alpha verify store
  dyad verify store /srv/dyad/alpha --json
  dyad verify store /srv/dyad/alpha/ledger

Reads every byte of the store: minutes for tens of millions of entries (progress on
stderr). Stop the node first (`dyad serve` holds the store). Exit 0: the store is whole.
Exit 1: damage found, named with the file and bytes where it lies; put back a backup (`dyad
restore --from DIR`) or rebuild the replica from the peer (`dyad restore --from-peer URL`).
Exit 2: no store there, or it cannot
be opened.";

#[derive(Args, Debug)]
pub struct VerifyStoreArgs {
    /// The data directory or the store directory (its `ledger/`); default: --data.
    pub dir: Option<PathBuf>,
}

/// What the node recorded about damage found in the store of data directory `data`.
pub fn recorded_damage(data: &Path) -> Option<String> {
    store_check::recorded_damage(&store_dir(data))
}

/// The `dyad status` line for recorded damage.
pub fn damage_line(damage: &str) -> String {
    format!("DAMAGED     {damage}; run `dyad verify store` (with the node stopped)")
}

pub fn run(ctx: &Ctx, args: &VerifyStoreArgs) -> Result<ExitCode> {
    let dir = store_dir(args.dir.as_deref().unwrap_or(&ctx.data));
    if !dir.join("db").is_file() {
        return Err(CliError::usage_hint(
            format!("{}: no dyad store here", dir.display()),
            "give a data directory (or its ledger/ directory): `dyad verify store DIR` or --data DIR",
        ));
    }
    let store = match Store::open(&dir) {
        Ok(store) => store,
        Err(StoreError::Damaged(d)) => {
            let what = d.to_string();
            return report_damage(ctx, &dir, &what, None);
        }
        Err(e) => return Err(CliError::Store(e)),
    };
    let bar = progress(0, "verifying the store");
    let result = store.verify_all(|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    match result {
        Ok(v) => {
            let cleared = store_check::clear_recorded_damage(&dir).unwrap_or(false);
            if ctx.json {
                json(&j!({
                    "verdict": "pass",
                    "store": dir,
                    "entries": v.entries,
                    "nodes": v.nodes,
                    "checkpoints": v.checkpoints,
                    "damage_record_cleared": cleared,
                }))?;
            } else {
                outln(&format!("STORE OK: {}", dir.display()))?;
                outln(&format!(
                    "  {} entries, {} tree nodes, {} checkpoints: every entry, bundle, hash tile and node checked",
                    v.entries, v.nodes, v.checkpoints
                ))?;
                if cleared {
                    outln(
                        "  the damage recorded earlier is no longer there: its record was removed",
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(StoreError::Damaged(d)) => {
            let at = store_check::locate_damage(&store, &d);
            report_damage(ctx, &dir, &d.to_string(), at)
        }
        Err(e) => Err(CliError::Store(e)),
    }
}

fn report_damage(ctx: &Ctx, dir: &Path, what: &str, at: Option<String>) -> Result<ExitCode> {
    let record = match &at {
        Some(at) => format!("`dyad verify store`: {what} ({at})"),
        None => format!("`dyad verify store`: {what}"),
    };
    // The record is best effort: the verdict below is what counts.
    let _ = store_check::record_damage(dir, &record);
    let advice = "put back a backup (`dyad restore --from DIR`) or rebuild the replica from the peer (`dyad restore --from-peer URL`)";
    if ctx.json {
        json(&j!({
            "verdict": "damaged",
            "store": dir,
            "damage": what,
            "where": at,
            "advice": advice,
        }))?;
    } else {
        outln(&format!("STORE DAMAGED: {}", dir.display()))?;
        outln(&format!("  {what}"))?;
        if let Some(at) = &at {
            outln(&format!("  where: {at}"))?;
        }
        outln(&format!("  {advice}"))?;
    }
    Ok(ExitCode::from(EXIT_CHECK))
}
