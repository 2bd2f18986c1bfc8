//! `dyad sync`: bundles that are truncated, altered, forged, for another channel or for
//! the other party are refused with a message naming the problem, and the store is
//! left untouched.

mod common;

use common::*;
use predicates::str::contains;

fn size(env: &Env, side: &str) -> u64 {
    env.stdout_json(env.at(side).args(["--json", "status"]))["size"]
        .as_u64()
        .unwrap()
}

fn committed(env: &Env, side: &str) -> u64 {
    env.stdout_json(env.at(side).args(["--json", "status"]))["committed_size"]
        .as_u64()
        .unwrap()
}

/// A channel where alpha has two entries bravo has not seen, exported to `out`.
fn pending_bundle(env: &Env, out: &str) -> std::path::PathBuf {
    env.channel();
    env.append("alpha", "inquiry", "one", "1");
    env.append("alpha", "notification", "two", "2");
    let path = env.path(out);
    env.at("alpha")
        .args(["sync", "export", "--out"])
        .arg(&path)
        .assert()
        .success();
    path
}

#[test]
fn damaged_bundles_are_refused_before_anything_is_applied() {
    let env = Env::new();
    let path = pending_bundle(&env, "b.dyad-sync");
    let good = std::fs::read(&path).unwrap();
    let mut altered = good.clone();
    let at = good.len() / 2;
    altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"entry 9 AAAA\n");
    // (case, the bundle's bytes, what the refusal says)
    let mut cases: Vec<(String, Vec<u8>, &str)> =
        [good.len() - 1, good.len() - 30, good.len() / 2, 20]
            .into_iter()
            .map(|cut| (format!("cut at {cut}"), good[..cut].to_vec(), "truncated"))
            .collect();
    cases.extend([
        ("a changed byte".to_owned(), altered, "checksum"),
        (
            "a line after the end".to_owned(),
            trailing,
            "after the end line",
        ),
        ("empty".to_owned(), Vec::new(), "not a dyad sync bundle"),
        (
            "a zip file".to_owned(),
            b"PK\x03\x04 zip".to_vec(),
            "not a dyad sync bundle",
        ),
    ]);
    for (name, body, says) in &cases {
        std::fs::write(env.path("damaged"), body).unwrap();
        Refusal {
            name,
            args: &["sync", "import", "damaged"],
            code: 2,
            says: &[*says],
        }
        .check(env.at("bravo"));
    }
    env.at("bravo")
        .args(["sync", "import", "nope"])
        .assert()
        .code(2)
        .stderr(contains("nope"));
    assert_eq!(size(&env, "bravo"), 1, "nothing was applied");

    // The intact bundle goes through.
    env.at("bravo")
        .args(["sync", "import"])
        .arg(&path)
        .assert()
        .success()
        .stdout(contains("co-signed the checkpoint of size 3"));
    assert_eq!(size(&env, "bravo"), 3);
}

#[test]
fn bundles_for_another_channel_or_party_are_refused() {
    let env = Env::new();
    let path = pending_bundle(&env, "b.dyad-sync");
    // Another origin: the same bundle with its origin line changed (and a valid checksum).
    let other = env.path("other.dyad-sync");
    std::fs::copy(&path, &other).unwrap();
    let text = std::fs::read_to_string(&other).unwrap().replacen(
        "origin hotline.example/dyad/test",
        "origin other.example/x",
        1,
    );
    std::fs::write(&other, text).unwrap();
    rewrite_bundle(&other, |_| {});
    env.at("bravo")
        .args(["sync", "import"])
        .arg(&other)
        .assert()
        .code(2)
        .stderr(contains(
            "for channel \"other.example/x\", not this channel \"hotline.example/dyad/test\"",
        ));
    // The sequencer's own bundle, imported by the sequencer.
    env.at("alpha")
        .args(["sync", "import"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(contains("written by the sequencer"));
    // A proposal is not a sync bundle.
    env.keygen("charlie");
    env.at("c")
        .args([
            "init",
            "--origin",
            ORIGIN,
            "--key",
            "keys/alpha.key",
            "--peer",
            "keys/charlie.pub",
            "--role",
            "sequencer",
        ])
        .assert()
        .success();
    env.at("bravo")
        .args(["sync", "import", "c/genesis.proposal"])
        .assert()
        .code(2)
        .stderr(contains("genesis proposal"));
    // The co-signer's bundle, imported by the co-signer.
    env.append("bravo", "notification", "from bravo", "b");
    let mine = env.path("mine.dyad-sync");
    env.at("bravo")
        .args(["sync", "export", "--out"])
        .arg(&mine)
        .assert()
        .success();
    env.at("bravo")
        .args(["sync", "import"])
        .arg(&mine)
        .assert()
        .code(2)
        .stderr(contains("written by the co-signer"));
    assert_eq!(size(&env, "bravo"), 1);
}

#[test]
fn forged_and_rewritten_entries_fail_verification_and_change_nothing() {
    let env = Env::new();
    let path = pending_bundle(&env, "b.dyad-sync");
    // A forger changes entry 2's signature and fixes the checksum.
    let forged = env.path("forged.dyad-sync");
    std::fs::copy(&path, &forged).unwrap();
    rewrite_bundle(&forged, |records| {
        let line = records
            .iter_mut()
            .find(|l| l.starts_with("entry 2 "))
            .unwrap();
        let mut bytes = b64d(&line[8..]);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        *line = format!("entry 2 {}", b64e(&bytes));
    });
    env.at("bravo")
        .args(["sync", "import"])
        .arg(&forged)
        .assert()
        .code(1)
        .stderr(contains("entry 2: the sender's signature does not verify"));
    assert_eq!(size(&env, "bravo"), 1);
    // A checkpoint whose root does not match the entries.
    let wrong_root = env.path("wrong-root.dyad-sync");
    std::fs::copy(&path, &wrong_root).unwrap();
    rewrite_bundle(&wrong_root, |records| {
        records.retain(|l| !l.starts_with("entry 2 "))
    });
    env.at("bravo")
        .args(["sync", "import"])
        .arg(&wrong_root)
        .assert()
        .code(1);
    assert_eq!(size(&env, "bravo"), 1);

    // Now bravo holds entries 0..2; a later full export with entry 1 rewritten is refused.
    env.at("bravo")
        .args(["sync", "import"])
        .arg(&path)
        .assert()
        .success();
    env.append("alpha", "notification", "three", "3");
    let full = env.path("full.dyad-sync");
    env.at("alpha")
        .args(["sync", "export", "--from", "0", "--out"])
        .arg(&full)
        .assert()
        .success();
    let good_a = env
        .at("alpha")
        .args(["show", "1", "--raw"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let good_b = env
        .at("alpha")
        .args(["show", "2", "--raw"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    rewrite_bundle(&full, |records| {
        // Swap in entry 2's bytes for entry 1: well-formed, validly signed, but not what bravo holds.
        let line = records
            .iter_mut()
            .find(|l| l.starts_with("entry 1 "))
            .unwrap();
        *line = format!("entry 1 {}", b64e(&good_b));
    });
    assert_ne!(good_a, good_b);
    env.at("bravo")
        .args(["sync", "import"])
        .arg(&full)
        .assert()
        .code(1)
        .stderr(contains(
            "entry 1 in the bundle differs from this replica's entry 1",
        ));
    assert_eq!(size(&env, "bravo"), 3);

    // A bundle that skips entries bravo lacks.
    env.append("alpha", "notification", "four", "4");
    let gap = env.path("gap.dyad-sync");
    env.at("alpha")
        .args(["sync", "export", "--from", "4", "--out"])
        .arg(&gap)
        .assert()
        .success();
    env.at("bravo")
        .args(["sync", "import"])
        .arg(&gap)
        .assert()
        .code(1)
        .stderr(contains("entries 3..3 are missing"))
        .stderr(contains("--from 3"));
    assert_eq!(size(&env, "bravo"), 3);
}

#[test]
fn forged_submissions_are_refused_by_the_sequencer() {
    let env = Env::new();
    env.channel();
    env.append("bravo", "inquiry", "from bravo", "hello");
    let path = env.path("sub.dyad-sync");
    env.at("bravo")
        .args(["sync", "export", "--out"])
        .arg(&path)
        .assert()
        .success();
    rewrite_bundle(&path, |records| {
        let line = records
            .iter_mut()
            .find(|l| l.starts_with("submission "))
            .unwrap();
        let mut bytes = b64d(&line[11..]);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        *line = format!("submission {}", b64e(&bytes));
    });
    env.at("alpha")
        .args(["sync", "import"])
        .arg(&path)
        .assert()
        .code(1)
        .stderr(contains("signature does not verify"));
    assert_eq!(size(&env, "alpha"), 1);
}

#[test]
fn export_reports_what_it_wrote() {
    let env = Env::new();
    env.channel();
    env.append("alpha", "inquiry", "one", "1");
    let v =
        env.stdout_json(
            env.at("alpha")
                .args(["--json", "sync", "export", "--out", "x.dyad-sync"]),
        );
    assert_eq!(v["role"], "sequencer");
    assert_eq!(
        v["genesis"], true,
        "no co-signature yet: the genesis goes along"
    );
    assert_eq!(v["entries_from"], 0);
    assert_eq!(v["entries_to"], 2);
    assert_eq!(v["checkpoint_size"], 2);
    // Without --out: the bundle on stdout, the summary on stderr.
    let out = env.at("alpha").args(["sync", "export"]).assert().success();
    assert!(stdout(out.get_output()).starts_with("dyad-sync/v2\n"));
    assert!(stderr(out.get_output()).contains("a checkpoint of size 2 to co-sign"));
    let v = env.stdout_json(
        env.at("bravo")
            .args(["--json", "sync", "import", "x.dyad-sync"]),
    );
    assert_eq!(v["cosigned_size"], 2);
    assert_eq!(v["entries_added"], 1);
    assert_eq!(v["genesis"], "already-held");
    // Importing an older bundle after a newer one: nothing to do, no error.
    env.append("alpha", "inquiry", "two", "2");
    env.sync("alpha", "bravo");
    let v = env.stdout_json(
        env.at("bravo")
            .args(["--json", "sync", "import", "x.dyad-sync"]),
    );
    assert_eq!(v["stale_checkpoint_size"], 2);
    env.sync("bravo", "alpha");
    assert_eq!(committed(&env, "alpha"), 3);
    env.at("alpha")
        .args(["sync", "export", "--from", "9"])
        .assert()
        .code(2);
}

/// Lines of keys nobody knows, well formed, to pad a note with.
fn unknown_lines(n: usize) -> String {
    (0..n)
        .map(|i| {
            let mut sig = vec![i as u8; 68];
            sig[..4].copy_from_slice(&(0x3000_0000u32 + i as u32).to_be_bytes());
            format!("\u{2014} example.org/junk{i} {}\n", b64e(&sig))
        })
        .collect()
}

/// The co-signer's own committed checkpoint, sent back to it in a bundle's `checkpoint`
/// record (as is, and padded with lines of unknown keys): the import writes nothing and
/// the replica keeps a checkpoint that verifies.
#[test]
fn a_replayed_checkpoint_record_changes_nothing_on_the_cosigner() {
    let env = Env::new();
    env.channel();
    env.append("alpha", "inquiry", "one", "1");
    env.sync_all();
    let size = committed(&env, "bravo");
    assert_eq!(size, 2);
    let head_file = env.path("bravo").join("ledger").join("head");
    let head_before = std::fs::read(&head_file).unwrap();
    let checkpoint_before = env
        .at("bravo")
        .arg("checkpoint")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    for pad in [0, 98] {
        let path = env.path(&format!("replay-{pad}.dyad-sync"));
        env.at("alpha")
            .args(["sync", "export", "--out"])
            .arg(&path)
            .assert()
            .success();
        rewrite_bundle(&path, |records| {
            let cosigned: Vec<String> = records
                .iter()
                .filter_map(|r| r.strip_prefix("cosigned "))
                .map(|b| {
                    let mut note = b64d(b);
                    note.extend_from_slice(unknown_lines(pad).as_bytes());
                    b64e(&note)
                })
                .collect();
            assert_eq!(cosigned.len(), 1, "{records:?}");
            records.retain(|r| !r.starts_with("cosigned "));
            records.push(format!("checkpoint {}", cosigned[0]));
            records.push(format!("cosigned {}", cosigned[0]));
        });
        for _ in 0..2 {
            env.at("bravo")
                .args(["sync", "import"])
                .arg(&path)
                .assert()
                .success();
        }
    }
    assert_eq!(
        std::fs::read(&head_file).unwrap(),
        head_before,
        "a replay cost a commit"
    );
    env.at("bravo")
        .arg("checkpoint")
        .assert()
        .success()
        .stdout(predicates::ord::eq(checkpoint_before));
    assert_eq!(committed(&env, "bravo"), size);
    env.at("bravo")
        .arg("audit")
        .args(env.trust())
        .assert()
        .success();
    // The channel goes on.
    env.append("alpha", "inquiry", "two", "2");
    env.sync_all();
    assert_eq!(committed(&env, "bravo"), size + 1);
}

/// A data directory whose `ledger/` was emptied: every command that would read or
/// re-create the replica says it is missing and points at restoring it; re-creating it
/// from the signed genesis takes the explicit step of deleting `replica.head`.
#[test]
fn an_emptied_ledger_is_reported_missing_not_recreated() {
    let env = Env::new();
    env.channel();
    env.append("alpha", "inquiry", "one", "1");
    env.sync_all();
    for side in ["alpha", "bravo"] {
        let record = std::fs::read_to_string(env.path(side).join("replica.head")).unwrap();
        assert!(record.starts_with("dyad-replica/1\n"), "{record}");
        assert!(record.contains("\ncommitted 2\n"), "{record}");
    }
    let ledger = env.path("alpha").join("ledger");
    std::fs::remove_dir_all(&ledger).unwrap();
    std::fs::create_dir(&ledger).unwrap();
    let signed = env.path("bravo").join("genesis.signed");
    let missing = |cmd: &mut assert_cmd::Command| {
        cmd.assert()
            .code(2)
            .stderr(contains("is missing"))
            .stderr(contains("held 2 entries, 2 of them co-signed"))
            .stderr(contains("dyad restore --from-peer URL"))
            .stderr(contains("replica.head"));
    };
    missing(env.at("alpha").arg("status"));
    missing(
        env.at("alpha")
            .args(["append", "--kind", "inquiry", "--subject", "x", "-"])
            .write_stdin("x"),
    );
    missing(env.at("alpha").args(["sync", "import"]).arg(&signed));
    missing(env.at("alpha").args(["serve", "--listen", "127.0.0.1:0"]));
    assert!(!ledger.join("db").exists(), "no replica was created");

    // The explicit step: the record deleted, the signed genesis creates a new replica.
    std::fs::remove_file(env.path("alpha").join("replica.head")).unwrap();
    env.at("alpha")
        .args(["sync", "import"])
        .arg(&signed)
        .assert()
        .success();
    assert_eq!(size(&env, "alpha"), 1);
    assert!(env.path("alpha").join("replica.head").is_file());
}

/// A replica whose newest checkpoint does not verify and cannot be rebuilt (here: the
/// co-signer's line is gone) still opens: reads work and warn loudly, writes are refused
/// with a message naming the problem and the way out.
#[test]
fn a_replica_whose_checkpoint_does_not_verify_opens_read_only() {
    let env = Env::new();
    env.channel();
    env.append("alpha", "inquiry", "one", "1");
    env.sync_all();
    {
        let mut store = dyad_ledger::store::Store::open(&env.path("bravo").join("ledger")).unwrap();
        let (size, note) = store.latest_checkpoint().unwrap().unwrap();
        let text = String::from_utf8(note).unwrap();
        let log_only: String = text
            .split_inclusive('\n')
            .filter(|l| !l.starts_with("\u{2014} cert.bravo.example "))
            .collect();
        assert_ne!(log_only, text);
        let mut batch = store.batch();
        batch.put_checkpoint(size, log_only.into_bytes());
        store.commit(batch).unwrap();
    }
    env.at("bravo")
        .arg("status")
        .assert()
        .success()
        .stderr(contains("READ-ONLY"));
    env.at("bravo")
        .args(["append", "--kind", "inquiry", "--subject", "x", "-"])
        .write_stdin("x")
        .assert()
        .failure()
        .stderr(contains("read-only"))
        .stderr(contains("dyad restore --from-peer URL"));
}
