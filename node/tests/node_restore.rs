//! A replica put back from an older copy never signs against its past (spec/node.md
//! section 10): at start it asks the peer, fetches what it lacks, and only then appends.
//! Without that, the restored sequencer reused an index and signed a second checkpoint of
//! a size it had signed before, and the co-signer filed evidence of equivocation.

mod node_support;

use dyad_testkit::files::copy_dir;
use std::path::Path;
use std::time::Duration;

use dyad_ledger::channel::Channel;
use dyad_node::PeerCheck;
use node_support::*;

/// Puts the copy at `backup` back in place of `ledger`.
fn put_back(backup: &Path, ledger: &Path) {
    std::fs::remove_dir_all(ledger).unwrap();
    copy_dir(backup, ledger);
}

fn leaves(ledger: &Path) -> Vec<Vec<u8>> {
    let ch = Channel::open(ledger).unwrap();
    (0..ch.size())
        .map(|i| ch.store().leaf(i).unwrap())
        .collect()
}

fn evidence_count(data: &Path) -> usize {
    std::fs::read_dir(data.join(dyad_node::EVIDENCE_DIR))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Commits `n` messages from `node` (the sequencer or the co-signer).
async fn commit(pair: &Pair, sequencer: bool, label: &str, n: usize) -> u64 {
    for i in 0..n {
        let node = if sequencer { pair.seq() } else { pair.cos() };
        let (status, answer) = append(node, &format!("{label} {i}"), "committed").await;
        assert_eq!(status, 200, "{answer:?}");
    }
    pair.wait_converged(Duration::from_secs(20)).await
}

/// The restore scenario on one party: copy its store, commit three more messages (its
/// own), stop it, put the copy back, start it, append one message.
async fn restore_scenario(sequencer: bool) {
    let mut pair = Pair::start().await;
    let before = commit(&pair, sequencer, "before", 2).await;
    let (ledger, data, other_data) = if sequencer {
        (
            pair.seq_ledger(),
            pair.dir.path().join("alpha"),
            pair.dir.path().join("bravo"),
        )
    } else {
        (
            pair.cos_ledger(),
            pair.dir.path().join("bravo"),
            pair.dir.path().join("alpha"),
        )
    };
    let backup = pair.dir.path().join("backup");
    if sequencer {
        pair.kill_seq().await
    } else {
        pair.kill_cos().await
    }
    copy_dir(&ledger, &backup);
    if sequencer {
        pair.start_seq().await
    } else {
        pair.start_cos().await
    }
    let signed = commit(&pair, sequencer, "after", 3).await;
    assert_eq!(signed, before + 3);

    if sequencer {
        pair.kill_seq().await
    } else {
        pair.kill_cos().await
    }
    put_back(&backup, &ledger);
    assert_eq!(head(&ledger).0, before, "the copy is the older replica");
    if sequencer {
        pair.start_seq().await
    } else {
        pair.start_cos().await
    }
    let node = if sequencer { pair.seq() } else { pair.cos() };
    assert_eq!(
        node.peer_checked(Duration::from_secs(10)).await,
        PeerCheck::Done {
            peer_size: signed,
            fetched: signed - before
        }
    );

    let (status, answer) = append(node, "after the restore", "committed").await;
    assert_eq!(status, 200, "{answer:?}");
    assert_eq!(
        answer.index,
        Some(signed),
        "the next index, never a reused one"
    );
    let size = pair.wait_converged(Duration::from_secs(20)).await;
    assert_eq!(size, signed + 1);
    let dir = pair.stop().await;
    let (seq_ledger, cos_ledger) = (
        dir.path().join("alpha/ledger"),
        dir.path().join("bravo/ledger"),
    );
    assert_eq!(
        leaves(&seq_ledger),
        leaves(&cos_ledger),
        "the recovered entries are the peer's, byte for byte"
    );
    assert_eq!(head(&seq_ledger), head(&cos_ledger));
    assert_eq!(
        evidence_count(&data) + evidence_count(&other_data),
        0,
        "no evidence was filed"
    );
    let subjects = subjects(&seq_ledger);
    assert_eq!(
        subjects.last().map(String::as_str),
        Some("after the restore")
    );
    assert_eq!(
        subjects
            .iter()
            .filter(|s| s.starts_with("after ") && *s != "after the restore")
            .count(),
        3,
        "each message committed once: {subjects:?}"
    );
}

#[test]
fn a_sequencer_put_back_from_an_older_copy_catches_up_and_never_reuses_an_index() {
    runtime().block_on(restore_scenario(true));
}

#[test]
fn a_cosigner_put_back_from_an_older_copy_catches_up_and_never_reuses_a_sequence() {
    runtime().block_on(restore_scenario(false));
}

#[test]
fn a_replica_that_diverged_from_the_peers_committed_log_signs_nothing() {
    runtime().block_on(async {
        let mut pair = Pair::start().await;
        let before = commit(&pair, true, "before", 1).await;
        let backup = pair.dir.path().join("backup");
        pair.kill_seq().await;
        copy_dir(&pair.seq_ledger(), &backup);
        pair.start_seq().await;
        commit(&pair, true, "after", 2).await;
        // The copy goes back and appends without the check, alone: a fork of the log.
        pair.kill_seq().await;
        pair.kill_cos().await;
        put_back(&backup, &pair.seq_ledger());
        let mut alone = pair.seq_config.clone();
        alone.peer_check = false;
        alone.peer_url = None;
        let forked = start_retrying(alone).await;
        let (status, answer) = append(&forked, "a fork", "accepted").await;
        assert_eq!((status, answer.index), (200, Some(before)));
        forked.shutdown().await.unwrap();

        // With the check, the forked replica finds out and refuses to sign.
        pair.start_cos().await;
        pair.start_seq().await;
        let check = pair.seq().peer_checked(Duration::from_secs(10)).await;
        assert!(matches!(check, PeerCheck::Diverged { .. }), "{check:?}");
        let mut req = request("refused", "accepted");
        req.timeout_ms = Some(1000);
        let refused = admin(pair.seq()).append(&req).await.unwrap_err();
        assert_eq!(refused.status(), Some(503), "{refused}");
        assert!(refused.to_string().contains("diverged"), "{refused}");
        pair.stop().await;
    });
}

#[test]
fn a_replica_restore_marked_is_checked_even_when_told_not_to_and_the_mark_goes() {
    runtime().block_on(async {
        let mut pair = Pair::start().await;
        commit(&pair, true, "one", 1).await;
        pair.kill_seq().await;
        let marker = pair
            .dir
            .path()
            .join("alpha")
            .join(dyad_node::RESTORED_MARKER);
        dyad_ledger::private_dir::write_file(&marker, b"restored\n").unwrap();
        pair.seq_config.peer_check = false;
        pair.start_seq().await;
        let check = pair.seq().peer_checked(Duration::from_secs(10)).await;
        assert!(matches!(check, PeerCheck::Done { .. }), "{check:?}");
        assert!(
            !marker.exists(),
            "the marker is removed once the check is done"
        );
        pair.stop().await;
    });
}
