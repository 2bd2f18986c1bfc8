//! Two live nodes of a channel whose genesis names witnesses, with `dyad witness serve`'s
//! server as the witnesses: entries commit only once enough witnesses co-signed; a witness
//! that is down shows in the status, and commits resume when it is back; the served
//! checkpoint carries the witnesses' cosignatures and verifies under a tlog-policy.

mod node_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dyad_ledger::genesis::Party;
use dyad_node::RunningNode;
use node_support::witnesses::*;
use node_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn policy(threshold: usize, n: u8) -> dyad_verifier::policy::Policy {
    let mut text = format!(
        "log {}\nwitness cosigner {}\n",
        alpha().verifier_key().with_name(ORIGIN).unwrap(),
        Party::of(&bravo()).cosignature_key().unwrap()
    );
    let mut names = Vec::new();
    for i in 1..=n {
        text.push_str(&format!(
            "witness w{i} {}\n",
            Party::of(&witness_key(i)).cosignature_key().unwrap()
        ));
        names.push(format!("w{i}"));
    }
    text.push_str(&format!(
        "group witnesses {threshold} {}\ngroup committed all cosigner witnesses\nquorum committed\n",
        names.join(" ")
    ));
    dyad_verifier::policy::parse(&text).unwrap()
}

async fn served_checkpoint(node: &RunningNode) -> Vec<u8> {
    let client =
        dyad_node::client::TileClient::with_http(&node.url(), http_to(&node.url())).unwrap();
    client.checkpoint().await.unwrap()
}

#[test]
fn one_of_two_witnesses_commits_and_the_one_down_shows_in_the_status() {
    runtime().block_on(async {
        let (a1, a2) = (free_addr().await, free_addr().await);
        let scratch = tempfile::tempdir().unwrap();
        let w1 = start_witness(scratch.path(), 1, a1).await;
        let ch = start_nodes(2, 1, &[a1, a2]).await;

        let (status, r) = append(&ch.seq, "witnessed by one", "committed").await;
        assert_eq!((status, r.state.as_str()), (200, "committed"), "{r:?}");
        let note = served_checkpoint(&ch.seq).await;
        let verified = policy(1, 2).verify_checkpoint(&note).unwrap();
        assert_eq!(verified.checkpoint.size, 2);
        // The checkpoint meets one of two witnesses, not both.
        assert!(policy(2, 2).verify_checkpoint(&note).is_err());

        let s = ch.seq.status().await.unwrap();
        assert_eq!(s.witnesses.threshold, 1);
        let (st1, st2) = (&s.witnesses.witnesses[0], &s.witnesses.witnesses[1]);
        assert_eq!(
            (st1.cosigned_size, st1.last_error.as_ref()),
            (Some(2), None)
        );
        assert!(
            st2.last_error.is_some() && st2.cosigned_size.is_none(),
            "{st2:?}"
        );
        assert_eq!(st2.lag, 2);
        // The co-signer takes the witnessed note too.
        assert!(
            wait_until(Duration::from_secs(10), || async {
                ch.cos.status().await.unwrap().committed_size == 2
            })
            .await
        );
        let metrics = ch.seq.metrics().render();
        assert!(
            metrics.contains("dyad_witness_lag{witness=\"witness2.example\"} 2"),
            "{metrics}"
        );

        ch.cos.shutdown().await.unwrap();
        ch.seq.shutdown().await.unwrap();
        w1.shutdown().await;
        drop(ch.dir);
    });
}

#[test]
fn with_two_of_two_entries_wait_for_the_witness_that_is_down_and_commit_when_it_is_back() {
    runtime().block_on(async {
        let (a1, a2) = (free_addr().await, free_addr().await);
        let scratch = tempfile::tempdir().unwrap();
        let w1 = start_witness(scratch.path(), 1, a1).await;
        let ch = start_nodes(2, 2, &[a1, a2]).await;

        let (status, r) = append(&ch.seq, "needs both", "accepted").await;
        assert_eq!(status, 200, "{r:?}");
        // Co-signed by both parties and witness 1: still not committed.
        assert!(
            wait_until(Duration::from_secs(10), || async {
                let s = ch.seq.status().await.unwrap();
                s.witnesses.witnesses[0].cosigned_size == Some(2)
                    && s.witnesses.witnesses[1].failures > 0
            })
            .await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(ch.seq.status().await.unwrap().committed_size, 0);

        let w2 = start_witness(scratch.path(), 2, a2).await;
        assert!(
            wait_until(Duration::from_secs(15), || async {
                ch.seq.status().await.unwrap().committed_size == 2
            })
            .await,
            "{:?}",
            ch.seq.status().await.unwrap().witnesses
        );
        let note = served_checkpoint(&ch.seq).await;
        assert_eq!(
            policy(2, 2)
                .verify_checkpoint(&note)
                .unwrap()
                .checkpoint
                .size,
            2
        );
        let s = ch.seq.status().await.unwrap();
        assert!(
            s.witnesses
                .witnesses
                .iter()
                .all(|w| w.last_error.is_none() && w.lag == 0),
            "{s:?}"
        );

        // Later entries go on committing, each witnessed from the size it holds.
        let (status, r) = append(&ch.seq, "after", "committed").await;
        assert_eq!((status, r.state.as_str()), (200, "committed"));

        ch.cos.shutdown().await.unwrap();
        ch.seq.shutdown().await.unwrap();
        w1.shutdown().await;
        w2.shutdown().await;
        drop(ch.dir);
    });
}

/// A witness that answers every add-checkpoint with `answer` (a whole HTTP response), or
/// with nothing at all (`None`: it reads the request and keeps the connection open, as a
/// hung witness would): the sizes of the checkpoints it was sent, in order.
async fn fake_witness(addr: SocketAddr, answer: Option<&'static str>) -> Arc<Mutex<Vec<u64>>> {
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let seen = sizes.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let body = read_request(&mut conn).await;
                // The body: `old N`, proof lines, an empty line, then the note, whose
                // second line is the size.
                let text = String::from_utf8_lossy(&body).into_owned();
                let size: Option<u64> = text
                    .split_once("\n\n")
                    .and_then(|(_, note)| note.lines().nth(1)?.parse().ok());
                seen.lock().unwrap().extend(size);
                match answer {
                    Some(a) => {
                        let _ = conn.write_all(a.as_bytes()).await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(60)).await,
                }
            });
        }
    });
    sizes
}

/// One HTTP/1.1 request's body (by its Content-Length).
async fn read_request(conn: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return buf[end + 4..end + 4 + len].to_vec();
            }
        }
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => return Vec::new(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

const UNPROCESSABLE: &str = "HTTP/1.1 422 Unprocessable Entity\r\ncontent-type: text/plain\r\ncontent-length: 26\r\nconnection: close\r\n\r\nconsistency proof fails!!\n";

#[test]
fn a_witness_answering_422_is_shown_and_not_asked_again_for_that_checkpoint() {
    runtime().block_on(async {
        let (a1, a2) = (free_addr().await, free_addr().await);
        let scratch = tempfile::tempdir().unwrap();
        let w1 = start_witness(scratch.path(), 1, a1).await;
        let refused = fake_witness(a2, Some(UNPROCESSABLE)).await;
        let ch = start_nodes(2, 1, &[a1, a2]).await;

        let (status, r) = append(&ch.seq, "one", "committed").await;
        assert_eq!((status, r.state.as_str()), (200, "committed"), "{r:?}");
        assert!(
            wait_until(Duration::from_secs(10), || async {
                let s = ch.seq.status().await.unwrap();
                s.witnesses.witnesses[1]
                    .last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("422"))
            })
            .await,
            "{:?}",
            ch.seq.status().await.unwrap().witnesses
        );
        // Many retry periods (retry_max 250 ms) later, each checkpoint was sent once.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let (status, r) = append(&ch.seq, "two", "committed").await;
        assert_eq!((status, r.state.as_str()), (200, "committed"), "{r:?}");
        assert!(
            wait_until(Duration::from_secs(10), || async {
                refused.lock().unwrap().last() == Some(&3)
            })
            .await,
            "the newer checkpoint was not sent: {:?}",
            refused.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let sent = refused.lock().unwrap().clone();
        assert!(
            sent.windows(2).all(|w| w[0] < w[1]),
            "a refused checkpoint was sent again: {sent:?}"
        );
        let s = ch.seq.status().await.unwrap();
        let st2 = &s.witnesses.witnesses[1];
        assert_eq!(st2.cosigned_size, None, "{st2:?}");
        assert!(st2.failures >= 2, "{st2:?}");
        let metrics = ch.seq.metrics().render();
        assert!(
            metrics.contains("dyad_witness_lag{witness=\"witness2.example\"} 3"),
            "{metrics}"
        );

        ch.cos.shutdown().await.unwrap();
        ch.seq.shutdown().await.unwrap();
        w1.shutdown().await;
        drop(ch.dir);
    });
}

#[test]
fn a_witness_that_never_answers_times_out_and_shows_in_the_status() {
    runtime().block_on(async {
        let (a1, a2) = (free_addr().await, free_addr().await);
        let scratch = tempfile::tempdir().unwrap();
        let w1 = start_witness(scratch.path(), 1, a1).await;
        let hung = fake_witness(a2, None).await;
        // The hung witness's request times out after 16 s, later than the append waits
        // for its commit (15 s): the commit cannot have waited for it.
        let ch = start_nodes_with(2, 1, &[a1, a2], |c| {
            c.peer_timeout = Duration::from_secs(16);
        })
        .await;

        // One of two is enough: the entry commits with the first witness's cosignature
        // while the request to the hung one is still in flight.
        let (status, r) = append(&ch.seq, "one", "committed").await;
        assert_eq!((status, r.state.as_str()), (200, "committed"), "{r:?}");
        assert!(
            !hung.lock().unwrap().is_empty(),
            "the hung witness was asked"
        );
        let s = ch.seq.status().await.unwrap();
        assert_eq!(s.witnesses.witnesses[0].cosigned_size, Some(2), "{s:?}");
        // Its request then times out, and the status says so.
        let deadline = std::time::Instant::now() + Duration::from_secs(40);
        loop {
            let s = ch.seq.status().await.unwrap();
            let st2 = &s.witnesses.witnesses[1];
            if st2.failures > 0 && st2.last_error.is_some() {
                assert!(st2.cosigned_size.is_none(), "{st2:?}");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the hung witness's timeout never showed: {st2:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        ch.cos.shutdown().await.unwrap();
        ch.seq.shutdown().await.unwrap();
        w1.shutdown().await;
        drop(ch.dir);
    });
}
