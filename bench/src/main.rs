//! `dyad-bench`: measures dyad on this machine, in one run, against its targets and next
//! to the ceilings and peer libraries that give each figure its meaning.
//!
//! | module | what it measures |
//! |---|---|
//! | [`baselines`] | the ceilings (Ed25519 batch verify, raw sled batch + fsync, SHA-256 node hash) and the peers (ct-merkle, rs_merkle, dyad's own in-memory tree) |
//! | [`appends`] | durable appends of signed entries through `Channel::append_signed`, at batch sizes 1, 10, 100, 1000 |
//! | [`proofs`] | inclusion and consistency proofs from the store, store open time, disk bytes per entry |
//! | [`verify`] | the verifier on one core: inclusion, consistency, co-signed checkpoint, receipt |
//! | [`audit`] | `dyad audit` of the whole log, in a child process (entries/s, peak RSS) |
//! | [`audit_url`] | the same audit over HTTP (`dyad audit --url`) of the log exported as static tiles |
//! | [`nodes`] | two live nodes on loopback: committed entries/s at saturation, submit-to-committed latency |
//! | [`publish`] | publishing the log to object storage: entries/s to `file://` and to S3 (`DYAD_BENCH_S3`), the lag behind the committed size under load |
//!
//! [`fixture`] makes the channel and its signed entries; [`report`] prints the table or the
//! JSON object; [`plot`] draws the SVG plots. Everything is written under one work
//! directory, a temporary one unless `--dir` is given.

mod appends;
mod audit;
mod audit_url;
mod baselines;
mod fixture;
mod nodes;
mod plot;
mod proofs;
mod publish;
mod report;
mod verify;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const EXAMPLES: &str = "\
Examples:
  dyad-bench                                  # quick: under a minute
  dyad-bench --scale full --json > bench.json # ~10 minutes: 1M-entry log, 10M-entry store
  dyad-bench --scale smoke                    # a few seconds, checks that every stage runs
  dyad-bench --plots docs/bench               # also draw the SVG plots there
  dyad-bench --dir /var/tmp/dyad-bench        # keep the stores it built
  dyad-bench --from bench.json --plots plots/ # table and plots of a saved run

From a checkout, build the dyad binary it audits with and run it:
  cargo build --release -p dyad-cli && cargo run --release -p dyad-bench -- --scale smoke

The audit stage runs `dyad audit` as a child process: the dyad binary beside this one
(Cargo builds both into target/<profile>/), or --dyad PATH.

The figures are noisy on a shared machine: compare the ratios to the ceilings measured
in the same run, and look at the load average printed with them. BENCHMARKS.md says what
every figure means and how it is measured.";

#[derive(Parser, Debug)]
#[command(
    name = "dyad-bench",
    version,
    about = "Measure dyad on this machine: appends, two live nodes, proofs, verification, \
audit, store, against the ceilings and peer libraries measured in the same run",
    after_help = EXAMPLES
)]
pub struct BenchArgs {
    /// How big: smoke (seconds, for CI), quick (under a minute), full (~10 minutes).
    #[arg(long, value_enum, default_value_t = Scale::Quick)]
    pub scale: Scale,
    /// Build the stores in DIR (new or empty) and keep them, instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Draw the plots (SVG) into DIR: throughput vs batch size, latency vs offered load.
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
    /// Measure nothing: print the table (or JSON) and draw the plots of a run saved
    /// with --json. (--dyad, or $DYAD_BIN, is then unused; an environment that sets
    /// DYAD_BIN must not make this fail, so the two do not conflict.)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["dir", "scale"])]
    pub from: Option<PathBuf>,
    /// The dyad binary whose `dyad audit` is measured (default: the `dyad` beside this
    /// executable).
    #[arg(long, env = "DYAD_BIN", value_name = "PATH")]
    pub dyad: Option<PathBuf>,
    /// Print the figures as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scale {
    /// A few seconds: every stage runs on tiny sizes (a structure check, not a measurement).
    Smoke,
    /// Under a minute on a 2-core machine.
    Quick,
    /// About ten minutes: a 1M-entry log, and a 10M-entry store for proofs and open.
    Full,
}

impl Scale {
    pub fn name(self) -> &'static str {
        match self {
            Scale::Smoke => "smoke",
            Scale::Quick => "quick",
            Scale::Full => "full",
        }
    }

    /// The sizes and durations of every stage at this scale.
    pub fn sizes(self) -> Sizes {
        match self {
            Scale::Smoke => Sizes {
                appends: [(1, 40), (10, 200), (100, 600), (1000, 2000)],
                log_entries: 4000,
                checkpoint_every: 1000,
                big_store: None,
                proofs: 2000,
                ops_time: Duration::from_millis(100),
                sig_batch: 64,
                sled_entries: [40, 200, 600, 2000],
                hashes: 100_000,
                node_queued: 600,
                node_clients: 8,
                node_loads: vec![250, 1000],
                node_load_time: Duration::from_millis(300),
            },
            Scale::Quick => Sizes {
                appends: [(1, 500), (10, 3000), (100, 10_000), (1000, 80_000)],
                log_entries: 100_000,
                checkpoint_every: 10_000,
                big_store: None,
                proofs: 50_000,
                ops_time: Duration::from_millis(700),
                sig_batch: 64,
                sled_entries: [500, 3000, 10_000, 100_000],
                hashes: 2_000_000,
                node_queued: 20_000,
                node_clients: 32,
                node_loads: vec![250, 500, 1000, 2000],
                node_load_time: Duration::from_secs(2),
            },
            Scale::Full => Sizes {
                appends: [(1, 3000), (10, 20_000), (100, 100_000), (1000, 500_000)],
                log_entries: 1_000_000,
                checkpoint_every: 10_000,
                big_store: Some(10_000_000),
                proofs: 200_000,
                ops_time: Duration::from_secs(2),
                sig_batch: 64,
                sled_entries: [3000, 20_000, 100_000, 500_000],
                hashes: 10_000_000,
                node_queued: 100_000,
                node_clients: 64,
                node_loads: vec![250, 500, 1000, 2000, 4000],
                node_load_time: Duration::from_secs(8),
            },
        }
    }
}

/// What one scale measures, and for how long.
#[derive(Clone, Debug)]
pub struct Sizes {
    /// (batch size, entries appended at that batch size), in this order.
    pub appends: [(usize, u64); 4],
    /// Entries in the channel log after the appends (the batch-1000 stage fills it up to
    /// this): the log the proofs, receipts and audit use.
    pub log_entries: u64,
    /// A checkpoint is signed and co-signed after every this many entries.
    pub checkpoint_every: u64,
    /// The size of the extra store built with raw store batches for proofs, open time and
    /// disk use at 10M entries (full scale only).
    pub big_store: Option<u64>,
    /// Proofs built per kind (inclusion, consistency) from the store and by each peer.
    pub proofs: usize,
    /// How long each verification loop and hash loop runs.
    pub ops_time: Duration,
    /// Signatures per Ed25519 verify_batch call.
    pub sig_batch: usize,
    /// Values written by the raw sled ceiling at batch sizes 1, 10, 100, 1000.
    pub sled_entries: [u64; 4],
    /// Node hashes timed for the SHA-256 ceiling.
    pub hashes: u64,
    /// Saturation: the co-signer's messages queued in its replica before its node starts.
    pub node_queued: u64,
    /// Saturation: concurrent admin clients posting the sequencer's own messages until the
    /// co-signer's queue has drained.
    pub node_clients: usize,
    /// Offered loads (entries/s) for the latency figures.
    pub node_loads: Vec<u32>,
    pub node_load_time: Duration,
}

/// Why a benchmark stage could not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("the channel: {0}")]
    Channel(#[from] dyad_ledger::channel::ChannelError),
    #[error("the store: {0}")]
    Store(#[from] dyad_ledger::store::StoreError),
    #[error("the genesis: {0}")]
    Genesis(#[from] dyad_ledger::genesis::GenesisError),
    #[error("a key: {0}")]
    Key(#[from] dyad_ledger::keys::KeyError),
    #[error("an entry: {0}")]
    Entry(#[from] dyad_ledger::entry::EntryError),
    #[error("the node: {0}")]
    Node(#[from] dyad_node::NodeError),
    #[error("a node client: {0}")]
    Client(#[from] dyad_node::ClientError),
    #[error("raw sled ceiling: {0}")]
    Sled(#[from] sled::Error),
    /// Something the bench produced did not verify: the figures would be meaningless.
    #[error("{what} did not verify: {reason}")]
    NotVerified { what: &'static str, reason: String },
    #[error("a {0} thread stopped early")]
    Thread(&'static str),
    #[error("the nodes: {0}")]
    Nodes(String),
    #[error("publishing: {0}")]
    Publish(String),
    #[error("the audit child process: {0}")]
    AuditChild(String),
    #[error("drawing {}: {reason}", path.display())]
    Plot { path: PathBuf, reason: String },
    /// The command line asks for something that cannot be done as asked.
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    #[error("cannot write to standard output: {0}")]
    Output(std::io::Error),
}

impl BenchError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
        let what = what.into();
        move |source| BenchError::Io { what, source }
    }

    pub fn not_verified(what: &'static str, reason: impl std::fmt::Display) -> BenchError {
        BenchError::NotVerified {
            what,
            reason: reason.to_string(),
        }
    }

    pub fn usage(message: impl Into<String>, hint: Option<&str>) -> BenchError {
        BenchError::Usage {
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }
}

pub type BenchResult<T> = std::result::Result<T, BenchError>;

/// Progress on stderr: bars on a terminal, one line per stage otherwise.
pub struct Progress {
    tty: bool,
    started: Instant,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            started: Instant::now(),
        }
    }

    /// A bar for a stage of `len` steps.
    pub fn bar(&self, len: u64, message: &str) -> ProgressBar {
        if !self.tty {
            eprintln!(
                "dyad-bench [{:>5.1}s] {message}",
                self.started.elapsed().as_secs_f64()
            );
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{msg:<44} [{bar:30}] {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(message.to_owned());
        bar
    }

    /// A stage without steps to count.
    pub fn step(&self, message: &str) -> ProgressBar {
        if !self.tty {
            return self.bar(0, message);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }
}

/// The work directory: a temporary one (removed on drop), or the user's.
enum Work {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl Work {
    fn path(&self) -> &Path {
        match self {
            Work::Temp(t) => t.path(),
            Work::Kept(p) => p,
        }
    }
}

fn work_dir(dir: Option<&Path>) -> BenchResult<Work> {
    let Some(dir) = dir else {
        let t = tempfile::Builder::new()
            .prefix("dyad-bench-")
            .tempdir()
            .map_err(BenchError::io("create a temporary directory"))?;
        return Ok(Work::Temp(t));
    };
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir)
            .map_err(|e| BenchError::usage(format!("cannot read {}: {e}", dir.display()), None))?;
        if entries.next().is_some() {
            return Err(BenchError::usage(
                format!("{} is not empty", dir.display()),
                Some("give --dir a new or empty directory: the bench builds its stores there"),
            ));
        }
    }
    std::fs::create_dir_all(dir).map_err(BenchError::io(format!("create {}", dir.display())))?;
    Ok(Work::Kept(dir.to_owned()))
}

/// The dyad binary whose `dyad audit` the audit stage runs: --dyad (or $DYAD_BIN), or the
/// `dyad` beside this executable.
fn dyad_bin(given: Option<&Path>) -> BenchResult<PathBuf> {
    let bin = match given {
        Some(path) => path.to_owned(),
        None => std::env::current_exe()
            .map_err(BenchError::io("find this executable"))?
            .with_file_name(format!("dyad{}", std::env::consts::EXE_SUFFIX)),
    };
    if !bin.is_file() {
        return Err(BenchError::usage(
            format!("no dyad binary at {}", bin.display()),
            Some("build it beside this one (`cargo build --release -p dyad-cli`), or give its path with --dyad PATH"),
        ));
    }
    Ok(bin)
}

/// Writes to standard output. A reader that went away is not an error worth a message:
/// main exits quietly on `BrokenPipe`.
fn out(text: &str) -> BenchResult<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(BenchError::Output)
}

/// Prints the figures (and draws the plots, if asked).
fn show(args: &BenchArgs, figures: &report::Figures) -> BenchResult<()> {
    if let Some(dir) = &args.plots {
        for path in plot::draw(dir, figures)? {
            eprintln!("dyad-bench: wrote {}", path.display());
        }
    }
    if args.json {
        out(&format!("{}\n", figures.to_json()))
    } else {
        out(&report::table(figures))
    }
}

fn run(args: &BenchArgs) -> BenchResult<()> {
    if let Some(path) = &args.from {
        let bytes = std::fs::read(path)
            .map_err(|e| BenchError::usage(format!("cannot read {}: {e}", path.display()), None))?;
        let figures = serde_json::from_slice(&bytes)
            .ok()
            .and_then(report::Figures::from_json)
            .ok_or_else(|| {
                BenchError::usage(
                    format!(
                        "{}: not the JSON object of `dyad-bench --json`",
                        path.display()
                    ),
                    None,
                )
            })?;
        return show(args, &figures);
    }
    let dyad = dyad_bin(args.dyad.as_deref())?;
    let sizes = args.scale.sizes();
    let work = work_dir(args.dir.as_deref())?;
    let progress = Progress::new();
    let mut figures = report::Figures::new();
    report::machine(&mut figures, args.scale);
    let started = Instant::now();

    let parties = fixture::Parties::generate()?;
    let entry_len = fixture::signed_messages(&parties, 0, 1, fixture::now_ms())?
        .first()
        .map_or(0, Vec::len);
    baselines::ceilings(&sizes, entry_len, work.path(), &progress, &mut figures)?;
    let log = appends::run(&sizes, work.path(), &parties, &progress, &mut figures)?;
    // The headline proof, open and disk figures are those of the biggest store; at full
    // scale the log's own are kept too, under `log_`.
    let log_prefix = if sizes.big_store.is_some() {
        "log_"
    } else {
        ""
    };
    proofs::run(&log.store_dir, log_prefix, &sizes, &progress, &mut figures)?;
    verify::run(&log, &parties, &sizes, &progress, &mut figures)?;
    audit::run(&dyad, &log, &parties, work.path(), &progress, &mut figures)?;
    audit_url::run(&dyad, &log, &parties, work.path(), &progress, &mut figures)?;
    let entries = match sizes.big_store {
        Some(n) => {
            let dir = proofs::build_big_store(work.path(), &log, n, &progress)?;
            proofs::run(&dir, "", &sizes, &progress, &mut figures)?;
            n
        }
        None => log.entries,
    };
    figures.set("entries", entries as f64);
    baselines::peers(entries, &sizes, &progress, &mut figures)?;
    nodes::run(&sizes, work.path(), &parties, &progress, &mut figures)?;
    publish::run(&log, &sizes, work.path(), &parties, &progress, &mut figures)?;

    figures.set("bench_seconds", started.elapsed().as_secs_f64());
    report::finish(&mut figures);
    show(args, &figures)?;
    if let Work::Kept(dir) = &work {
        eprintln!("dyad-bench: the stores are kept in {}", dir.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = BenchArgs::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(BenchError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dyad-bench: error: {e}");
            // Bad usage or unreadable input exits 2 (as clap does); a stage that could not
            // run to its end, 1.
            let code = match e {
                BenchError::Usage { hint, .. } => {
                    if let Some(hint) = hint {
                        eprintln!("  hint: {hint}");
                    }
                    2
                }
                _ => 1,
            };
            ExitCode::from(code)
        }
    }
}
