//! A node running on a data directory, as the other commands find it: `dyad serve` holds
//! the store locked while it runs, so `dyad log`, `dyad show`, `dyad status`,
//! `dyad checkpoint`, `dyad receipt`, `dyad prove`, `dyad append` and `dyad export tiles`
//! [`probe`] for it and talk to it instead of the store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dyad_node::AdminClient;
use serde_json::Value;

use crate::data::DataDir;
use crate::error::{CliError, Result};

/// The running node's public URL, written by `dyad serve` while it runs.
pub const NODE_URL_FILE: &str = "node.url";

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
        let rt = dyad_node::runtime::client().map_err(|e| e.to_string())?;
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

/// How this party's CLI reaches its own running node at `url`: it presents the node's own
/// TLS certificate (from the data directory), so the node serves it as the party, and
/// accepts the node only with a binding by the party's own key. A node serving plain HTTP
/// behind a proxy (`--insecure-http`) announced an `http://` URL itself.
pub fn own_node_reach(data: &DataDir, url: &str) -> Result<dyad_node::Reach> {
    let config = data.read_config()?;
    let key = config.signer_key()?;
    let now = dyad_ledger::clock::now_ms() / 1000;
    let (identity, _) =
        dyad_node::tls::TlsIdentity::load_or_create(&data.dir, &key, &config.origin, now).map_err(
            |e| {
                CliError::usage_hint(
                    format!("the node's TLS identity in {}: {e}", data.dir.display()),
                    "check tls.key and tls.crt in the data directory (`dyad tls show`)",
                )
            },
        )?;
    let mut keys = vec![key.public_key()];
    keys.extend(config.previous_signer_key().map(|k| k.public_key()));
    let reach = dyad_node::Reach::party(&identity, &config.origin, &keys)?;
    Ok(reach.allow_plain_http(url.starts_with("http://")))
}

/// How a reader reaches a node: with the read credential in `access` (its pin and token),
/// or, without one, as anybody on the public web (a static export, a public node).
pub fn reader_reach(access: Option<&Path>) -> Result<dyad_node::Reach> {
    let Some(path) = access else {
        return Ok(dyad_node::Reach::public());
    };
    let now = dyad_ledger::clock::now_ms() / 1000;
    let credential = dyad_node::access::ReadCredential::read_file(path, now).map_err(|e| {
        CliError::usage_hint(
            format!("--access {}: {e}", path.display()),
            "ask the node's operator for a new credential (`dyad access grant`)",
        )
    })?;
    Ok(dyad_node::Reach::credential(&credential)?)
}

/// `url` as the node's clients will use it (`dyad_node::client::base_url`), or a usage
/// error naming `what` it was given as.
pub fn check_url(url: &str, what: &str) -> Result<String> {
    dyad_node::client::base_url(url).map_err(|_| {
        CliError::usage_hint(
            format!("{what} {url:?} is not a URL"),
            "give a base URL such as http://127.0.0.1:7380 or https://dyad.example/alpha",
        )
    })
}
