//! C2SP tlog-tiles: the tiles a node serves and the static export, checked against the
//! tree's definition, and audited over HTTP from a plain static file server.

mod node_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use dyad_ledger::channel::Channel;
use dyad_ledger::entry::{Draft, Kind};
use dyad_ledger::keys::SignerKey;
use dyad_ledger::tree::{leaf_hash, MemoryTree};
use dyad_node::client::AuditUrlError;
use dyad_node::client::{audit, BlockingClient, TileClient};
use dyad_node::export::{
    export_tiles, export_tiles_with, mirror_tiles, ExportError, ExportOptions,
};
use dyad_node::tiles::{parse_entry_bundle, parse_hash_tile, tiles_of_tree, Tile};
use dyad_verifier::audit::{AuditError, AuditReport, AuditTrust};
use dyad_verifier::entry::EntryError;
use node_support::*;

fn trust() -> AuditTrust {
    AuditTrust::Parties([
        alpha().verifier_key().clone(),
        bravo().verifier_key().clone(),
    ])
}

/// Alpha's entries `drafts` appended under `key`, each batch of 250 committed (signed
/// with `key`, co-signed by bravo).
fn append_committed(seq: &mut Channel, cos: &mut Channel, key: &SignerKey, drafts: Vec<Draft>) {
    let now = now_ms();
    for chunk in drafts.chunks(250) {
        seq.append_own(key, chunk.to_vec(), now).unwrap();
        commit(seq, cos, key);
    }
}

/// The sequencer's checkpoint of everything so far, signed with `key`, co-signed by bravo.
fn commit(seq: &mut Channel, cos: &mut Channel, key: &SignerKey) {
    let signed = seq.sign_checkpoint(key).unwrap();
    let entries: Vec<Vec<u8>> = (cos.size()..seq.size())
        .map(|i| seq.store().leaf(i).unwrap())
        .collect();
    let cosigned = cos
        .accept_and_cosign(&bravo(), &entries, &signed, now_ms())
        .unwrap();
    seq.add_committed_checkpoint(&cosigned).unwrap();
}

fn drafts(from: u64, n: u64) -> Vec<Draft> {
    (from..from + n)
        .map(|i| {
            Draft::new(
                Kind::ThreatIndicators,
                &format!("feed {i}"),
                "text/plain",
                vec![b'x'; (i % 300) as usize],
            )
        })
        .collect()
}

/// Alpha's key after its key change.
fn alpha2() -> SignerKey {
    SignerKey::from_seed("example.org/alpha", [3; 32]).unwrap()
}

/// A committed channel of `before` entries by alpha, its key change to [`alpha2`], and
/// `after` entries under the new key; returns the sequencer's replica directory.
fn committed_channel_with_key_change(dir: &Path, before: u64, after: u64) -> PathBuf {
    create_channel(dir);
    let mut seq = Channel::open(&dir.join("alpha/ledger")).unwrap();
    let mut cos = Channel::open(&dir.join("bravo/ledger")).unwrap();
    append_committed(&mut seq, &mut cos, &alpha(), drafts(0, before));
    seq.append_key_change(&alpha(), &alpha2(), now_ms())
        .unwrap();
    commit(&mut seq, &mut cos, &alpha2());
    append_committed(&mut seq, &mut cos, &alpha2(), drafts(before, after));
    dir.join("alpha/ledger")
}

/// A committed channel of `n` entries after the genesis, made offline; returns the
/// sequencer's replica directory.
fn committed_channel(dir: &Path, n: u64) -> PathBuf {
    create_channel(dir);
    let mut seq = Channel::open(&dir.join("alpha/ledger")).unwrap();
    let mut cos = Channel::open(&dir.join("bravo/ledger")).unwrap();
    let now = now_ms();
    let drafts: Vec<Draft> = (0..n)
        .map(|i| {
            Draft::new(
                Kind::ThreatIndicators,
                &format!("feed {i}"),
                "text/plain",
                vec![b'x'; (i % 300) as usize],
            )
        })
        .collect();
    for chunk in drafts.chunks(250) {
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

/// The RFC 9162 hash of leaves `[lo, hi)`.
fn subtree_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    let mut t = MemoryTree::new();
    for l in leaves {
        t.append(*l);
    }
    t.root()
}

#[test]
fn tiles_and_bundles_match_the_tree_and_export_lays_them_out() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = committed_channel(dir.path(), 600);
    let ch = Channel::open(&ledger).unwrap();
    let size = ch.size();
    assert_eq!(size, 601);
    let leaves: Vec<[u8; 32]> = (0..size)
        .map(|i| leaf_hash(&ch.store().leaf(i).unwrap()))
        .collect();
    let out = dir.path().join("export");
    let exported = export_tiles(ch.store(), &out).unwrap();
    assert_eq!(exported.size, 601);

    // Exactly the files tlog-tiles names for a tree of 601: level 0 has 2 full tiles and a
    // partial one of 89; level 1 a partial one of 2; bundles like level 0.
    let mut files: Vec<String> = walk(&out)
        .into_iter()
        .map(|p| p.strip_prefix(&out).unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "checkpoint",
            "tile/0/000",
            "tile/0/001",
            "tile/0/002.p/89",
            "tile/1/000.p/2",
            "tile/entries/000",
            "tile/entries/001",
            "tile/entries/002.p/89"
        ]
    );
    assert_eq!(exported.files_written, 8);
    assert_eq!(
        std::fs::read(out.join("checkpoint")).unwrap(),
        ch.store().latest_checkpoint().unwrap().unwrap().1
    );
    for tile in tiles_of_tree(size) {
        let bytes = std::fs::read(out.join(tile.path())).unwrap();
        let first = tile.index * 256;
        match tile.kind {
            dyad_node::tiles::TileKind::Hashes { level: 0 } => {
                assert_eq!(
                    parse_hash_tile(&bytes, tile.width).unwrap(),
                    leaves[first as usize..(first + u64::from(tile.width)) as usize]
                );
            }
            dyad_node::tiles::TileKind::Hashes { level } => {
                assert_eq!(level, 1);
                let hashes = parse_hash_tile(&bytes, tile.width).unwrap();
                for (i, h) in hashes.iter().enumerate() {
                    assert_eq!(
                        *h,
                        subtree_root(&leaves[i * 256..(i + 1) * 256]),
                        "level-1 hash {i}"
                    );
                }
            }
            dyad_node::tiles::TileKind::Entries => {
                let entries = parse_entry_bundle(&bytes, tile.width).unwrap();
                for (i, e) in entries.iter().enumerate() {
                    assert_eq!(leaf_hash(e), leaves[first as usize + i]);
                }
            }
        }
    }

    // Re-exporting keeps the immutable full tiles when asked to.
    let again = export_tiles_with(
        ch.store(),
        &out,
        &ExportOptions {
            reuse_full_tiles: true,
        },
        |_, _| {},
    )
    .unwrap();
    assert_eq!((again.files_kept, again.files_written), (4, 4));
    drop(ch);

    // Any web server can now serve the log: a static file server and the auditor.
    let rt = runtime();
    let served = rt.block_on(static_server(out.clone()));
    let url = served.0.clone();
    let report = std::thread::spawn(move || {
        dyad_node::audit_url(&url, dyad_node::Reach::public(), trust(), |_, _| {}).unwrap()
    })
    .join()
    .unwrap();
    assert_eq!((report.leaves, report.committed_size), (601, 601));
    // A partial bundle the export does not have is read from the full one.
    let url = served.0.clone();
    let entries = std::thread::spawn(move || {
        let client = BlockingClient::new(&url).unwrap();
        client
            .entries(250, 300)
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(entries.len(), 50);
    assert_eq!(entries[0].0, 250);
    assert_eq!(leaf_hash(&entries[10].1), leaves[260]);
    rt.block_on(async {
        // A tampered export fails the audit.
        let mut bundle = std::fs::read(out.join("tile/entries/001")).unwrap();
        let n = bundle.len();
        bundle[n - 3] ^= 1;
        std::fs::write(out.join("tile/entries/001"), bundle).unwrap();
        let client = TileClient::new(&served.0).unwrap();
        assert!(audit(&client, trust(), |_, _| {}).await.is_err());
        served.1.abort();
    });
}

/// The checkpoint is written last: an export that cannot write its last tile leaves no
/// checkpoint behind (a reader, or a crash, never finds one naming a missing tile), and the
/// next export completes it.
#[test]
fn an_export_that_cannot_write_a_tile_writes_no_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = committed_channel(dir.path(), 300);
    let ch = Channel::open(&ledger).unwrap();
    let out = dir.path().join("export");
    let last = tiles_of_tree(ch.size()).last().unwrap();
    // A non-empty directory where the last tile goes: renaming the tile there fails.
    let blocked = out.join(last.path());
    std::fs::create_dir_all(blocked.join("in-the-way")).unwrap();

    let failed = export_tiles(ch.store(), &out);
    assert!(
        matches!(failed, Err(ExportError::Io { ref path, .. }) if *path == blocked),
        "{failed:?}"
    );
    assert!(
        !out.join("checkpoint").exists(),
        "a checkpoint before its tiles"
    );
    // The tiles before it were written, and no temporary file is left.
    let written: Vec<PathBuf> = walk(&out);
    assert!(written.iter().any(|p| p.ends_with("tile/0/000")));
    assert!(written
        .iter()
        .all(|p| !p.file_name().unwrap().to_string_lossy().ends_with(".tmp")));

    std::fs::remove_dir_all(&blocked).unwrap();
    let exported = export_tiles(ch.store(), &out).unwrap();
    assert_eq!(exported.size, ch.size());
    assert_eq!(
        std::fs::read(out.join("checkpoint")).unwrap(),
        ch.store().latest_checkpoint().unwrap().unwrap().1
    );
    for tile in tiles_of_tree(ch.size()) {
        assert!(out.join(tile.path()).is_file(), "{tile}");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A minimal static file server over `root` on an ephemeral port.
async fn static_server(root: PathBuf) -> (String, tokio::task::JoinHandle<()>) {
    async fn serve_file(State(root): State<PathBuf>, uri: Uri) -> (StatusCode, Vec<u8>) {
        let rel = uri.path().trim_start_matches('/');
        if rel.split('/').any(|c| c == ".." || c.is_empty()) {
            return (StatusCode::NOT_FOUND, vec![]);
        }
        match std::fs::read(root.join(rel)) {
            Ok(b) => (StatusCode::OK, b),
            Err(_) => (StatusCode::NOT_FOUND, vec![]),
        }
    }
    let app = axum::Router::new().fallback(serve_file).with_state(root);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, task)
}

#[test]
fn a_node_serves_the_published_tree_with_the_right_headers() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        let mut tasks = Vec::new();
        for c in 0..6 {
            let client = admin(pair.seq());
            tasks.push(tokio::spawn(async move {
                for i in 0..50 {
                    assert_eq!(
                        client
                            .append(&request(&format!("{c}/{i}"), "accepted"))
                            .await
                            .unwrap()
                            .0,
                        200
                    );
                }
            }));
        }
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .unwrap()
                .unwrap();
        }
        assert_eq!(pair.wait_converged(Duration::from_secs(10)).await, 301);
        // Read as a credential holder would (the tiles are private: no shared cache).
        let reads = [
            (pair.seq().url(), reader(pair.seq(), "reader")),
            (pair.cos().url(), reader(pair.cos(), "reader")),
        ];
        for (base, reach) in reads {
            let client = TileClient::with_reach(&base, reach).unwrap();
            let get = |path: &str| {
                let url = format!("{base}/{path}");
                let http = client.http().clone();
                async move {
                    let r = http.get(&url).send().await.unwrap();
                    let status = r.status().as_u16();
                    let cache = r
                        .headers()
                        .get("cache-control")
                        .map(|v| v.to_str().unwrap().to_owned())
                        .unwrap_or_default();
                    let ct = r
                        .headers()
                        .get("content-type")
                        .map(|v| v.to_str().unwrap().to_owned())
                        .unwrap_or_default();
                    (status, cache, ct, r.bytes().await.unwrap().to_vec())
                }
            };
            let (status, cache, ct, note) = get("checkpoint").await;
            assert_eq!(
                (status, cache.as_str(), ct.as_str()),
                (200, "no-cache", "text/plain; charset=utf-8")
            );
            assert!(note.starts_with(format!("{ORIGIN}\n301\n").as_bytes()));
            let (status, cache, ct, tile) = get("tile/0/000").await;
            assert_eq!(
                (status, ct.as_str(), tile.len()),
                (200, "application/octet-stream", 8192)
            );
            assert_eq!(cache, "private, max-age=31536000, immutable");
            let (status, cache, _, partial) = get("tile/0/001.p/45").await;
            assert_eq!((status, partial.len()), (200, 45 * 32));
            assert_eq!(cache, "private, max-age=5");
            let (status, _, _, bundle) = get("tile/entries/000").await;
            assert_eq!(status, 200);
            let entries = parse_entry_bundle(&bundle, 256).unwrap();
            let hashes = parse_hash_tile(&tile, 256).unwrap();
            assert!(entries.iter().zip(&hashes).all(|(e, h)| leaf_hash(e) == *h));
            let (status, _, _, top) = get("tile/1/000.p/1").await;
            assert_eq!(status, 200);
            assert_eq!(parse_hash_tile(&top, 1).unwrap()[0], subtree_root(&hashes));
            assert_eq!(get("tile/entries/001.p/45").await.0, 200);
            // Beyond the published tree: 404, not cached.
            for path in [
                "tile/0/001.p/46",
                "tile/0/001",
                "tile/entries/001",
                "tile/1/000",
                "tile/2/000.p/1",
                "tile/7/000.p/1",
                "tile/63/000",
            ] {
                let (status, cache, _, _) = get(path).await;
                assert_eq!((status, cache.as_str()), (404, "no-store"), "{path}");
            }
            for path in [
                "tile/0/1",
                "tile/0/000.p/256",
                "tile/entries/x000/001",
                "tile/64/000",
                "tile/0/000.p/0",
            ] {
                assert_eq!(get(path).await.0, 400, "{path}");
            }
            assert_eq!(get("nothing/here").await.0, 404);
            assert_eq!(
                Tile::parse_path("tile/0/001.p/45").unwrap(),
                Tile::hashes(0, 1, 45)
            );
        }
        // A running node's log copied to static files: the same layout as an export.
        let out = pair.dir.path().join("mirror");
        let client = TileClient::with_http(&pair.cos().url(), pair.as_seq()).unwrap();
        let mirrored = mirror_tiles(&client, &out, &ExportOptions::default(), |_, _| {})
            .await
            .unwrap();
        assert_eq!((mirrored.size, mirrored.files_written), (301, 6));
        assert!(
            out.join("tile/entries/001.p/45").is_file() && out.join("tile/1/000.p/1").is_file()
        );
        let served = static_server(out).await;
        let report = audit(&TileClient::new(&served.0).unwrap(), trust(), |_, _| {})
            .await
            .unwrap();
        assert_eq!(report.leaves, 301);
        served.1.abort();
        pair.stop().await;
    });
}

/// The audit of the log served at `url` over the tiles API (blocking and async), and the
/// sequential audit of the same bytes (`dyad_verifier::audit::audit` of the entries
/// fetched one by one, with the checkpoint), and the progress the blocking one reported.
struct Audits {
    blocking: Result<AuditReport, AuditError>,
    async_: Result<AuditReport, AuditError>,
    sequential: Result<AuditReport, AuditError>,
    progress: Vec<(u64, u64)>,
}

fn audits(url: &str) -> Audits {
    let log = |r: Result<AuditReport, AuditUrlError>| match r {
        Ok(report) => Ok(report),
        Err(AuditUrlError::Audit(e)) => Err(e),
        Err(AuditUrlError::Client(e)) => panic!("the log could not be fetched: {e}"),
    };
    let url = url.to_owned();
    std::thread::spawn(move || {
        let mut progress = Vec::new();
        let blocking = dyad_node::audit_url(&url, dyad_node::Reach::public(), trust(), |d, t| {
            progress.push((d, t))
        });
        let rt = dyad_node::runtime::client().unwrap();
        let async_ =
            rt.block_on(async { audit(&TileClient::new(&url).unwrap(), trust(), |_, _| {}).await });
        drop(rt);
        let client = BlockingClient::new(&url).unwrap();
        let note = client.checkpoint().unwrap();
        let size = dyad_verifier::checkpoint::parse_note(&note).unwrap().size;
        let leaves: Vec<Vec<u8>> = client.entries(0, size).map(|e| e.unwrap().1).collect();
        let sequential = dyad_verifier::audit::audit(leaves, &[note], trust());
        Audits {
            blocking: log(blocking),
            async_: log(async_),
            sequential,
            progress,
        }
    })
    .join()
    .unwrap()
}

/// The byte range of entry `k` in an entry bundle (each entry is a 2-byte length and its
/// bytes).
fn entry_in_bundle(bundle: &[u8], k: usize) -> std::ops::Range<usize> {
    let mut at = 0;
    for _ in 0..k {
        at += 2 + usize::from(u16::from_be_bytes([bundle[at], bundle[at + 1]]));
    }
    let len = usize::from(u16::from_be_bytes([bundle[at], bundle[at + 1]]));
    at + 2..at + 2 + len
}

/// Edits entry `index` of the export at `out` of a log of `size` entries, in place.
fn edit_exported_entry(out: &Path, size: u64, index: u64, edit: impl FnOnce(&mut [u8])) {
    let bundle = index / 256;
    let width = (size - bundle * 256).min(256) as u16;
    let path = out.join(Tile::entries(bundle, width).path());
    let mut bundle = std::fs::read(&path).unwrap();
    let range = entry_in_bundle(&bundle, (index % 256) as usize);
    edit(&mut bundle[range]);
    std::fs::write(&path, bundle).unwrap();
}

/// A log with bad entries in two bundles, audited over the tiles API on every core: the
/// first is named with the sequential audit's error, not the later one a faster thread
/// checked first.
#[test]
fn the_url_audit_names_the_first_bad_entry_as_the_sequential_audit_does() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = committed_channel(dir.path(), 700);
    let out = dir.path().join("export");
    export_tiles(Channel::open(&ledger).unwrap().store(), &out).unwrap();
    let flip_last = |entry: &mut [u8]| {
        let last = entry.len() - 1;
        entry[last] ^= 1;
    };
    // The later one in the partial bundle.
    edit_exported_entry(&out, 701, 600, flip_last);
    edit_exported_entry(&out, 701, 300, flip_last);
    let rt = runtime();
    let served = rt.block_on(static_server(out));
    let found = audits(&served.0);
    assert!(
        matches!(
            &found.sequential,
            Err(AuditError::Entry {
                index: 300,
                error: EntryError::BadSignature { .. }
            })
        ),
        "{:?}",
        found.sequential
    );
    assert_eq!(found.blocking, found.sequential);
    assert_eq!(found.async_, found.sequential);
    served.1.abort();
}

/// Over the tiles API, a log with a key change passes on every core with the change
/// reported (the threads check the entries under the new key, bundles after it), and an
/// entry by the retired key later on fails by `RetiredKey`, as in the sequential audit.
#[test]
fn the_url_audit_follows_a_key_change_and_refuses_a_retired_key() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = committed_channel_with_key_change(dir.path(), 300, 500);
    let out = dir.path().join("export");
    export_tiles(Channel::open(&ledger).unwrap().store(), &out).unwrap();
    let rt = runtime();
    let served = rt.block_on(static_server(out.clone()));
    let clean = audits(&served.0);
    let report = clean.sequential.clone().unwrap();
    assert_eq!(report.leaves, 802);
    let changes: Vec<u64> = report.key_changes.iter().map(|c| c.index).collect();
    assert_eq!(changes, [301]);
    assert_eq!(clean.blocking, Ok(report.clone()));
    assert_eq!(clean.async_, Ok(report));
    // Progress as before: from 0, every 256 entries, to the end.
    assert_eq!(
        clean.progress,
        [(0, 802), (256, 802), (512, 802), (768, 802), (802, 802)]
    );

    // Entry 700 (by the new key) made to name the retired key: its signature no longer
    // verifies either, but the first error is the key's.
    let sender_at = 1 + 8 + dyad_testkit::channel::ORIGIN.len() + 1;
    edit_exported_entry(&out, 802, 700, |entry| {
        let sender = &mut entry[sender_at..sender_at + 4];
        assert_eq!(
            sender,
            alpha2().key_id().to_be_bytes(),
            "the sender's key ID"
        );
        sender.copy_from_slice(&alpha().key_id().to_be_bytes());
    });
    let found = audits(&served.0);
    assert!(
        matches!(
            &found.sequential,
            Err(AuditError::Entry {
                index: 700,
                error: EntryError::RetiredKey {
                    retired_at: 301,
                    ..
                }
            })
        ),
        "{:?}",
        found.sequential
    );
    assert_eq!(found.blocking, found.sequential);
    assert_eq!(found.async_, found.sequential);
    served.1.abort();
}
