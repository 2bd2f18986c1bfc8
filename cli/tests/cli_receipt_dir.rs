//! Receipt directories (spec/dyad.md section 8): `dyad receipt N --out DIR` writes the
//! receipt and its entry's attachments, `dyad verify receipt` checks both offline and names
//! every attachment file that is missing or not the attachment; `dyad show
//! --save-attachments` and `dyad attachment get` copy the same bytes out, checked.

mod common;

use std::fs;
use std::path::Path;

use common::Env;
use sha2::{Digest, Sha256};

/// Deterministic bytes that are not all alike, so that a flipped byte changes the hash.
fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A channel whose entry 1 has attachments `report.pdf` (200 KB) and `notes.txt`, and
/// entry 2 two attachments both named `same.txt`; everything committed on both sides.
fn setup() -> (Env, Vec<u8>, Vec<u8>) {
    let env = Env::new();
    env.channel();
    let report = content(200_000, 7);
    let notes = b"the notes\n".to_vec();
    for (path, bytes) in [
        ("report.pdf", &report[..]),
        ("notes.txt", &notes[..]),
        ("x/same.txt", b"first"),
        ("y/same.txt", b"second"),
    ] {
        fs::create_dir_all(env.path(path).parent().unwrap()).unwrap();
        fs::write(env.path(path), bytes).unwrap();
    }
    for files in [["report.pdf", "notes.txt"], ["x/same.txt", "y/same.txt"]] {
        env.at("alpha")
            .args(["append", "--kind", "notification", "--subject", "documents"])
            .args(files.iter().flat_map(|f| ["--attach", f]))
            .assert()
            .success();
    }
    env.sync_all();
    (env, report, notes)
}

fn verify(env: &Env, args: &[&str]) -> std::process::Output {
    env.dyad()
        .args(["verify", "receipt"])
        .args(args)
        .args(["--trust", "keys/alpha.pub", "--trust", "keys/bravo.pub"])
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_receipt_directory_holds_the_attachments_and_verifies_offline() {
    let (env, report, notes) = setup();
    let out = env
        .at("alpha")
        .args(["receipt", "1", "--out", "r1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        fs::read(env.path("r1/attachments/report.pdf")).unwrap(),
        report
    );
    assert_eq!(
        fs::read(env.path("r1/attachments/notes.txt")).unwrap(),
        notes
    );
    let file = env.path("r1.tlog-proof");
    env.at("alpha")
        .args(["receipt", "1", "--out"])
        .arg(&file)
        .assert()
        .success()
        .stderr(predicates::str::contains("--out DIR"));
    assert_eq!(
        fs::read(&file).unwrap(),
        fs::read(env.path("r1/receipt.tlog-proof")).unwrap(),
        "the receipt in the directory is the receipt file"
    );
    assert_eq!(
        fs::read_dir(env.dir.path())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp"))
            .count(),
        0
    );

    let ok = verify(&env, &["r1"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let said = text(&ok.stdout);
    assert!(
        said.contains(&format!(
            "report.pdf (200000 bytes, sha256 {}): checked",
            sha256_hex(&report)
        )),
        "{said}"
    );
    assert!(said.contains("byte for byte"), "{said}");
    assert!(!said.contains("acknowledged holding"), "{said}");
    let v = common::json(&verify(&env, &["r1", "--json"]).stdout);
    assert_eq!(v["attachments_checked"], true, "{v}");
    assert_eq!(v["attachments"][0]["checked"], true, "{v}");
    assert_eq!(v["attachments"].as_array().unwrap().len(), 2);

    // The receipt file alone verifies, but says the bytes were not checked.
    let alone = verify(&env, &["r1.tlog-proof"]);
    assert!(alone.status.success());
    assert!(
        text(&alone.stdout).contains("NOT CHECKED"),
        "{}",
        text(&alone.stdout)
    );
    let v = common::json(&verify(&env, &["r1.tlog-proof", "--json"]).stdout);
    assert_eq!(v["attachments_checked"], false, "{v}");
    // ... and with --attachments they are.
    let given = verify(&env, &["r1.tlog-proof", "--attachments", "r1/attachments"]);
    assert!(given.status.success(), "{}", text(&given.stderr));

    // Same-named attachments are all named by their hash.
    env.at("alpha")
        .args(["receipt", "2", "--out", "r2"])
        .assert()
        .success();
    for bytes in [&b"first"[..], b"second"] {
        let name = format!("r2/attachments/{}-same.txt", sha256_hex(bytes));
        assert_eq!(fs::read(env.path(&name)).unwrap(), bytes, "{name}");
    }
    assert!(verify(&env, &["r2"]).status.success());
}

#[test]
fn each_missing_cut_extended_or_changed_attachment_fails_by_name() {
    let (env, _, _) = setup();
    env.at("alpha")
        .args(["receipt", "1", "--out", "r1"])
        .assert()
        .success();
    type Damage = fn(&Path);
    let damages: [(&str, Damage, &str); 4] = [
        ("missing", |p| fs::remove_file(p).unwrap(), "missing"),
        (
            "cut",
            |p| {
                let b = fs::read(p).unwrap();
                fs::write(p, &b[..b.len() - 1]).unwrap();
            },
            "but its entry names",
        ),
        (
            "extended",
            |p| {
                let mut b = fs::read(p).unwrap();
                b.push(0);
                fs::write(p, b).unwrap();
            },
            "longer than",
        ),
        (
            "flipped",
            |p| {
                let mut b = fs::read(p).unwrap();
                b[3] ^= 1;
                fs::write(p, b).unwrap();
            },
            "SHA-256",
        ),
    ];
    for file in ["report.pdf", "notes.txt"] {
        for (what, damage, says) in damages {
            let dir = env.path(&format!("{what}-{file}"));
            dyad_testkit::files::copy_dir(&env.path("r1"), &dir);
            damage(&dir.join("attachments").join(file));
            let out = verify(&env, &[dir.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(1), "{what} {file}");
            let err = text(&out.stderr);
            assert!(
                err.contains(&format!("attachments/{file}: ")) && err.contains(says),
                "{what} {file}: {err}"
            );
            let other = if file == "notes.txt" {
                "report.pdf"
            } else {
                "notes.txt"
            };
            assert!(
                !err.contains(other),
                "only the damaged file is named: {err}"
            );
        }
    }
}

#[test]
fn a_receipt_directory_is_written_whole_or_not_at_all() {
    let (env, _, _) = setup();
    // An existing non-empty directory is refused and left alone; an empty one is filled.
    fs::create_dir(env.path("full")).unwrap();
    fs::write(env.path("full/keep"), b"mine").unwrap();
    let out = env
        .at("alpha")
        .args(["receipt", "1", "--out", "full"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not empty"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(fs::read_dir(env.path("full")).unwrap().count(), 1);
    fs::create_dir(env.path("empty")).unwrap();
    env.at("alpha")
        .args(["receipt", "1", "--out", "empty"])
        .assert()
        .success();
    assert!(env.path("empty/attachments/report.pdf").is_file());

    // A damaged copy in the replica: refused, nothing written, no temporary left.
    let stored = env
        .path("alpha/attachments")
        .join(sha256_hex(b"the notes\n"));
    fs::write(&stored, b"the notes!\n").unwrap();
    let out = env
        .at("alpha")
        .args(["receipt", "1", "--out", "bad"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("notes.txt"),
        "{}",
        text(&out.stderr)
    );
    assert!(!env.path("bad").exists());
    let leftovers: Vec<_> = fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".bad"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The same for a missing one.
    fs::remove_file(&stored).unwrap();
    let out = env
        .at("alpha")
        .args(["receipt", "1", "--out", "bad"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not held"),
        "{}",
        text(&out.stderr)
    );
    assert!(!env.path("bad").exists());
}

#[test]
fn attachment_get_and_show_save_attachments_give_the_same_bytes() {
    // On the sender's replica: sync bundles do not carry attachments (nodes fetch them).
    let (env, report, _) = setup();
    let hash = sha256_hex(&report);
    env.at("alpha")
        .args(["attachment", "get", &hash, "--out", "got.pdf"])
        .assert()
        .success();
    assert_eq!(fs::read(env.path("got.pdf")).unwrap(), report);
    // An existing file is kept unless --force.
    let out = env
        .at("alpha")
        .args(["attachment", "get", &hash, "--out", "got.pdf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );
    env.at("alpha")
        .args(["attachment", "get", &hash, "--out", "got.pdf", "--force"])
        .assert()
        .success();
    // Not a hash: exit 2; a hash the replica does not hold: exit 1.
    for (bad, code) in [(hash.to_uppercase(), 2), ("ab".repeat(32), 1)] {
        let out = env
            .at("alpha")
            .args(["attachment", "get", &bad, "--out", "none.bin"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{bad}: {}",
            text(&out.stderr)
        );
        assert!(!env.path("none.bin").exists());
    }

    let v = env.stdout_json(env.at("alpha").args([
        "--json",
        "show",
        "1",
        "--save-attachments",
        "saved",
    ]));
    assert_eq!(v["saved_attachments"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(fs::read(env.path("saved/report.pdf")).unwrap(), report);
    assert_eq!(
        fs::read(env.path("saved/notes.txt")).unwrap(),
        b"the notes\n"
    );
    env.at("alpha")
        .args(["receipt", "1", "--out", "r1"])
        .assert()
        .success();
    for name in ["report.pdf", "notes.txt"] {
        assert_eq!(
            fs::read(env.path("saved").join(name)).unwrap(),
            fs::read(env.path("r1/attachments").join(name)).unwrap()
        );
    }
}
