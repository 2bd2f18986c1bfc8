//! `dyad audit`: audits a whole log with the independent verifier: every entry decoded,
//! its signature and the channel's rules checked, the tree recomputed, every co-signed
//! checkpoint checked against it, and conflicting checkpoints turned into evidence.
//!
//! Every check is `dyad_verifier::audit`'s. This module uses `dyad-ledger` in exactly two
//! places, [`raw_log`] and [`audit_url`], and only to read raw bytes: out of a replica's
//! store, or from a tlog-tiles server (`dyad_node::audit_url` fetches and feeds
//! them to the verifier's `Auditor`). The auditor does not trust the party's software,
//! only the bytes it can recompute.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use dyad_verifier::audit::{
    AuditError, AuditReport, AuditTrust, Auditor, CheckedLeaf, CheckpointFeed, LeafChecker,
};
use dyad_verifier::entry::Kind;
use serde_json::{json as j, Value};

use crate::bundle::{BundleReader, Record};
use crate::commands::verify::read_two_parties;
use crate::error::{CliError, Result};
use crate::output::{b64, json, outln, progress, write_file};
use crate::Ctx;

pub const EXAMPLES: &str = "\
Examples:
  dyad audit --data /srv/dyad/alpha --trust alpha.pub --trust bravo.pub
  dyad audit --bundle full-log.dyad-sync --trust alpha.pub --trust bravo.pub --json
  dyad audit --bundle full-log.dyad-sync --trust alpha.pub --trust bravo.pub \\
             --evidence-out conflict.dyad-equivocation
  dyad audit --url http://127.0.0.1:7380 --trust alpha.pub --trust bravo.pub
  dyad audit --url https://log.example/dyad-tiles --trust alpha.pub --trust bravo.pub

The whole log is needed: a bundle made with `dyad sync export --from 0` from either party,
or a party's data directory (read-only: only raw entries and checkpoint notes are read),
or --url URL: a live node, or a static tile export (`dyad export tiles`) served by any web
server, read over the C2SP tlog-tiles API up to its checkpoint and streamed into the verifier.
The verdict is PASSED (exit 0) or FAILED (exit 1) with the first problem, naming the entry or
checkpoint. If two co-signed checkpoints conflict, the evidence of equivocation is written
to --evidence-out FILE (or printed) and can be checked with `dyad verify evidence`.";

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Audit a sync bundle holding the whole log (`dyad sync export --from 0`), instead of --data DIR.
    #[arg(long, value_name = "FILE", conflicts_with = "url")]
    pub bundle: Option<PathBuf>,
    /// Audit the log served at URL over the C2SP tlog-tiles API (a node or a static export).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The two parties' verifier key files.
    #[arg(long = "trust", value_name = "KEY.pub", required = true)]
    pub trust: Vec<PathBuf>,
    /// Where to write evidence of equivocation if the audit finds any.
    #[arg(long, value_name = "FILE")]
    pub evidence_out: Option<PathBuf>,
}

/// Why an audit did not pass.
#[derive(Debug)]
pub enum AuditFailure {
    /// The verifier found a problem in the log.
    Log(AuditError),
    /// The source could not be read in full (a damaged store, a bundle that ended early).
    Source(String),
    /// Every record verified, but the bundle file is not the one that was exported.
    Checksum,
}

impl std::fmt::Display for AuditFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditFailure::Log(e) => write!(f, "{e}"),
            AuditFailure::Source(e) => write!(f, "{e}"),
            AuditFailure::Checksum => f.write_str(
                "the bundle's checksum does not match its content: it was altered after export",
            ),
        }
    }
}

pub struct AuditOutcome {
    pub source: String,
    pub result: std::result::Result<AuditReport, AuditFailure>,
}

/// Size of a checkpoint note, to feed the notes to the auditor in order.
fn note_size(note: &[u8]) -> Option<u64> {
    let parsed = dyad_verifier::note::parse(note).ok()?;
    dyad_verifier::checkpoint::parse(&parsed.text)
        .ok()
        .map(|c| c.size)
}

/// Leaves per unit of work handed to a checking thread: large enough that the channels'
/// overhead is nothing beside 256 signature checks, small enough that the leaves in
/// flight stay a few megabytes.
const CHUNK: usize = 256;

/// Chunks queued between the threads, per queue: with the reorder buffer, this bounds the
/// leaves held at once to a few times (threads + QUEUE) * CHUNK, whatever the log's length.
const QUEUE: usize = 4;

/// Leaves read from the source, numbered in order; `end` is the read error that cut the
/// stream after them, if any.
struct Chunk {
    number: u64,
    first: u64,
    leaves: Vec<Vec<u8>>,
    end: Option<String>,
}

/// A chunk's leaves, checked. The checking stops at the chunk's first bad leaf: nothing
/// after it will be looked at.
struct Checked {
    number: u64,
    leaves: Vec<std::result::Result<CheckedLeaf, AuditError>>,
    end: Option<String>,
}

/// Runs the verifier's audit over a stream of leaves. A read error ends the stream and
/// is reported instead of whatever the shortened log would look like.
///
/// The work is `dyad_verifier::audit`'s, spread over the machine's cores: leaf 0 (the
/// genesis) is pushed as is; after it a reader thread cuts the stream into chunks, one
/// checking thread per core runs the auditor's `LeafChecker` on them (decoding, channel
/// rules, strict signature: nearly all the cost), and this thread pushes the results into
/// the `Auditor` in index order, which applies the order-dependent rules (sequence
/// numbers, timestamps, the tree, checkpoints) exactly as a sequential audit does, and so
/// stops at the same first problem. Memory is a bounded number of chunks.
fn audit_stream(
    mut leaves: impl Iterator<Item = std::result::Result<Vec<u8>, String>> + Send,
    total: u64,
    checkpoints: &[Vec<u8>],
    trust: AuditTrust,
) -> std::result::Result<AuditReport, AuditFailure> {
    let bar = progress(total, "auditing");
    let result = (|| {
        let mut feed = CheckpointFeed::new(checkpoints).map_err(AuditFailure::Log)?;
        let mut auditor = Auditor::new(trust).map_err(AuditFailure::Log)?;
        match leaves.next() {
            Some(Ok(genesis)) => {
                auditor.push_leaf(&genesis).map_err(AuditFailure::Log)?;
                feed.give_due(&mut auditor).map_err(AuditFailure::Log)?;
                bar.inc(1);
            }
            Some(Err(e)) => return Err(AuditFailure::Source(e)),
            None => {}
        }
        if let Some(checker) = auditor.leaf_checker() {
            check_in_parallel(&mut leaves, &checker, |leaf| {
                auditor.push_checked(leaf)?;
                feed.give_due(&mut auditor)?;
                bar.inc(1);
                Ok(())
            })?;
        }
        feed.give_rest(&mut auditor).map_err(AuditFailure::Log)?;
        auditor.finish().map_err(AuditFailure::Log)
    })();
    bar.finish_and_clear();
    result
}

/// Checks the leaves after the genesis on one thread per core and hands them to `push`
/// in index order; stops at the first error (a bad leaf, `push`'s, or a read error).
fn check_in_parallel(
    leaves: &mut (impl Iterator<Item = std::result::Result<Vec<u8>, String>> + Send),
    checker: &LeafChecker,
    mut push: impl FnMut(CheckedLeaf) -> std::result::Result<(), AuditError>,
) -> std::result::Result<(), AuditFailure> {
    use std::sync::mpsc::sync_channel;
    use std::sync::{Arc, Mutex};
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        let (work_tx, work_rx) = sync_channel::<Chunk>(QUEUE);
        let (done_tx, done_rx) = sync_channel::<Checked>(QUEUE);
        // The reader: leaf 0 was read already, so the first chunk starts at 1.
        scope.spawn(move || {
            let mut first = 1u64;
            for number in 0u64.. {
                let mut chunk = Chunk {
                    number,
                    first,
                    leaves: Vec::with_capacity(CHUNK),
                    end: None,
                };
                for item in leaves.by_ref().take(CHUNK) {
                    match item {
                        Ok(bytes) => chunk.leaves.push(bytes),
                        Err(e) => {
                            chunk.end = Some(e);
                            break;
                        }
                    }
                }
                let last = chunk.end.is_some() || chunk.leaves.len() < CHUNK;
                first += chunk.leaves.len() as u64;
                // A failed send means the audit already stopped.
                if work_tx.send(chunk).is_err() || last {
                    return;
                }
            }
        });
        let work_rx = Arc::new(Mutex::new(work_rx));
        for _ in 0..threads {
            let (work_rx, done_tx) = (Arc::clone(&work_rx), done_tx.clone());
            scope.spawn(move || loop {
                // The lock is held only to take the next chunk, not while checking it.
                let next = work_rx
                    .lock()
                    .map_err(|_| ())
                    .and_then(|rx| rx.recv().map_err(|_| ()));
                let Ok(chunk) = next else { return };
                let mut checked = Vec::with_capacity(chunk.leaves.len());
                for (i, bytes) in chunk.leaves.iter().enumerate() {
                    let leaf = checker.check(chunk.first + i as u64, bytes);
                    let bad = leaf.is_err();
                    checked.push(leaf);
                    if bad {
                        break;
                    }
                }
                let done = Checked {
                    number: chunk.number,
                    leaves: checked,
                    end: chunk.end,
                };
                if done_tx.send(done).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        // Results arrive in any order; they are pushed in chunk order. When this returns
        // (at the end, or at the first error), dropping the receiver stops the checking
        // threads, whose failed sends in turn stop the reader.
        let mut pending = std::collections::BTreeMap::new();
        let mut next = 0u64;
        for done in done_rx.iter() {
            pending.insert(done.number, done);
            while let Some(done) = pending.remove(&next) {
                next += 1;
                for leaf in done.leaves {
                    leaf.and_then(&mut push).map_err(AuditFailure::Log)?;
                }
                if let Some(e) = done.end {
                    return Err(AuditFailure::Source(e));
                }
            }
        }
        Ok(())
    })
}

pub fn audit_data(
    dir: &Path,
    a: dyad_verifier::key::VerifierKey,
    b: dyad_verifier::key::VerifierKey,
) -> Result<AuditOutcome> {
    let store_dir = if dir.join("ledger").is_dir() {
        dir.join("ledger")
    } else {
        dir.to_owned()
    };
    let source = format!("replica {}", store_dir.display());
    let raw = match raw_log(&store_dir) {
        Ok(raw) => raw,
        Err(RawError::Unreadable(e)) => return Err(e),
        Err(RawError::Damaged(e)) => {
            return Ok(AuditOutcome {
                source,
                result: Err(AuditFailure::Source(e)),
            })
        }
    };
    let result = audit_stream(
        raw.leaves,
        raw.size,
        &raw.checkpoints,
        AuditTrust::Parties([a, b]),
    );
    Ok(AuditOutcome { source, result })
}

pub fn audit_bundle(
    path: &Path,
    a: dyad_verifier::key::VerifierKey,
    b: dyad_verifier::key::VerifierKey,
) -> Result<AuditOutcome> {
    let source = format!("bundle {}", path.display());
    // Pass 1: the bundle's form, its checkpoints (few and small) and its entry count.
    // Pass 2 streams the entries, so memory stays flat however long the log is.
    let mut reader = BundleReader::open(path)?;
    let mut checkpoints = Vec::new();
    let mut entries = 0u64;
    while let Some(record) = reader.next_record()? {
        match record {
            Record::Entry { index, .. } => {
                if entries == 0 && index != 0 {
                    return Err(CliError::usage_hint(
                        format!("{}: the bundle starts at entry {index}; an audit needs the whole log from entry 0", path.display()),
                        "export it with `dyad sync export --from 0 --out FILE`",
                    ));
                }
                entries += 1;
            }
            Record::Cosigned(note) => checkpoints.push(note),
            _ => {}
        }
    }
    if entries == 0 {
        return Err(CliError::usage_hint(
            format!("{}: the bundle holds no entries", path.display()),
            "export the whole log with `dyad sync export --from 0 --out FILE`",
        ));
    }
    let checksum_ok = reader.checksum_ok() == Some(true);
    let bundle_origin = reader.origin().to_owned();
    let mut second = BundleReader::open(path)?;
    let leaves = std::iter::from_fn(move || loop {
        match second.next_record() {
            Ok(Some(Record::Entry { bytes, .. })) => return Some(Ok(bytes)),
            Ok(Some(_)) => continue,
            Ok(None) => return None,
            Err(e) => return Some(Err(format!("the bundle changed while it was read: {e}"))),
        }
    });
    checkpoints.sort_by_key(|n| note_size(n));
    let mut result = audit_stream(leaves, entries, &checkpoints, AuditTrust::Parties([a, b]));
    if let Ok(report) = &result {
        if report.genesis.origin != bundle_origin {
            result = Err(AuditFailure::Source(format!(
                "the bundle says origin {bundle_origin:?} but its genesis is of {:?}",
                report.genesis.origin
            )));
        } else if !checksum_ok {
            result = Err(AuditFailure::Checksum);
        }
    }
    Ok(AuditOutcome { source, result })
}

fn kinds_json(kinds: &[u64; 5]) -> Value {
    let mut m = serde_json::Map::new();
    for (i, n) in kinds.iter().enumerate() {
        if let Some(k) = u8::try_from(i).ok().and_then(Kind::from_u8) {
            m.insert(k.as_str().to_owned(), (*n).into());
        }
    }
    Value::Object(m)
}

pub fn report_json(outcome: &AuditOutcome) -> Value {
    match &outcome.result {
        Ok(r) => j!({
            "verdict": "pass",
            "source": outcome.source,
            "origin": r.genesis.origin,
            "sequencer": r.genesis.sequencer.name,
            "cosigner": r.genesis.cosigner.name,
            "entries": r.leaves,
            "committed_size": r.committed_size,
            "pending": r.pending,
            "checkpoints": r.checkpoints,
            "latest_checkpoint_size": r.latest_checkpoint.as_ref().map(|c| c.size),
            "root": b64(&r.root),
            "entries_by_sequencer": r.entries_by_sequencer,
            "entries_by_cosigner": r.entries_by_cosigner,
            "kinds": kinds_json(&r.kinds),
        }),
        Err(f) => j!({
            "verdict": "fail",
            "source": outcome.source,
            "error": f.to_string(),
            "entry": match f { AuditFailure::Log(AuditError::Entry { index, .. }) => Some(*index), _ => None },
        }),
    }
}

pub fn report_lines(outcome: &AuditOutcome) -> Vec<String> {
    match &outcome.result {
        Ok(r) => {
            let kinds: Vec<String> = r
                .kinds
                .iter()
                .enumerate()
                .filter(|(i, n)| **n > 0 && *i > 0)
                .filter_map(|(i, n)| {
                    u8::try_from(i)
                        .ok()
                        .and_then(Kind::from_u8)
                        .map(|k| format!("{n} {k}"))
                })
                .collect();
            vec![
                format!("AUDIT PASSED: {}", outcome.source),
                format!("  channel      {}", r.genesis.origin),
                format!("  sequencer    {} ({} entries, genesis included)", r.genesis.sequencer.name, r.entries_by_sequencer),
                format!("  co-signer    {} ({} entries)", r.genesis.cosigner.name, r.entries_by_cosigner),
                format!("  entries      {} ({} committed, {} pending)", r.leaves, r.committed_size, r.pending),
                format!(
                    "  checkpoints  {} co-signed checkpoint(s) checked{}",
                    r.checkpoints,
                    r.latest_checkpoint.as_ref().map_or(String::new(), |c| format!(", the latest of size {}", c.size))
                ),
                format!("  root         {}", b64(&r.root)),
                format!("  messages     {}", if kinds.is_empty() { "none yet".to_owned() } else { kinds.join(", ") }),
                "  Every entry is signed by its sender, follows the channel's rules, and is in the tree every co-signed checkpoint commits to.".to_owned(),
            ]
        }
        Err(f) => vec![
            format!("AUDIT FAILED: {}", outcome.source),
            format!("  {f}"),
        ],
    }
}

pub fn run(ctx: &Ctx, args: &AuditArgs) -> Result<ExitCode> {
    let (a, b) = read_two_parties(&args.trust)?;
    let outcome = match &args.bundle {
        _ if args.url.is_some() => {
            if ctx.data_given && std::env::var_os("DYAD_DATA").is_none() {
                return Err(CliError::usage(
                    "give either --data DIR or --url URL, not both",
                ));
            }
            audit_url(args.url.as_deref().unwrap_or_default(), a, b)?
        }
        Some(_) if ctx.data_given && std::env::var_os("DYAD_DATA").is_none() => {
            return Err(CliError::usage(
                "give either --data DIR or --bundle FILE, not both",
            ));
        }
        Some(path) => audit_bundle(path, a, b)?,
        None => audit_data(&ctx.data, a, b)?,
    };
    let evidence = match &outcome.result {
        Err(AuditFailure::Log(AuditError::ConflictingCheckpoints { evidence, .. })) => {
            Some(evidence.clone())
        }
        _ => None,
    };
    let mut evidence_file = None;
    if let (Some(bytes), Some(path)) = (&evidence, &args.evidence_out) {
        write_file(path, bytes, false)?;
        evidence_file = Some(path.clone());
    }
    if ctx.json {
        let mut v = report_json(&outcome);
        if let Some(o) = v.as_object_mut() {
            if let Some(bytes) = &evidence {
                o.insert("evidence_file".into(), j!(evidence_file));
                if evidence_file.is_none() {
                    o.insert(
                        "evidence".into(),
                        String::from_utf8_lossy(bytes).into_owned().into(),
                    );
                }
            }
        }
        json(&v)?;
    } else {
        for line in report_lines(&outcome) {
            outln(&line)?;
        }
        if let Some(bytes) = &evidence {
            match &evidence_file {
                Some(p) => outln(&format!("  evidence of equivocation written to {} (check it with `dyad verify evidence`)", p.display()))?,
                None => {
                    outln("  evidence of equivocation (save it, or use --evidence-out FILE):")?;
                    crate::output::out_bytes(bytes)?;
                }
            }
        }
    }
    match outcome.result {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(_) => Ok(ExitCode::from(crate::error::EXIT_CHECK)),
    }
}

/// Audits the log served at `url` (a node's tiles API or a static export). The fetching
/// and strict tile parsing are `dyad_node::client`'s; every check is the
/// verifier's `Auditor`, fed one entry at a time. An unreachable server or a missing
/// checkpoint is unreadable input (exit 2); anything wrong in what it serves fails the
/// audit (exit 1).
pub fn audit_url(
    url: &str,
    a: dyad_verifier::key::VerifierKey,
    b: dyad_verifier::key::VerifierKey,
) -> Result<AuditOutcome> {
    use dyad_node::client::AuditUrlError;
    use dyad_node::ClientError;
    let url = crate::commands::node::check_url(url, "--url")?;
    let source = format!("log at {url}");
    let bar = progress(0, "auditing");
    let result = dyad_node::audit_url(&url, AuditTrust::Parties([a, b]), |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    let result = match result {
        Ok(report) => match check_hash_tiles(&url, report.leaves, &report.root) {
            Ok(()) => Ok(report),
            Err(TileCheck::Client(
                ClientError::Http { .. } | ClientError::Runtime(_) | ClientError::BadUrl(_),
            )) => {
                return Err(CliError::usage_hint(
                    format!("{url}: the server stopped answering while the hash tiles were read"),
                    "run the audit again",
                ))
            }
            Err(TileCheck::Client(e)) => Err(AuditFailure::Source(format!("hash tiles: {e}"))),
            Err(TileCheck::Mismatch(e)) => Err(AuditFailure::Source(format!("{url}: {e}"))),
        },
        Err(AuditUrlError::Audit(e)) => Err(AuditFailure::Log(e)),
        Err(AuditUrlError::Client(e)) => match e {
            ClientError::BadUrl(_) | ClientError::Runtime(_) => return Err(e.into()),
            ClientError::Http { ref url, .. } | ClientError::Status { ref url, .. }
                if url.ends_with("/checkpoint") =>
            {
                return Err(e.into())
            }
            ClientError::Http { .. } => return Err(e.into()),
            other => Err(AuditFailure::Source(other.to_string())),
        },
    };
    Ok(AuditOutcome { source, result })
}

/// Why the hash tiles did not check out.
enum TileCheck {
    Client(dyad_node::ClientError),
    Mismatch(String),
}

impl From<dyad_node::ClientError> for TileCheck {
    fn from(e: dyad_node::ClientError) -> TileCheck {
        TileCheck::Client(e)
    }
}

/// Checks the hash tiles a tlog-tiles server publishes for the tree of `size` leaves,
/// which readers use for proofs but a whole-log audit does not need: the entries are read
/// again, bundle by bundle, and the verifier's `TileChecker` asks for each hash tile as
/// soon as what it must hold is known (level 0: the entries' leaf hashes; above: the roots
/// of the full tiles below); the entries' tree must give the audited `root`. Memory: one
/// bundle, and at most 256 hashes per tile level.
fn check_hash_tiles(
    url: &str,
    size: u64,
    root: &dyad_verifier::Hash,
) -> std::result::Result<(), TileCheck> {
    use dyad_node::TileClient;
    use dyad_verifier::hash::leaf_hash;
    use dyad_verifier::tiles::TileChecker;
    let bad = |e: dyad_verifier::tiles::TileError| TileCheck::Mismatch(e.to_string());
    let rt = dyad_node::runtime::client()?;
    let bar = progress(size.div_ceil(256), "checking hash tiles");
    let result = rt.block_on(async {
        let client = TileClient::new(url)?;
        let mut checker = TileChecker::new();
        for n in 0..size.div_ceil(256) {
            let width = (size - n * 256).min(256) as u16;
            let entries = client.entry_bundle(n, width).await?;
            for entry in &entries {
                let mut due = checker.push_leaf(&leaf_hash(entry)).map_err(bad)?;
                while let Some(tile) = due {
                    let hashes = client.hash_tile(tile.level, tile.index, tile.width).await?;
                    due = checker.check(tile, &hashes).map_err(bad)?;
                }
            }
            bar.inc(1);
        }
        for tile in checker.partial_tiles() {
            let hashes = client.hash_tile(tile.level, tile.index, tile.width).await?;
            checker.check(tile, &hashes).map_err(bad)?;
        }
        if size > 0 && checker.root() != *root {
            return Err(TileCheck::Mismatch(
                "the entries read with the hash tiles do not give the audited root (the server changed them)".into(),
            ));
        }
        Ok(())
    });
    bar.finish_and_clear();
    result
}

// ---------------------------------------------------------------------------------------
// The audit's only use of dyad-ledger: reading raw bytes out of a replica's store.
// ---------------------------------------------------------------------------------------

pub struct RawLog {
    pub size: u64,
    pub leaves: Box<dyn Iterator<Item = std::result::Result<Vec<u8>, String>> + Send>,
    /// Checkpoint notes, by size.
    pub checkpoints: Vec<Vec<u8>>,
}

pub enum RawError {
    /// The store cannot be opened at all (missing, locked): exit 2.
    Unreadable(CliError),
    /// The store refuses to open because it is damaged: the audit fails, exit 1.
    Damaged(String),
}

/// Opens a replica's sled store and yields its raw leaf bytes (index order) and its
/// checkpoint notes. It checks nothing itself: the verifier decides what they are worth.
/// (Opening a store does check its own structure; a store that refuses to open is
/// reported as a failed audit.)
fn raw_log(store_dir: &Path) -> std::result::Result<RawLog, RawError> {
    use dyad_ledger::store::{Store, StoreError};
    let store = Store::open(store_dir).map_err(|e| match e {
        StoreError::Damaged(d) => RawError::Damaged(format!("the store is damaged: {d}")),
        other => RawError::Unreadable(CliError::Store(other)),
    })?;
    let size = store.size();
    let mut checkpoints = Vec::new();
    for item in store.checkpoints() {
        match item {
            Ok((_, note)) => checkpoints.push(note),
            Err(e) => {
                return Err(RawError::Damaged(format!(
                    "the store's checkpoints cannot be read: {e}"
                )))
            }
        }
    }
    let leaves = store
        .leaves(0..size)
        .map_err(|e| RawError::Damaged(format!("the store's entries cannot be read: {e}")))?;
    // The iterator keeps the store open until the audit has read every leaf.
    let leaves = TiledLeaves {
        store,
        leaves,
        tiles: dyad_verifier::tiles::TileChecker::new(),
        done: false,
    };
    Ok(RawLog {
        size,
        leaves: Box::new(leaves),
        checkpoints,
    })
}

/// A store's leaves in order, with its hash tiles checked on the way: each leaf's hash goes
/// to the verifier's `TileChecker`, which asks for each tile as soon as what it must hold
/// is known. A tile that does not match (or cannot be read) ends the stream with an error
/// naming it, which fails the audit. Costs a SHA-256 per entry and one read per 256 hashes.
struct TiledLeaves {
    store: dyad_ledger::store::Store,
    leaves: dyad_ledger::store::Leaves,
    tiles: dyad_verifier::tiles::TileChecker,
    done: bool,
}

impl TiledLeaves {
    fn check(
        &mut self,
        mut due: Option<dyad_verifier::tiles::TileId>,
    ) -> std::result::Result<(), String> {
        while let Some(tile) = due {
            let hashes = self
                .store
                .tile(tile.level, tile.index, tile.width)
                .map_err(|e| format!("the store's hash {tile} cannot be read: {e}"))?;
            due = self.tiles.check(tile, &hashes).map_err(damaged)?;
        }
        Ok(())
    }
}

fn damaged(e: dyad_verifier::tiles::TileError) -> String {
    format!("the store's hash tiles do not match its entries: {e}; the store is damaged (run `dyad verify store` on it)")
}

impl Iterator for TiledLeaves {
    type Item = std::result::Result<Vec<u8>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let step = match self.leaves.next() {
            Some(Ok((_, bytes))) => self
                .tiles
                .push_leaf(&dyad_verifier::hash::leaf_hash(&bytes))
                .map_err(damaged)
                .and_then(|due| self.check(due))
                .map(|()| Some(bytes)),
            Some(Err(e)) => Err(format!("the store's entries cannot be read: {e}")),
            None => self
                .tiles
                .partial_tiles()
                .into_iter()
                .try_for_each(|tile| self.check(Some(tile)))
                .map(|()| None),
        };
        match step {
            Ok(Some(bytes)) => Some(Ok(bytes)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_ledger::entry::{Draft, Kind as LedgerKind};
    use dyad_ledger::genesis::{cosign_proposal, Genesis, Party};
    use dyad_ledger::keys::SignerKey;

    const T0_MS: u64 = 1_767_225_600_000;

    /// A genesis and `n` entries signed by the two parties in turn, and the trust.
    fn log(n: u64) -> (Vec<Vec<u8>>, AuditTrust) {
        let alpha = SignerKey::from_seed("test.example/alpha", [1; 32]).unwrap();
        let bravo = SignerKey::from_seed("test.example/bravo", [2; 32]).unwrap();
        let origin = "test.example/dyad/audit";
        let genesis = Genesis::new(origin, Party::of(&alpha), Party::of(&bravo));
        let proposal = genesis.propose(&alpha, T0_MS).unwrap();
        let (entry, _) = cosign_proposal(&proposal.bytes, &bravo).unwrap();
        let mut leaves = vec![entry.bytes];
        for i in 1..=n {
            let key = if i % 2 == 0 { &alpha } else { &bravo };
            let draft = Draft::new(LedgerKind::Notification, "n", "text/plain", vec![b'.'; 40]);
            let signed = draft.sign(key, origin, i.div_ceil(2), T0_MS + i).unwrap();
            leaves.push(signed.bytes);
        }
        let trust =
            AuditTrust::Parties([alpha.verifier_key().clone(), bravo.verifier_key().clone()]);
        (leaves, trust)
    }

    fn run(
        leaves: &[Vec<u8>],
        read_error_at: Option<usize>,
        trust: AuditTrust,
    ) -> std::result::Result<AuditReport, AuditFailure> {
        let stream = leaves
            .iter()
            .enumerate()
            .map(move |(i, l)| match read_error_at {
                Some(at) if at == i => Err(format!("unreadable entry {i}")),
                _ => Ok(l.clone()),
            });
        audit_stream(stream, leaves.len() as u64, &[], trust)
    }

    #[test]
    fn the_parallel_audit_finds_what_the_sequential_one_finds() {
        // Several chunks, the last one partial.
        let n = 3 * CHUNK as u64 + 40;
        let (mut leaves, trust) = log(n);
        let report = run(&leaves, None, trust.clone()).unwrap();
        let sequential = dyad_verifier::audit::audit(leaves.clone(), &[], trust.clone()).unwrap();
        assert_eq!(report, sequential);
        assert_eq!(report.leaves, n + 1);

        // A read error stops the audit there, even past a bad entry in a later chunk.
        let bad = 2 * CHUNK + 7;
        let last = leaves[bad].len() - 1;
        leaves[bad][last] ^= 1;
        match run(&leaves, Some(CHUNK + 3), trust.clone()) {
            Err(AuditFailure::Source(e)) => assert!(e.contains(&format!("{}", CHUNK + 3)), "{e}"),
            other => panic!("{:?}", other.map(|r| r.leaves)),
        }
        // Otherwise the first bad entry is named, as the sequential audit names it, and
        // not a later one.
        let later = 3 * CHUNK + 1;
        let last = leaves[later].len() - 1;
        leaves[later][last] ^= 1;
        let expected = dyad_verifier::audit::audit(leaves.clone(), &[], trust.clone()).unwrap_err();
        assert!(matches!(expected, AuditError::Entry { index, .. } if index == bad as u64));
        match run(&leaves, None, trust) {
            Err(AuditFailure::Log(e)) => assert_eq!(e, expected),
            other => panic!("{:?}", other.map(|r| r.leaves)),
        }
    }
}
