//! `dyad witness-change approve | submit` (spec/node.md 5.6, 8) over two `dyad serve`
//! processes and a `dyad witness serve` process: bravo approves a witness for a channel
//! that had none, alpha makes the change, the witness's URL lands in alpha's `dyad.json`,
//! and the next entry commits with the witness's cosignature. Without a running node, with
//! a file that is no approval, or with a spent approval, the commands say what is wrong.

mod common;

use std::fs;
use std::time::Duration;

use common::witness::{append_committed, log_key, serve_channel, WitnessProcess};
use common::*;

fn witness_change(env: &Env, data: &str, args: &[&str]) -> std::process::Output {
    env.at(data)
        .arg("witness-change")
        .args(args)
        .timeout(Duration::from_secs(90))
        .output()
        .unwrap()
}

#[test]
fn bravo_approves_alpha_adds_a_witness_and_entries_commit_with_its_cosignature() {
    let env = Env::new();
    env.channel();
    env.keygen("wit");
    let witness_port = free_port();
    let witness_url = format!("http://127.0.0.1:{witness_port}");
    let witness_arg = format!("keys/wit.pub={witness_url}");
    let approve_args = [
        "--json",
        "approve",
        "--witness",
        &witness_arg,
        "--threshold",
        "1",
        "--out",
        "change.approval",
    ];

    // No node runs yet: the command says to start one, and writes nothing.
    let out = witness_change(&env, "bravo", &approve_args[1..]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no node runs on"), "{}", stderr(&out));
    assert!(!env.path("change.approval").exists());

    fs::write(env.path("logs.txt"), format!("log {}\n", log_key(&env))).unwrap();
    let _witness = WitnessProcess::start(
        &env,
        "keys/wit.key",
        "logs.txt",
        "witness-data",
        &format!("127.0.0.1:{witness_port}"),
    );
    let (_alpha_node, _bravo_node) = serve_channel(&env);
    append_committed(&env, "before the witness");

    // bravo approves (its JSON is the approval, and the file holds it).
    let out = env
        .dyad()
        .arg("--data")
        .arg(env.path("bravo"))
        .arg("--json")
        .arg("witness-change")
        .args(&approve_args[1..])
        .timeout(Duration::from_secs(90))
        .output()
        .unwrap();
    assert!(out.status.success(), "approve: {}", stderr(&out));
    let approval = json(&out.stdout);
    assert_eq!(approval["number"], 1, "{approval}");
    assert_eq!(approval["witness_threshold"], 1);
    assert_eq!(approval["approver"]["name"], "cert.bravo.example");
    assert_eq!(approval["witnesses"][0]["name"], "cert.wit.example");
    let file = json(&fs::read(env.path("change.approval")).unwrap());
    assert_eq!(file["approval"], approval["approval"]);
    // Not written over.
    let out = witness_change(&env, "bravo", &approve_args[1..]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // A file that is no approval is refused, naming it.
    fs::write(env.path("junk.approval"), "{\"hello\": 1}\n").unwrap();
    let out = witness_change(&env, "alpha", &["submit", "--approval", "junk.approval"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("junk.approval"), "{}", stderr(&out));

    // alpha makes the change; the witness's URL goes into its dyad.json.
    let out = env
        .at("alpha")
        .args(["--json", "witness-change", "submit", "--approval"])
        .arg(env.path("change.approval"))
        .timeout(Duration::from_secs(90))
        .output()
        .unwrap();
    assert!(out.status.success(), "submit: {}", stderr(&out));
    let made = json(&out.stdout);
    assert_eq!(made["state"], "pending", "{made}");
    assert_eq!(made["number"], 1);
    assert_eq!(made["index"], 2);
    let config = json(&fs::read(env.path("alpha/dyad.json")).unwrap());
    assert_eq!(
        config["witness_urls"]["cert.wit.example"],
        witness_url.as_str(),
        "{config}"
    );

    // From the change on, entries commit with the witness's cosignature.
    let appended = append_committed(&env, "witnessed");
    assert_eq!(appended["status"], "committed", "{appended}");
    let status = env.stdout_json(env.at("alpha").args(["--json", "status"]));
    let w = &status["node"]["witnesses"];
    assert_eq!(w["threshold"], 1, "{status}");
    assert_eq!(w["witnesses"][0]["name"], "cert.wit.example");
    assert_eq!(w["witnesses"][0]["cosigned_size"], 4, "{status}");

    // The approval is spent: the ledger's rule says so by name.
    let out = witness_change(&env, "alpha", &["submit", "--approval", "change.approval"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("WrongWitnessChangeNumber"),
        "{}",
        stderr(&out)
    );
}
