//! `dyad evidence build`: evidence of equivocation (spec/evidence.md, `dyad-equivocation/v1`)
//! from two signed checkpoint notes of one origin and size with different roots. Whoever
//! holds two such notes signed or co-signed by one key (the log, the co-signer, or a
//! witness that co-signed a fork it was shown) writes them as one portable file, which
//! `dyad verify evidence` checks against the accused key alone.
//!
//! Only the `same-size` form is built here: two notes of different sizes contradict only
//! with inclusion proofs of a leaf from both trees (`different-leaf`), and the fork's proof
//! is its holder's to give. The co-signer's node builds evidence against the log by itself
//! (spec/node.md 3.3).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use dyad_verifier::equivocation::{self, Contradiction};
use serde_json::json as j;

use crate::bounded::{read_bounded, MAX_CHECKPOINT};
use crate::checkpoint_note;
use crate::error::{CliError, Result};
use crate::output::{absolute, b64, json, outln, write_file};
use crate::Ctx;

pub const EXAMPLES: &str = "\
Examples:
  dyad evidence build ours.checkpoint fork.checkpoint --out w1.evidence
  dyad verify evidence w1.evidence --trust w1.pub

Give two checkpoint notes of the same origin and size whose roots differ, each signed or
co-signed by the key you accuse (say, the node's /checkpoint and a checkpoint of a fork that
carries the same witness's cosignature). The file holds both notes verbatim; anyone checks
it with the accused's public key alone. Notes of different sizes need inclusion proofs from
both trees (spec/evidence.md, different-leaf), which this command does not build.";

#[derive(Subcommand, Debug)]
pub enum EvidenceCommand {
    /// Write evidence of equivocation from two contradicting checkpoint notes (same size).
    #[command(after_help = EXAMPLES)]
    Build(BuildArgs),
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The first checkpoint note.
    pub first: PathBuf,
    /// The second checkpoint note: same origin and size, another root.
    pub second: PathBuf,
    /// Where to write the evidence (a new file).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub fn run(ctx: &Ctx, command: &EvidenceCommand) -> Result<ExitCode> {
    match command {
        EvidenceCommand::Build(args) => build(ctx, args),
    }
}

/// A checkpoint note, bounded and parsed (not verified: `dyad verify evidence` does that
/// against the accused key).
fn read_note(file: &Path) -> Result<(Vec<u8>, dyad_verifier::checkpoint::Checkpoint)> {
    let bytes = read_bounded(file, MAX_CHECKPOINT)?;
    let checkpoint = checkpoint_note::parse(&bytes).map_err(|e| {
        CliError::usage(format!(
            "{}: not a signed checkpoint note: {e}",
            file.display()
        ))
    })?;
    Ok((bytes, checkpoint))
}

fn build(ctx: &Ctx, args: &BuildArgs) -> Result<ExitCode> {
    let (first, a) = read_note(&args.first)?;
    let (second, b) = read_note(&args.second)?;
    if a.origin != b.origin {
        return Err(CliError::usage(format!(
            "the checkpoints are of two logs ({:?} and {:?}): two logs do not contradict each other",
            a.origin, b.origin
        )));
    }
    if a.size != b.size {
        return Err(CliError::usage_hint(
            format!(
                "the checkpoints have sizes {} and {}: checkpoints of different sizes contradict only with inclusion proofs of a leaf that differs",
                a.size, b.size
            ),
            "give two checkpoints of the same size (spec/evidence.md, same-size); the different-leaf form is not built by this command",
        ));
    }
    if a.root == b.root {
        return Err(CliError::usage(format!(
            "both checkpoints have size {} and root {}: the same tree is no contradiction",
            a.size,
            b64(&a.root)
        )));
    }
    let evidence = equivocation::build(&first, &second, &Contradiction::SameSize);
    write_file(&args.out, &evidence, false)?;
    if ctx.json {
        json(&j!({
            "written": absolute(&args.out)?,
            "contradiction": "same-size",
            "origin": a.origin,
            "size": a.size,
            "roots": [b64(&a.root), b64(&b.root)],
        }))?;
    } else {
        outln(&format!(
            "wrote {}: two checkpoints of {} at size {} with roots {} and {}; check it with dyad verify evidence {} --trust ACCUSED.pub",
            args.out.display(),
            a.origin,
            a.size,
            b64(&a.root),
            b64(&b.root),
            args.out.display()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
