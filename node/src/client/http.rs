//! What every client of the node shares: its error, bounded reads of responses, the HTTP
//! client with the node's timeouts, and base URLs.

use std::time::Duration;

use dyad_ledger::wire::tiles::TileError;

/// Why a request to a node (or a static tile export) failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL is not an `http://` or `https://` URL.
    #[error("invalid URL {0:?}: it must start with http:// or https://")]
    BadUrl(String),
    /// The request could not be sent or its answer not received.
    #[error("{url}: {}", root_cause(source))]
    Http {
        /// The URL requested.
        url: String,
        /// What the HTTP client reported.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with another status than the one expected.
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body, as text.
        body: String,
    },
    /// The answer is larger than the client reads for that request.
    #[error("{url}: the response is larger than {max} bytes")]
    TooLarge {
        /// The URL requested.
        url: String,
        /// The most bytes read.
        max: usize,
    },
    /// A tile or entry bundle that does not parse.
    #[error("{url}: {source}")]
    Tile {
        /// The tile's URL.
        url: String,
        /// Why it does not parse.
        #[source]
        source: TileError,
    },
    /// The checkpoint served is not a checkpoint note.
    #[error("{url}: the checkpoint cannot be read: {reason}")]
    BadCheckpoint {
        /// The checkpoint's URL.
        url: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// The runtime of a blocking client could not be started.
    #[error("cannot start the HTTP client's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The client's TLS configuration cannot be built.
    #[error("TLS: {0}")]
    Tls(String),
    /// A background fetch panicked or was cancelled.
    #[error("a tile fetch task failed: {0}")]
    Task(String),
}

/// What went wrong at the bottom of a request error (connection refused, a timeout, the
/// TLS alert): reqwest's own message only says that sending failed.
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    if e.is_timeout() && !text.contains("timed out") {
        format!("timed out ({text})")
    } else {
        text
    }
}

impl ClientError {
    /// The HTTP status, when the server answered with one other than 200.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A response read in full, bounded.
pub(crate) struct Fetched {
    pub status: reqwest::StatusCode,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Reads a response body, refusing more than `max` bytes (without reading them).
pub(crate) async fn read_bounded(
    url: &str,
    mut resp: reqwest::Response,
    max: usize,
) -> Result<Fetched, ClientError> {
    let too_large = || ClientError::TooLarge {
        url: url.to_owned(),
        max,
    };
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|source| ClientError::Http {
        url: url.to_owned(),
        source,
    })? {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched {
        status,
        content_type,
        body,
    })
}

pub(crate) fn http_error(url: &str) -> impl FnOnce(reqwest::Error) -> ClientError + '_ {
    move |source| ClientError::Http {
        url: url.to_owned(),
        source,
    }
}

pub(crate) fn status_error(url: &str, f: &Fetched) -> ClientError {
    ClientError::Status {
        url: url.to_owned(),
        status: f.status.as_u16(),
        body: String::from_utf8_lossy(&f.body[..f.body.len().min(200)])
            .trim_end()
            .to_owned(),
    }
}

/// An HTTP client with the node's timeouts, for the public web (see [`Reach::public`]).
pub(crate) fn http_client(
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<reqwest::Client, ClientError> {
    http_client_with(connect_timeout, timeout, Reach::public())
}

/// The client the sequencer reaches witnesses with: the public web (system roots, or
/// plain `http://`), the peer's timeouts.
pub(crate) fn witness_client(config: &crate::NodeConfig) -> Result<reqwest::Client, ClientError> {
    http_client(config.peer_timeout, config.peer_timeout)
}

/// How a client reaches a node (spec/node.md 9.6): the TLS configuration it speaks, the
/// read token it shows, and whether plain `http://` is allowed.
#[derive(Clone)]
pub struct Reach {
    tls: Option<rustls::ClientConfig>,
    bearer: Option<String>,
    plain_http: bool,
}

impl std::fmt::Debug for Reach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reach")
            .field("pinned_tls", &self.tls.is_some())
            .field("bearer", &self.bearer.as_ref().map(|_| "<hidden>"))
            .field("plain_http", &self.plain_http)
            .finish()
    }
}

impl Reach {
    /// The public web: `https://` checked against the system's roots, or plain `http://`
    /// (a static tile export on an ordinary web server); no credential.
    pub fn public() -> Reach {
        Reach {
            tls: None,
            bearer: None,
            plain_http: true,
        }
    }

    /// TLS with `config` only (`https://`), showing `bearer` as `Authorization: Bearer`.
    pub fn tls(config: rustls::ClientConfig, bearer: Option<String>) -> Reach {
        Reach {
            tls: Some(config),
            bearer,
            plain_http: false,
        }
    }

    /// A read credential's holder: the node checked by the credential's pin, its token
    /// shown with every request.
    pub fn credential(credential: &crate::access::ReadCredential) -> Result<Reach, ClientError> {
        let config = crate::tls::reader_client_config(credential.server_pin)
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        Ok(Reach::tls(
            config,
            Some(credential.token.expose().to_owned()),
        ))
    }

    /// A party: presents `identity`'s certificate (so the node serves it as a party) and
    /// accepts the node only with a binding by one of `server_keys` for `origin`. The
    /// party's own CLI reaches its own node this way, with its own keys as `server_keys`
    /// (its key and, while a key change awaits co-signing, the one before: spec/node.md 9.3).
    pub fn party(
        identity: &crate::tls::TlsIdentity,
        origin: &str,
        server_keys: &[[u8; 32]],
    ) -> Result<Reach, ClientError> {
        let tls_error = |e: &dyn std::fmt::Display| ClientError::Tls(e.to_string());
        let certified = identity.certified_key().map_err(|e| tls_error(&e))?;
        let verifier = crate::tls::PartyVerifier::new(origin, server_keys.to_vec())
            .map_err(|e| tls_error(&e))?;
        let config = crate::tls::peer_client_config(crate::tls::CertSlot::new(certified), verifier)
            .map_err(|e| tls_error(&e))?;
        Ok(Reach::tls(config, None))
    }

    /// A party that learns its peer's current key only from the log it fetches (a
    /// replica rebuilt from the genesis after key changes, spec/node.md 10): presents
    /// `identity`'s certificate and accepts the node with a valid binding by any key for
    /// `origin`, recorded in the verifier returned. Nothing read this way may be kept
    /// before [`crate::tls::DeferredPartyVerifier::check_presented`] passes.
    pub fn party_deferred(
        identity: &crate::tls::TlsIdentity,
        origin: &str,
    ) -> Result<(Reach, crate::tls::DeferredPartyVerifier), ClientError> {
        let tls_error = |e: &dyn std::fmt::Display| ClientError::Tls(e.to_string());
        let certified = identity.certified_key().map_err(|e| tls_error(&e))?;
        let verifier = crate::tls::DeferredPartyVerifier::new(origin).map_err(|e| tls_error(&e))?;
        let config = crate::tls::deferred_peer_client_config(
            crate::tls::CertSlot::new(certified),
            verifier.clone(),
        )
        .map_err(|e| tls_error(&e))?;
        Ok((Reach::tls(config, None), verifier))
    }

    /// Also allows plain `http://` URLs (a node behind a TLS-terminating proxy).
    pub fn allow_plain_http(mut self, allowed: bool) -> Reach {
        self.plain_http = allowed;
        self
    }
}

/// An HTTP client with the node's timeouts that reaches nodes as `reach` says.
pub(crate) fn http_client_with(
    connect_timeout: Duration,
    timeout: Duration,
    reach: Reach,
) -> Result<reqwest::Client, ClientError> {
    let build_error = |source| ClientError::Http {
        url: String::new(),
        source,
    };
    crate::tls::install_default_provider();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        // Below a node's keep-alive (header) timeout, so that a pooled connection is not
        // reused just as the node closes it.
        .pool_idle_timeout(Duration::from_secs(5))
        .https_only(!reach.plain_http);
    // Without a configuration of its own: the system's roots, with the process's provider.
    if let Some(config) = reach.tls {
        builder = builder.tls_backend_preconfigured(config);
    }
    if let Some(token) = reach.bearer {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| ClientError::Tls("the read token is not a valid header value".into()))?;
        value.set_sensitive(true);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, value);
        builder = builder.default_headers(headers);
    }
    builder.build().map_err(build_error)
}

/// Normalises a base URL: an `http://` or `https://` prefix, no trailing slash.
pub fn base_url(url: &str) -> Result<String, ClientError> {
    let trimmed = url.trim().trim_end_matches('/');
    if !(trimmed.starts_with("http://") || trimmed.starts_with("https://"))
        || trimmed.len() <= "https://".len()
        || trimmed.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ClientError::BadUrl(url.to_owned()));
    }
    Ok(trimmed.to_owned())
}
