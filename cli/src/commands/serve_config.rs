//! The settings of `dyad serve`: its flags ([`ServeArgs`]) and `--config FILE`, every
//! serve setting in a TOML file (docs/serve.example.toml), merged with the command line,
//! whose flags win. An unknown key or a bad value is an error naming the key and the file;
//! the file is read to at most [`MAX_CONFIG_BYTES`].

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use crate::error::{CliError, Result};

/// The largest configuration file read: a few settings need far less.
pub const MAX_CONFIG_BYTES: u64 = 64 * 1024;

/// Group commit defaults (`--max-batch`, `--max-delay-ms`).
pub const DEFAULT_MAX_BATCH: usize = 512;
pub const DEFAULT_MAX_DELAY_MS: u64 = 10;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The serve settings in a TOML file (see below); the flags given here win over it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The public listener's address (read API, co-signing, submissions, metrics, health
    /// checks): IP:PORT, or HOST:PORT (the first address HOST resolves to). Required, here
    /// or in the --config file.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The peer node's base URL (saved in dyad.json; default: the saved one).
    #[arg(long, value_name = "URL")]
    pub peer: Option<String>,
    /// Also serve the admin API on this TCP address (keep it on loopback); the CLI itself
    /// uses the Unix socket DIR/admin.sock only.
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
    /// Group commit: most entries in one batch [default: 512].
    #[arg(long, value_name = "N")]
    pub max_batch: Option<usize>,
    /// Group commit: longest wait for more entries after the first of a batch
    /// [default: 10].
    #[arg(long, value_name = "N")]
    pub max_delay_ms: Option<u64>,
    /// Serve plain HTTP instead of TLS, for a node behind a TLS-terminating proxy. The node
    /// cannot authenticate clients then and serves every request as the peer's: the proxy
    /// must admit only the peer and readers. Also allows an http:// --peer URL.
    #[arg(long)]
    pub insecure_http: bool,
    /// Open the read API (checkpoint, tiles, metrics) to anyone, for a channel whose
    /// content is public. Default: the peer and holders of a read credential only.
    #[arg(long)]
    pub public_read: bool,
    /// Sign without first confirming with the peer that this replica holds everything this
    /// party signed. Only for a replica whose disk was never restored from a copy, when the
    /// peer cannot be reached: a restored replica could sign what conflicts with its past.
    #[arg(long)]
    pub no_peer_check: bool,
    /// Publish the log after each commit to object storage: s3://BUCKET[/PREFIX]
    /// (credentials and endpoint from the AWS_* environment variables) or file:///DIR.
    /// The published copy is as public as the bucket.
    #[arg(long, value_name = "URL")]
    pub publish: Option<String>,
    /// With --publish: hash tiles and checkpoints only (no entry, no attachment).
    #[arg(long, requires = "publish")]
    pub publish_hash_only: bool,
    /// How logs on standard error look: `text` for people, `json` for log collectors (one
    /// JSON object per line, with `timestamp`, `level`, `message`, `target` and the
    /// event's fields) [default: text].
    #[arg(long, value_name = "FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

/// The format of the logs on standard error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event (coloured on a terminal).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The file's keys, named as the long flags with `_` for `-`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeFile {
    listen: Option<String>,
    peer: Option<String>,
    admin_listen: Option<String>,
    max_batch: Option<usize>,
    max_delay_ms: Option<u64>,
    insecure_http: Option<bool>,
    public_read: Option<bool>,
    no_peer_check: Option<bool>,
    publish: Option<String>,
    publish_hash_only: Option<bool>,
    log_format: Option<LogFormat>,
}

/// Where a setting came from, to name it in an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    File { key: &'static str, file: PathBuf },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "{flag}"),
            Source::File { key, file } => write!(f, "`{key}` in {}", file.display()),
        }
    }
}

/// A setting's value and where it came from.
#[derive(Clone, Debug)]
pub struct Given<T> {
    pub value: T,
    pub source: Source,
}

/// The serve settings once the file and the command line are merged.
#[derive(Debug)]
pub struct ServeSettings {
    pub listen: Given<String>,
    pub peer: Option<Given<String>>,
    pub admin_listen: Option<SocketAddr>,
    pub max_batch: usize,
    pub max_delay_ms: u64,
    pub insecure_http: bool,
    pub public_read: bool,
    pub no_peer_check: bool,
    pub publish: Option<String>,
    pub publish_hash_only: bool,
    pub log_format: LogFormat,
}

impl ServeSettings {
    /// The command line over `--config FILE` (if given) over the defaults.
    pub fn resolve(args: &ServeArgs) -> Result<ServeSettings> {
        let (file, path) = match &args.config {
            Some(path) => (read_file(path)?, path.clone()),
            None => (ServeFile::default(), PathBuf::new()),
        };
        let choose = |flag: &Option<String>, name, key, from_file| {
            pick(flag.clone(), name, key, from_file, &path)
        };
        let listen = choose(&args.listen, "--listen", "listen", file.listen).ok_or_else(|| {
            CliError::usage_hint(
                "no address to listen on",
                "give --listen ADDR, or `listen = \"HOST:PORT\"` in the --config file",
            )
        })?;
        let peer = choose(&args.peer, "--peer", "peer", file.peer);
        let admin_listen = match (args.admin_listen, file.admin_listen) {
            (Some(addr), _) => Some(addr),
            (None, Some(text)) => Some(text.parse::<SocketAddr>().map_err(|e| {
                let source = file_source("admin_listen", &path);
                CliError::usage(format!(
                    "{source}: {text:?} is not an IP address and port ({e})"
                ))
            })?),
            (None, None) => None,
        };
        let max_batch = args
            .max_batch
            .or(file.max_batch)
            .unwrap_or(DEFAULT_MAX_BATCH);
        if max_batch == 0 {
            let source = match args.max_batch {
                Some(_) => Source::Flag("--max-batch"),
                None => file_source("max_batch", &path),
            };
            return Err(CliError::usage(format!("{source} must be at least 1")));
        }
        Ok(ServeSettings {
            listen,
            peer,
            admin_listen,
            max_batch,
            max_delay_ms: args
                .max_delay_ms
                .or(file.max_delay_ms)
                .unwrap_or(DEFAULT_MAX_DELAY_MS),
            // A flag can only turn these on; the file may too.
            insecure_http: args.insecure_http || file.insecure_http.unwrap_or(false),
            public_read: args.public_read || file.public_read.unwrap_or(false),
            no_peer_check: args.no_peer_check || file.no_peer_check.unwrap_or(false),
            publish: args.publish.clone().or(file.publish),
            publish_hash_only: args.publish_hash_only || file.publish_hash_only.unwrap_or(false),
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
        })
    }
}

fn file_source(key: &'static str, file: &Path) -> Source {
    Source::File {
        key,
        file: file.to_owned(),
    }
}

fn pick(
    flag: Option<String>,
    name: &'static str,
    key: &'static str,
    from_file: Option<String>,
    file: &Path,
) -> Option<Given<String>> {
    match (flag, from_file) {
        (Some(value), _) => Some(Given {
            value,
            source: Source::Flag(name),
        }),
        (None, Some(value)) => Some(Given {
            value,
            source: file_source(key, file),
        }),
        (None, None) => None,
    }
}

/// Reads and parses the file: bounded, UTF-8, TOML, known keys with values of their type.
fn read_file(path: &Path) -> Result<ServeFile> {
    let shown = path.display();
    let cannot = |e: std::io::Error| {
        CliError::usage(format!("cannot read the serve configuration {shown}: {e}"))
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes))
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(CliError::usage(format!(
            "the serve configuration {shown} is larger than {} KiB",
            MAX_CONFIG_BYTES / 1024
        )));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| CliError::usage(format!("the serve configuration {shown} is not UTF-8")))?;
    // toml's message shows the offending line (so the key) and says what was expected.
    toml::from_str(&text).map_err(|e| {
        CliError::usage(format!(
            "the serve configuration {shown} is not valid: {}",
            e.to_string().trim_end()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> std::result::Result<ServeFile, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn every_setting_has_a_key() {
        let f = parse(
            r#"
listen = "0.0.0.0:7380"
peer = "https://dyad.bravo.example"
admin_listen = "127.0.0.1:7390"
max_batch = 64
max_delay_ms = 5
insecure_http = false
public_read = true
no_peer_check = true
log_format = "json"
"#,
        )
        .unwrap();
        assert_eq!(f.listen.as_deref(), Some("0.0.0.0:7380"));
        assert_eq!(f.max_batch, Some(64));
        assert_eq!(f.public_read, Some(true));
        assert_eq!(f.no_peer_check, Some(true));
        assert_eq!(f.log_format, Some(LogFormat::Json));
    }

    #[test]
    fn an_unknown_key_or_a_bad_value_is_named() {
        let e = parse("listen = \"127.0.0.1:0\"\nmax_batches = 3\n").unwrap_err();
        assert!(e.contains("max_batches"), "{e}");
        let e = parse("max_batch = \"many\"\n").unwrap_err();
        assert!(e.contains("max_batch"), "{e}");
        let e = parse("log_format = \"xml\"\n").unwrap_err();
        assert!(e.contains("log_format") && e.contains("xml"), "{e}");
    }

    #[test]
    fn the_example_file_is_valid_and_complete() {
        let text = include_str!("../../../docs/serve.example.toml");
        let f = parse(text).unwrap();
        assert!(f.listen.is_some() && f.peer.is_some() && f.log_format.is_some());
        for key in [
            "admin_listen",
            "max_batch",
            "max_delay_ms",
            "insecure_http",
            "public_read",
            "no_peer_check",
            "publish",
        ] {
            assert!(text.contains(key), "the example names {key}");
        }
    }
}
