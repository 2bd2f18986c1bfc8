//! A byte damaged on disk in a stored hash tile or an entry bundle: the node refuses to serve
//! what it touches (500, never cached), counts it, logs it and records the damage in the
//! store's directory; what it does not touch is still served. A clean store serves every
//! tile of its tree.

mod node_support;

use std::path::{Path, PathBuf};

use dyad_ledger::channel::Channel;
use dyad_ledger::entry::{Draft, Kind};
use dyad_ledger::store::{Damage, Store, StoreError};
use dyad_ledger::store_check::{recorded_damage, DAMAGE_FILE};
use dyad_node::export::{export_tiles, ExportError};
use dyad_node::tiles::{parse_hash_tile, tiles_of_tree};
use node_support::*;

/// Entries after the genesis: 601 in all, so level-0 tiles 0 and 1 and bundles 0 and 1
/// are full (in the files), tile 0/2 and bundle 2 partial.
const N: u64 = 600;

/// A committed channel of N entries after the genesis, made offline; the sequencer's
/// replica directory.
fn committed_channel(dir: &Path) -> PathBuf {
    create_channel(dir);
    let mut seq = Channel::open(&dir.join("alpha/ledger")).unwrap();
    let mut cos = Channel::open(&dir.join("bravo/ledger")).unwrap();
    let now = now_ms();
    let drafts: Vec<Draft> = (0..N)
        .map(|i| {
            Draft::new(
                Kind::Notification,
                &format!("n {i}"),
                "text/plain",
                vec![b'x'; 20],
            )
        })
        .collect();
    for chunk in drafts.chunks(300) {
        seq.append_own(&alpha(), chunk.to_vec(), now).unwrap();
        let signed = seq.sign_checkpoint(&alpha()).unwrap();
        let entries: Vec<Vec<u8>> = (cos.size()..seq.size())
            .map(|i| seq.store().leaf(i).unwrap())
            .collect();
        let cosigned = cos
            .accept_and_cosign(&bravo(), &entries, &signed, now)
            .unwrap();
        seq.add_committed_checkpoint(&cosigned).unwrap();
    }
    dir.join("alpha/ledger")
}

fn flip(path: &Path, at: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at as usize] ^= 0x10;
    std::fs::write(path, bytes).unwrap();
}

/// Offset in the `bundles` file of the last byte of entry `index` (a full bundle's).
fn entry_end_in_bundles(ledger: &Path, index: u64) -> u64 {
    let bytes = std::fs::read(ledger.join("bundles")).unwrap();
    let mut at = 0usize;
    for _ in 0..index {
        at += 2 + usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
    }
    let len = usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
    (at + 1 + len) as u64
}

struct Got {
    status: u16,
    cache: String,
    body: Vec<u8>,
}

async fn get(base: &str, path: &str) -> Got {
    let r = http_to(base)
        .get(format!("{base}/{path}"))
        .send()
        .await
        .unwrap();
    let cache = r
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Got {
        status: r.status().as_u16(),
        cache,
        body: r.bytes().await.unwrap().to_vec(),
    }
}

/// Serves the replica at `dir/alpha` and runs `f` against its URL; returns its metrics.
fn with_node<F, Fut>(dir: &Path, f: F) -> String
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    runtime().block_on(async {
        let node = start_retrying(config(dir, "alpha", alpha())).await;
        let reader = dyad_node::TileClient::with_reach(&node.url(), reader(&node, "reader"));
        use_client_for(node.url(), reader.unwrap().http().clone());
        f(node.url()).await;
        let metrics = get(&node.url(), "metrics").await;
        node.shutdown().await.unwrap();
        String::from_utf8(metrics.body).unwrap()
    })
}

fn assert_refused(got: &Got, what: &str) {
    assert_eq!(
        got.status,
        500,
        "{what}: {}",
        String::from_utf8_lossy(&got.body)
    );
    assert!(
        !got.cache.contains("immutable") && !got.cache.contains("max-age"),
        "{what}: {}",
        got.cache
    );
    let body = String::from_utf8_lossy(&got.body);
    assert!(
        body.contains("damaged") && body.contains("dyad verify store"),
        "{what}: {body}"
    );
}

#[test]
fn a_clean_store_serves_every_tile_of_its_tree() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = committed_channel(dir.path());
    let metrics = with_node(dir.path(), |url| async move {
        for tile in tiles_of_tree(N + 1) {
            let got = get(&url, &tile.path()).await;
            assert_eq!(got.status, 200, "{tile}");
            assert_eq!(got.cache.contains("immutable"), tile.is_full(), "{tile}");
        }
        // Twice: the second time from what the node remembers as checked.
        for tile in tiles_of_tree(N + 1) {
            assert_eq!(get(&url, &tile.path()).await.status, 200, "{tile}");
        }
    });
    assert!(!metrics.contains("reason=\"damaged\""), "{metrics}");
    assert_eq!(recorded_damage(&ledger), None);
}

#[test]
fn a_flipped_byte_in_a_stored_hash_tile_is_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = committed_channel(dir.path());
    // Hash 17 of level-0 tile 1: the leaf hash of entry 273.
    flip(&ledger.join("tiles-0"), 510 * 32 + 17 * 32 + 3);
    let metrics = with_node(dir.path(), |url| async move {
        for path in [
            "tile/0/001",
            "tile/0/001.p/20",
            "tile/entries/001",
            "tile/1/000.p/2",
        ] {
            assert_refused(&get(&url, path).await, path);
        }
        // Asked again (nothing remembered as checked for it): still refused.
        assert_refused(&get(&url, "tile/0/001").await, "again");
        // What the damage does not touch is served.
        let ok = get(&url, "tile/0/000").await;
        assert_eq!(ok.status, 200);
        assert!(ok.cache.contains("immutable"));
        assert_eq!(parse_hash_tile(&ok.body, 256).unwrap().len(), 256);
        assert_eq!(get(&url, "tile/entries/000").await.status, 200);
        assert_eq!(get(&url, "tile/0/002.p/89").await.status, 200);
    });
    assert!(
        metrics.contains("dyad_rejected_requests_total{endpoint=\"tile\",reason=\"damaged\"} 5"),
        "{metrics}"
    );
    let record = recorded_damage(&ledger).expect("the damage is recorded");
    assert!(
        record.contains("tile level 0, index 1") && record.contains("tiles-0"),
        "{record}"
    );
    // The static export refuses it too: its files are cached for good.
    let store = Store::open(&ledger).unwrap();
    let out = dir.path().join("export");
    match export_tiles(&store, &out) {
        Err(ExportError::Store(StoreError::Damaged(Damage::TileMismatch {
            tile_level: 0,
            index: 1,
        }))) => {}
        other => panic!("{other:?}"),
    }
    // The full check finds it too: the leaf hash of entry 273 is wrong.
    match store.verify_all(|_, _| {}) {
        Err(StoreError::Damaged(Damage::LeafHashMismatch { index: 273 })) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_flipped_byte_in_an_entry_bundle_is_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = committed_channel(dir.path());
    flip(&ledger.join("bundles"), entry_end_in_bundles(&ledger, 300));
    let metrics = with_node(dir.path(), |url| async move {
        assert_refused(&get(&url, "tile/entries/001").await, "bundle 1");
        assert_refused(&get(&url, "tile/entries/001.p/200").await, "bundle 1, cut");
        // The hash tiles are intact, and so is bundle 0.
        assert_eq!(get(&url, "tile/0/001").await.status, 200);
        assert_eq!(get(&url, "tile/entries/000").await.status, 200);
        // A prefix before the damaged entry is fine.
        assert_eq!(get(&url, "tile/entries/001.p/40").await.status, 200);
    });
    assert!(
        metrics.contains("dyad_rejected_requests_total{endpoint=\"tile\",reason=\"damaged\"} 2"),
        "{metrics}"
    );
    let record = std::fs::read_to_string(ledger.join(DAMAGE_FILE)).unwrap();
    assert!(
        record.contains("entry 300") && record.contains("bundle 1"),
        "{record}"
    );
}
