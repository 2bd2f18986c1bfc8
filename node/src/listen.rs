//! The listeners' accept loop (spec/node.md 1.1): every connection gets a header-read
//! timeout (which is also its keep-alive idle timeout), an idle timeout while no request is
//! being worked on, and a place in a bounded table of connections. When the table is full,
//! a new connection takes the place of the connection that has shown the least activity
//! among those the node is not working for (waiting for a request, or still receiving a
//! request body): strangers that hold connections open cannot keep the peer out, they can
//! only make each other's connections shorter. Request bodies are buffered against one
//! byte budget shared by all connections ([`BodyBudget`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::http::guard::Caller;
use crate::metrics::{ListenMetrics, Metrics};
use crate::tls::{identify, PartyVerifier};

/// What a listener does with a connection before HTTP: nothing (plain HTTP, every request
/// from the given caller), or a TLS 1.3 handshake that identifies the client.
#[derive(Clone)]
pub(crate) enum Handshake {
    Plain(Caller),
    Tls {
        acceptor: tokio_rustls::TlsAcceptor,
        clients: PartyVerifier,
    },
}

/// How one listener treats its connections (from [`crate::NodeConfig`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

/// One byte budget for all request bodies being buffered: a body takes permits for its
/// bytes before it keeps them, and gives them back when the request is done. When the
/// budget is spent, the body that has been arriving slowest (for at least
/// [`SHED_AFTER`]) is cut off to make room: slow senders cannot hold it against fast ones.
pub(crate) struct BodyBudget {
    semaphore: Arc<Semaphore>,
    total: usize,
    holders: Holders,
    next: AtomicU64,
    released: Arc<Notify>,
}

type Holders = Arc<Mutex<HashMap<u64, Arc<Holder>>>>;

fn lock_holders(h: &Holders) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Holder>>> {
    h.lock().unwrap_or_else(|p| p.into_inner())
}

/// A body holding part of the budget.
struct Holder {
    since: Instant,
    bytes: AtomicU64,
    cut: Notify,
}

/// A body is not cut off for being slow before it has had this long.
const SHED_AFTER: Duration = Duration::from_secs(1);

/// Permits for buffered body bytes; returned to the budget when dropped.
pub(crate) struct BudgetPermit {
    permit: Option<OwnedSemaphorePermit>,
    metrics: Arc<ListenMetrics>,
    holder: Arc<Holder>,
    id: u64,
    holders: Holders,
    released: Arc<Notify>,
}

/// Tells when a body is cut off to make room for a faster one.
pub(crate) struct Cut(Arc<Holder>);

impl Cut {
    pub async fn cut(&self) {
        self.0.cut.notified().await
    }
}

impl BudgetPermit {
    pub fn cut_signal(&self) -> Cut {
        Cut(self.holder.clone())
    }
}

impl Drop for BudgetPermit {
    fn drop(&mut self) {
        lock_holders(&self.holders).remove(&self.id);
        if let Some(p) = self.permit.take() {
            self.metrics
                .body_bytes_buffered
                .fetch_sub(p.num_permits() as u64, Ordering::SeqCst);
            drop(p);
            self.released.notify_waiters();
        }
    }
}

impl BodyBudget {
    pub fn new(total: usize) -> BodyBudget {
        let total = total.clamp(1, Semaphore::MAX_PERMITS);
        BodyBudget {
            semaphore: Arc::new(Semaphore::new(total)),
            total,
            holders: Arc::new(Mutex::new(HashMap::new())),
            next: AtomicU64::new(0),
            released: Arc::new(Notify::new()),
        }
    }

    fn holders(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Holder>>> {
        lock_holders(&self.holders)
    }

    /// An empty permit, to which [`BodyBudget::take`] adds.
    pub fn empty(&self, metrics: Arc<ListenMetrics>) -> BudgetPermit {
        BudgetPermit {
            permit: None,
            metrics,
            holder: Arc::new(Holder {
                since: Instant::now(),
                bytes: AtomicU64::new(0),
                cut: Notify::new(),
            }),
            id: self.next.fetch_add(1, Ordering::Relaxed),
            holders: self.holders.clone(),
            released: self.released.clone(),
        }
    }

    /// Adds `n` bytes to `permit`, waiting until they are free or `deadline`. False if
    /// the deadline passed (or `n` exceeds the whole budget).
    pub async fn take(&self, permit: &mut BudgetPermit, n: usize, deadline: Instant) -> bool {
        if n == 0 {
            return true;
        }
        if n > self.total {
            return false;
        }
        let Ok(n32) = u32::try_from(n) else {
            return false;
        };
        // Not a queue: whoever finds the bytes free takes them, so that a small request is
        // not kept waiting behind a large one.
        let p = loop {
            if let Ok(p) = self.semaphore.clone().try_acquire_many_owned(n32) {
                break p;
            }
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if let Ok(p) = self.semaphore.clone().try_acquire_many_owned(n32) {
                break p;
            }
            self.shed_slowest(permit.id);
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                return false;
            }
        };
        match &mut permit.permit {
            Some(held) => held.merge(p),
            none => *none = Some(p),
        }
        permit.holder.bytes.fetch_add(n as u64, Ordering::Relaxed);
        self.holders()
            .entry(permit.id)
            .or_insert_with(|| permit.holder.clone());
        let l = &permit.metrics;
        let now = l.body_bytes_buffered.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
        l.body_bytes_peak.fetch_max(now, Ordering::SeqCst);
        true
    }

    /// Cuts off the body (other than `own`) arriving at the lowest average rate, among
    /// those older than [`SHED_AFTER`].
    fn shed_slowest(&self, own: u64) {
        let mut holders = self.holders();
        let now = Instant::now();
        let victim = holders
            .iter()
            .filter(|(id, h)| **id != own && now - h.since >= SHED_AFTER)
            .min_by_key(|(_, h)| {
                let ms = (now - h.since).as_millis().max(1) as u64;
                h.bytes.load(Ordering::Relaxed) * 1000 / ms
            })
            .map(|(id, _)| *id);
        if let Some(h) = victim.and_then(|id| holders.remove(&id)) {
            h.cut.notify_one();
        }
    }
}

/// What the node is doing on one connection.
#[derive(Default)]
struct ConnState {
    /// Requests whose handler runs.
    handlers: AtomicUsize,
    /// Request bodies not yet received in full.
    bodies: AtomicUsize,
    /// Milliseconds since the listener's start at the last byte read or written.
    last_io: AtomicU64,
    /// Told to close (shed).
    close: Notify,
}

impl ConnState {
    /// The node is not working for this connection: it waits for a request, or for the
    /// rest of a request body.
    fn sheddable(&self) -> bool {
        self.handlers.load(Ordering::SeqCst) == 0 || self.bodies.load(Ordering::SeqCst) > 0
    }
}

struct Table {
    conns: Mutex<HashMap<u64, Arc<ConnState>>>,
    start: Instant,
}

impl Table {
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<ConnState>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes room for one connection if the table is full: sheds the sheddable connection
    /// quiet for the longest. False if the table is full of connections being worked for.
    fn make_room(&self, max: usize, metrics: &ListenMetrics) -> bool {
        let mut conns = self.lock();
        if conns.len() < max {
            return true;
        }
        let victim = conns
            .iter()
            .filter(|(_, c)| c.sheddable())
            .min_by_key(|(_, c)| c.last_io.load(Ordering::Relaxed))
            .map(|(id, _)| *id);
        match victim {
            Some(id) => {
                if let Some(c) = conns.remove(&id) {
                    c.close.notify_one();
                }
                Metrics::inc(&metrics.connections_shed, 1);
                true
            }
            None => false,
        }
    }
}

/// Serves `router` on `listener` until `stop` resolves, then lets the connections finish
/// their requests (new ones are refused) until they close.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    handshake: Handshake,
    limits: Limits,
    metrics: Arc<ListenMetrics>,
    stop: impl std::future::Future<Output = ()>,
    name: &'static str,
) {
    let table = Arc::new(Table {
        conns: Mutex::new(HashMap::new()),
        start: Instant::now(),
    });
    let stopping = Arc::new(tokio::sync::watch::Sender::new(false));
    let mut tasks = JoinSet::new();
    let mut next_id = 0u64;
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = &mut stop => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors, most likely: wait for connections to close.
                tracing::warn!(listener = name, error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if !table.make_room(limits.max_connections.max(1), &metrics) {
            Metrics::inc(&metrics.connections_refused, 1);
            tracing::warn!(listener = name, %peer, "connection refused: every connection is busy");
            drop(stream);
            continue;
        }
        next_id += 1;
        let id = next_id;
        let state = Arc::new(ConnState::default());
        state.last_io.store(table.now_ms(), Ordering::Relaxed);
        table.lock().insert(id, state.clone());
        let conn = connection(
            stream,
            peer,
            router.clone(),
            handshake.clone(),
            limits,
            state,
            table.clone(),
            metrics.clone(),
            stopping.subscribe(),
        );
        let table = table.clone();
        tasks.spawn(async move {
            conn.await;
            table.lock().remove(&id);
        });
    }
    drop(listener);
    stopping.send_replace(true);
    while tasks.join_next().await.is_some() {}
}

#[allow(clippy::too_many_arguments)]
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    handshake: Handshake,
    limits: Limits,
    state: Arc<ConnState>,
    table: Arc<Table>,
    metrics: Arc<ListenMetrics>,
    stopping: tokio::sync::watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    Metrics::inc(&metrics.connections_open, 1);
    let io = Tracked {
        inner: stream,
        state: state.clone(),
        table: table.clone(),
    };
    let conn = Conn {
        peer,
        router,
        limits,
        state,
        table,
        metrics: metrics.clone(),
        stopping,
    };
    match handshake {
        Handshake::Plain(caller) => conn.http(io, caller).await,
        Handshake::Tls { acceptor, clients } => {
            // The handshake counts against the header timeout: a client that does not
            // finish it in time holds nothing longer than one that sends no headers.
            let accepted = tokio::select! {
                r = tokio::time::timeout(limits.header_timeout, acceptor.accept(io)) => r.ok(),
                _ = conn.state.close.notified() => None,
            };
            match accepted {
                Some(Ok(tls)) => {
                    let now = rustls::pki_types::UnixTime::now();
                    let caller = identify(tls.get_ref().1.peer_certificates(), &clients, now);
                    conn.http(tls, Caller::from(caller)).await
                }
                Some(Err(e)) => {
                    Metrics::inc(&metrics.tls_handshakes_failed, 1);
                    tracing::debug!(%peer, error = %e, "TLS handshake refused");
                }
                None => {
                    Metrics::inc(&metrics.tls_handshakes_failed, 1);
                    tracing::debug!(%peer, "TLS handshake not finished in time (or shed)");
                }
            }
        }
    }
    metrics.connections_open.fetch_sub(1, Ordering::Relaxed);
}

/// One accepted connection, once its transport is ready.
struct Conn {
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    state: Arc<ConnState>,
    table: Arc<Table>,
    metrics: Arc<ListenMetrics>,
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl Conn {
    /// Serves HTTP/1.1 on `io` until the connection ends, is shed, idles out or the
    /// listener stops; every request carries `caller`.
    async fn http<I>(self, io: I, caller: Caller)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Conn {
            peer,
            router,
            limits,
            state,
            table,
            metrics,
            mut stopping,
        } = self;
        let svc_state = state.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let mut router = router.clone();
            let state = svc_state.clone();
            let caller = caller.clone();
            async move {
                let _working = Count::new(&state, |s| &s.handlers);
                let (parts, body) = req.into_parts();
                let body = TrackedBody::new(body, state.clone());
                let mut req = Request::from_parts(parts, body);
                req.extensions_mut().insert(ConnectInfo(peer));
                req.extensions_mut().insert(caller);
                let response = tower_service::Service::call(&mut router, req).await;
                Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(true)
            .serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        let tick =
            (limits.idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        let mut ticker = tokio::time::interval(tick);
        let mut draining = false;
        loop {
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                    break;
                }
                _ = state.close.notified() => {
                    tracing::debug!(%peer, "connection shed to make room");
                    break;
                }
                r = stopping.changed(), if !draining => {
                    if r.is_err() || *stopping.borrow() {
                        draining = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
                _ = ticker.tick() => {
                    let quiet = table.now_ms().saturating_sub(state.last_io.load(Ordering::Relaxed));
                    // While a handler works (and is not waiting for the body), its own limits
                    // apply; otherwise nothing moving for the idle timeout closes the connection.
                    if state.handlers.load(Ordering::SeqCst) == 0
                        && quiet > limits.idle_timeout.as_millis() as u64
                    {
                        Metrics::inc(&metrics.connections_idle_closed, 1);
                        tracing::debug!(%peer, "idle connection closed");
                        break;
                    }
                }
            }
        }
    }
}

/// Counts one thing on a connection while alive.
struct Count {
    state: Arc<ConnState>,
    field: fn(&ConnState) -> &AtomicUsize,
}

impl Count {
    fn new(state: &Arc<ConnState>, field: fn(&ConnState) -> &AtomicUsize) -> Count {
        field(state).fetch_add(1, Ordering::SeqCst);
        Count {
            state: state.clone(),
            field,
        }
    }
}

impl Drop for Count {
    fn drop(&mut self) {
        (self.field)(&self.state).fetch_sub(1, Ordering::SeqCst);
    }
}

/// A request body that marks its connection as receiving until it ends or is dropped.
struct TrackedBody {
    inner: Incoming,
    receiving: Option<Count>,
}

impl TrackedBody {
    fn new(inner: Incoming, state: Arc<ConnState>) -> TrackedBody {
        let receiving = (!inner.is_end_stream()).then(|| Count::new(&state, |s| &s.bodies));
        TrackedBody { inner, receiving }
    }
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(r, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) || self.inner.is_end_stream()
        {
            self.receiving = None;
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A TCP stream that records when bytes last moved.
struct Tracked {
    inner: TcpStream,
    state: Arc<ConnState>,
    table: Arc<Table>,
}

impl Tracked {
    fn moved(&self) {
        self.state
            .last_io
            .store(self.table.now_ms(), Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.moved();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.moved();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.moved();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Raises this process's soft limit on open files to its hard limit, so that the
/// connection table, not the descriptor limit, decides how many connections are held.
pub(crate) fn raise_nofile_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(limit = n, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
}
