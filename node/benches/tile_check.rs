//! What checking a tile or bundle before serving it costs: `cargo bench -p dyad-ledger
//! --bench tile_check`. The same reads from one store (in the page cache) three ways: as
//! read, checked against the tree with nothing remembered (the first request for a tile),
//! and checked by a node that checked it before (every later request).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use dyad_ledger::store::Store;
use dyad_node::tile_check::TileChecks;
use dyad_node::tiles::{read_tile, Tile};

/// Level-0 tiles 0..TILES are full, and level-1 tile 0 (65536 entries).
const TILES: u64 = 300;
/// A typical entry: a short message with its signature and header.
const ENTRY_BYTES: usize = 400;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::create(dir.path()).unwrap();
    let size = TILES * 256;
    let mut i = 0u64;
    while i < size {
        let mut b = store.batch();
        for j in i..(i + 4096).min(size) {
            let mut leaf = vec![(j % 251) as u8; ENTRY_BYTES];
            leaf[..8].copy_from_slice(&j.to_be_bytes());
            b.append_leaf(leaf);
        }
        i = (i + 4096).min(size);
        store.commit(b).unwrap();
    }
    (dir, store)
}

fn serving(c: &mut Criterion) {
    let (_dir, store) = store();
    for (name, make) in [
        ("hash_tile_0", Tile::hashes as fn(u8, u64, u16) -> Tile),
        ("entry_bundle", |_, index, width| {
            Tile::entries(index, width)
        }),
    ] {
        let tiles: Vec<Tile> = (0..TILES).map(|n| make(0, n, 256)).collect();
        let mut g = c.benchmark_group(format!("serve_{name}"));
        g.throughput(Throughput::Elements(1));
        let mut k = 0usize;
        g.bench_function("unchecked", |b| {
            b.iter(|| {
                k = (k + 7) % tiles.len();
                read_tile(&store, black_box(&tiles[k])).unwrap()
            })
        });
        g.bench_function("checked_first_time", |b| {
            b.iter_batched(
                TileChecks::default,
                |checks| {
                    k = (k + 7) % tiles.len();
                    checks.read(&store, black_box(&tiles[k])).unwrap()
                },
                BatchSize::SmallInput,
            )
        });
        let checks = TileChecks::default();
        for t in &tiles {
            checks.read(&store, t).unwrap();
        }
        g.bench_function("checked_remembered", |b| {
            b.iter(|| {
                k = (k + 7) % tiles.len();
                checks.read(&store, black_box(&tiles[k])).unwrap()
            })
        });
        g.finish();
    }
    // The level-1 tile: its 256 hashes against the right edge's node.
    let mut g = c.benchmark_group("serve_hash_tile_1");
    let top = Tile::hashes(1, 0, 256);
    g.bench_function("unchecked", |b| {
        b.iter(|| read_tile(&store, black_box(&top)).unwrap())
    });
    g.bench_function("checked_first_time", |b| {
        b.iter_batched(
            TileChecks::default,
            |checks| checks.read(&store, black_box(&top)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, serving);
criterion_main!(benches);
