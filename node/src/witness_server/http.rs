//! The witness's HTTP endpoint: `POST /add-checkpoint` (C2SP tlog-witness) with a bounded
//! body read within a timeout, and `GET /witness.pub`, the cosignature verifier key a log
//! or verifier configures. Answers: 200 with the cosignature line, 400, 403, 404, 409
//! with the recorded size (`text/x.tlog.size`), 422, and 503 when the record fails.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use dyad_ledger::keys::SignerKey;
use dyad_ledger::wire::witness::{size_body, MAX_REQUEST_BYTES, SIZE_CONTENT_TYPE};
use dyad_ledger::wire::witness_request::{authenticate, Refusal, TrustedLog};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::record::{Checked, RecordError, Records};
use super::{WitnessConfigError, WitnessKey};

/// Longest time to receive one request body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// How a witness runs.
pub struct WitnessConfig {
    /// The witness's signing key (its name is the witness's name).
    pub key: SignerKey,
    /// The logs it co-signs for.
    pub logs: Vec<TrustedLog>,
    /// Where its record lives.
    pub data_dir: PathBuf,
    /// Its listener.
    pub listen: SocketAddr,
}

/// Why a witness cannot start.
#[derive(Debug, thiserror::Error)]
pub enum WitnessServeError {
    /// The configuration cannot be used.
    #[error(transparent)]
    Config(#[from] WitnessConfigError),
    /// The record cannot be opened.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The listener cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

struct Witness {
    logs: Vec<TrustedLog>,
    key: WitnessKey,
    records: Records,
}

/// A running witness.
pub struct RunningWitness {
    addr: SocketAddr,
    verifier_key: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningWitness {
    /// `http://<address>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The witness's cosignature verifier key, as text.
    pub fn verifier_key(&self) -> &str {
        &self.verifier_key
    }

    /// Stops the witness and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Starts a witness.
pub async fn start(config: WitnessConfig) -> Result<RunningWitness, WitnessServeError> {
    let key = WitnessKey::new(config.key)?;
    let records = Records::open(&config.data_dir)?;
    let verifier_key = key.verifier_key().to_string();
    let witness = Arc::new(Witness {
        logs: config.logs,
        key,
        records,
    });
    let router = Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/witness.pub", get(verifier_key_text))
        .with_state(witness);
    let listener =
        TcpListener::bind(config.listen)
            .await
            .map_err(|source| WitnessServeError::Listen {
                addr: config.listen,
                source,
            })?;
    let addr = listener
        .local_addr()
        .map_err(|source| WitnessServeError::Listen {
            addr: config.listen,
            source,
        })?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the witness's listener failed");
        }
    });
    Ok(RunningWitness {
        addr,
        verifier_key,
        stop: Some(stop),
        task,
    })
}

async fn verifier_key_text(State(witness): State<Arc<Witness>>) -> Response {
    plain(StatusCode::OK, format!("{}\n", witness.key.verifier_key()))
}

fn plain(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Body) -> Response {
    let bytes =
        match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_REQUEST_BYTES))
            .await
        {
            Ok(Ok(b)) => b,
            Ok(Err(_)) => {
                return plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is larger than {MAX_REQUEST_BYTES} bytes\n"),
                )
            }
            Err(_) => {
                return plain(
                    StatusCode::REQUEST_TIMEOUT,
                    "the body took too long\n".into(),
                )
            }
        };
    let req = match authenticate(&bytes, &witness.logs) {
        Ok(r) => r,
        Err(refusal) => return refused(&refusal),
    };
    let w = witness.clone();
    let checked =
        tokio::task::spawn_blocking(move || w.records.check_and_record(&req).map(|c| (c, req)))
            .await;
    match checked {
        Ok(Ok((Checked::Recorded, req))) => {
            let line = witness.key.cosign(
                &req.checkpoint.to_text(),
                dyad_ledger::clock::now_ms() / 1000,
            );
            tracing::debug!(origin = %req.checkpoint.origin, size = req.checkpoint.size, "co-signed");
            plain(StatusCode::OK, line)
        }
        Ok(Ok((Checked::Refused(refusal), _))) => refused(&refusal),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "the witness's record failed");
            plain(StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n"))
        }
        Err(e) => plain(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}

fn refused(refusal: &Refusal) -> Response {
    let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
    match refusal {
        Refusal::Conflict(size) => (
            status,
            [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
            size_body(*size),
        )
            .into_response(),
        other => plain(status, format!("{other}\n")),
    }
}
