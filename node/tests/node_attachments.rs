//! Attachments between two live nodes (spec/node.md 2.2): each party's attachment reaches
//! the other's store before a checkpoint covering its entry is committed, streamed on both
//! sides; a sequencer that cannot serve the right bytes gets no co-signature.

mod node_support;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use dyad_ledger::attachments::Attachments;
use dyad_ledger::genesis::DEFAULT_MAX_ATTACHMENT_SIZE;
use dyad_node::{AttachmentRef, RunningNode};
use node_support::*;
use sha2::{Digest, Sha256};

/// Writes `size` pseudo-random bytes (from `seed`) to `path` chunk by chunk, and returns
/// their hash: nothing of the size of the file is held in memory.
fn write_file(path: &Path, size: u64, seed: u8) -> [u8; 32] {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut hasher = Sha256::new();
    let mut block: [u8; 32] = Sha256::digest([seed]).into();
    let mut left = size;
    while left > 0 {
        block = Sha256::digest(block).into();
        let n = left.min(32) as usize;
        hasher.update(&block[..n]);
        file.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    file.flush().unwrap();
    hasher.finalize().into()
}

fn store_of(node: &RunningNode) -> Attachments {
    Attachments::open(node.data_dir(), DEFAULT_MAX_ATTACHMENT_SIZE).unwrap()
}

/// Stores a new file of `size` bytes in `node`'s attachment store, as `dyad append
/// --attach` does beside a running node, and returns the request naming it.
fn attach(node: &RunningNode, dir: &Path, name: &str, size: u64, seed: u8) -> AttachmentRef {
    let source = dir.join(name);
    let hash = write_file(&source, size, seed);
    let (stored, stored_size) = store_of(node)
        .put_reader(std::fs::File::open(&source).unwrap())
        .unwrap();
    assert_eq!((stored, stored_size), (hash, size));
    AttachmentRef {
        name: name.into(),
        content_type: "application/octet-stream".into(),
        sha256: hex::encode(hash),
        size,
    }
}

/// Appends a message naming `a` through `node` and waits until it is committed.
async fn append_committed(node: &RunningNode, a: &AttachmentRef) {
    let mut req = request(&format!("with {}", a.name), "committed");
    req.attachments = vec![a.clone()];
    let (status, answer) = admin(node).append(&req).await.unwrap();
    assert_eq!(
        (status, answer.state.as_str()),
        (200, "committed"),
        "{answer:?}"
    );
}

fn hash_of(a: &AttachmentRef) -> [u8; 32] {
    hex::decode(&a.sha256).unwrap().try_into().unwrap()
}

#[test]
fn attachments_reach_the_other_replica_before_their_entry_is_committed() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        let files = tempfile::tempdir().unwrap();
        let big = attach(pair.seq(), files.path(), "feed.bin", 50 << 20, 1);
        append_committed(pair.seq(), &big).await;
        // Committed: the co-signer co-signed, so it holds the file, intact.
        assert!(store_of(pair.cos())
            .holds(&hash_of(&big), big.size)
            .unwrap());

        let doc = attach(pair.cos(), files.path(), "report.pdf", 5 << 20, 2);
        append_committed(pair.cos(), &doc).await;
        assert!(store_of(pair.seq())
            .holds(&hash_of(&doc), doc.size)
            .unwrap());

        // The route itself: streamed whole, immutable; a malformed or unknown name refused.
        let url = |name: &str| format!("{}/attachment/{name}", pair.seq().url());
        let mut r = pair.as_cos().get(url(&doc.sha256)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let h = r.headers();
        assert_eq!(h["content-type"], "application/octet-stream");
        assert_eq!(h["cache-control"], "private, max-age=31536000, immutable");
        let mut hasher = Sha256::new();
        while let Some(chunk) = r.chunk().await.unwrap() {
            hasher.update(&chunk);
        }
        assert_eq!(<[u8; 32]>::from(hasher.finalize()), hash_of(&doc));
        let status = |name: String| {
            let client = pair.as_cos();
            async move { client.get(name).send().await.unwrap().status() }
        };
        assert_eq!(status(url(&doc.sha256.to_uppercase())).await, 400);
        assert_eq!(status(url(&"0".repeat(64))).await, 404);

        // An append naming an attachment the node does not hold is refused.
        let mut req = request("nothing attached", "accepted");
        req.attachments = vec![AttachmentRef {
            sha256: "ab".repeat(32),
            ..doc.clone()
        }];
        assert!(admin(pair.seq()).append(&req).await.is_err());
        let hwm = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM"))
                    .map(str::to_owned)
            });
        eprintln!("peak resident memory of both nodes and the test: {hwm:?}");
        pair.stop().await;
    });
}

#[test]
fn a_sequencer_serving_a_wrong_attachment_gets_no_cosignature() {
    runtime().block_on(async {
        let mut pair = Pair::start().await;
        let files = tempfile::tempdir().unwrap();
        pair.kill_cos().await;
        let a = attach(pair.seq(), files.path(), "plan.bin", 1 << 20, 3);
        let mut req = request("a plan", "accepted");
        req.attachments = vec![a.clone()];
        let (status, appended) = admin(pair.seq()).append(&req).await.unwrap();
        assert_eq!(status, 200, "{appended:?}");
        let index = appended.index.unwrap();
        // The sequencer's copy is damaged before the co-signer fetches it.
        let path = store_of(pair.seq()).path_of(&hash_of(&a));
        let good = std::fs::read(&path).unwrap();
        let mut bad = good.clone();
        bad[1000] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        pair.start_cos().await;
        let named = wait_until(Duration::from_secs(10), || async {
            let s = pair.cos().status().await.unwrap();
            s.last_attachment_error
                .is_some_and(|e| e.contains(&a.sha256))
        })
        .await;
        assert!(named, "{:?}", pair.cos().status().await.unwrap());
        assert!(pair.cos().status().await.unwrap().committed_size <= index);
        assert!(pair.seq().status().await.unwrap().committed_size <= index);
        assert!(!store_of(pair.cos()).contains(&hash_of(&a)).unwrap());
        assert!(pair
            .cos()
            .metrics()
            .render()
            .contains("dyad_attachment_fetch_failures_total"));

        // Repaired, it goes through, and the error clears.
        std::fs::write(&path, &good).unwrap();
        pair.wait_converged(Duration::from_secs(15)).await;
        assert!(store_of(pair.cos()).holds(&hash_of(&a), a.size).unwrap());
        assert_eq!(
            pair.cos().status().await.unwrap().last_attachment_error,
            None
        );
        pair.stop().await;
    });
}
