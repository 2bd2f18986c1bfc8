//! `dyad`: the command line of the dyad exchange ledger, for the two parties' operators
//! and for auditors.
//!
//! One module per command group; this file holds the clap definitions and maps every
//! error to a message and an exit code (0 ok, 1 a check did not hold, 2 bad usage or
//! unreadable input). Nothing here panics on bad input.
#![forbid(unsafe_code)]

mod attachment_files;
mod auditor_page;
mod bounded;
mod bundle;
mod checkpoint_note;
mod commands;
mod data;
mod entry_view;
mod error;
mod joint;
mod node_log;
mod node_snapshot;
mod output;
mod policy_arg;
mod replica_reads;
mod running_node;
mod trust;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::error::{CliError, Result};

const MAIN_EXAMPLES: &str = "\
Examples:
  dyad demo                                   # the whole exchange in one command, in a temp dir

  # each party, once:
  dyad keygen alpha --key-name cert.alpha.example --out keys/

  # the channel (offline, by file):
  dyad --data alpha init --origin hotline.example/ab --role sequencer \\
       --key keys/alpha.key --peer keys/bravo.pub
  dyad --data bravo init --origin hotline.example/ab --role cosigner \\
       --key keys/bravo.key --peer keys/alpha.pub --proposal alpha/genesis.proposal
  dyad --data alpha sync import bravo/genesis.signed

  # messages, and moving them across the air gap:
  dyad --data alpha append --kind inquiry --subject 'Scanning from AS64500' report.txt
  dyad --data alpha sync export --out to-bravo.dyad-sync
  dyad --data bravo sync import to-bravo.dyad-sync

  # auditors need only the two .pub files:
  dyad verify receipt receipt-1.tlog-proof --trust keys/alpha.pub --trust keys/bravo.pub
  dyad audit --bundle full-log.dyad-sync --trust keys/alpha.pub --trust keys/bravo.pub

  # or live: each party runs its node, and messages go through it:
  dyad --data alpha serve --listen 0.0.0.0:7380 --peer https://bravo.example:7381
  dyad --data bravo serve --listen 0.0.0.0:7381 --peer https://alpha.example:7380
  dyad --data bravo append --kind response --reply-to 1 --subject 'Re: scanning' reply.txt
  dyad --data alpha access grant --name auditor --out auditor.cred   # a read credential
  dyad audit --url https://alpha.example:7380 --access auditor.cred \
       --trust keys/alpha.pub --trust keys/bravo.pub

Exit codes: 0 ok, 1 a verification failed or a check did not hold,
            2 bad usage or unreadable input.
Data directory: --data DIR, or $DYAD_DATA, or ./dyad-data. It holds dyad.json (role, origin,
the path of the party's private key file, the peer's public key), ledger/ (the replica),
attachments/, the genesis files while the channel is being created, and admin.sock,
admin.token and node.url while a node (`dyad serve`) runs. It must be the owner's only
(chmod 700 DIR, its files 600); commands refuse it otherwise. The private key
stays where the operator keeps it; it is never copied, printed or logged.";

#[derive(Parser, Debug)]
#[command(
    name = "dyad",
    version,
    about = "An append-only, verifiable exchange ledger between two parties",
    long_about = "dyad keeps an undeniable record of what two parties said to each other: every message \
is signed by its sender and appended to a Merkle log whose checkpoints both parties sign. \
A message is committed once a checkpoint containing it is co-signed; before that it is pending. \
Auditors check everything with the two parties' public keys alone (`dyad verify`, `dyad audit`).",
    after_help = MAIN_EXAMPLES
)]
pub struct Cli {
    /// The party's data directory (configuration, replica, attachments).
    #[arg(long, global = true, env = "DYAD_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a party key pair: NAME.key (private, mode 0600) and NAME.pub.
    #[command(after_help = commands::keys::EXAMPLES)]
    Keygen(commands::keys::KeygenArgs),
    /// Create a channel: propose the genesis (sequencer), co-sign it (co-signer), or import it.
    #[command(after_help = commands::init::EXAMPLES)]
    Init(commands::init::InitArgs),
    /// Sign a message and append it (sequencer) or queue it for submission (co-signer).
    #[command(after_help = commands::append::EXAMPLES)]
    Append(commands::append::AppendArgs),
    /// Replace this party's key: a key change signed by the old key, proved by the new one.
    #[command(name = "rotate-key", after_help = commands::rotate_key::EXAMPLES)]
    RotateKey(commands::rotate_key::RotateKeyArgs),
    /// Change the channel's witnesses: approve the other party's change, or make one approved.
    #[command(name = "witness-change", subcommand)]
    WitnessChange(commands::witness_change::WitnessChangeCommand),
    /// Endorse the other party's record: sign that this party agrees with it (spec 3.6).
    #[command(after_help = commands::endorse::ENDORSE_EXAMPLES)]
    Endorse(commands::endorse::EndorseArgs),
    /// List entries, each marked committed or pending (and the co-signer's queued messages).
    #[command(after_help = commands::log::LOG_EXAMPLES)]
    Log(commands::log::LogArgs),
    /// Show one entry; --raw writes its exact bytes (the Merkle leaf data).
    #[command(after_help = commands::show::SHOW_EXAMPLES)]
    Show(commands::show::ShowArgs),
    /// Print the latest (or a given size's) co-signed checkpoint as a signed note.
    #[command(after_help = commands::checkpoint::CHECKPOINT_EXAMPLES)]
    Checkpoint(commands::checkpoint::CheckpointArgs),
    /// Show the channel: role, parties, sizes, what waits to be synced.
    Status,
    /// Print inclusion and consistency proofs (RFC 9162).
    #[command(subcommand)]
    Prove(commands::prove::ProveCommand),
    /// Copy an attachment the replica holds to a file, checked against its SHA-256.
    #[command(subcommand)]
    Attachment(commands::attachment::AttachmentCommand),
    /// Write a receipt for one committed message (a C2SP tlog-proof file), with its attachments.
    #[command(after_help = commands::receipt::RECEIPT_EXAMPLES)]
    Receipt(commands::receipt::ReceiptArgs),
    /// Move entries, submissions and co-signatures between the parties as files.
    #[command(subcommand)]
    Sync(commands::sync::SyncCommand),
    /// Check proofs, checkpoints, receipts and evidence with the independent verifier only.
    #[command(subcommand)]
    Verify(commands::verify::VerifyCommand),
    /// The channel's trust policy (C2SP tlog-policy) for auditors.
    #[command(subcommand)]
    Policy(commands::policy::PolicyCommand),
    /// Write evidence of equivocation from two contradicting checkpoints (spec/evidence.md).
    #[command(subcommand)]
    Evidence(commands::evidence::EvidenceCommand),
    /// Audit a whole log (a data directory or a full sync bundle) with the verifier only.
    #[command(after_help = commands::audit::EXAMPLES)]
    Audit(commands::audit::AuditArgs),
    /// Copy the data directory, consistent and verified, even while the node runs.
    #[command(after_help = commands::backup::EXAMPLES)]
    Backup(commands::backup::BackupArgs),
    /// Put a backup in place of the data directory (with the node stopped).
    #[command(after_help = commands::restore::EXAMPLES)]
    Restore(commands::restore::RestoreArgs),
    /// Run this party's node: the tiles API, co-signing and submissions over HTTP.
    #[command(after_help = commands::serve::SERVE_EXAMPLES)]
    Serve(commands::serve::ServeArgs),
    /// Show the node's TLS identity: certificate fingerprint, pin, expiry.
    #[command(subcommand, after_help = commands::tls::EXAMPLES)]
    Tls(commands::tls::TlsCommand),
    /// Grant, list and revoke read credentials for readers who are not the peer.
    #[command(subcommand, after_help = commands::access::EXAMPLES)]
    Access(commands::access::AccessCommand),
    /// Export the log as static files (C2SP tlog-tiles) for any web server.
    #[command(subcommand)]
    Export(commands::export::ExportCommand),
    /// The peer's threat indicators as one STIX 2.1 bundle.
    #[command(subcommand, after_help = commands::indicators::EXAMPLES)]
    Indicators(commands::indicators::IndicatorsCommand),
    /// Run a C2SP tlog-witness that co-signs checkpoints of any log (a third party's).
    #[command(subcommand)]
    Witness(commands::witness::WitnessCommand),
    /// Play a whole two-party exchange in a directory, and check it.
    #[command(after_help = commands::demo::EXAMPLES)]
    Demo(commands::demo::DemoArgs),
    /// Print shell completions.
    #[command(
        after_help = "Examples:\n  dyad completions bash > /etc/bash_completion.d/dyad\n  dyad completions zsh > ~/.zfunc/_dyad\n  dyad completions fish > ~/.config/fish/completions/dyad.fish"
    )]
    Completions(CompletionsArgs),
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The role a party takes in a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Assigns indexes, appends, signs checkpoints as the log.
    Sequencer,
    /// Replicates, checks everything, co-signs checkpoints.
    Cosigner,
}

/// Global options every command sees.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The data directory (resolved: --data, $DYAD_DATA, or ./dyad-data).
    pub data: PathBuf,
    /// Whether --data (or $DYAD_DATA) was given, as opposed to the default.
    pub data_given: bool,
    pub json: bool,
}

impl Ctx {
    pub fn data_dir(&self) -> data::DataDir {
        data::DataDir::new(&self.data)
    }
}

fn run(cli: Cli, data_given: bool) -> Result<ExitCode> {
    let ctx = Ctx {
        data: cli
            .data
            .clone()
            .unwrap_or_else(|| PathBuf::from("dyad-data")),
        data_given,
        json: cli.json,
    };
    match cli.command {
        Command::Keygen(args) => commands::keys::run(&ctx, &args),
        Command::Init(args) => commands::init::run(&ctx, &args),
        Command::Append(args) => commands::append::run(&ctx, &args),
        Command::RotateKey(args) => commands::rotate_key::run(&ctx, &args),
        Command::Endorse(args) => commands::endorse::run(&ctx, &args),
        Command::Log(args) => commands::log::log(&ctx, &args),
        Command::Show(args) => commands::show::show(&ctx, &args),
        Command::Checkpoint(args) => commands::checkpoint::checkpoint(&ctx, &args),
        Command::Status => commands::status::status(&ctx),
        Command::Prove(command) => commands::prove::run(&ctx, &command),
        Command::Receipt(args) => commands::receipt::receipt(&ctx, &args),
        Command::Attachment(command) => commands::attachment::run(&ctx, &command),
        Command::Sync(command) => commands::sync::run(&ctx, &command),
        Command::Verify(command) => commands::verify::run(&ctx, &command),
        Command::Audit(args) => commands::audit::run(&ctx, &args),
        Command::Policy(command) => commands::policy::run(&ctx, &command),
        Command::Evidence(command) => commands::evidence::run(&ctx, &command),
        Command::Backup(args) => commands::backup::run(&ctx, &args).map(|()| ExitCode::SUCCESS),
        Command::Restore(args) => commands::restore::run(&ctx, &args).map(|()| ExitCode::SUCCESS),
        Command::Serve(args) => commands::serve::serve(&ctx, &args),
        Command::Tls(command) => commands::tls::run(&ctx, &command),
        Command::Access(command) => commands::access::run(&ctx, &command),
        Command::Export(command) => commands::export::run_export(&ctx, &command),
        Command::Indicators(command) => commands::indicators::run(&ctx, &command),
        Command::Demo(args) => commands::demo::run(&ctx, &args),
        Command::Witness(command) => commands::witness::run(&ctx, &command),
        Command::WitnessChange(command) => commands::witness_change::run(&ctx, &command),
        Command::Completions(args) => {
            let mut command = Cli::command();
            let mut buf = Vec::new();
            clap_complete::generate(args.shell, &mut command, "dyad", &mut buf);
            output::out_bytes(&buf)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("dyad: internal error{location}; please report it (the store changes only by atomic batches)");
    }));
    // Usage errors are found before `--json` is parsed, so it is looked for in the
    // arguments themselves (before any `--`, after which everything is an operand).
    let json_asked = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(e) => usage_error(&e, json_asked),
    };
    let data_given = matches!(
        matches.value_source("data"),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    );
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => usage_error(&e, json_asked),
    };
    let json = cli.json;
    match run(cli, data_given) {
        Ok(code) => code,
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) if json => {
            // Standard output may be gone; the exit code still tells.
            let _ = output::json(&e.to_json());
            ExitCode::from(e.exit_code())
        }
        Err(e) => {
            eprintln!("dyad: error: {e}");
            if let Some(hint) = e.hint() {
                eprintln!("  hint: {hint}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// Ends the process on what clap found: help and version as clap prints them, a usage
/// error as clap prints it or, with `--json`, as the JSON error object.
fn usage_error(e: &clap::Error, json: bool) -> ! {
    if json && e.use_stderr() {
        let _ = output::json(&error::clap_error_json(e));
        std::process::exit(e.exit_code());
    }
    e.exit()
}
