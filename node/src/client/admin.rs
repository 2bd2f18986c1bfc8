//! A client of a node's admin API (spec/node.md, "Admin API"), for the operator's tools.
//!
//! The admin API is served on the Unix socket `<data_dir>/admin.sock` (only the owner of
//! the 0700 data directory can create or reach it), optionally also on a loopback TCP
//! listener, and every request needs `Authorization: Bearer <token>`, the token being the
//! content of `<data_dir>/admin.token` (written anew, mode 0600, at every start). The
//! operator's tools find the node through the socket only: a TCP port can be taken by
//! anyone on the machine once the node is gone, the socket cannot.

use std::path::Path;
use std::time::Duration;

use dyad_ledger::reads::{ConsistencyProof, InclusionProof, ReadError, Receipt};
use dyad_verifier::note::MAX_NOTE_BYTES;
use dyad_verifier::receipt::MAX_RECEIPT_BYTES;

use super::http::{
    base_url, http_client, http_error, read_bounded, status_error, ClientError, Fetched,
};
use crate::admin::{
    AppendRequest, AppendResponse, RotateKeyRequest, RotateKeyResponse, SnapshotRequest,
    SnapshotResponse, WitnessChangeApproval, WitnessChangeApproveRequest, WitnessChangeResponse,
};
use crate::{admin_socket_path, read_admin_token, NodeError};

/// A client for a node's admin API.
#[derive(Clone, Debug)]
pub struct AdminClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl AdminClient {
    /// A client for the admin API on TCP at `admin_url`, with the bearer `token`.
    pub fn new(admin_url: &str, token: &str) -> Result<AdminClient, ClientError> {
        Ok(AdminClient {
            http: http_client(Duration::from_secs(5), Duration::from_secs(120))?,
            base: base_url(admin_url)?,
            token: token.to_owned(),
        })
    }

    /// A client for the admin API on the Unix socket `socket` (a node's
    /// `<data_dir>/admin.sock`).
    #[cfg(unix)]
    pub fn over_socket(socket: &Path, token: &str) -> Result<AdminClient, ClientError> {
        crate::tls::install_default_provider();
        let http = reqwest::Client::builder()
            .unix_socket(socket)
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|source| ClientError::Http {
                url: socket.display().to_string(),
                source,
            })?;
        Ok(AdminClient {
            http,
            // The host is not used: every request goes over the socket.
            base: "http://localhost".to_owned(),
            token: token.to_owned(),
        })
    }

    /// The client for the node running on a data directory: its admin socket and
    /// `admin.token`, once the directory is checked private (0700, files 0600), so that
    /// the socket can only be the owner's. `None` when there is no such directory or no
    /// socket in it (no node runs, or none has since the directory was created).
    #[cfg(unix)]
    pub fn for_data_dir(data_dir: &Path) -> Result<Option<AdminClient>, NodeError> {
        if !data_dir.is_dir() {
            return Ok(None);
        }
        dyad_ledger::private_dir::check(data_dir)?;
        let socket = admin_socket_path(data_dir);
        if std::fs::symlink_metadata(&socket).is_err() {
            return Ok(None);
        }
        let token = read_admin_token(data_dir)?;
        Ok(Some(AdminClient::over_socket(&socket, &token)?))
    }

    /// Appends a message through the node. Returns the HTTP status (200 or 202) with the
    /// answer; any other status is an error.
    pub async fn append(&self, req: &AppendRequest) -> Result<(u16, AppendResponse), ClientError> {
        let url = format!("{}/admin/append", self.base);
        let body = serde_json::to_vec(req).expect("an append request serialises");
        let resp = self
            .http
            .post(&url)
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(http_error(&url))?;
        let fetched = read_bounded(&url, resp, 1 << 20).await?;
        let status = fetched.status.as_u16();
        if status != 200 && status != 202 {
            return Err(status_error(&url, &fetched));
        }
        let answer = serde_json::from_slice(&fetched.body).map_err(|e| ClientError::Status {
            url: url.clone(),
            status,
            body: format!("unreadable answer: {e}"),
        })?;
        Ok((status, answer))
    }

    /// `GET /admin/status`: the node's [`crate::NodeStatus`], as JSON.
    pub async fn status(&self) -> Result<serde_json::Value, ClientError> {
        let (url, fetched) = self.get("/admin/status", 1 << 20).await?;
        if fetched.status.as_u16() != 200 {
            return Err(status_error(&url, &fetched));
        }
        serde_json::from_slice(&fetched.body).map_err(|e| unreadable(url, e))
    }

    /// A GET with the token, its answer read up to `max` bytes, and the URL asked.
    async fn get(&self, path: &str, max: usize) -> Result<(String, Fetched), ClientError> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .http
            .get(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(http_error(&url))?;
        let fetched = read_bounded(&url, resp, max).await?;
        Ok((url, fetched))
    }
}

/// What a read of the replica through the admin API gives: the answer, or the node's
/// refusal as the replica's own [`ReadError`] (the outer error: the request failed).
pub type ReadAnswer<T> = Result<Result<T, ReadError>, ClientError>;

/// The most a proof's JSON can take: at most 64 hashes of 44 base64 characters, quoted.
const MAX_PROOF_ANSWER: usize = 16 * 1024;

impl AdminClient {
    /// `GET /admin/receipt?index=I`: the receipt of entry `index` at the latest co-signed
    /// checkpoint.
    pub async fn receipt(&self, index: u64) -> ReadAnswer<Receipt> {
        // The receipt's bytes in base64 in a small JSON object.
        let max = MAX_RECEIPT_BYTES / 3 * 4 + 1024;
        self.read_json(&format!("/admin/receipt?index={index}"), max)
            .await
    }

    /// `GET /admin/proof/inclusion?index=I[&size=N]`: the inclusion proof of entry `index`
    /// (without a size: in the latest co-signed tree if it covers the entry, else in the
    /// whole log).
    pub async fn inclusion_proof(
        &self,
        index: u64,
        size: Option<u64>,
    ) -> ReadAnswer<InclusionProof> {
        let size = size.map(|s| format!("&size={s}")).unwrap_or_default();
        let path = format!("/admin/proof/inclusion?index={index}{size}");
        self.read_json(&path, MAX_PROOF_ANSWER).await
    }

    /// `GET /admin/proof/consistency?old=O&new=N`.
    pub async fn consistency_proof(&self, old: u64, new: u64) -> ReadAnswer<ConsistencyProof> {
        let path = format!("/admin/proof/consistency?old={old}&new={new}");
        self.read_json(&path, MAX_PROOF_ANSWER).await
    }

    /// `GET /admin/checkpoint[?size=N]`: the co-signed checkpoint note of `size`, or the
    /// latest.
    pub async fn checkpoint_note(&self, size: Option<u64>) -> ReadAnswer<Vec<u8>> {
        let query = size.map(|s| format!("?size={s}")).unwrap_or_default();
        let path = format!("/admin/checkpoint{query}");
        Ok(self.read(&path, MAX_NOTE_BYTES).await?.map(|f| f.body))
    }

    async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        max: usize,
    ) -> ReadAnswer<T> {
        let fetched = match self.read(path, max).await? {
            Ok(f) => f,
            Err(refusal) => return Ok(Err(refusal)),
        };
        serde_json::from_slice(&fetched.body)
            .map(Ok)
            .map_err(|e| unreadable(format!("{}{path}", self.base), e))
    }

    /// A GET of the replica's reads: 200, or a refusal (404, 422) read back as the
    /// [`ReadError`] it names; any other answer is an error.
    async fn read(&self, path: &str, max: usize) -> ReadAnswer<Fetched> {
        let (url, fetched) = self.get(path, max).await?;
        match fetched.status.as_u16() {
            200 => Ok(Ok(fetched)),
            404 | 422 => match serde_json::from_slice::<ReadError>(&fetched.body) {
                Ok(refusal) => Ok(Err(refusal)),
                Err(_) => Err(status_error(&url, &fetched)),
            },
            _ => Err(status_error(&url, &fetched)),
        }
    }
}

/// A 200 whose body is not the answer expected.
fn unreadable(url: String, e: serde_json::Error) -> ClientError {
    ClientError::Status {
        url,
        status: 200,
        body: format!("unreadable answer: {e}"),
    }
}

impl AdminClient {
    /// `POST <path>` with `req` as JSON, waiting at most `timeout`; a 200's JSON answer.
    async fn post_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        req: &impl serde::Serialize,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let body = serde_json::to_vec(req).map_err(|e| ClientError::Status {
            url: url.clone(),
            status: 0,
            body: format!("cannot encode the request: {e}"),
        })?;
        let resp = self
            .http
            .post(&url)
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(http_error(&url))?;
        json_answer(url, resp).await
    }

    /// `POST /admin/snapshot`: the node writes a consistent, verified copy of its store
    /// into `dir` (absolute, or relative to its data directory). Waits as long as the copy
    /// and its verification take, up to `timeout`.
    pub async fn snapshot(
        &self,
        dir: &Path,
        timeout: Duration,
    ) -> Result<SnapshotResponse, ClientError> {
        let req = SnapshotRequest {
            dir: dir.display().to_string(),
        };
        self.post_json("/admin/snapshot", &req, timeout).await
    }

    /// For synchronous callers: [`AdminClient::snapshot`] on a runtime of its own.
    pub fn snapshot_blocking(
        &self,
        dir: &Path,
        timeout: Duration,
    ) -> Result<SnapshotResponse, ClientError> {
        crate::runtime::client()?.block_on(self.snapshot(dir, timeout))
    }

    /// `POST /admin/rotate-key`: this party's key change to the key in `new_key_file`
    /// (absolute, on the node's machine). The sequencer's node may wait until its log is
    /// co-signed before it appends it, up to its `max_wait`: `timeout` should exceed that.
    pub async fn rotate_key(
        &self,
        new_key_file: &Path,
        timeout: Duration,
    ) -> Result<RotateKeyResponse, ClientError> {
        let req = RotateKeyRequest {
            new_key_file: new_key_file.display().to_string(),
        };
        self.post_json("/admin/rotate-key", &req, timeout).await
    }

    /// For synchronous callers: [`AdminClient::rotate_key`] on a runtime of its own.
    pub fn rotate_key_blocking(
        &self,
        new_key_file: &Path,
        timeout: Duration,
    ) -> Result<RotateKeyResponse, ClientError> {
        crate::runtime::client()?.block_on(self.rotate_key(new_key_file, timeout))
    }

    /// `POST /admin/witness-change/approve` (spec/node.md 5.6): this party's approval of
    /// the other party's next witness change to `req`'s set.
    pub async fn approve_witness_change(
        &self,
        req: &WitnessChangeApproveRequest,
        timeout: Duration,
    ) -> Result<WitnessChangeApproval, ClientError> {
        self.post_json("/admin/witness-change/approve", req, timeout)
            .await
    }

    /// For synchronous callers: [`AdminClient::approve_witness_change`] on a runtime of its
    /// own.
    pub fn approve_witness_change_blocking(
        &self,
        req: &WitnessChangeApproveRequest,
        timeout: Duration,
    ) -> Result<WitnessChangeApproval, ClientError> {
        crate::runtime::client()?.block_on(self.approve_witness_change(req, timeout))
    }

    /// `POST /admin/witness-change` (spec/node.md 5.6): this party makes the witness
    /// change the other party approved (`approval`, with any witness URLs added).
    pub async fn witness_change(
        &self,
        approval: &WitnessChangeApproval,
        timeout: Duration,
    ) -> Result<WitnessChangeResponse, ClientError> {
        self.post_json("/admin/witness-change", approval, timeout)
            .await
    }

    /// For synchronous callers: [`AdminClient::witness_change`] on a runtime of its own.
    pub fn witness_change_blocking(
        &self,
        approval: &WitnessChangeApproval,
        timeout: Duration,
    ) -> Result<WitnessChangeResponse, ClientError> {
        crate::runtime::client()?.block_on(self.witness_change(approval, timeout))
    }

    /// For synchronous callers (the CLI): [`AdminClient::append`] on a runtime of its own.
    pub fn append_blocking(
        &self,
        req: &AppendRequest,
    ) -> Result<(u16, AppendResponse), ClientError> {
        crate::runtime::client()?.block_on(self.append(req))
    }
}

/// A 200 answer's JSON body (at most 1 MiB); any other status is an error.
async fn json_answer<T: serde::de::DeserializeOwned>(
    url: String,
    resp: reqwest::Response,
) -> Result<T, ClientError> {
    let fetched = read_bounded(&url, resp, 1 << 20).await?;
    if fetched.status.as_u16() != 200 {
        return Err(status_error(&url, &fetched));
    }
    serde_json::from_slice(&fetched.body).map_err(|e| ClientError::Status {
        url,
        status: 200,
        body: format!("unreadable answer: {e}"),
    })
}

/// For synchronous callers: appends through the node at the TCP `admin_url`.
pub fn append_blocking(
    admin_url: &str,
    token: &str,
    req: &AppendRequest,
) -> Result<(u16, AppendResponse), ClientError> {
    crate::runtime::client()?
        .block_on(async { AdminClient::new(admin_url, token)?.append(req).await })
}
