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

/// `dyad --data <data> init --origin O --key K --peer P [--role R] [--proposal F]`.
struct Init<'a> {
    data: &'a str,
    origin: &'a str,
    key: &'a str,
    peer: &'a str,
    role: Option<&'a str>,
    proposal: Option<&'a str>,
}

impl<'a> Init<'a> {
    /// Alpha's directory `a`, proposing a channel as its sequencer.
    fn sequencer(key: &'a str, peer: &'a str) -> Init<'a> {
        Init {
            data: "a",
            origin: ORIGIN,
            key,
            peer,
            role: Some("sequencer"),
            proposal: None,
        }
    }

    /// A co-signer's directory `data`, answering `proposal`.
    fn cosigner(proposal: &'a str, data: &'a str, key: &'a str, peer: &'a str) -> Init<'a> {
        Init {
            data,
            origin: ORIGIN,
            key,
            peer,
            role: Some("cosigner"),
            proposal: Some(proposal),
        }
    }

    fn command(&self, env: &Env) -> assert_cmd::Command {
        let mut c = env.at(self.data);
        c.args([
            "init",
            "--origin",
            self.origin,
            "--key",
            self.key,
            "--peer",
            self.peer,
        ]);
        if let Some(role) = self.role {
            c.args(["--role", role]);
        }
        if let Some(proposal) = self.proposal {
            c.args(["--proposal", proposal]);
        }
        c
    }
}

/// A refusal whose arguments are all in its `Init`.
fn refused(name: &'static str, code: i32, says: &'static [&'static str]) -> Refusal<'static> {
    Refusal {
        name,
        args: &[],
        code,
        says,
    }
}

/// Keys for alpha, bravo and charlie.
fn three_keys() -> Env {
    let env = Env::new();
    env.keygen("alpha");
    env.keygen("bravo");
    env.keygen("charlie");
    env
}

#[test]
fn init_errors_of_a_sequencer_name_the_problem() {
    let env = three_keys();
    #[cfg(unix)]
    {
        // A key file others can read.
        use std::os::unix::fs::PermissionsExt;
        std::fs::copy(env.path("keys/alpha.key"), env.path("keys/open.key")).unwrap();
        std::fs::set_permissions(
            env.path("keys/open.key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let sequencer_cases = [
        (
            Init::sequencer("keys/nope.key", "keys/bravo.pub"),
            refused("a missing key file", 2, &["keys/nope.key"]),
        ),
        (
            Init::sequencer("keys/alpha.key", "keys/nope.pub"),
            refused("a missing peer file", 2, &["keys/nope.pub"]),
        ),
        (
            Init::sequencer("keys/alpha.key", "keys/bravo.key"),
            refused("a private key as the peer", 2, &["is a private key"]),
        ),
        (
            Init {
                origin: "has space",
                ..Init::sequencer("keys/alpha.key", "keys/bravo.pub")
            },
            refused("a bad origin", 2, &[]),
        ),
        (
            Init {
                role: None,
                ..Init::sequencer("keys/alpha.key", "keys/bravo.pub")
            },
            refused("no role", 2, &["--role"]),
        ),
        (
            Init::sequencer("keys/alpha.key", "keys/alpha.pub"),
            refused("the same party twice", 2, &["same party"]),
        ),
        #[cfg(unix)]
        (
            Init::sequencer("keys/open.key", "keys/bravo.pub"),
            refused(
                "a key file others can read",
                2,
                &["readable by others", "chmod 600"],
            ),
        ),
    ];
    for (init, case) in &sequencer_cases {
        case.check(init.command(&env));
    }
    assert!(
        !env.path("a/dyad.json").exists(),
        "failed inits leave no configuration"
    );
}

#[test]
fn init_errors_of_a_cosigner_name_the_problem() {
    let env = three_keys();
    Init::sequencer("keys/alpha.key", "keys/bravo.pub")
        .command(&env)
        .assert()
        .success();
    let proposal = env.path("a/genesis.proposal");
    let p = proposal.to_str().unwrap();
    std::fs::write(env.path("junk"), "hello\n").unwrap();
    let cosigner_cases = [
        (
            Init {
                proposal: None,
                ..Init::cosigner(p, "b", "keys/bravo.key", "keys/alpha.pub")
            },
            refused("no proposal", 2, &["--proposal"]),
        ),
        (
            Init::cosigner(p, "b", "keys/bravo.key", "keys/charlie.pub"),
            refused(
                "a peer that is not the proposal's sequencer",
                1,
                &["the proposal's sequencer is cert.alpha.example"],
            ),
        ),
        (
            Init::cosigner(p, "c", "keys/charlie.key", "keys/alpha.pub"),
            refused(
                "a key that is not the proposal's co-signer",
                1,
                &["as co-signer, not this key"],
            ),
        ),
        (
            Init {
                origin: "other.example/x",
                ..Init::cosigner(p, "b", "keys/bravo.key", "keys/alpha.pub")
            },
            refused("another origin", 1, &["not --origin"]),
        ),
        (
            Init {
                proposal: Some("junk"),
                ..Init::cosigner(p, "b", "keys/bravo.key", "keys/alpha.pub")
            },
            refused(
                "a file that is not a proposal",
                2,
                &["not a dyad sync bundle"],
            ),
        ),
    ];
    for (init, case) in &cosigner_cases {
        case.check(init.command(&env));
    }
    assert!(!env.path("b/ledger").exists() && !env.path("c/ledger").exists());

    // A genesis co-signed by someone else than the proposed peer: charlie co-signs a
    // proposal alpha made for charlie, then alpha's directory proposed to bravo gets it.
    Init {
        data: "a2",
        ..Init::sequencer("keys/alpha.key", "keys/charlie.pub")
    }
    .command(&env)
    .assert()
    .success();
    let p2 = env.path("a2/genesis.proposal");
    Init {
        proposal: Some(p2.to_str().unwrap()),
        ..Init::cosigner(p, "c2", "keys/charlie.key", "keys/alpha.pub")
    }
    .command(&env)
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
