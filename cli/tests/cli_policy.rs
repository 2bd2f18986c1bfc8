//! Trust policies on a channel without witnesses (the quorum is the co-signer): `dyad
//! policy show` writes the genesis's policy, and `dyad verify receipt|checkpoint` and
//! `dyad audit` take it with `--policy`, passing under it and failing, with what is
//! missing, under a policy the checkpoints do not meet or that is for another log.
//! The witnessed channel's policy is tested in cli_witness.rs.

mod common;

use common::policy::{for_other_log, policy_show, pub_key, requiring};
use common::*;
use dyad_verifier::key::SignatureType;
use dyad_verifier::policy::PolicyParties;

/// A channel with one committed entry from each party, and the receipt of entry 2.
fn committed_channel(env: &Env) {
    env.channel();
    env.keygen("wit");
    env.append("alpha", "notification", "from alpha", "one");
    env.append("bravo", "inquiry", "from bravo", "two");
    env.sync_all();
    env.at("alpha")
        .args(["receipt", "2", "--out", "r2.tlog-proof"])
        .assert()
        .success();
    let note = env.at("alpha").arg("checkpoint").assert().success();
    std::fs::write(env.path("latest.checkpoint"), &note.get_output().stdout).unwrap();
}

fn run(env: &Env, args: &[&str]) -> (i32, String, String) {
    let out = env.dyad().args(args).output().unwrap();
    (out.status.code().unwrap(), stdout(&out), stderr(&out))
}

#[test]
fn policy_show_writes_the_channels_policy_as_the_verifier_parses_it() {
    let env = Env::new();
    committed_channel(&env);
    let (alpha, bravo) = (pub_key(&env, "alpha"), pub_key(&env, "bravo"));
    let (text, parsed) = policy_show(&env, "bravo", "channel.policy");
    let cosig =
        |k: &dyad_verifier::key::VerifierKey| k.with_signature_type(SignatureType::CosignatureV1);
    assert_eq!(
        text,
        format!(
            "log {}\nwitness sequencer {}\nwitness cosigner {}\nquorum cosigner\n",
            alpha.with_name(ORIGIN).unwrap(),
            cosig(&alpha),
            cosig(&bravo)
        )
    );
    assert_eq!(
        parsed.parties().unwrap(),
        PolicyParties {
            origin: ORIGIN.to_owned(),
            sequencer: alpha.clone(),
            cosigner: bravo.clone(),
        }
    );
    // Both parties write the same policy; --json gives its parts.
    assert_eq!(policy_show(&env, "alpha", "alpha.policy").0, text);
    let v = env.stdout_json(env.at("alpha").args(["--json", "policy", "show"]));
    assert_eq!(v["origin"], ORIGIN);
    assert_eq!(v["policy"], text.as_str());
    assert_eq!(v["quorum"], "cosigner");
    assert_eq!(v["witness_threshold"], 0);
    assert_eq!(v["sequencer"]["name"], "cert.alpha.example");
    assert_eq!(v["cosigner"]["key"], cosig(&bravo).to_string().as_str());
    assert_eq!(v["witnesses"].as_array().unwrap().len(), 0);
}

#[test]
fn receipts_and_checkpoints_verify_under_the_policy_and_fail_under_one_they_do_not_meet() {
    let env = Env::new();
    committed_channel(&env);
    let (text, _) = policy_show(&env, "alpha", "channel.policy");
    requiring(&env, &text, &pub_key(&env, "wit"), "strict.policy");
    for_other_log(&env, &text, "other.policy");

    let v = env.stdout_json(env.dyad().args([
        "--json",
        "verify",
        "receipt",
        "r2.tlog-proof",
        "--policy",
        "channel.policy",
    ]));
    assert_eq!(v["valid"], true);
    assert_eq!(v["sender"], "cert.bravo.example");
    assert_eq!(v["sender_role"], "co-signer");
    assert_eq!(v["trusted_by"], "--policy");

    let (code, _, err) = run(
        &env,
        &[
            "verify",
            "receipt",
            "r2.tlog-proof",
            "--policy",
            "strict.policy",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("do not meet the quorum \"strict\""), "{err}");
    assert!(err.contains("no cosignature from extra"), "{err}");

    let (code, _, err) = run(
        &env,
        &[
            "verify",
            "receipt",
            "r2.tlog-proof",
            "--policy",
            "other.policy",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("no log of the policy signed the checkpoint"),
        "{err}"
    );

    // A policy that does not say who the parties are is refused before anything is read.
    let bare = text.replace(&format!("{}\n", text.lines().nth(1).unwrap()), "");
    std::fs::write(env.path("bare.policy"), bare).unwrap();
    let (code, _, err) = run(
        &env,
        &[
            "verify",
            "receipt",
            "r2.tlog-proof",
            "--policy",
            "bare.policy",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no witness named \"sequencer\""), "{err}");
    std::fs::write(env.path("junk.policy"), "log nonsense\nquorum none\n").unwrap();
    let (code, _, err) = run(
        &env,
        &[
            "verify",
            "receipt",
            "r2.tlog-proof",
            "--policy",
            "junk.policy",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a C2SP tlog-policy: line 1"), "{err}");
    // --trust and --policy are alternatives.
    let mut both = vec![
        "verify",
        "receipt",
        "r2.tlog-proof",
        "--policy",
        "channel.policy",
    ];
    both.extend(["--trust", "keys/alpha.pub", "--trust", "keys/bravo.pub"]);
    assert_eq!(run(&env, &both).0, 2);

    // The checkpoint alone: a log of the policy signed it, the cosignatures meet the quorum.
    let v = env.stdout_json(env.dyad().args([
        "--json",
        "verify",
        "checkpoint",
        "latest.checkpoint",
        "--policy",
        "channel.policy",
    ]));
    assert_eq!(v["valid"], true);
    assert_eq!(v["quorum"], "cosigner");
    assert_eq!(v["cosigners"][0]["witness"], "cosigner");
    let (code, _, err) = run(
        &env,
        &[
            "verify",
            "checkpoint",
            "latest.checkpoint",
            "--policy",
            "strict.policy",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no cosignature from extra"), "{err}");
    let (code, _, err) = run(
        &env,
        &[
            "verify",
            "checkpoint",
            "latest.checkpoint",
            "--policy",
            "other.policy",
        ],
    );
    assert_eq!(code, 1, "{err}");
}

#[test]
fn an_audit_under_a_policy_passes_and_fails_with_what_is_missing() {
    let env = Env::new();
    committed_channel(&env);
    let (text, _) = policy_show(&env, "alpha", "channel.policy");
    requiring(&env, &text, &pub_key(&env, "wit"), "strict.policy");
    let audit = |data: &str, policy: &str| {
        let out = env
            .at(data)
            .args(["--json", "audit", "--policy", policy])
            .output()
            .unwrap();
        (out.status.code().unwrap(), json(&out.stdout))
    };
    for data in ["alpha", "bravo"] {
        let (code, v) = audit(data, "channel.policy");
        assert_eq!(code, 0, "{v}");
        assert_eq!(v["verdict"], "pass");
        assert_eq!(v["committed_size"], 3);
    }
    let (code, v) = audit("alpha", "strict.policy");
    assert_eq!(code, 1, "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(
        error.contains("checkpoint 3: does not satisfy the policy"),
        "{error}"
    );
    assert!(error.contains("no cosignature from extra"), "{error}");

    // A policy for another log: the genesis is not of its channel.
    for_other_log(&env, &text, "other.policy");
    let (code, v) = audit("alpha", "other.policy");
    assert_eq!(code, 1, "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(
        error.contains("but --policy names channel other.example/dyad/log"),
        "{error}"
    );
}
