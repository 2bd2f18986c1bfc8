//! The async and blocking clients of a C2SP tlog-tiles read API (a dyad node, or a static
//! tile export served by any web server): the checkpoint, hash tiles, entry bundles and
//! streams of entries.
//!
//! Everything read is untrusted: every response is size-bounded before it is read, and
//! tiles and bundles are parsed strictly (`dyad_ledger::wire::tiles`).
//!
//! [`TileClient`] is async (tokio). [`BlockingClient`], [`fetch_checkpoint`] and
//! [`fetch_entries`] run their own small runtime, for synchronous callers such as the CLI;
//! they must not be called from inside a tokio runtime.

use std::collections::VecDeque;
use std::time::Duration;

use dyad_verifier::note::MAX_NOTE_BYTES;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use dyad_ledger::tree::Hash;
use dyad_ledger::wire::tiles::{
    parse_entry_bundle, parse_hash_tile, Tile, FULL_WIDTH, MAX_BUNDLE_BYTES, MAX_HASH_TILE_BYTES,
};

use super::http::{
    base_url, http_client, http_client_with, http_error, read_bounded, status_error, ClientError,
    Reach,
};

/// Bundles fetched ahead of the one being read.
const PREFETCH: usize = 4;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// An async client for one log's tiles API (a node, or a static export).
#[derive(Clone, Debug)]
pub struct TileClient {
    http: reqwest::Client,
    base: String,
}

impl TileClient {
    /// A client for the log served at `base_url` (e.g. `http://127.0.0.1:7380`, or the
    /// URL of the directory a tile export is served from).
    pub fn new(base_url: &str) -> Result<TileClient, ClientError> {
        Self::with_http(base_url, http_client(CONNECT_TIMEOUT, REQUEST_TIMEOUT)?)
    }

    /// A client of the node at `base_url` that reaches it as `reach` says (a read
    /// credential, or a party's TLS identity).
    pub fn with_reach(base_url: &str, reach: Reach) -> Result<TileClient, ClientError> {
        Self::with_http(
            base_url,
            http_client_with(CONNECT_TIMEOUT, REQUEST_TIMEOUT, reach)?,
        )
    }

    /// The same, sharing an existing HTTP client (its connection pool and timeouts).
    pub fn with_http(url: &str, http: reqwest::Client) -> Result<TileClient, ClientError> {
        Ok(TileClient {
            http,
            base: base_url(url)?,
        })
    }

    /// The HTTP client it sends requests with (its TLS identity and credential).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The base URL requests go to (normalised: no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub(crate) async fn get(&self, path: &str, max: usize) -> Result<Vec<u8>, ClientError> {
        let url = format!("{}/{path}", self.base);
        let resp = self.http.get(&url).send().await.map_err(http_error(&url))?;
        let fetched = read_bounded(&url, resp, max).await?;
        if fetched.status != reqwest::StatusCode::OK {
            return Err(status_error(&url, &fetched));
        }
        Ok(fetched.body)
    }

    /// The log's latest checkpoint note (for a dyad node: the latest co-signed one),
    /// unverified.
    pub async fn checkpoint(&self) -> Result<Vec<u8>, ClientError> {
        self.get("checkpoint", MAX_NOTE_BYTES).await
    }

    /// A hash tile's hashes.
    pub async fn hash_tile(
        &self,
        level: u8,
        index: u64,
        width: u16,
    ) -> Result<Vec<Hash>, ClientError> {
        let tile = Tile::hashes(level, index, width);
        let bytes = self.get(&tile.path(), MAX_HASH_TILE_BYTES).await?;
        parse_hash_tile(&bytes, width).map_err(|source| ClientError::Tile {
            url: format!("{}/{}", self.base, tile.path()),
            source,
        })
    }

    /// An entry bundle's entries. A partial bundle that is gone (a static export keeps
    /// only the partial bundles of the sizes it exported) is read from the full bundle
    /// instead, if that exists.
    pub async fn entry_bundle(&self, index: u64, width: u16) -> Result<Vec<Vec<u8>>, ClientError> {
        match self.entry_bundle_exact(index, width).await {
            Err(e) if width < FULL_WIDTH && e.status() == Some(404) => {
                let mut full = self
                    .entry_bundle_exact(index, FULL_WIDTH)
                    .await
                    .map_err(|_| e)?;
                full.truncate(usize::from(width));
                Ok(full)
            }
            other => other,
        }
    }

    async fn entry_bundle_exact(
        &self,
        index: u64,
        width: u16,
    ) -> Result<Vec<Vec<u8>>, ClientError> {
        let tile = Tile::entries(index, width);
        let bytes = self.get(&tile.path(), MAX_BUNDLE_BYTES).await?;
        parse_entry_bundle(&bytes, width).map_err(|source| ClientError::Tile {
            url: format!("{}/{}", self.base, tile.path()),
            source,
        })
    }

    /// The entries `[from, to)`, in order, fetched bundle by bundle with a few bundles in
    /// flight: memory stays flat whatever the range. The server must hold at least `to`
    /// entries.
    pub fn entries(&self, from: u64, to: u64) -> EntryStream {
        EntryStream {
            client: self.clone(),
            next_bundle_from: from,
            end: to.max(from),
            inflight: VecDeque::new(),
            current: Vec::new().into_iter(),
            next_index: from,
            failed: false,
        }
    }

    /// All the entries `[from, to)` at once. For small ranges: see [`TileClient::entries`].
    pub async fn fetch_entries(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, ClientError> {
        let mut out = Vec::with_capacity(to.saturating_sub(from).min(1 << 16) as usize);
        let mut stream = self.entries(from, to);
        while let Some(e) = stream.next().await {
            out.push(e?.1);
        }
        Ok(out)
    }
}

type BundleTask = JoinHandle<Result<Vec<Vec<u8>>, ClientError>>;

/// Entries of a range, streamed; see [`TileClient::entries`].
pub struct EntryStream {
    client: TileClient,
    /// The first index not yet requested.
    next_bundle_from: u64,
    end: u64,
    inflight: VecDeque<BundleTask>,
    current: std::vec::IntoIter<Vec<u8>>,
    next_index: u64,
    failed: bool,
}

impl EntryStream {
    /// Requests bundles until `PREFETCH` are in flight or the range is covered.
    fn schedule(&mut self) {
        let width = u64::from(FULL_WIDTH);
        while self.inflight.len() < PREFETCH && self.next_bundle_from < self.end {
            let from = self.next_bundle_from;
            let bundle = from / width;
            let bundle_start = bundle * width;
            let to = (bundle_start + width).min(self.end);
            let fetch_width = (to - bundle_start) as u16;
            let skip = (from - bundle_start) as usize;
            let client = self.client.clone();
            self.inflight.push_back(tokio::spawn(async move {
                let mut entries = client.entry_bundle(bundle, fetch_width).await?;
                entries.drain(..skip);
                Ok(entries)
            }));
            self.next_bundle_from = to;
        }
    }

    /// The next entry and its index; `None` at the end of the range or after an error.
    pub async fn next(&mut self) -> Option<Result<(u64, Vec<u8>), ClientError>> {
        if self.failed {
            return None;
        }
        loop {
            if let Some(entry) = self.current.next() {
                let index = self.next_index;
                self.next_index += 1;
                return Some(Ok((index, entry)));
            }
            self.schedule();
            let task = self.inflight.pop_front()?;
            match task.await {
                Ok(Ok(entries)) => self.current = entries.into_iter(),
                Ok(Err(e)) => {
                    self.failed = true;
                    return Some(Err(e));
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(ClientError::Task(e.to_string())));
                }
            }
        }
    }
}

impl Drop for EntryStream {
    fn drop(&mut self) {
        for task in &self.inflight {
            task.abort();
        }
    }
}

fn small_runtime() -> Result<Runtime, ClientError> {
    crate::runtime::workers("dyad-http-client", Some(1))
}

/// A synchronous [`TileClient`] with its own runtime (one worker thread, which keeps
/// fetching ahead while the caller works on what it got).
pub struct BlockingClient {
    client: TileClient,
    rt: Runtime,
}

impl BlockingClient {
    /// A client for the log served at `base_url`, with its own runtime.
    pub fn new(base_url: &str) -> Result<BlockingClient, ClientError> {
        Self::with_reach(base_url, Reach::public())
    }

    /// The same, reaching the node as `reach` says.
    pub fn with_reach(base_url: &str, reach: Reach) -> Result<BlockingClient, ClientError> {
        let rt = small_runtime()?;
        let client = {
            let _guard = rt.enter();
            TileClient::with_reach(base_url, reach)?
        };
        Ok(BlockingClient { client, rt })
    }

    /// The log's latest checkpoint note, unverified.
    pub fn checkpoint(&self) -> Result<Vec<u8>, ClientError> {
        self.rt.block_on(self.client.checkpoint())
    }

    /// The async client, for work run with [`BlockingClient::block_on`].
    pub fn tile_client(&self) -> &TileClient {
        &self.client
    }

    /// Runs `job` on this client's runtime, to its end.
    pub fn block_on<F: std::future::Future>(&self, job: F) -> F::Output {
        self.rt.block_on(job)
    }

    /// The entries `[from, to)` as an iterator; see [`TileClient::entries`].
    pub fn entries(&self, from: u64, to: u64) -> BlockingEntries<'_> {
        let _guard = self.rt.enter();
        BlockingEntries {
            stream: self.client.entries(from, to),
            rt: &self.rt,
        }
    }
}

/// Entries streamed synchronously; see [`BlockingClient::entries`].
pub struct BlockingEntries<'a> {
    stream: EntryStream,
    rt: &'a Runtime,
}

impl Iterator for BlockingEntries<'_> {
    type Item = Result<(u64, Vec<u8>), ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rt.block_on(self.stream.next())
    }
}

/// Fetches the checkpoint of the log at `url` (blocking).
pub fn fetch_checkpoint(url: &str, reach: Reach) -> Result<Vec<u8>, ClientError> {
    BlockingClient::with_reach(url, reach)?.checkpoint()
}

/// Streams the entries `[from, to)` of the log at `url` (blocking iterator, flat memory).
pub fn fetch_entries(
    url: &str,
    reach: Reach,
    from: u64,
    to: u64,
) -> Result<OwnedEntries, ClientError> {
    let client = BlockingClient::with_reach(url, reach)?;
    let stream = {
        let _guard = client.rt.enter();
        client.client.entries(from, to)
    };
    Ok(OwnedEntries {
        stream,
        rt: client.rt,
    })
}

/// [`BlockingEntries`] that own their runtime; see [`fetch_entries`].
pub struct OwnedEntries {
    // Dropped first: its tasks are aborted while the runtime still exists.
    stream: EntryStream,
    rt: Runtime,
}

impl Iterator for OwnedEntries {
    type Item = Result<(u64, Vec<u8>), ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rt.block_on(self.stream.next())
    }
}
