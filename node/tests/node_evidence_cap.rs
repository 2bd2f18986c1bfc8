//! Evidence files on the co-signer are bounded: one file per distinct conflict however many
//! request bodies carry it, and at most `MAX_EVIDENCE_FILES` files in all.

mod node_support;

use std::time::Duration;

use dyad_ledger::keys::SignerKey;
use dyad_node::witness::AddCheckpoint;
use dyad_node::MAX_EVIDENCE_FILES;
use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::note::signature_line;
use node_support::*;

fn signed_checkpoint(key: &SignerKey, size: u64, root: [u8; 32], extra: &str) -> Vec<u8> {
    let text = Checkpoint {
        origin: ORIGIN.into(),
        size,
        root,
        extensions: vec![],
    }
    .to_text();
    let log_key = key.verifier_key().with_name(ORIGIN).unwrap();
    format!(
        "{text}\n{}{extra}",
        signature_line(ORIGIN, log_key.key_id(), &key.sign(text.as_bytes()))
    )
    .into_bytes()
}

async fn post(url: &str, body: Vec<u8>) -> u16 {
    http_to(url)
        .post(url)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir.join("bravo/evidence"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn one_conflict_in_many_bodies_keeps_one_file_and_the_directory_is_capped() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        append(pair.seq(), "one", "committed").await;
        pair.wait_converged(Duration::from_secs(10)).await;
        let add = format!("{}/add-checkpoint", pair.cos().url());

        // One conflict (the log's size-2 checkpoint with another root), sent in 200
        // different bodies: other unknown signature lines, other proofs.
        let forked = [0xee; 32];
        for i in 0..200u32 {
            let extra = signature_line("someone.example", i, &[i as u8; 64]);
            let body = AddCheckpoint {
                old: 2,
                proof: vec![[i as u8; 32]; (i % 3) as usize],
                note: signed_checkpoint(&alpha(), 2, forked, &extra),
            }
            .encode();
            assert_eq!(post(&add, body).await, 409);
        }
        let kept = files(pair.dir.path());
        assert_eq!(
            kept.len(),
            2,
            "one conflict file, one equivocation file: {kept:?}"
        );

        // Many distinct conflicts (every one a log-signed size-2 checkpoint with its own
        // root): the directory stops at the cap and keeps the first ones.
        let total = MAX_EVIDENCE_FILES as usize + 40;
        let bodies: Vec<Vec<u8>> = (0..total as u32)
            .map(|i| {
                let mut root = [0u8; 32];
                root[..4].copy_from_slice(&i.to_be_bytes());
                AddCheckpoint {
                    old: 2,
                    proof: vec![],
                    note: signed_checkpoint(&alpha(), 2, root, ""),
                }
                .encode()
            })
            .collect();
        for chunk in bodies.chunks(16) {
            let sent = chunk.iter().map(|b| {
                let (url, body) = (add.clone(), b.clone());
                async move { post(&url, body).await }
            });
            for status in futures_join(sent).await {
                assert_eq!(status, 409);
            }
        }
        let kept = files(pair.dir.path());
        assert_eq!(kept.len(), MAX_EVIDENCE_FILES as usize, "capped");
        assert!(
            kept.iter().all(|n| !n.starts_with('.')),
            "no temporary file left"
        );
        assert!(
            kept.iter().any(|n| n.contains(&"ee".repeat(8))),
            "the first conflict is still kept"
        );
        let metrics = http_to(&pair.cos().url())
            .get(format!("{}/metrics", pair.cos().url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let value = |name: &str| -> u64 {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .unwrap()
                .parse()
                .unwrap()
        };
        assert_eq!(value("dyad_evidence_kept_total"), MAX_EVIDENCE_FILES);
        assert!(value("dyad_evidence_dropped_total") > 0);

        // The log goes on.
        let (status, r) = append(pair.seq(), "after", "committed").await;
        assert_eq!((status, r.state.as_str()), (200, "committed"));
        pair.stop().await;
    });
}

/// Runs the futures concurrently and returns their outputs in order.
async fn futures_join<F: std::future::Future<Output = u16> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
