//! `dyad demo --witnesses N`: the demo's channel names N witnesses with threshold N, each a
//! `dyad witness serve` process; every entry commits with all N cosignatures, the output
//! says what each witness co-signed and shows the cosignature lines, and no witness
//! process outlives the demo.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

/// The processes whose command line mentions `dir` (the demo's witnesses run with
/// `--data <dir>/witnesses/witnessI`).
fn processes_mentioning(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&needle) && cmdline.contains("witness") {
            found.push(cmdline);
        }
    }
    found
}

fn demo(env: &Env, dir: &Path, json: bool) -> std::process::Output {
    let mut cmd = env.dyad();
    if json {
        cmd.arg("--json");
    }
    cmd.args(["demo", "--witnesses", "2", "--messages", "2", "--dir"])
        .arg(dir)
        .timeout(Duration::from_secs(120))
        .output()
        .expect("dyad demo")
}

#[test]
fn demo_with_two_witnesses_commits_with_both_cosignatures_and_stops_them() {
    let env = Env::new();
    let dir = env.path("demo");
    let out = demo(&env, &dir, true);
    assert!(
        out.status.success(),
        "demo failed: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let v = json(&out.stdout);
    assert_eq!(v["verdict"], "ok", "{v}");
    assert_eq!(v["entries"], 7, "genesis, 4 scripted, 2 more: {v}");
    assert_eq!(v["committed_size"], 7, "{v}");
    assert_eq!(v["witness_threshold"], 2, "{v}");
    assert_eq!(v["receipt_witnesses"], 2, "{v}");
    let witnesses = v["witnesses"].as_array().unwrap();
    assert_eq!(witnesses.len(), 2, "{v}");

    // No witness process is left, and nothing answers at their addresses.
    assert_eq!(processes_mentioning(&dir), Vec::<String>::new());
    {
        // (The check does see a witness process running on the demo's files.)
        let at = |p: &str| dir.join(p).to_string_lossy().into_owned();
        let probe = common::witness::WitnessProcess::start(
            &env,
            &at("keys/witness1.key"),
            &at("witnesses/logs.txt"),
            &at("witnesses/probe"),
            "127.0.0.1:0",
        );
        assert_eq!(processes_mentioning(&dir).len(), 1);
        drop(probe);
    }
    for w in witnesses {
        let addr = w["url"].as_str().unwrap().trim_start_matches("http://");
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "{addr} still answers"
        );
    }

    // The committed checkpoint carries both witnesses' cosignatures, each verifying under
    // its key (the genesis names them; dyad.json keeps their URLs).
    let note = env
        .dyad()
        .env("DYAD_DATA", dir.join("alpha"))
        .arg("checkpoint")
        .output()
        .unwrap();
    assert!(note.status.success(), "{}", stderr(&note));
    let keys: Vec<dyad_verifier::key::VerifierKey> = witnesses
        .iter()
        .map(|w| {
            dyad_verifier::key::VerifierKey::parse(w["verifier_key"].as_str().unwrap()).unwrap()
        })
        .collect();
    let verified = dyad_verifier::note::verify(&note.stdout, &keys).unwrap();
    for key in &keys {
        assert!(
            verified.verified.iter().any(|s| s.key == *key),
            "{} did not co-sign: {}",
            key.name(),
            stdout(&note)
        );
    }
    let config = json(&std::fs::read(dir.join("alpha/dyad.json")).unwrap());
    for w in witnesses {
        let name = w["name"].as_str().unwrap();
        assert_eq!(config["witness_urls"][name], w["url"], "{config}");
    }
}

#[test]
fn demo_with_witnesses_says_what_each_witness_cosigned() {
    let env = Env::new();
    let dir = env.path("demo");
    let out = demo(&env, &dir, false);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    for needle in [
        "witnesses  2 third parties",
        "witness1.demo.example: co-signed size 7, 0 behind; ok",
        "witness2.demo.example: co-signed size 7, 0 behind; ok",
        "\u{2014} witness1.demo.example ",
        "\u{2014} witness2.demo.example ",
        "co-signed by cert.bravo.example and witnesses witness1.demo.example, witness2.demo.example",
        "co-signed by both parties and 2 witnesses",
    ] {
        assert!(text.contains(needle), "the output lacks {needle:?}:\n{text}");
    }
    assert_eq!(processes_mentioning(&dir), Vec::<String>::new());
}

#[test]
fn demo_refuses_witnesses_offline_and_more_than_it_runs() {
    let env = Env::new();
    for (args, says) in [
        (
            &["demo", "--offline", "--witnesses", "1"][..],
            "cannot be used with",
        ),
        (&["demo", "--witnesses", "10"][..], "0..=9"),
    ] {
        let out = env.dyad().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn demo_killed_with_sigkill_takes_its_witnesses_down() {
    let env = Env::new();
    let dir = env.path("demo");
    let mut demo = std::process::Command::new(env!("CARGO_BIN_EXE_dyad"))
        .current_dir(env.dir.path())
        .args(["demo", "--witnesses", "2", "--messages", "100000", "--dir"])
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn dyad demo");
    let wait_until = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // The witness processes only: the demo's own command line names the directory and
    // `--witnesses` too.
    let witnesses = || {
        processes_mentioning(&dir)
            .into_iter()
            .filter(|c| c.contains(" witness serve "))
            .count()
    };
    wait_until("the demo's witnesses did not start", &|| witnesses() == 2);
    demo.kill().unwrap();
    demo.wait().unwrap();
    wait_until("a witness outlived the killed demo", &|| witnesses() == 0);
}
