//! A channel created with `dyad init --witness FILE.pub=URL --witness-threshold 1`, served
//! by two `dyad serve` processes, witnessed by a `dyad witness serve` process: an entry
//! commits once the witness co-signed, `dyad status` shows the witness, and the committed
//! checkpoint carries its cosignature.

mod common;

use common::witness::{
    append_committed, log_key, serve_channel, witnessed_channel, WitnessProcess,
};
use common::*;

#[test]
fn an_entry_commits_once_the_witness_cosigned_and_status_shows_the_witness() {
    let env = Env::new();
    env.keygen("alpha");
    env.keygen("bravo");
    env.keygen("wit");
    let witness_port = free_port();
    let witness_url = format!("http://127.0.0.1:{witness_port}");
    // The log key is the sequencer's key under the origin's name.
    std::fs::write(env.path("logs.txt"), format!("log {}\n", log_key(&env))).unwrap();
    let witness = WitnessProcess::start(
        &env,
        "keys/wit.key",
        "logs.txt",
        "witness-data",
        &format!("127.0.0.1:{witness_port}"),
    );
    assert_eq!(witness.announce["url"], witness_url.as_str());

    witnessed_channel(&env, std::path::Path::new("keys/wit.pub"), &witness_url);
    let config = json(&std::fs::read(env.path("alpha/dyad.json")).unwrap());
    assert_eq!(
        config["witness_urls"]["cert.wit.example"],
        witness_url.as_str()
    );

    let (_alpha_node, _bravo_node) = serve_channel(&env);
    let appended = append_committed(&env, "witnessed");
    assert_eq!(appended["status"], "committed", "{appended}");

    let status = env.stdout_json(env.at("alpha").args(["--json", "status"]));
    let w = &status["node"]["witnesses"];
    assert_eq!(w["threshold"], 1, "{status}");
    assert_eq!(w["witnesses"][0]["name"], "cert.wit.example");
    assert_eq!(w["witnesses"][0]["cosigned_size"], 2, "{status}");
    let text = env.at("alpha").arg("status").output().unwrap();
    assert!(
        stdout(&text).contains("witness   cert.wit.example: co-signed size 2, 0 behind"),
        "{}",
        stdout(&text)
    );
    // The committed checkpoint carries the witness's cosignature line.
    let note = env.at("alpha").arg("checkpoint").output().unwrap();
    assert!(
        stdout(&note).contains("\u{2014} cert.wit.example "),
        "{}",
        stdout(&note)
    );
}
