//! `dyad keygen` and `dyad init`: key files, the three-step genesis, and the errors an
//! operator can run into (exit 2 for bad usage or unreadable input, 1 for a failed check).

mod common;

use common::*;
use predicates::str::contains;

#[test]
fn keygen_writes_a_0600_key_and_a_pub_line_and_never_overwrites() {
    let env = Env::new();
    let out = env
        .dyad()
        .args([
            "keygen",
            "alpha",
            "--key-name",
            "cert.alpha.example",
            "--out",
            "keys",
        ])
        .assert()
        .success();
    let line = stdout(out.get_output());
    assert!(line.starts_with("cert.alpha.example+"), "{line}");
    let public = std::fs::read_to_string(env.path("keys/alpha.pub")).unwrap();
    assert_eq!(public, line);
    let private = std::fs::read_to_string(env.path("keys/alpha.key")).unwrap();
    assert!(private.starts_with("PRIVATE+KEY+cert.alpha.example+"));
    assert!(
        !line.contains(private.trim()),
        "the private key is never printed"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.path("keys/alpha.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    env.dyad()
        .args(["keygen", "alpha", "--out", "keys"])
        .assert()
        .code(2)
        .stderr(contains("already exists; refusing to overwrite"));
    assert_eq!(
        std::fs::read_to_string(env.path("keys/alpha.key")).unwrap(),
        private
    );

    let v = env.stdout_json(
        env.dyad()
            .args(["--json", "keygen", "bravo", "--out", "keys"]),
    );
    assert_eq!(v["name"], "bravo");
    assert!(v["public_key"].as_str().unwrap().starts_with("bravo+"));
    assert_eq!(v["key_id"].as_str().unwrap().len(), 8);
    env.dyad()
        .args(["keygen", "a/b"])
        .assert()
        .code(2)
        .stderr(contains("--key-name"));
}

#[test]
fn every_generated_key_can_be_used_whatever_its_base64() {
    // A key whose base64 contains '+' must load as well as any other.
    let env = Env::new();
    for i in 0..12 {
        env.dyad()
            .args(["keygen", &format!("k{i}"), "--out", "keys"])
            .assert()
            .success();
    }
    env.dyad()
        .args(["keygen", "peer", "--out", "keys"])
        .assert()
        .success();
    for i in 0..12 {
        env.at(&format!("d{i}"))
            .args([
                "init",
                "--origin",
                "o.example/x",
                "--key",
                &format!("keys/k{i}.key"),
                "--peer",
                "keys/peer.pub",
                "--role",
                "sequencer",
            ])
            .assert()
            .success();
    }
}

#[test]
fn three_step_genesis_creates_both_replicas() {
    let env = Env::new();
    env.keygen("alpha");
    env.keygen("bravo");
    let v = env.stdout_json(env.at("alpha").args([
        "--json",
        "init",
        "--origin",
        ORIGIN,
        "--key",
        "keys/alpha.key",
        "--peer",
        "keys/bravo.pub",
        "--role",
        "sequencer",
        "--out",
        "to-bravo.proposal",
    ]));
    assert_eq!(v["status"], "proposed");
    assert_eq!(v["terms"]["origin"], ORIGIN);
    assert!(env.path("alpha/genesis.proposal").is_file());
    assert!(env.path("to-bravo.proposal").is_file());
    let config = json(&std::fs::read(env.path("alpha/dyad.json")).unwrap());
    assert_eq!(config["role"], "sequencer");
    assert!(
        config["key_file"].as_str().unwrap().starts_with('/'),
        "absolute key path"
    );
    assert!(!std::fs::read_to_string(env.path("alpha/dyad.json"))
        .unwrap()
        .contains("PRIVATE"));

    // Before the co-signer has signed, the sequencer cannot append.
    env.at("alpha")
        .args(["append", "--kind", "inquiry", "--subject", "early"])
        .assert()
        .code(2)
        .stderr(contains("not created yet"))
        .stderr(contains("sync import genesis.signed"));

    let v = env.stdout_json(env.at("bravo").args([
        "--json",
        "init",
        "--origin",
        ORIGIN,
        "--key",
        "keys/bravo.key",
        "--peer",
        "keys/alpha.pub",
        "--role",
        "cosigner",
        "--proposal",
        "to-bravo.proposal",
    ]));
    assert_eq!(v["status"], "cosigned");
    assert!(env.path("bravo/genesis.signed").is_file());
    let v = env.stdout_json(env.at("alpha").args([
        "--json",
        "init",
        "--genesis",
        "bravo/genesis.signed",
    ]));
    assert_eq!(v["status"], "created");
    // Again: nothing to do, same answer.
    env.at("alpha")
        .args(["sync", "import", "bravo/genesis.signed"])
        .assert()
        .success();

    for side in ["alpha", "bravo"] {
        let log = env.stdout_json(env.at(side).args(["--json", "log"]));
        assert_eq!(log["size"], 1);
        assert_eq!(log["entries"][0]["kind"], "genesis");
    }
    // Re-initialising is refused.
    env.at("bravo")
        .args([
            "init",
            "--origin",
            ORIGIN,
            "--key",
            "keys/bravo.key",
            "--peer",
            "keys/alpha.pub",
            "--role",
            "cosigner",
            "--proposal",
            "to-bravo.proposal",
        ])
        .assert()
        .code(2)
        .stderr(contains("already initialised"));
}

#[test]
fn init_errors_name_the_problem() {
    let env = Env::new();
    env.keygen("alpha");
    env.keygen("bravo");
    env.keygen("charlie");
    let init = |data: &str, args: &[&str]| {
        let mut c = env.at(data);
        c.arg("init").args(args);
        c
    };
    // Missing files.
    init(
        "a",
        &[
            "--origin",
            ORIGIN,
            "--key",
            "keys/nope.key",
            "--peer",
            "keys/bravo.pub",
            "--role",
            "sequencer",
        ],
    )
    .assert()
    .code(2)
    .stderr(contains("keys/nope.key"));
    init(
        "a",
        &[
            "--origin",
            ORIGIN,
            "--key",
            "keys/alpha.key",
            "--peer",
            "keys/nope.pub",
            "--role",
            "sequencer",
        ],
    )
    .assert()
    .code(2)
    .stderr(contains("keys/nope.pub"));
    // A private key given where a .pub belongs.
    init(
        "a",
        &[
            "--origin",
            ORIGIN,
            "--key",
            "keys/alpha.key",
            "--peer",
            "keys/bravo.key",
            "--role",
            "sequencer",
        ],
    )
    .assert()
    .code(2)
    .stderr(contains("is a private key"));
    // A bad origin, a missing role, the same party twice.
    init(
        "a",
        &[
            "--origin",
            "has space",
            "--key",
            "keys/alpha.key",
            "--peer",
            "keys/bravo.pub",
            "--role",
            "sequencer",
        ],
    )
    .assert()
    .code(2);
    init(
        "a",
        &[
            "--origin",
            ORIGIN,
            "--key",
            "keys/alpha.key",
            "--peer",
            "keys/bravo.pub",
        ],
    )
    .assert()
    .code(2)
    .stderr(contains("--role"));
    init(
        "a",
        &[
            "--origin",
            ORIGIN,
            "--key",
            "keys/alpha.key",
            "--peer",
            "keys/alpha.pub",
            "--role",
            "sequencer",
        ],
    )
    .assert()
    .code(2)
    .stderr(contains("same party"));
    // A key file others can read is refused, with the fix.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::copy(env.path("keys/alpha.key"), env.path("keys/open.key")).unwrap();
        std::fs::set_permissions(
            env.path("keys/open.key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        init(
            "a",
            &[
                "--origin",
                ORIGIN,
                "--key",
                "keys/open.key",
                "--peer",
                "keys/bravo.pub",
                "--role",
                "sequencer",
            ],
        )
        .assert()
        .code(2)
        .stderr(contains("readable by others"))
        .stderr(contains("chmod 600"));
    }
    assert!(
        !env.path("a/dyad.json").exists(),
        "failed inits leave no configuration"
    );

    init(
        "a",
        &[
            "--origin",
            ORIGIN,
            "--key",
            "keys/alpha.key",
            "--peer",
            "keys/bravo.pub",
            "--role",
            "sequencer",
        ],
    )
    .assert()
    .success();
    let proposal = env.path("a/genesis.proposal");
    let p = proposal.to_str().unwrap();
    // The co-signer needs the proposal.
    init(
        "b",
        &[
            "--origin",
            ORIGIN,
            "--key",
            "keys/bravo.key",
            "--peer",
            "keys/alpha.pub",
            "--role",
            "cosigner",
        ],
    )
    .assert()
    .code(2)
    .stderr(contains("--proposal"));
    // A peer key that is not the proposal's sequencer.
    init(
        "b",
        &[
            "--origin",
            ORIGIN,
            "--key",
            "keys/bravo.key",
            "--peer",
            "keys/charlie.pub",
            "--role",
            "cosigner",
            "--proposal",
            p,
        ],
    )
    .assert()
    .code(1)
    .stderr(contains("the proposal's sequencer is cert.alpha.example"));
    // A key that is not the proposal's co-signer.
    init(
        "c",
        &[
            "--origin",
            ORIGIN,
            "--key",
            "keys/charlie.key",
            "--peer",
            "keys/alpha.pub",
            "--role",
            "cosigner",
            "--proposal",
            p,
        ],
    )
    .assert()
    .code(1)
    .stderr(contains("as co-signer, not this key"));
    // Another origin.
    init(
        "b",
        &[
            "--origin",
            "other.example/x",
            "--key",
            "keys/bravo.key",
            "--peer",
            "keys/alpha.pub",
            "--role",
            "cosigner",
            "--proposal",
            p,
        ],
    )
    .assert()
    .code(1)
    .stderr(contains("not --origin"));
    // A file that is not a proposal.
    std::fs::write(env.path("junk"), "hello\n").unwrap();
    init(
        "b",
        &[
            "--origin",
            ORIGIN,
            "--key",
            "keys/bravo.key",
            "--peer",
            "keys/alpha.pub",
            "--role",
            "cosigner",
            "--proposal",
            "junk",
        ],
    )
    .assert()
    .code(2)
    .stderr(contains("not a dyad sync bundle"));
    assert!(!env.path("b/ledger").exists() && !env.path("c/ledger").exists());

    // A genesis co-signed by someone else than the proposed peer: charlie co-signs a
    // proposal alpha made for charlie, then alpha's directory proposed to bravo gets it.
    init(
        "a2",
        &[
            "--origin",
            ORIGIN,
            "--key",
            "keys/alpha.key",
            "--peer",
            "keys/charlie.pub",
            "--role",
            "sequencer",
        ],
    )
    .assert()
    .success();
    let p2 = env.path("a2/genesis.proposal");
    init(
        "c2",
        &[
            "--origin",
            ORIGIN,
            "--key",
            "keys/charlie.key",
            "--peer",
            "keys/alpha.pub",
            "--role",
            "cosigner",
            "--proposal",
            p2.to_str().unwrap(),
        ],
    )
    .assert()
    .success();
    env.at("a")
        .args(["sync", "import", "c2/genesis.signed"])
        .assert()
        .code(1)
        .stderr(contains(
            "as co-signer, but the peer in dyad.json is cert.bravo.example",
        ));
    assert!(!env.path("a/ledger").exists());
}

#[test]
fn commands_on_an_uninitialised_directory_say_what_to_do() {
    let env = Env::new();
    for args in [
        &["append", "--kind", "inquiry"][..],
        &["log"],
        &["show", "0"],
        &["checkpoint"],
        &["sync", "export"],
        &["receipt", "1"],
        &["status"],
    ] {
        env.at("nowhere")
            .args(args)
            .assert()
            .code(2)
            .stderr(contains("no dyad data directory"))
            .stderr(contains("dyad init"));
    }
    // DYAD_DATA is honoured, and so is the default ./dyad-data.
    env.dyad()
        .env("DYAD_DATA", env.path("elsewhere"))
        .arg("log")
        .assert()
        .code(2)
        .stderr(contains("elsewhere"));
    env.dyad()
        .arg("log")
        .assert()
        .code(2)
        .stderr(contains("dyad-data"));
}
