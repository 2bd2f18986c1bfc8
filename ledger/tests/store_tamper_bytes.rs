//! A store whose files are damaged byte by byte, below sled: random bytes flipped, a file
//! truncated, a block zeroed, in any of the database's files. Whatever the damage, dyad
//! never panics, and it never serves data that does not match the checkpoint: either the
//! store refuses to open, or `verify_all` reports the damage, or every entry it serves is
//! the one written; and no inclusion proof it serves verifies against the checkpoint's
//! root for anything but the original entry (see docs/bad-inputs.md).
//!
//! Nor does it ever open at an earlier state: damage in sled's `db` file can make sled's
//! recovery stop at the damaged record and drop every later batch, as it does for a torn
//! write at the end of its log; the store's `head` file, outside sled, records the last
//! commit, and open refuses such a store with `Damage::RolledBack`. The test fails on any
//! store that opens, verifies and holds fewer entries than written.
//!
//! `DYAD_TAMPER_TRIALS` (default 60) sets the number of damaged copies, `DYAD_TAMPER_SEED`
//! the schedule (printed by every run).

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use dyad_ledger::store::{Store, StoreError};
use dyad_ledger::tree::{leaf_hash, Hash};
use dyad_testkit::rng::{Rng, RngExt};
use dyad_testkit::store::note;
use dyad_verifier::proof::verify_inclusion;

/// Two full entry bundles and a partial one; the checkpoint covers the full ones.
const SIZE: u64 = 600;
const CHECKPOINT: u64 = 512;

fn leaf(i: u64) -> Vec<u8> {
    format!("entry number {i} {}", "x".repeat((i % 40) as usize)).into_bytes()
}

/// The root of the first `n` leaves, by the RFC 9162 definition (not the ledger's tree).
fn root_of(n: u64) -> Hash {
    dyad_testkit::store::root_of(n, leaf)
}

fn build(dir: &Path) {
    let mut store = Store::create(dir).unwrap();
    for range in [0..200, 200..CHECKPOINT, CHECKPOINT..SIZE] {
        let mut b = store.batch();
        for i in range.clone() {
            b.append_leaf(leaf(i));
        }
        if range.end == CHECKPOINT {
            b.put_checkpoint(CHECKPOINT, note(CHECKPOINT, &root_of(CHECKPOINT)));
        }
        store.commit(b).unwrap();
    }
    store.verify_all(|_, _| {}).unwrap();
}

/// Every regular file under `dir`, with its bytes.
fn snapshot(dir: &Path, base: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            snapshot(&e.path(), base, out);
        } else {
            let rel = e.path().strip_prefix(base).unwrap().to_owned();
            out.insert(rel, std::fs::read(e.path()).unwrap());
        }
    }
}

fn restore(files: &BTreeMap<PathBuf, Vec<u8>>, dir: &Path) {
    for (rel, bytes) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

/// Uniform in `0..n` (0 when `n` is 0: an empty file has one place to damage).
fn below(rng: &mut Rng, n: u64) -> u64 {
    rng.random_range(0..n.max(1))
}

/// What one damaged copy did.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// `Store::open` refused it (the error's variant name).
    Refused(String),
    /// It opened and `verify_all` reported damage.
    Reported(String),
    /// It opened, verified, and serves exactly what was written: all of it (the damage
    /// hit bytes sled no longer uses).
    Intact,
    /// It opened and verified, serving exactly the first this-many entries written: sled's
    /// recovery stopped at the damaged record and dropped every later batch, and the
    /// store did not notice. Never acceptable (see docs/bad-inputs.md, "Tampered store").
    RolledBack(u64),
}

/// The error's variant name, and for `Damaged` the damage's too (`Damaged(RolledBack)`).
fn variant(e: &StoreError) -> String {
    let name = |s: &str| s.split(['(', ' ', '{']).next().unwrap_or("").to_owned();
    match e {
        StoreError::Damaged(d) => format!("Damaged({})", name(&format!("{d:?}"))),
        other => name(&format!("{other:?}")),
    }
}

/// Opens the damaged store and checks what it serves.
fn examine(dir: &Path, cp_root: &Hash) -> Outcome {
    let store = match Store::open(dir) {
        Ok(s) => s,
        Err(e) => return Outcome::Refused(variant(&e)),
    };
    // Whatever the state, a proof it serves that verifies against the checkpoint is for
    // the original entry.
    if store.size() >= CHECKPOINT {
        for i in (0..CHECKPOINT).step_by(7) {
            let (Ok(bytes), Ok(proof)) = (store.leaf(i), store.inclusion_proof(i, CHECKPOINT))
            else {
                continue;
            };
            if verify_inclusion(&leaf_hash(&bytes), i, CHECKPOINT, &proof, cp_root).is_ok() {
                assert_eq!(bytes, leaf(i), "a proof for altered entry {i} verifies");
            }
        }
    }
    match store.verify_all(|_, _| {}) {
        Err(e) => Outcome::Reported(variant(&e)),
        Ok(_) => {
            // Verified: every entry it holds is the one written, and its root is the
            // original tree's at its size.
            let size = store.size();
            assert!(size <= SIZE);
            for i in 0..size {
                assert_eq!(
                    store.leaf(i).unwrap(),
                    leaf(i),
                    "entry {i} changed silently"
                );
            }
            assert_eq!(store.root(), root_of(size));
            if size == SIZE {
                Outcome::Intact
            } else {
                Outcome::RolledBack(size)
            }
        }
    }
}

#[test]
fn damaged_files_are_refused_reported_or_harmless_never_served() {
    let trials = std::env::var("DYAD_TAMPER_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60u64);
    let seed = std::env::var("DYAD_TAMPER_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("store_tamper_bytes: DYAD_TAMPER_SEED={seed}, {trials} trials");
    let tmp = tempfile::tempdir().unwrap();
    let original = tmp.path().join("original");
    build(&original);
    // sled's threads hold the directory's lock a moment after the store is dropped; the
    // copies are independent directories, so this does not matter for them.
    let mut files = BTreeMap::new();
    snapshot(&original, &original, &mut files);
    let cp_root = root_of(CHECKPOINT);
    let names: Vec<&PathBuf> = files.keys().collect();
    let mut rng = dyad_testkit::rng(seed);
    let mut tally: BTreeMap<(String, Outcome), u64> = BTreeMap::new();
    for trial in 0..trials {
        let dir = tmp.path().join(format!("copy-{trial}"));
        restore(&files, &dir);
        let name = names[below(&mut rng, names.len() as u64) as usize];
        let bytes = &files[name];
        let path = dir.join(name);
        let len = bytes.len() as u64;
        let action = match below(&mut rng, 4) {
            0 | 1 => {
                let at = below(&mut rng, len) as usize;
                let mut b = bytes.clone();
                if !b.is_empty() {
                    b[at] ^= 1 << below(&mut rng, 8);
                }
                std::fs::write(&path, b).unwrap();
                "flip"
            }
            2 => {
                let at = below(&mut rng, len) as usize;
                std::fs::write(&path, &bytes[..at]).unwrap();
                "truncate"
            }
            _ => {
                let at = below(&mut rng, len) as usize;
                let mut b = bytes.clone();
                let end = (at + 4096).min(b.len());
                b[at..end].fill(0);
                std::fs::write(&path, b).unwrap();
                "zero-4k"
            }
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| examine(&dir, &cp_root)));
        let outcome = match outcome {
            Ok(o) => o,
            Err(p) => {
                let why = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!(
                    "trial {trial} ({action} in {}): panicked: {why} (DYAD_TAMPER_SEED={seed})",
                    name.display()
                );
            }
        };
        *tally
            .entry((format!("{action} {}", name.display()), outcome))
            .or_default() += 1;
        let _ = std::fs::remove_dir_all(&dir);
    }
    for ((what, outcome), n) in &tally {
        println!("store_tamper_bytes: {n:3} x {what}: {outcome:?}");
    }
    assert_eq!(tally.values().sum::<u64>(), trials);
    let rolled_back: Vec<_> = tally
        .iter()
        .filter(|((_, o), _)| matches!(o, Outcome::RolledBack(_)))
        .collect();
    assert!(
        rolled_back.is_empty(),
        "damaged stores opened at an earlier state without an error: {rolled_back:?} (DYAD_TAMPER_SEED={seed})"
    );
}
