//! The live node from the command line: `dyad serve` runs `dyad_node` for a data
//! directory, `dyad export tiles` writes the log as static C2SP tlog-tiles files, and
//! [`probe`] lets the other commands find a node running on their data directory (whose
//! store it holds locked) and talk to it instead of the store.
//!
//! While it runs, `dyad serve` leaves in the data directory `admin.sock` and `admin.token`
//! (written by the node: its admin API on a Unix socket, which only the owner of the 0700
//! directory can create or reach, and the bearer token it requires, new at every start)
//! and `node.url` (written here, 0600: its public URL, the tiles API).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use dyad_ledger::store::{Store, StoreError};
use dyad_node::{AdminClient, ExportOptions, NodeConfig};
use serde_json::{json as j, Value};

use crate::data::DataDir;
use crate::error::{CliError, Result};
use crate::output::{json, outln, progress};
use crate::Ctx;

/// The running node's public URL, written by `dyad serve` while it runs.
pub const NODE_URL_FILE: &str = "node.url";

pub const SERVE_EXAMPLES: &str = "\
Examples:
  dyad --data alpha serve --listen 0.0.0.0:7380 --peer https://dyad.bravo.example
  DYAD_DATA=bravo dyad serve --listen 127.0.0.1:7381 --peer http://127.0.0.1:7380
  RUST_LOG=dyad_ledger=debug dyad serve --listen 127.0.0.1:0     # peer URL from dyad.json

Runs the party's node until Ctrl-C or SIGTERM, then stops gracefully (the batch being
collected is written and answered, the store is closed). The public listener serves the
C2SP tlog-tiles read API (/checkpoint, /tile/...), /metrics, and POST /add-checkpoint
(co-signer) or POST /submit (sequencer). The admin API (for `dyad append` on this machine)
listens on the Unix socket DIR/admin.sock (and also on --admin-listen ADDR if given, for
other tools; keep it on loopback) and needs the token in DIR/admin.token, new at every
start. DIR must be 0700 and its files 0600.
--peer URL is saved in DIR/dyad.json and used when --peer is omitted next time.
The first line on standard output says where the node listens (JSON with --json);
logs go to standard error, filtered by RUST_LOG (default: info).
While the node runs, `dyad append`, `dyad log` and `dyad export tiles` go through it.";

pub const EXPORT_EXAMPLES: &str = "\
Examples:
  dyad export tiles --out /var/www/dyad-log
  dyad export tiles --out /var/www/dyad-log --reuse-full-tiles    # only what is new
  dyad audit --url https://log.example/dyad-log --trust alpha.pub --trust bravo.pub

Writes DIR/checkpoint, DIR/tile/<L>/<N>[.p/<W>] and DIR/tile/entries/<N>[.p/<W>] exactly as
C2SP tlog-tiles lays them out, for the latest co-signed checkpoint: any web server or object
store can then serve the log to readers. Each file is written aside and renamed, the
checkpoint last. While a node runs on the data directory, the files are copied from its
read API instead (audit the copy before trusting it).";

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The public listener's address (read API, co-signing, submissions, metrics).
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The peer node's base URL (saved in dyad.json; default: the saved one).
    #[arg(long, value_name = "URL")]
    pub peer: Option<String>,
    /// Also serve the admin API on this TCP address (keep it on loopback); the CLI itself
    /// uses the Unix socket DIR/admin.sock only.
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
    /// Group commit: most entries in one batch.
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub max_batch: usize,
    /// Group commit: longest wait for more entries after the first of a batch.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_delay_ms: u64,
}

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// Write the log as static C2SP tlog-tiles files (checkpoint, hash tiles, entry bundles).
    #[command(after_help = EXPORT_EXAMPLES)]
    Tiles(ExportTilesArgs),
}

#[derive(Args, Debug)]
pub struct ExportTilesArgs {
    /// The directory to write (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Keep full tiles already in DIR (written by an earlier export of this log).
    #[arg(long)]
    pub reuse_full_tiles: bool,
}

/// A small runtime for the CLI's own requests to a node.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    dyad_node::runtime::client().map_err(CliError::Client)
}

/// A node found running on a data directory.
pub struct Running {
    /// Its admin socket, `DIR/admin.sock`.
    pub admin_socket: PathBuf,
    /// A client for its admin API over that socket.
    pub admin: AdminClient,
    /// Its public URL (tiles API), if it was started by `dyad serve`.
    pub public_url: Option<String>,
    /// `GET /admin/status`.
    pub status: Value,
}

/// What [`probe`] found on a data directory.
pub enum Probe {
    /// No node has announced itself there.
    Absent,
    /// A node answers.
    Running(Box<Running>),
    /// `admin.sock` is there but nothing answers on it (a node stopped uncleanly, or hung).
    Silent {
        admin_socket: PathBuf,
        error: String,
    },
}

/// Looks for a node running on `data` (its `admin.sock` and `admin.token`) and asks it for
/// its status. The data directory must be private first (0700, files 0600): then only its
/// owner can have made the socket, so the token goes to the owner's own node. An insecure
/// directory is an error, not a missing node.
pub fn probe(data: &DataDir) -> Result<Probe> {
    let admin_socket = dyad_node::admin_socket_path(&data.dir);
    let admin = match AdminClient::for_data_dir(&data.dir) {
        Ok(Some(admin)) => admin,
        Ok(None) => return Ok(Probe::Absent),
        Err(e @ dyad_node::NodeError::PrivateDir(_)) => return Err(e.into()),
        Err(e) => {
            return Ok(Probe::Silent {
                admin_socket,
                error: e.to_string(),
            })
        }
    };
    let asked = (|| -> std::result::Result<Value, String> {
        let rt = runtime().map_err(|e| e.to_string())?;
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), admin.status())
                .await
                .map_err(|_| "no answer within 5 s".to_owned())?
                .map_err(|e| e.to_string())
        })
    })();
    Ok(match asked {
        Ok(status) => Probe::Running(Box::new(Running {
            public_url: read_public_url(&data.dir),
            admin_socket,
            admin,
            status,
        })),
        Err(error) => Probe::Silent {
            admin_socket,
            error,
        },
    })
}

fn read_public_url(dir: &Path) -> Option<String> {
    let text =
        crate::bounded::read_bounded_text(&dir.join(NODE_URL_FILE), crate::bounded::MAX_DATA_FILE)
            .ok()?;
    Some(text.trim().to_owned()).filter(|s| !s.is_empty())
}

/// A public URL others can reach for a bound address: `0.0.0.0` and `::` become loopback.
fn public_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => {
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        }
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => {
            std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        }
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

pub fn check_url(url: &str, what: &str) -> Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    if !(trimmed.starts_with("http://") || trimmed.starts_with("https://"))
        || trimmed.len() <= "https://".len()
        || trimmed.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(CliError::usage_hint(
            format!("{what} {url:?} is not a URL"),
            "give a base URL such as http://127.0.0.1:7380 or https://dyad.example/alpha",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Logs to standard error, filtered by RUST_LOG (default `info`); colours only on a terminal.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!(
                "dyad: warning: RUST_LOG={spec:?} is not a valid filter ({e}); logging at info"
            );
            EnvFilter::new("info")
        }),
        _ => EnvFilter::new("info"),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Resolves on Ctrl-C or (Unix) SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub fn serve(ctx: &Ctx, args: &ServeArgs) -> Result<ExitCode> {
    let data = ctx.data_dir();
    let mut config = data.read_config()?;
    if !data.ledger_exists()? {
        return Err(CliError::AwaitingGenesis {
            dir: data.dir.clone(),
        });
    }
    if args.max_batch == 0 {
        return Err(CliError::usage("--max-batch must be at least 1"));
    }
    if let Probe::Running(r) = probe(&data)? {
        return Err(CliError::usage_hint(
            format!(
                "a node already serves {} (admin socket {})",
                data.dir.display(),
                r.admin_socket.display()
            ),
            "stop it first (Ctrl-C or SIGTERM), or use another data directory",
        ));
    }
    let peer_url = match &args.peer {
        Some(url) => {
            let url = check_url(url, "--peer")?;
            if config.peer_url.as_deref() != Some(url.as_str()) {
                config.peer_url = Some(url.clone());
                data.update_config(&config)?;
            }
            Some(url)
        }
        None => config.peer_url.clone(),
    };
    let key = config.signer_key()?;
    let mut node_config = NodeConfig::new(data.dir.clone(), data.ledger_path(), key);
    node_config.listen = args.listen;
    node_config.admin_listen = args.admin_listen;
    node_config.peer_url = peer_url.clone();
    node_config.max_batch = args.max_batch;
    node_config.max_delay = Duration::from_millis(args.max_delay_ms);

    init_tracing();
    let rt = dyad_node::runtime::workers("dyad-node", None).map_err(CliError::Client)?;
    let url_file = data.dir.join(NODE_URL_FILE);
    let result = rt.block_on(async {
        let running = dyad_node::start(node_config).await?;
        let url = public_url(running.addr());
        let written =
            dyad_ledger::private_dir::write_file(&url_file, format!("{url}\n").as_bytes());
        if let Err(e) = written {
            let _ = running.shutdown().await;
            return Err(e.into());
        }
        let admin_url = running.admin_addr().map(|_| running.admin_url());
        let announced = if ctx.json {
            let mut v = j!({
                "url": url,
                "listen": running.addr().to_string(),
                "admin_socket": running.admin_socket(),
                "role": running.role().as_str(),
                "peer_url": peer_url,
                "data": data.dir,
            });
            if let Some(a) = &admin_url {
                v["admin_url"] = j!(a);
            }
            json(&v)
        } else {
            let admin = match &admin_url {
                Some(a) => format!("{} and {a}", running.admin_socket().display()),
                None => running.admin_socket().display().to_string(),
            };
            outln(&format!(
                "dyad node ({}) listening on {url} (admin API {admin}); peer {}; Ctrl-C to stop",
                running.role().as_str(),
                peer_url.as_deref().unwrap_or("not set (--peer URL)")
            ))
        };
        if peer_url.is_none() {
            tracing::warn!("no peer URL: give --peer URL (it is saved in dyad.json)");
        }
        if let Err(e) = announced {
            // Nobody reads standard output any more; keep serving regardless.
            tracing::debug!(error = %e, "cannot print the listening address");
        }
        tokio::select! {
            _ = stop_signal() => tracing::info!("stopping"),
            why = running.failed() => tracing::error!(reason = %why, "the node stopped itself"),
        }
        let _ = std::fs::remove_file(&url_file);
        running.shutdown().await?;
        Ok::<(), CliError>(())
    });
    let _ = std::fs::remove_file(&url_file);
    // A store close or request that hangs on a failing disk must not keep the process:
    // the node's shutdown is bounded, and so is waiting for its threads.
    rt.shutdown_timeout(Duration::from_secs(2));
    result?;
    Ok(ExitCode::SUCCESS)
}

pub fn run_export(ctx: &Ctx, command: &ExportCommand) -> Result<ExitCode> {
    match command {
        ExportCommand::Tiles(args) => export_tiles(ctx, args),
    }
}

fn export_tiles(ctx: &Ctx, args: &ExportTilesArgs) -> Result<ExitCode> {
    let data = ctx.data_dir();
    data.read_config()?;
    if !data.ledger_exists()? {
        return Err(CliError::AwaitingGenesis {
            dir: data.dir.clone(),
        });
    }
    let options = ExportOptions {
        reuse_full_tiles: args.reuse_full_tiles,
    };
    let bar = progress(0, "exporting tiles");
    let on_progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let (exported, from) = match probe(&data)? {
        Probe::Running(r) => {
            let Some(url) = r.public_url.clone() else {
                return Err(CliError::usage_hint(
                    format!(
                        "a node runs on {} but its public URL is unknown (no {NODE_URL_FILE})",
                        data.dir.display()
                    ),
                    "mirror it from its public URL with a tile client, or stop the node and export again",
                ));
            };
            let e =
                dyad_node::export::mirror_tiles_blocking(&url, &args.out, &options, on_progress)?;
            (e, format!("the running node at {url}"))
        }
        Probe::Absent | Probe::Silent { .. } => {
            let store = match Store::open(&data.ledger_path()) {
                Ok(s) => s,
                Err(StoreError::Locked { path }) => {
                    return Err(CliError::usage_hint(
                        format!("the store {} is in use by another process", path.display()),
                        "if a node (`dyad serve`) runs here it has DIR/admin.sock and DIR/node.url; stop it or wait for the other command",
                    ))
                }
                Err(e) => return Err(e.into()),
            };
            let e = dyad_node::export::export_tiles_with(&store, &args.out, &options, on_progress)?;
            (e, format!("the store {}", data.ledger_path().display()))
        }
    };
    bar.finish_and_clear();
    if ctx.json {
        json(&j!({
            "out": args.out,
            "size": exported.size,
            "files_written": exported.files_written,
            "files_kept": exported.files_kept,
            "bytes_written": exported.bytes_written,
            "source": from,
        }))?;
    } else {
        outln(&format!(
            "exported the log of size {} from {from} to {}: {} file(s) written ({} bytes), {} kept",
            exported.size,
            args.out.display(),
            exported.files_written,
            exported.bytes_written,
            exported.files_kept
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
