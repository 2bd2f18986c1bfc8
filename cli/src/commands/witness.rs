//! `dyad witness serve`: a standalone C2SP tlog-witness for any log, run by a third party
//! without a channel of its own (spec/node.md, "Witnesses").

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::data::read_signer_key;
use crate::error::{CliError, Result};
use crate::output::outln;
use crate::Ctx;

pub const EXAMPLES: &str = "\
  # the logs to co-sign for, as tlog-policy `log` lines (the key's name is the origin):
  #   log hotline.example/ab+1a2b3c4d+AQ...
  dyad witness serve --key witness.key --logs logs.txt --data witness-data --listen 0.0.0.0:7380";

#[derive(Subcommand, Debug)]
pub enum WitnessCommand {
    /// Co-sign checkpoints of the logs in --logs (C2SP tlog-witness add-checkpoint).
    #[command(after_help = EXAMPLES)]
    Serve(WitnessServeArgs),
}

#[derive(Args, Debug)]
pub struct WitnessServeArgs {
    /// The witness's private key (NAME.key, as `dyad keygen` writes); its name is the
    /// witness's name.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Where to listen (plain HTTP; put a TLS-terminating proxy in front for the public).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7380")]
    pub listen: SocketAddr,
    /// The logs to co-sign for: a tlog-policy-style file of `log <vkey> [url]` lines.
    #[arg(long, value_name = "FILE")]
    pub logs: PathBuf,
    /// The witness's own durable state (the latest checkpoint co-signed per log).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Stop, as on SIGTERM, when standard input reaches its end: a parent that starts the
    /// witness with a pipe on its stdin (as `dyad demo --witnesses N` does) takes it down
    /// with it however the parent ends, SIGKILL included.
    #[arg(long, hide = true)]
    pub stop_when_stdin_closes: bool,
}

pub fn run(ctx: &Ctx, command: &WitnessCommand) -> Result<ExitCode> {
    match command {
        WitnessCommand::Serve(args) => serve(ctx, args),
    }
}

fn serve(ctx: &Ctx, args: &WitnessServeArgs) -> Result<ExitCode> {
    use dyad_node::witness_server::{http, trusted_logs};
    let key = read_signer_key(&args.key)?;
    let text = crate::bounded::read_bounded(&args.logs, 1 << 20)?;
    let text = String::from_utf8(text).map_err(|_| CliError::malformed(&args.logs, "not UTF-8"))?;
    let logs = trusted_logs(&text).map_err(|e| CliError::malformed(&args.logs, e.to_string()))?;
    dyad_ledger::private_dir::create_dir(&args.data)
        .map_err(|e| CliError::usage(format!("--data {}: {e}", args.data.display())))?;
    let rt = dyad_node::runtime::workers("dyad-witness", None).map_err(CliError::Client)?;
    let config = http::WitnessConfig {
        key,
        logs,
        data_dir: args.data.clone(),
        listen: args.listen,
    };
    let origins: Vec<String> = config.logs.iter().map(|l| l.origin.clone()).collect();
    let stdin_closed = args.stop_when_stdin_closes.then(stdin_closed);
    rt.block_on(async {
        let stop = super::serve::stop_signal();
        let witness = http::start(config)
            .await
            .map_err(|e| CliError::usage(e.to_string()))?;
        if ctx.json {
            crate::output::json(&serde_json::json!({
                "url": witness.url(),
                "verifier_key": witness.verifier_key(),
                "logs": origins,
            }))?;
        } else {
            outln(&format!("witness listening at {}", witness.url()))?;
            outln(&format!("verifier key {}", witness.verifier_key()))?;
            for o in &origins {
                outln(&format!("co-signs for {o}"))?;
            }
        }
        tokio::select! {
            () = stop => {}
            () = async {
                match stdin_closed {
                    Some(closed) => {
                        let _ = closed.await;
                    }
                    None => std::future::pending().await,
                }
            } => {}
        }
        witness.shutdown().await;
        Ok::<_, CliError>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves once standard input reaches its end (or fails): read on a thread of its own,
/// since a read of stdin blocks.
fn stdin_closed() -> tokio::sync::oneshot::Receiver<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = tx.send(());
    });
    rx
}
