//! The auditor's page end to end, in headless Chromium (verifier-wasm/tests/page.test.mjs
//! under Node.js with playwright-core): `dyad export web` writes it, it runs from file://
//! and from `dyad serve`'s /audit/, its receipt verdicts are `dyad verify receipt`'s, and
//! its audit of a live two-node log is `dyad audit --url`'s.
//!
//! Needs what .ci/install-web-tools.sh installs and .ci/run exports: `dyad` built with the
//! page (DYAD_WEB_PAGE), DYAD_PLAYWRIGHT_CORE (the package's directory), DYAD_CHROMIUM, and
//! `node`. Without them the test says so and passes, unless DYAD_REQUIRE_EXTERNAL_TOOLS is
//! set (CI), where it fails.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::node::Node;
use common::{free_port, stderr, stdout, Env};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Where playwright-core and Chromium are, or `None` (skip) when they are not given.
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let core = std::env::var_os("DYAD_PLAYWRIGHT_CORE").map(PathBuf::from);
    let chromium = std::env::var_os("DYAD_CHROMIUM").map(PathBuf::from);
    match (core, chromium) {
        (Some(core), Some(chromium)) if core.is_dir() && chromium.is_file() => {
            Some((core, chromium))
        }
        _ => {
            assert!(
                std::env::var_os("DYAD_REQUIRE_EXTERNAL_TOOLS").is_none(),
                "DYAD_PLAYWRIGHT_CORE and DYAD_CHROMIUM must name playwright-core and Chromium (.ci/install-web-tools.sh) when DYAD_REQUIRE_EXTERNAL_TOOLS is set"
            );
            eprintln!(
                "skipped: DYAD_PLAYWRIGHT_CORE / DYAD_CHROMIUM not set (.ci/install-web-tools.sh)"
            );
            None
        }
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The vectors' party keys, their last receipt, and tampered copies of it with the reason
/// `dyad verify receipt` gives for each.
fn receipt_fixtures(env: &Env, dir: &Path) -> Value {
    let vectors: Value =
        serde_json::from_slice(&std::fs::read(repo().join("spec/vectors/entries.json")).unwrap())
            .unwrap();
    for p in vectors["parties"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap().rsplit('/').next().unwrap();
        std::fs::write(
            dir.join(format!("{name}.pub")),
            format!("{}\n", p["vkey"].as_str().unwrap()),
        )
        .unwrap();
    }
    let last = vectors["receipts"].as_array().unwrap().last().unwrap();
    let good = last["receipt"].as_str().unwrap();
    std::fs::write(dir.join("good.tlog-proof"), good).unwrap();
    let index = last["index"].as_u64().unwrap();
    let entry = &vectors["entries"][index as usize]["decoded"];
    // One changed byte in the entry line, a proof hash, the checkpoint's root and a signature.
    let lines: Vec<&str> = good.split('\n').collect();
    let mut tampered = Vec::new();
    let mut offset = 0;
    for (n, line) in lines.iter().enumerate() {
        if line.len() > 8 && n % 2 == 0 {
            let mut bytes = good.as_bytes().to_vec();
            let at = offset + line.len() / 2;
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let file = dir.join(format!("tampered-{n}.tlog-proof"));
            std::fs::write(&file, &bytes).unwrap();
            let out = verify_receipt(env, dir, &file);
            assert!(!out.status.success(), "line {n} changed, still verifies");
            let said = stderr(&out);
            let reason = said
                .lines()
                .find_map(|l| l.split_once("error: ").map(|(_, r)| r.to_owned()))
                .unwrap_or_else(|| panic!("no reason in: {said}"));
            // A malformed file's error names the file first; the page names none.
            let named = format!("{}: ", file.display());
            let reason = reason
                .strip_prefix(&named)
                .map_or(reason.clone(), str::to_owned);
            tampered.push(json!({"what": format!("line {n}"), "receipt": String::from_utf8_lossy(&bytes), "reason": reason}));
        }
        offset += line.len() + 1;
    }
    assert!(tampered.len() >= 3, "{tampered:?}");
    json!({
        "good_receipt_facts": [format!("entry {index}"), entry["subject"], "VERIFIED"],
        "tampered": tampered,
        "key_history": key_history_fixture(env, dir, &vectors),
    })
}

/// `dyad verify receipt PATH` under the two keys in `dir` (`alpha.pub`, `bravo.pub`).
fn verify_receipt(env: &Env, dir: &Path, path: &Path) -> std::process::Output {
    env.dyad()
        .args(["verify", "receipt"])
        .arg(path)
        .arg("--trust")
        .arg(dir.join("alpha.pub"))
        .arg("--trust")
        .arg(dir.join("bravo.pub"))
        .timeout(TIMEOUT)
        .output()
        .unwrap()
}

/// A receipt after both vector key changes, as `dyad receipt --out` writes its directory
/// (`receipt.tlog-proof`, `key-changes/<index>.tlog-proof`, spec 8.1), and the key-change
/// lines `dyad verify receipt` prints for it, which the page must show too.
fn key_history_fixture(env: &Env, dir: &Path, vectors: &Value) -> Value {
    let k = &vectors["key_changes"];
    let last = k["receipts"].as_array().unwrap().last().unwrap();
    let receipt_dir = dir.join("after-key-changes");
    std::fs::create_dir_all(receipt_dir.join("key-changes")).unwrap();
    std::fs::write(
        receipt_dir.join("receipt.tlog-proof"),
        last["receipt"].as_str().unwrap(),
    )
    .unwrap();
    let mut files = Vec::new();
    for h in k["key_history"].as_array().unwrap() {
        let name = format!("after-key-changes/key-changes/{}.tlog-proof", h["index"]);
        std::fs::write(dir.join(&name), h["receipt"].as_str().unwrap()).unwrap();
        files.push(name);
    }
    let out = verify_receipt(env, dir, &receipt_dir);
    assert!(
        out.status.success(),
        "dyad verify receipt: {}",
        stderr(&out)
    );
    // "  key change   entry 8: the sequencer replaced key … with … (…)": the page's
    // line ends the same way.
    let changes: Vec<String> = stdout(&out)
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("key change"))
        .map(|l| l.trim_start().to_owned())
        .collect();
    assert_eq!(changes.len(), 2, "{}", stdout(&out));
    let index = last["index"].as_u64().unwrap();
    let mut facts = vec![json!(format!("entry {index}")), json!("VERIFIED")];
    facts.extend(changes.into_iter().map(Value::from));
    json!({
        "receipt": "after-key-changes/receipt.tlog-proof",
        "files": files,
        "facts": facts,
    })
}

#[test]
fn the_page_agrees_with_dyad_from_file_and_from_serve() {
    let Some((core, chromium)) = browser_tools() else {
        return;
    };
    let env = Env::new();
    let page_dir = env.path("page");
    let out = env
        .dyad()
        .args(["export", "web", "--out"])
        .arg(&page_dir)
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dyad export web (build dyad with DYAD_WEB_PAGE): {}",
        stderr(&out)
    );
    let fixtures = env.path("fixtures");
    std::fs::create_dir_all(&fixtures).unwrap();
    let expect = receipt_fixtures(&env, &fixtures);
    std::fs::write(fixtures.join("expect.json"), expect.to_string()).unwrap();

    // A live two-node log, and a read credential for the auditor.
    let demo = env.path("demo");
    let out = env
        .dyad()
        .args(["--json", "demo", "--dir"])
        .arg(&demo)
        .args(["--messages", "40"])
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "demo: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let (alpha, bravo, keys) = (demo.join("alpha"), demo.join("bravo"), demo.join("keys"));
    let access = env.path("auditor.cred");
    let out = env
        .dyad()
        .arg("--data")
        .arg(&alpha)
        .args(["access", "grant", "--name", "auditor", "--out"])
        .arg(&access)
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    assert!(out.status.success(), "access grant: {}", stderr(&out));
    let bravo_port = free_port();
    let bravo_url = format!("https://127.0.0.1:{bravo_port}");
    let alpha_node = Node::start(&alpha, "127.0.0.1:0", &bravo_url);
    let _bravo_node = Node::start(&bravo, &format!("127.0.0.1:{bravo_port}"), &alpha_node.url);
    let audit = env
        .dyad()
        .args([
            "--json",
            "audit",
            "--skip-attachments",
            "--url",
            &alpha_node.url,
            "--access",
        ])
        .arg(&access)
        .arg("--trust")
        .arg(keys.join("alpha.pub"))
        .arg("--trust")
        .arg(keys.join("bravo.pub"))
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    assert!(
        audit.status.success(),
        "dyad audit --url: {}{}",
        stdout(&audit),
        stderr(&audit)
    );
    let audit_json = env.path("audit.json");
    std::fs::write(&audit_json, &audit.stdout).unwrap();

    let shots = repo().join("target/web-shots");
    std::fs::create_dir_all(&shots).unwrap();
    let script = repo().join("verifier-wasm/tests/page.test.mjs");
    let run = std::process::Command::new("node")
        .arg("--test")
        .arg(&script)
        .env("PLAYWRIGHT_CORE", &core)
        .env("CHROMIUM", &chromium)
        .env("PAGE_FILE", page_dir.join("index.html"))
        .env("FIXTURES", &fixtures)
        .env("LIVE_KEYS", &keys)
        .env("SERVED_URL", &alpha_node.url)
        .env("ACCESS_FILE", &access)
        .env("AUDIT_JSON", &audit_json)
        .env("SHOTS", &shots)
        .output()
        .expect("node runs");
    assert!(
        run.status.success(),
        "the page in Chromium:\n{}\n{}",
        stdout(&run),
        stderr(&run)
    );
    eprintln!("screenshots in {}", shots.display());
}
