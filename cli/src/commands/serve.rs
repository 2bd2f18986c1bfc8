//! `dyad serve`: runs this party's node (`dyad_node`) for a data directory until Ctrl-C
//! or SIGTERM.
//!
//! While it runs, `dyad serve` leaves in the data directory `admin.sock` and `admin.token`
//! (written by the node: its admin API on a Unix socket, which only the owner of the 0700
//! directory can create or reach, and the bearer token it requires, new at every start)
//! and `node.url` (written here, 0600: its public URL, the tiles API), by which the other
//! commands find it ([`crate::running_node`]).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use dyad_node::{NodeConfig, RunningNode};
use serde_json::json as j;

pub use super::serve_config::{LogFormat, ServeArgs};
use super::serve_config::{ServeSettings, Source};
use crate::data::DataDir;
use crate::error::{CliError, Result};
use crate::output::{json, outln};
use crate::running_node::{check_url, probe, Probe, NODE_URL_FILE};
use crate::Ctx;

pub const SERVE_EXAMPLES: &str = "\
Examples:
  dyad --data alpha serve --listen 0.0.0.0:7380 --peer https://dyad.bravo.example
  DYAD_DATA=bravo dyad serve --listen 127.0.0.1:7381 --peer https://127.0.0.1:7380
  RUST_LOG=dyad_ledger=debug dyad serve --listen 127.0.0.1:0     # peer URL from dyad.json
  dyad --data /var/lib/dyad/alpha serve --config /etc/dyad/alpha.toml

--config FILE gives any of the settings below in TOML, keys named as the flags with _ for -
(listen, peer, admin_listen, max_batch, max_delay_ms, insecure_http, public_read,
no_peer_check, publish, publish_hash_only, log_format); flags on the command line win (--insecure-http, --public-read
and --no-peer-check can only turn a setting on). docs/serve.example.toml is an example; docs/operations.md says how to
run the node as a service (systemd unit, logs, /healthz and /readyz).

Runs the party's node until Ctrl-C or SIGTERM, then stops gracefully (the batch being
collected is written and answered, the store is closed). The public listener speaks TLS 1.3
only, with the node's certificate in DIR/tls.crt (created on the first start; `dyad tls
show`); the peer's node is recognised by its certificate, bound to its genesis key. It serves
the C2SP tlog-tiles read API (/checkpoint, /tile/...) and /metrics to the peer and to holders
of a read credential (`dyad access grant`; --public-read: to anyone), and POST
/add-checkpoint (co-signer) or POST /submit (sequencer) to the peer only. The admin API (for `dyad append` on this machine)
listens on the Unix socket DIR/admin.sock (and also on --admin-listen ADDR if given, for
other tools; keep it on loopback) and needs the token in DIR/admin.token, new at every
start. DIR must be 0700 and its files 0600.
--peer URL is saved in DIR/dyad.json and used when --peer is omitted next time.
The first line on standard output says where the node listens (JSON with --json);
logs go to standard error, filtered by RUST_LOG (default: info); --log-format json writes
them one JSON object per line.
Before it signs anything, the node asks the peer for its newest committed checkpoint and
fetches what this replica lacks (a replica restored from a backup): until then appends wait
(503) and /readyz says why. --no-peer-check skips that.
While the node runs, `dyad append`, `dyad log` and `dyad export tiles` go through it.";

/// Logs to standard error, filtered by RUST_LOG (default `info`), as text (colours only on
/// a terminal) or one JSON object per line.
fn init_tracing(format: LogFormat) {
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        // The event's fields next to `message` at the top level, where collectors look.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_ansi(false)
            .try_init(),
    };
}

/// Resolves on Ctrl-C or (Unix) SIGTERM. On Unix the handlers are installed when this is
/// called, not when first polled: a supervisor may send SIGTERM as soon as the node says
/// where it listens, and that must stop it gracefully rather than kill it.
pub(crate) fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        if let (Some(mut term), Some(mut int)) = handlers {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub fn serve(ctx: &Ctx, args: &ServeArgs) -> Result<ExitCode> {
    let data = ctx.data_dir();
    let settings = ServeSettings::resolve(args)?;
    let (node_config, listen) = node_config(&data, &settings)?;
    init_tracing(settings.log_format);
    let rt = dyad_node::runtime::workers("dyad-node", None).map_err(CliError::Client)?;
    let url_file = data.dir.join(NODE_URL_FILE);
    let result = rt.block_on(run_node(ctx, &data, node_config, &listen, &url_file));
    let _ = std::fs::remove_file(&url_file);
    // A store close or request that hangs on a failing disk must not keep the process:
    // the node's shutdown is bounded, and so is waiting for its threads.
    rt.shutdown_timeout(Duration::from_secs(2));
    result?;
    Ok(ExitCode::SUCCESS)
}

/// The node's configuration: the data directory must hold a created channel and no
/// running node; a new --peer URL is saved in `dyad.json` for the next start.
fn node_config(data: &DataDir, args: &ServeSettings) -> Result<(NodeConfig, ListenAddr)> {
    let config = data.read_created_config()?;
    if let Probe::Running(r) = probe(data)? {
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
        Some(peer) => Some(check_url(&peer.value, &peer.source.to_string())?),
        None => config.peer_url.clone(),
    };
    if let Some(url) = peer_url.as_deref().filter(|u| u.starts_with("http://")) {
        if !args.insecure_http {
            return Err(CliError::usage_hint(
                format!("the peer URL {url} is plain HTTP; nodes speak TLS 1.3 to each other"),
                "give the peer's https:// URL (or, behind TLS-terminating proxies only, --insecure-http)",
            ));
        }
    }
    let key = config.signer_key()?;
    let mut node_config = NodeConfig::new(data.dir.clone(), data.ledger_path(), key);
    node_config.previous_keys = config.previous_signer_key().into_iter().collect();
    let listen = resolve_listen(&args.listen.value, &args.listen.source)?;
    node_config.listen = listen.addr;
    node_config.admin_listen = args.admin_listen;
    node_config.peer_url = peer_url;
    node_config.max_batch = args.max_batch;
    node_config.max_delay = Duration::from_millis(args.max_delay_ms);
    node_config.insecure_http = args.insecure_http;
    node_config.public_read = args.public_read;
    node_config.peer_check = !args.no_peer_check;
    node_config.auditor_page = crate::auditor_page::embedded();
    if let Some(url) = &args.publish {
        // A bad target is refused now, not found by the publishing task later.
        dyad_node::publish::Target::open(url).map_err(dyad_node::publish::PublishError::from)?;
        node_config.publish = Some(dyad_node::publish::PublishConfig {
            url: url.clone(),
            hash_only: args.publish_hash_only,
        });
    }
    node_config.witnesses = witness_urls(&config);
    node_config.save_witness_urls = Some(witness_url_saver(data));
    Ok((node_config, listen))
}

/// Stores the witness URLs the node is given through its admin API (spec/node.md 5.6) in
/// `dyad.json`'s `witness_urls`: the configuration is read again (another command may have
/// changed it since the start), then replaced atomically (written aside, synced, renamed).
fn witness_url_saver(data: &DataDir) -> dyad_node::WitnessUrlSaver {
    let data = data.clone();
    dyad_node::WitnessUrlSaver::new(move |urls| {
        let mut config = data.read_config().map_err(|e| e.to_string())?;
        config.witness_urls.clone_from(urls);
        data.update_config(&config).map_err(|e| e.to_string())
    })
}

/// The witnesses' add-checkpoint URLs that `dyad init --witness FILE.pub=URL` saved in
/// dyad.json, as the node takes them.
pub(crate) fn witness_urls(config: &crate::data::Config) -> Vec<dyad_node::WitnessUrl> {
    config
        .witness_urls
        .iter()
        .map(|(name, url)| dyad_node::WitnessUrl {
            name: name.clone(),
            url: url.clone(),
        })
        .collect()
}

/// Where the public listener binds.
struct ListenAddr {
    addr: SocketAddr,
    /// The host name and port given, and every address it resolved to (the first is
    /// bound), when it was not an IP address.
    resolved: Option<(String, Vec<SocketAddr>)>,
}

/// The public listener's address, as given by `source`: an IP address and port, or a host
/// name and port, resolved now; a name with several addresses binds the first.
fn resolve_listen(text: &str, source: &Source) -> Result<ListenAddr> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(ListenAddr {
            addr,
            resolved: None,
        });
    }
    let hint = "give HOST:PORT with a host name that resolves here, or an IP address and port such as 127.0.0.1:7380";
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| {
            CliError::usage_hint(format!("{source}: cannot resolve {text:?} ({e})"), hint)
        })?
        .collect();
    match addrs.first() {
        Some(&addr) => Ok(ListenAddr {
            addr,
            resolved: Some((text.to_owned(), addrs)),
        }),
        None => Err(CliError::usage_hint(
            format!("{source}: {text:?} resolves to no address"),
            hint,
        )),
    }
}

/// Starts the node, writes `node.url`, says where it listens, and serves until a stop
/// signal or until the node stops itself; then removes `node.url` and shuts down.
async fn run_node(
    ctx: &Ctx,
    data: &DataDir,
    node_config: NodeConfig,
    listen: &ListenAddr,
    url_file: &Path,
) -> Result<()> {
    let peer_url = node_config.peer_url.clone();
    let running = dyad_node::start(node_config).await?;
    // Saved once the node started with it: a start that failed leaves dyad.json as it was.
    if let Err(e) = save_peer_url(data, peer_url.as_deref()) {
        let _ = running.shutdown().await;
        return Err(e);
    }
    let url = running.url();
    let written = dyad_ledger::private_dir::write_file(url_file, format!("{url}\n").as_bytes());
    if let Err(e) = written {
        let _ = running.shutdown().await;
        return Err(e.into());
    }
    let stop = stop_signal();
    announce(ctx, data, &running, listen, &url, peer_url.as_deref());
    tokio::select! {
        _ = stop => tracing::info!("stopping"),
        why = running.failed() => tracing::error!(reason = %why, "the node stopped itself"),
    }
    let _ = std::fs::remove_file(url_file);
    running.shutdown().await?;
    Ok(())
}

/// Records the peer URL in `dyad.json` for the next start, if it changed.
fn save_peer_url(data: &DataDir, peer_url: Option<&str>) -> Result<()> {
    let mut config = data.read_created_config()?;
    if peer_url.is_some() && config.peer_url.as_deref() != peer_url {
        config.peer_url = peer_url.map(str::to_owned);
        data.update_config(&config)?;
    }
    Ok(())
}

/// The first line on standard output: where the node listens (JSON with --json).
fn announce(
    ctx: &Ctx,
    data: &DataDir,
    running: &RunningNode,
    listen: &ListenAddr,
    url: &str,
    peer_url: Option<&str>,
) {
    let admin_url = running.admin_addr().map(|_| running.admin_url());
    let announced = if ctx.json {
        let mut v = j!({
            "url": url,
            "listen": running.addr().to_string(),
            "admin_socket": running.admin_socket(),
            "role": running.role().as_str(),
            "peer_url": peer_url,
            "data": data.dir,
            "tls_pin": running.tls_pin(),
        });
        if let Some(a) = &admin_url {
            v["admin_url"] = j!(a);
        }
        if let Some((name, addrs)) = &listen.resolved {
            v["listen_name"] = j!(name);
            v["listen_resolved"] = j!(addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>());
        }
        json(&v)
    } else {
        let admin = match &admin_url {
            Some(a) => format!("{} and {a}", running.admin_socket().display()),
            None => running.admin_socket().display().to_string(),
        };
        let resolved = match &listen.resolved {
            Some((name, addrs)) => {
                let all: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
                format!(" ({name} resolves to {}; bound the first)", all.join(", "))
            }
            None => String::new(),
        };
        outln(&format!(
            "dyad node ({}) listening on {url}{resolved} (admin API {admin}); peer {}; Ctrl-C to stop",
            running.role().as_str(),
            peer_url.unwrap_or("not set (--peer URL)")
        ))
    };
    if peer_url.is_none() {
        tracing::warn!("no peer URL: give --peer URL (it is saved in dyad.json)");
    }
    if let Err(e) = announced {
        // Nobody reads standard output any more; keep serving regardless.
        tracing::debug!(error = %e, "cannot print the listening address");
    }
}
