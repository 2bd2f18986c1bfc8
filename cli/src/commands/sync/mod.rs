//! `dyad sync export|import`: the offline exchange between the two parties, as
//! `dyad-sync/v2` bundle files (spec/sync.md) carried across an air gap, with the bytes of
//! the attachments their entries name.
//!
//! - The sequencer exports the entries the co-signer may lack, a freshly signed
//!   checkpoint to co-sign, its committed checkpoints and, until the first co-signature,
//!   the genesis. The co-signer exports its queued messages and its latest co-signature.
//! - Import reads and checks the whole bundle (checksum, origin, that every record
//!   parses, that it is meant for this party) before it touches the store; then every
//!   change is one of the replica's atomic, durable batches, each verified in full.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::error::Result;
use crate::Ctx;

mod attachments;
mod export;
mod import;
mod received;

pub use export::export_to_file;
pub use import::import;

const EXPORT_EXAMPLES: &str = "\
Examples:
  dyad sync export --out to-bravo.dyad-sync           # what the peer lacks
  dyad sync export --from 0 --out full-log.dyad-sync  # the whole log, for `dyad audit --bundle`
  dyad sync export > bundle.dyad-sync                 # bundle on stdout, summary on stderr

Sequencer: writes the entries from --from N (default: the latest co-signed size), a freshly
signed checkpoint for the co-signer to co-sign, its co-signed checkpoints, and (until the
first co-signature) the genesis. Co-signer: writes its queued messages and its latest
co-signature (and with --from N, its entries from N, for an auditor). Both write the bytes
of every attachment those entries and messages name, in chunks of at most 1 MiB.
The format is spec/sync.md: one record per line, ending with a record count and a SHA-256
of the whole file, so a truncated or altered copy is refused on import.";

const IMPORT_EXAMPLES: &str = "\
Examples:
  dyad sync import to-bravo.dyad-sync   # co-signer: check the entries, co-sign
  dyad sync import to-alpha.dyad-sync   # sequencer: append submissions, record the co-signature
  dyad sync import genesis.signed       # sequencer: create the replica from the signed genesis

Nothing is applied unless the whole file is intact, is for this channel, and every record
parses; then every entry and signature is verified before it is stored. Attachments are
checked against the entries that name them and stored only once the whole bundle checked
out; the co-signer co-signs only if it holds every attachment its entries name. Exit 1 means a
verification failed (a bad signature, a root that does not match, a rewritten entry): keep
the bundle, it may be evidence. Exit 2 means the file is unreadable, truncated or not for
this party.";

#[derive(Subcommand, Debug)]
pub enum SyncCommand {
    /// Write a bundle for the peer.
    #[command(after_help = EXPORT_EXAMPLES)]
    Export {
        /// First entry index to include (sequencer default: the latest co-signed size).
        #[arg(long, value_name = "N")]
        from: Option<u64>,
        /// Write the bundle to FILE (atomically) instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Check and apply a bundle from the peer.
    #[command(after_help = IMPORT_EXAMPLES)]
    Import {
        /// The bundle file.
        file: PathBuf,
    },
}

pub fn run(ctx: &Ctx, command: &SyncCommand) -> Result<ExitCode> {
    match command {
        SyncCommand::Export { from, out } => export::run(ctx, *from, out.as_deref())?,
        SyncCommand::Import { file } => import::run(ctx, file)?,
    }
    Ok(ExitCode::SUCCESS)
}
