//! What a node refuses, and that a refusal stores nothing: garbage, forged signatures,
//! rolled-back and inconsistent checkpoints, huge bodies, missing admin tokens.

mod node_support;

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dyad_ledger::entry::{Draft, Kind};
use dyad_ledger::keys::SignerKey;
use dyad_node::witness::AddCheckpoint;
use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::note::signature_line;
use node_support::*;

/// A checkpoint note signed by `key` under the name `origin` (as the log signs).
fn signed_checkpoint(key: &SignerKey, origin: &str, size: u64, root: [u8; 32]) -> Vec<u8> {
    let text = Checkpoint {
        origin: origin.into(),
        size,
        root,
        extensions: vec![],
    }
    .to_text();
    let log_key = key.verifier_key().with_name(origin).unwrap();
    format!(
        "{text}\n{}",
        signature_line(origin, log_key.key_id(), &key.sign(text.as_bytes()))
    )
    .into_bytes()
}

async fn admin_raw(node: &dyad_node::RunningNode, req: &dyad_node::AppendRequest) -> (u16, String) {
    let r = http()
        .post(format!("{}/admin/append", node.admin_url()))
        .bearer_auth(node.admin_token())
        .json_body(req)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

trait JsonBody {
    fn json_body(self, v: &impl serde::Serialize) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, v: &impl serde::Serialize) -> Self {
        self.header("content-type", "application/json")
            .body(serde_json::to_vec(v).unwrap())
    }
}

async fn post(url: String, body: Vec<u8>) -> (u16, Option<String>, String) {
    let r = http_to(&url).post(url).body(body).send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, ct, r.text().await.unwrap_or_default())
}

/// (seq size, seq committed, cos size, cos committed, cos queued)
async fn sizes(pair: &Pair) -> (u64, u64, u64, u64, u64) {
    let s = pair.seq().status().await.unwrap();
    let c = pair.cos().status().await.unwrap();
    (s.size, s.committed_size, c.size, c.committed_size, c.queued)
}

#[test]
fn garbage_forgeries_and_huge_bodies_are_refused_and_nothing_is_stored() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        append(pair.seq(), "one", "committed").await;
        append(pair.cos(), "two", "committed").await;
        pair.wait_converged(Duration::from_secs(10)).await;
        let before = sizes(&pair).await;
        let (seq, cos) = (pair.seq().url(), pair.cos().url());
        let add = format!("{cos}/add-checkpoint");
        let submit = format!("{seq}/submit");

        // Garbage.
        assert_eq!(post(add.clone(), b"hello".to_vec()).await.0, 400);
        assert_eq!(post(add.clone(), b"old 3\n\nnot a note".to_vec()).await.0, 400);
        assert_eq!(post(submit.clone(), b"\x01garbage".to_vec()).await.0, 400);
        assert_eq!(post(submit.clone(), vec![]).await.0, 400);

        // Forged log signatures: a stranger's key under the origin's name (unknown key), and
        // a stranger's signature under the log key's own name and key ID (a bad signature).
        let stranger = dyad_testkit::channel::stranger();
        let size = before.2;
        let root = [7; 32];
        let unknown = signed_checkpoint(&stranger, ORIGIN, size + 1, root);
        let body = AddCheckpoint { old: size, proof: vec![[0; 32]], note: unknown }.encode();
        assert_eq!(post(add.clone(), body).await.0, 403);
        let text = Checkpoint { origin: ORIGIN.into(), size: size + 1, root, extensions: vec![] }.to_text();
        let log_key = alpha().verifier_key().with_name(ORIGIN).unwrap();
        let forged = format!("{text}\n{}", signature_line(ORIGIN, log_key.key_id(), &stranger.sign(text.as_bytes()))).into_bytes();
        let body = AddCheckpoint { old: size, proof: vec![[0; 32]], note: forged }.encode();
        assert_eq!(post(add.clone(), body).await.0, 403);
        // A checkpoint of another log: not a log this co-signer witnesses.
        let other = signed_checkpoint(&alpha(), "example.org/dyad/other", size + 1, root);
        assert_eq!(post(add.clone(), AddCheckpoint { old: size, proof: vec![], note: other }.encode()).await.0, 404);

        // Forged and foreign entries on /submit.
        let mut forged_entry = Draft::new(Kind::Notification, "forged", "text/plain", b"x".to_vec()).sign(&bravo(), ORIGIN, 2, now_ms()).unwrap().bytes;
        let last = forged_entry.len() - 1;
        forged_entry[last] ^= 1;
        assert_eq!(post(submit.clone(), forged_entry).await.0, 403);
        let alien = Draft::new(Kind::Notification, "alien", "text/plain", b"x".to_vec()).sign(&stranger, ORIGIN, 1, now_ms()).unwrap().bytes;
        assert_eq!(post(submit.clone(), alien).await.0, 403);
        let as_sequencer = Draft::new(Kind::Notification, "spoof", "text/plain", b"x".to_vec()).sign(&alpha(), ORIGIN, 2, now_ms()).unwrap().bytes;
        assert_eq!(post(submit.clone(), as_sequencer).await.0, 403);
        let elsewhere = Draft::new(Kind::Notification, "elsewhere", "text/plain", b"x".to_vec()).sign(&bravo(), "example.org/dyad/other", 2, now_ms()).unwrap().bytes;
        assert_eq!(post(submit.clone(), elsewhere).await.0, 422);
        // Validly signed by the co-signer, but a replay of an old sequence number.
        let replay = Draft::new(Kind::Notification, "replay", "text/plain", b"x".to_vec()).sign(&bravo(), ORIGIN, 1, now_ms()).unwrap().bytes;
        assert_eq!(post(submit.clone(), replay).await.0, 409);

        // Huge bodies, with and without a declared length.
        for (url, len) in [(add.clone(), 100_000), (add.clone(), 4 << 20), (submit.clone(), 70_000), (submit.clone(), 4 << 20)] {
            let (status, _, _) = post(url.clone(), vec![b'a'; len]).await;
            assert_eq!(status, 413, "{url} with {len} bytes");
        }
        assert_eq!(post_chunked(&pair, pair.cos_addr, "alpha", "/add-checkpoint", 64, 4096).await, 413, "a chunked body beyond the limit");
        assert_eq!(post_chunked(&pair, pair.seq_addr, "bravo", "/submit", 64, 4096).await, 413, "a chunked body beyond the limit");
        let big = request("big", "accepted");
        let mut big = serde_json::to_value(&big).unwrap();
        big["payload"] = STANDARD.encode(vec![0u8; 200_000]).into();
        let r = http().post(format!("{}/admin/append", pair.seq().admin_url())).bearer_auth(pair.seq().admin_token()).body(serde_json::to_vec(&big).unwrap()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 413);

        // The admin API wants its token.
        let body = serde_json::to_vec(&request("no token", "accepted")).unwrap();
        let r = http().post(format!("{}/admin/append", pair.seq().admin_url())).body(body.clone()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        let r = http().post(format!("{}/admin/append", pair.cos().admin_url())).bearer_auth("0123456789abcdef0123").body(body.clone()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        let r = http().post(format!("{}/admin/append", pair.seq().admin_url())).bearer_auth(pair.seq().admin_token()).body(b"{not json".to_vec()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400);
        // Drafts that would break a channel rule wherever they land are refused before
        // they are queued (a co-signer's queue is submitted in order).
        let mut reply = request("reply to the future", "queued");
        reply.kind = "response".into();
        reply.reply_to = Some(999);
        let (status, body) = admin_raw(pair.cos(), &reply).await;
        assert_eq!(status, 422, "{body}");
        reply.reply_to = None;
        assert_eq!(admin_raw(pair.cos(), &reply).await.0, 422);
        reply.reply_to = Some(0);
        assert_eq!(admin_raw(pair.seq(), &reply).await.0, 422);
        let mut bad_kind = request("bad kind", "queued");
        bad_kind.kind = "genesis".into();
        assert_eq!(admin_raw(pair.cos(), &bad_kind).await.0, 400);
        let mut bad_subject = request("bad\u{7}subject", "queued");
        bad_subject.subject = "bell\u{7}".into();
        assert_eq!(admin_raw(pair.seq(), &bad_subject).await.0, 422);
        // The admin API is not on the public listener.
        let r = http_to(&seq).post(format!("{seq}/admin/append")).bearer_auth(pair.seq().admin_token()).body(body).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 404);
        // Each role's endpoint only on that role.
        assert_eq!(post(format!("{seq}/add-checkpoint"), b"old 0\n\nx".to_vec()).await.0, 404);
        assert_eq!(post(format!("{cos}/submit"), b"x".to_vec()).await.0, 404);

        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(sizes(&pair).await, before, "nothing was stored");
        let metrics = http_to(&cos).get(format!("{cos}/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains(r#"dyad_rejected_requests_total{endpoint="add-checkpoint",reason="too-large"} 3"#), "{metrics}");
        assert!(metrics.contains(r#"dyad_rejected_requests_total{endpoint="add-checkpoint",reason="bad-signature"} 2"#), "{metrics}");
        assert_eq!(pair.seq().metrics().rejected("submit", "bad-signature"), 1);
        // Still working.
        let (status, r) = append(pair.cos(), "three", "committed").await;
        assert_eq!((status, r.state.as_str()), (200, "committed"));
        pair.stop().await;
    });
}

/// POSTs `chunks` chunks of `size` bytes with chunked transfer encoding (no declared
/// length) over a raw connection; returns the status code.
/// A chunked body of `chunks` × `size` bytes to `path` on `addr`, over TLS as `party`
/// (the node's peer).
async fn post_chunked(
    pair: &Pair,
    addr: std::net::SocketAddr,
    party: &str,
    path: &str,
    chunks: usize,
    size: usize,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tls = tokio_rustls::TlsConnector::from(party_tls(pair.dir.path(), party));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = tls.connect(name, tcp).await.unwrap();
    let head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    conn.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..chunks {
        let mut chunk = format!("{size:x}\r\n").into_bytes();
        chunk.extend(std::iter::repeat_n(b'b', size));
        chunk.extend_from_slice(b"\r\n");
        // The server may answer and close before the whole body is sent.
        if conn.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let _ = conn.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut answer)).await;
    let line = String::from_utf8_lossy(&answer);
    line.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn rolled_back_and_inconsistent_checkpoints_are_refused_and_kept_as_evidence() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        for i in 0..4 {
            append(pair.seq(), &format!("m{i}"), "committed").await;
        }
        pair.wait_converged(Duration::from_secs(10)).await;
        let before = sizes(&pair).await;
        let size = before.2;
        assert_eq!(size, 5);
        let add = format!("{}/add-checkpoint", pair.cos().url());
        let ledger = pair.cos_ledger();
        let roots: Vec<[u8; 32]> = {
            // The co-signer's own view, read through its tiles API: the level-0 tile.
            let tile = pair
                .as_seq()
                .get(format!("{}/tile/0/000.p/5", pair.cos().url()))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let leaves: Vec<[u8; 32]> = tile.chunks(32).map(|c| c.try_into().unwrap()).collect();
            let mut tree = dyad_ledger::tree::MemoryTree::new();
            leaves
                .iter()
                .map(|l| {
                    tree.append(*l);
                    tree.root()
                })
                .collect()
        };

        // An old checkpoint, really signed by the log and matching the tree: a rollback.
        let old = signed_checkpoint(&alpha(), ORIGIN, 3, roots[2]);
        let (status, ct, body) = post(
            add.clone(),
            AddCheckpoint {
                old: 3,
                proof: vec![],
                note: old.clone(),
            }
            .encode(),
        )
        .await;
        assert_eq!(
            (status, ct.as_deref(), body.as_str()),
            (409, Some("text/x.tlog.size"), "5\n")
        );
        let (status, _, _) = post(
            add.clone(),
            AddCheckpoint {
                old: 5,
                proof: vec![],
                note: old,
            }
            .encode(),
        )
        .await;
        assert_eq!(status, 400, "old size above the checkpoint's");

        // The log signs another root for the size the co-signer holds: equivocation.
        let forked = signed_checkpoint(&alpha(), ORIGIN, 5, [0xee; 32]);
        let (status, ct, body) = post(
            add.clone(),
            AddCheckpoint {
                old: 5,
                proof: vec![],
                note: forked,
            }
            .encode(),
        )
        .await;
        assert_eq!(
            (status, ct.as_deref(), body.as_str()),
            (409, Some("text/x.tlog.size"), "5\n")
        );
        // An older size with another root: also kept.
        let forked_old = signed_checkpoint(&alpha(), ORIGIN, 2, [0xdd; 32]);
        assert_eq!(
            post(
                add.clone(),
                AddCheckpoint {
                    old: 2,
                    proof: vec![],
                    note: forked_old
                }
                .encode()
            )
            .await
            .0,
            409
        );
        // A larger tree that is not consistent with the co-signer's.
        let inconsistent = signed_checkpoint(&alpha(), ORIGIN, 7, [0xcc; 32]);
        let (status, _, _) = post(
            add.clone(),
            AddCheckpoint {
                old: 5,
                proof: vec![[1; 32], [2; 32], [3; 32]],
                note: inconsistent,
            }
            .encode(),
        )
        .await;
        assert_eq!(status, 422);

        let evidence: Vec<String> = std::fs::read_dir(pair.dir.path().join("bravo/evidence"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        // Each append above was committed on its own, so the co-signer holds a co-signed
        // checkpoint for every size 2 to 5.
        assert_eq!(evidence.len(), 5, "{evidence:?}");
        assert!(
            evidence.iter().any(|n| n.starts_with("equivocation-2-")),
            "{evidence:?}"
        );
        assert!(
            evidence.iter().any(|n| n.starts_with("conflict-5-")),
            "{evidence:?}"
        );
        assert!(
            evidence.iter().any(|n| n.starts_with("conflict-2-")),
            "{evidence:?}"
        );
        assert!(
            evidence.iter().any(|n| n.starts_with("inconsistent-7-")),
            "{evidence:?}"
        );
        // For the size it co-signed itself, the co-signer holds the log's other note: a
        // portable proof of equivocation that verifies with the log key alone.
        let proof = evidence
            .iter()
            .find(|n| n.starts_with("equivocation-5-"))
            .expect("evidence of equivocation");
        let bytes = std::fs::read(pair.dir.path().join("bravo/evidence").join(proof)).unwrap();
        let log_key = alpha().verifier_key().with_name(ORIGIN).unwrap();
        let verified = dyad_verifier::equivocation::verify(&bytes, &log_key).unwrap();
        assert_eq!((verified.first.size, verified.second.size), (5, 5));
        assert_eq!(sizes(&pair).await, before, "nothing was stored");

        // The real log goes on undisturbed.
        let (status, r) = append(pair.seq(), "after the attacks", "committed").await;
        assert_eq!((status, r.state.as_str()), (200, "committed"));
        let _dir = pair.stop().await;
        assert_eq!(head(&ledger).0, 6);
    });
}
