//! Trust policies for the tests: the channel's (`dyad policy show`), and edits of it that
//! a checkpoint does not meet or that are for another log.

use dyad_verifier::key::{SignatureType, VerifierKey};
use dyad_verifier::policy::{self, Policy};

use super::Env;

/// The party or witness key in `keys/NAME.pub`.
pub fn pub_key(env: &Env, name: &str) -> VerifierKey {
    let text = std::fs::read_to_string(env.path(&format!("keys/{name}.pub"))).unwrap();
    VerifierKey::parse(text.trim()).unwrap()
}

/// `dyad policy show` on `data`, written to `file`; the text and its parse.
pub fn policy_show(env: &Env, data: &str, file: &str) -> (String, Policy) {
    let out = env.at(data).args(["policy", "show"]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    std::fs::write(env.path(file), &text).unwrap();
    let parsed = policy::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (text, parsed)
}

/// `text` with its quorum also requiring the cosignature of `extra` (as witness
/// `extra`), written to `file`.
pub fn requiring(env: &Env, text: &str, extra: &VerifierKey, file: &str) -> String {
    let quorum = text
        .lines()
        .find_map(|l| l.strip_prefix("quorum "))
        .unwrap();
    let extra = extra.with_signature_type(SignatureType::CosignatureV1);
    let strict = text.replace(
        &format!("quorum {quorum}\n"),
        &format!("witness extra {extra}\ngroup strict all {quorum} extra\nquorum strict\n"),
    );
    std::fs::write(env.path(file), &strict).unwrap();
    strict
}

/// `text` with its log key named by another origin (the same public key), written to `file`.
pub fn for_other_log(env: &Env, text: &str, file: &str) -> String {
    let line = text.lines().find(|l| l.starts_with("log ")).unwrap();
    let key = VerifierKey::parse(line.trim_start_matches("log ")).unwrap();
    let other = key.with_name("other.example/dyad/log").unwrap();
    let edited = text.replace(line, &format!("log {other}"));
    std::fs::write(env.path(file), &edited).unwrap();
    edited
}
