//! A sequencer that promises an index to the co-signer's message and then puts another
//! entry there: the co-signer refuses the tree, keeps broken-promise evidence that the
//! verifier proves with the log key alone, submits the message again and never reports
//! it committed.
//!
//! The lying sequencer is a real sequencer node behind a proxy holding the sequencer's
//! key: the proxy answers the co-signer's first `POST /submit-batch` itself, with a valid
//! promise for the index the sequencer is about to give its own message, and forwards
//! everything else.

mod node_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use dyad_ledger::tree::leaf_hash;
use dyad_node::submit::{self, SubmitResult, SubmitResults};
use dyad_node::{AdminClient, BatchPromise};
use dyad_verifier::promise_evidence;
use node_support::*;

/// The proxy is a plain-HTTP man in the middle: both nodes serve plain HTTP here
/// (`insecure_http`), as nodes behind TLS-terminating proxies do; what is tested is the
/// co-signer's check of the promises it is given, not the transport.
fn plain(mut config: dyad_node::NodeConfig) -> dyad_node::NodeConfig {
    config.insecure_http = true;
    config
}

struct Proxy {
    seq_url: String,
    seq_admin: AdminClient,
    /// Submissions answered with a lie, and forwarded.
    lies: AtomicU64,
    forwarded: AtomicU64,
    /// (index, leaf promised) of the lie.
    lie: std::sync::Mutex<Option<(u64, [u8; 32])>>,
    /// Wait until the sequencer's own message is committed (co-signed) before answering
    /// with the promise: the co-signer learns of the promise only after it co-signed.
    commit_first: bool,
}

async fn submit_batch(State(p): State<Arc<Proxy>>, body: Bytes) -> Response {
    if p.lies.fetch_add(1, Ordering::SeqCst) == 0 {
        let entries = submit::parse_batch(&body).unwrap();
        let promised = leaf_hash(entries[0]);
        // The sequencer's own message takes the next index...
        let (_, own) = p
            .seq_admin
            .append(&request(
                "the sequencer's own message",
                if p.commit_first {
                    "committed"
                } else {
                    "accepted"
                },
            ))
            .await
            .unwrap();
        let index = own.index.unwrap();
        // ...and the co-signer is promised that index for its message.
        let promise = BatchPromise {
            origin: ORIGIN.into(),
            entries: vec![(index, promised)],
        };
        let log_key = alpha().verifier_key().with_name(ORIGIN).unwrap();
        let note = promise.sign(&alpha(), &log_key);
        *p.lie.lock().unwrap() = Some((index, promised));
        let mut results = vec![SubmitResult::Accepted { index }];
        results.extend((1..entries.len()).map(|_| SubmitResult::Refused {
            status: 503,
            message: "busy".into(),
        }));
        let body = SubmitResults {
            results,
            promise: Some(note),
        }
        .encode();
        return (StatusCode::OK, body).into_response();
    }
    p.forwarded.fetch_add(1, Ordering::SeqCst);
    let r = http()
        .post(format!("{}/submit-batch", p.seq_url))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
    (status, r.bytes().await.unwrap()).into_response()
}

async fn forward(State(p): State<Arc<Proxy>>, uri: Uri) -> Response {
    let r = http()
        .get(format!("{}{}", p.seq_url, uri.path()))
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
    (status, r.bytes().await.unwrap()).into_response()
}

fn evidence_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir.join("bravo/evidence"))
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with(dyad_node::BROKEN_PROMISE_PREFIX)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A sequencer and a co-signer whose way to the sequencer goes through the lying proxy.
/// Unless `commit_first`, the sequencer does not know the co-signer's URL yet.
async fn lying_pair(
    dir: &std::path::Path,
    commit_first: bool,
) -> (dyad_node::RunningNode, dyad_node::RunningNode, Arc<Proxy>) {
    create_channel(dir);
    let seq = dyad_node::start(plain(config(dir, "alpha", alpha())))
        .await
        .unwrap();
    let proxy = Arc::new(Proxy {
        seq_url: seq.url(),
        seq_admin: admin(&seq),
        lies: AtomicU64::new(0),
        forwarded: AtomicU64::new(0),
        lie: std::sync::Mutex::new(None),
        commit_first,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/submit-batch", post(submit_batch))
        .fallback(forward)
        .with_state(proxy.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut cos_config = plain(config(dir, "bravo", bravo()));
    cos_config.peer_url = Some(proxy_url);
    let cos = dyad_node::start(cos_config).await.unwrap();
    if commit_first {
        seq.set_peer_url(Some(cos.url()));
    }
    (seq, cos, proxy)
}

#[test]
fn a_broken_promise_is_refused_kept_as_evidence_and_the_message_submitted_again() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (seq, cos, proxy) = lying_pair(dir.path(), false).await;

        // The co-signer's message, waited for until committed: it never is.
        let mut req = request("the co-signer's message", "committed");
        req.timeout_ms = Some(4_000);
        let waiting = {
            let client = admin(&cos);
            tokio::spawn(async move { client.append(&req).await.unwrap() })
        };
        // Once the co-signer holds the promise, the sequencer asks it to co-sign.
        assert!(
            wait_until(Duration::from_secs(15), || async {
                cos.metrics()
                    .promises
                    .load(std::sync::atomic::Ordering::SeqCst)
                    > 0
            })
            .await
        );
        seq.set_peer_url(Some(cos.url()));
        let evidence_dir = dir.path().to_owned();
        assert!(
            wait_until(Duration::from_secs(15), || {
                let d = evidence_dir.clone();
                async move { !evidence_files(&d).is_empty() }
            })
            .await,
            "no broken-promise evidence was kept"
        );
        let (index, promised) = proxy.lie.lock().unwrap().unwrap();

        // The evidence proves the broken promise with the log key alone.
        let files = evidence_files(dir.path());
        assert_eq!(files.len(), 1, "{files:?}");
        let bytes = std::fs::read(&files[0]).unwrap();
        let log_key = alpha().verifier_key().with_name(ORIGIN).unwrap();
        let proven = promise_evidence::verify(&bytes, &log_key).unwrap();
        assert_eq!(proven.index, index);
        assert_eq!(proven.promised_leaf, promised);
        assert_ne!(proven.found_leaf, promised);
        assert!(proven.checkpoint.size > index);
        // Not by the co-signer's key: only the log made these promises.
        let other = bravo().verifier_key().with_name(ORIGIN).unwrap();
        assert!(promise_evidence::verify(&bytes, &other).is_err());

        // The message is submitted again (forwarded to the real sequencer this time).
        assert!(
            wait_until(Duration::from_secs(15), || async {
                proxy.forwarded.load(Ordering::SeqCst) > 0
            })
            .await,
            "the message was not submitted again"
        );
        // The sequencer keeps offering trees covering the index; each is refused and the
        // one conflict keeps one file.
        assert!(
            wait_until(Duration::from_secs(15), || async {
                cos.metrics().rejected("add-checkpoint", "broken-promise") >= 3
            })
            .await
        );
        assert_eq!(evidence_files(dir.path()).len(), 1);
        let st = cos.status().await.unwrap();
        assert!(
            st.committed_size <= index,
            "the co-signer co-signed a tree covering the broken promise: {st:?}"
        );

        let (status, answer) = waiting.await.unwrap();
        assert_eq!(status, 202, "{answer:?}");
        assert_ne!(answer.state, "committed", "{answer:?}");

        cos.shutdown().await.unwrap();
        seq.shutdown().await.unwrap();

        // After a restart the co-signer still refuses the tree: the broken promise is read
        // back from its evidence.
        let mut cos_config = plain(config(dir.path(), "bravo", bravo()));
        cos_config.peer_url = None;
        let seq = dyad_node::start(plain(config(dir.path(), "alpha", alpha())))
            .await
            .unwrap();
        cos_config.peer_url = Some(seq.url());
        let cos = dyad_node::start(cos_config).await.unwrap();
        seq.set_peer_url(Some(cos.url()));
        assert!(
            wait_until(Duration::from_secs(15), || async {
                cos.metrics().rejected("add-checkpoint", "broken-promise") >= 1
            })
            .await,
            "the restarted co-signer forgot the broken promise"
        );
        assert!(cos.status().await.unwrap().committed_size <= index);
        cos.shutdown().await.unwrap();
        seq.shutdown().await.unwrap();
    });
}

/// The log co-signs another entry at an index first, and promises that index afterwards:
/// the promise is broken as it is made. The co-signer keeps the evidence at once and
/// never reports the message committed, although the index is.
#[test]
fn a_promise_of_an_index_already_cosigned_with_another_leaf_is_broken_at_once() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (seq, cos, proxy) = lying_pair(dir.path(), true).await;
        let mut req = request("the co-signer's message", "committed");
        req.timeout_ms = Some(4_000);
        let (status, answer) = admin(&cos).append(&req).await.unwrap();
        let evidence_dir = dir.path().to_owned();
        assert!(
            wait_until(Duration::from_secs(15), || {
                let d = evidence_dir.clone();
                async move { !evidence_files(&d).is_empty() }
            })
            .await,
            "no broken-promise evidence was kept"
        );
        let (index, promised) = proxy.lie.lock().unwrap().unwrap();
        assert!(cos.status().await.unwrap().committed_size > index);
        // Never committed at the index the log broke its word on; committed only where the
        // sequencer really put it once submitted again.
        assert_ne!(answer.index, Some(index), "{answer:?}");
        assert!(
            (status, answer.state.as_str()) == (200, "committed")
                || (status == 202 && answer.state != "committed"),
            "{status} {answer:?}"
        );
        let files = evidence_files(dir.path());
        assert_eq!(files.len(), 1, "{files:?}");
        let log_key = alpha().verifier_key().with_name(ORIGIN).unwrap();
        let proven =
            promise_evidence::verify(&std::fs::read(&files[0]).unwrap(), &log_key).unwrap();
        assert_eq!((proven.index, proven.promised_leaf), (index, promised));
        // Submitted again, to the real sequencer this time, and committed there.
        assert!(
            wait_until(Duration::from_secs(15), || async {
                proxy.forwarded.load(Ordering::SeqCst) > 0
                    && cos.status().await.unwrap().queued == 0
            })
            .await,
            "the message was not submitted again"
        );
        cos.shutdown().await.unwrap();
        seq.shutdown().await.unwrap();
        let in_log = subjects(&dir.path().join("bravo/ledger"));
        let at = in_log
            .iter()
            .position(|s| s == "the co-signer's message")
            .expect("the message is in the co-signer's replica") as u64
            + 1;
        assert_ne!(at, index);
        assert_eq!(in_log[index as usize - 1], "the sequencer's own message");
    });
}
