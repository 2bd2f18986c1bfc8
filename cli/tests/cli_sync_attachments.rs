//! Sync bundles carry attachments (spec/sync.md `dyad-sync/v2`): a document and an
//! indicator feed appended offline by each party reach the other byte for byte before it
//! co-signs; a bundle whose attachment was changed, cut or left out is refused with
//! nothing stored or co-signed; a `dyad-sync/v1` bundle still imports.

mod common;

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use common::*;
use predicates::str::contains;
use sha2::{Digest, Sha256};

const MIB: usize = 1 << 20;

/// Writes `size` bytes made by `fill` (given the chunk's offset) one MiB at a time, never
/// holding the file; returns its SHA-256 in lowercase hex.
fn write_chunkwise(path: &Path, size: usize, fill: impl Fn(usize, &mut [u8])) -> String {
    let mut out = BufWriter::new(File::create(path).unwrap());
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; MIB];
    let mut at = 0;
    while at < size {
        let n = MIB.min(size - at);
        fill(at, &mut buf[..n]);
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).unwrap();
        at += n;
    }
    out.flush().unwrap();
    hex::encode(hasher.finalize())
}

/// A 50 MB "document": bytes that differ from chunk to chunk.
fn document(path: &Path) -> String {
    write_chunkwise(path, 50_000_000, |at, buf| {
        let mut x = (at as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    })
}

/// A 5 MB STIX-like indicator feed: JSON text, one indicator per line.
fn feed(path: &Path) -> String {
    write_chunkwise(path, 5_000_000, |at, buf| {
        let mut line = 0usize;
        let mut text = Vec::with_capacity(buf.len() + 200);
        while text.len() < buf.len() {
            text.extend_from_slice(
                format!(
                    "{{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--{:08x}-0000-4000-8000-{:012x}\",\"pattern\":\"[ipv4-addr:value = '203.0.{}.{}']\"}}\n",
                    at, line, (at / MIB) % 256, line % 256
                )
                .as_bytes(),
            );
            line += 1;
        }
        buf.copy_from_slice(&text[..buf.len()]);
    })
}

/// Whether two files hold the same bytes, compared one MiB at a time.
fn same_bytes(a: &Path, b: &Path) -> bool {
    let (mut fa, mut fb) = (File::open(a).unwrap(), File::open(b).unwrap());
    if fa.metadata().unwrap().len() != fb.metadata().unwrap().len() {
        return false;
    }
    let (mut ba, mut bb) = (vec![0u8; MIB], vec![0u8; MIB]);
    loop {
        let n = fa.read(&mut ba).unwrap();
        if n == 0 {
            return true;
        }
        fb.read_exact(&mut bb[..n]).unwrap();
        if ba[..n] != bb[..n] {
            return false;
        }
    }
}

fn stored(env: &Env, side: &str, hash: &str) -> PathBuf {
    env.path(side).join("attachments").join(hash)
}

fn status(env: &Env, side: &str) -> serde_json::Value {
    env.stdout_json(env.at(side).args(["--json", "status"]))
}

fn append_with(env: &Env, side: &str, subject: &str, file: &str) {
    env.at(side)
        .args(["append", "--kind", "notification", "--subject", subject])
        .args(["--attach", file])
        .assert()
        .success();
}

fn export(env: &Env, side: &str, out: &str) -> PathBuf {
    let path = env.path(out);
    env.at(side)
        .args(["sync", "export", "--out"])
        .arg(&path)
        .assert()
        .success();
    path
}

fn import(env: &Env, side: &str, bundle: &Path) -> serde_json::Value {
    env.stdout_json(env.at(side).args(["--json", "sync", "import"]).arg(bundle))
}

/// The names in a data directory's attachment store (temporary files included).
fn attachment_files(env: &Env, side: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(env.path(side).join("attachments"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_document_and_a_feed_appended_offline_reach_the_peer_byte_for_byte() {
    let env = Env::new();
    env.channel();
    let doc = document(&env.path("exercise-plan.pdf"));
    let stix = feed(&env.path("indicators.json"));
    append_with(&env, "alpha", "Exercise plan", "exercise-plan.pdf");
    append_with(&env, "bravo", "Indicators", "indicators.json");

    // The co-signer's message and its feed reach the sequencer.
    let to_alpha = export(&env, "bravo", "to-alpha.dyad-sync");
    let v = import(&env, "alpha", &to_alpha);
    assert_eq!(v["appended"], serde_json::json!([2]));
    assert_eq!(v["attachments_carried"], 1);
    assert_eq!(v["attachments_stored"], 1);
    assert!(same_bytes(
        &stored(&env, "alpha", &stix),
        &env.path("indicators.json")
    ));

    // The sequencer's entries and both attachments reach the co-signer, which co-signs.
    let to_bravo = export(&env, "alpha", "to-bravo.dyad-sync");
    let v = import(&env, "bravo", &to_bravo);
    assert_eq!(v["cosigned_size"], 3);
    assert_eq!(v["attachments_carried"], 2);
    assert_eq!(v["attachments_stored"], 1, "bravo held its own feed");
    assert!(same_bytes(
        &stored(&env, "bravo", &doc),
        &env.path("exercise-plan.pdf")
    ));
    env.sync("bravo", "alpha");
    assert_eq!(status(&env, "alpha")["committed_size"], 3);
    // Nothing was left staged.
    assert!(attachment_files(&env, "bravo")
        .iter()
        .all(|n| n.len() == 64));
}

/// A co-signer's channel where alpha sent a 3 MiB + 5 attachment (four chunk lines), in a
/// bundle not yet imported; returns it and the attachment's hash.
fn bundle_with_attachment(env: &Env) -> (PathBuf, String) {
    env.channel();
    let hash = write_chunkwise(&env.path("report.bin"), 3 * MIB + 5, |at, buf| {
        buf.iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = ((at + i) % 251) as u8)
    });
    append_with(env, "alpha", "Report", "report.bin");
    (export(env, "alpha", "to-bravo.dyad-sync"), hash)
}

/// The index of the record line `prefix` starts.
fn line_of(records: &[String], prefix: &str) -> usize {
    records.iter().position(|l| l.starts_with(prefix)).unwrap()
}

#[test]
fn a_bundle_with_a_changed_cut_or_missing_attachment_is_refused_with_nothing_stored() {
    let env = Env::new();
    let (good, hash) = bundle_with_attachment(&env);
    let before = attachment_files(&env, "bravo");
    let names = format!(
        "entry 1's attachment \"report.bin\" ({} bytes, SHA-256 {hash})",
        3 * MIB + 5
    );
    type Edit = Box<dyn Fn(&mut Vec<String>)>;
    let cases: Vec<(&str, Edit, i32, Vec<String>)> = vec![
        (
            "a changed byte",
            Box::new(|r: &mut Vec<String>| {
                let i = line_of(r, "chunk ");
                let mut bytes = b64d(&r[i][6..]);
                bytes[1000] ^= 1;
                r[i] = format!("chunk {}", b64e(&bytes));
            }),
            1,
            vec![
                names.clone(),
                "SHA-256 is not".into(),
                "nothing was stored or co-signed".into(),
            ],
        ),
        (
            "a changed last chunk",
            Box::new(|r: &mut Vec<String>| {
                let i = line_of(r, "checkpoint ") - 1;
                r[i] = format!("chunk {}", b64e(b"XXXXX"));
            }),
            1,
            vec![names.clone(), "SHA-256 is not".into()],
        ),
        (
            "cut short, its size too",
            Box::new(|r: &mut Vec<String>| {
                let i = line_of(r, "attachment ");
                r[i] = format!("attachment {} {}", &r[i][11..75], 3 * MIB);
                r.remove(line_of(r, "checkpoint ") - 1);
            }),
            1,
            vec![format!("carries {} bytes for {names}", 3 * MIB)],
        ),
        (
            "its last chunk line left out",
            Box::new(|r: &mut Vec<String>| {
                r.remove(line_of(r, "checkpoint ") - 1);
            }),
            2,
            vec!["ends 5 bytes early".into()],
        ),
        (
            "left out",
            Box::new(|r: &mut Vec<String>| {
                r.retain(|l| !l.starts_with("attachment ") && !l.starts_with("chunk "));
            }),
            1,
            vec![
                format!("entry 1 names attachment \"report.bin\" (SHA-256 {hash}"),
                "does not hold and the bundle does not carry: nothing was co-signed".into(),
            ],
        ),
    ];
    for (name, edit, code, says) in &cases {
        let path = env.path("forged.dyad-sync");
        std::fs::copy(&good, &path).unwrap();
        rewrite_bundle(&path, edit);
        let says: Vec<&str> = says.iter().map(String::as_str).collect();
        Refusal {
            name,
            args: &["sync", "import", "forged.dyad-sync"],
            code: *code,
            says: &says,
        }
        .check(env.at("bravo"));
        assert_eq!(
            status(&env, "bravo")["size"],
            1,
            "{name}: nothing co-signed"
        );
        assert_eq!(
            attachment_files(&env, "bravo"),
            before,
            "{name}: nothing stored"
        );
    }
    // A byte changed without a new end line: the checksum.
    let mut bytes = std::fs::read(&good).unwrap();
    let at = bytes.len() / 2;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(env.path("damaged.dyad-sync"), bytes).unwrap();
    env.at("bravo")
        .args(["sync", "import", "damaged.dyad-sync"])
        .assert()
        .code(2)
        .stderr(contains("checksum"));
    assert_eq!(attachment_files(&env, "bravo"), before);

    // The intact bundle goes through, and the attachment is stored.
    assert_eq!(import(&env, "bravo", &good)["cosigned_size"], 2);
    assert!(same_bytes(
        &stored(&env, "bravo", &hash),
        &env.path("report.bin")
    ));
}

#[test]
fn the_sequencer_appends_no_submission_whose_attachment_is_missing() {
    let env = Env::new();
    env.channel();
    std::fs::write(env.path("note.txt"), b"a short note\n").unwrap();
    append_with(&env, "bravo", "Note", "note.txt");
    let path = export(&env, "bravo", "to-alpha.dyad-sync");
    let good = std::fs::read(&path).unwrap();
    rewrite_bundle(&path, |r| {
        r.retain(|l| !l.starts_with("attachment ") && !l.starts_with("chunk "))
    });
    env.at("alpha")
        .args(["sync", "import"])
        .arg(&path)
        .assert()
        .code(1)
        .stderr(contains(
            "submission 1 (the co-signer's message 1) names attachment \"note.txt\"",
        ))
        .stderr(contains("nothing was appended"));
    assert_eq!(status(&env, "alpha")["size"], 1);
    std::fs::write(&path, good).unwrap();
    assert_eq!(
        import(&env, "alpha", &path)["appended"],
        serde_json::json!([1])
    );
}

/// Rewrites a bundle as `dyad-sync/v1`, with a correct end line.
fn as_version_1(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, text.replacen("dyad-sync/v2\n", "dyad-sync/v1\n", 1)).unwrap();
    rewrite_bundle(path, |_| {});
}

#[test]
fn a_version_1_bundle_still_imports_but_brings_no_attachment() {
    let env = Env::new();
    env.channel();
    env.append("alpha", "inquiry", "one", "1");
    let path = export(&env, "alpha", "v1.dyad-sync");
    as_version_1(&path);
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .starts_with("dyad-sync/v1\n"));
    assert_eq!(import(&env, "bravo", &path)["cosigned_size"], 2);
    env.sync("bravo", "alpha");

    // A v1 bundle cannot carry an attachment: the co-signer refuses to co-sign without it.
    std::fs::write(env.path("plan.txt"), b"exercise plan\n").unwrap();
    append_with(&env, "alpha", "Plan", "plan.txt");
    let path = export(&env, "alpha", "v1-attached.dyad-sync");
    rewrite_bundle(&path, |r| {
        r.retain(|l| !l.starts_with("attachment ") && !l.starts_with("chunk "))
    });
    as_version_1(&path);
    env.at("bravo")
        .args(["sync", "import"])
        .arg(&path)
        .assert()
        .code(1)
        .stderr(contains("entry 2 names attachment \"plan.txt\""));
    assert_eq!(status(&env, "bravo")["size"], 2);
}
