//! `dyad tls show` and `dyad access ...` (spec/node.md 9.2 and 9.5): the node's TLS
//! identity as OpenSSL sees it, and read grants from the grant to the revocation, with the
//! token never printed except by `dyad access token`.

mod common;

use std::path::Path;
use std::process::Command as StdCommand;

use common::*;
use dyad_node::access::{ReadCredential, ReadToken};
use predicates::str::contains;

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `openssl` on PATH (it is on the development machines and CI); tests that compare with
/// it say so and skip that comparison without it.
fn openssl(args: &[&str], stdin: Option<&[u8]>) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut child = StdCommand::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or_default())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?} failed");
    Some(out.stdout)
}

/// Hex digits only, upper case: `AB:CD` and `abcd` compare equal.
fn hex_digits(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_hexdigit)
        .collect::<String>()
        .to_uppercase()
}

fn tls_show(env: &Env, data: &str) -> serde_json::Value {
    env.stdout_json(env.at(data).args(["--json", "tls", "show"]))
}

#[test]
fn init_creates_the_tls_identity_on_both_sides_and_points_to_tls_show() {
    let env = Env::new();
    env.keygen("alpha");
    env.keygen("bravo");
    env.at("alpha")
        .args(["init", "--origin", ORIGIN, "--role", "sequencer"])
        .args(["--key", "keys/alpha.key", "--peer", "keys/bravo.pub"])
        .assert()
        .success()
        .stdout(contains("dyad tls show"));
    env.at("bravo")
        .args(["init", "--origin", ORIGIN, "--role", "cosigner"])
        .args(["--key", "keys/bravo.key", "--peer", "keys/alpha.pub"])
        .arg("--proposal")
        .arg(env.path("alpha/genesis.proposal"))
        .assert()
        .success()
        .stdout(contains("dyad tls show"));
    for data in ["alpha", "bravo"] {
        for file in ["tls.key", "tls.crt"] {
            let path = env.path(data).join(file);
            assert!(path.is_file(), "{}", path.display());
            #[cfg(unix)]
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
        // Made by init, so only loaded now.
        assert_eq!(tls_show(&env, data)["change"], "loaded", "{data}");
    }
    assert_ne!(
        tls_show(&env, "alpha")["pin"],
        tls_show(&env, "bravo")["pin"]
    );
}

#[test]
fn tls_show_prints_what_openssl_sees_in_the_certificate() {
    let env = Env::new();
    env.channel();
    let v = tls_show(&env, "alpha");
    let fingerprint = v["fingerprint_sha256"].as_str().unwrap();
    let pin = v["pin"].as_str().unwrap();
    assert_eq!(hex_digits(fingerprint).len(), 64, "{fingerprint}");
    assert!(pin.starts_with("sha256//"), "{pin}");
    assert_eq!(
        v["cert_file"].as_str().map(Path::new),
        Some(env.path("alpha/tls.crt").as_path())
    );
    assert_eq!(
        v["key_file"].as_str().map(Path::new),
        Some(env.path("alpha/tls.key").as_path())
    );
    // 90 days from now (spec/node.md 9.4), as RFC 3339 in UTC.
    let not_after = v["not_after"].as_str().unwrap();
    assert!(
        not_after.ends_with('Z') && not_after.len() == 20,
        "{not_after}"
    );

    let cert = env.path("alpha/tls.crt");
    let cert = cert.to_str().unwrap();
    if let Some(out) = openssl(
        &["x509", "-in", cert, "-noout", "-fingerprint", "-sha256"],
        None,
    ) {
        let out = String::from_utf8(out).unwrap();
        let theirs = out.trim().split_once('=').unwrap().1;
        assert_eq!(hex_digits(theirs), hex_digits(fingerprint), "{out}");
        // The pin: base64 of SHA-256 of the SubjectPublicKeyInfo (curl's --pinnedpubkey).
        let pem = openssl(&["x509", "-in", cert, "-noout", "-pubkey"], None).unwrap();
        let der = openssl(&["pkey", "-pubin", "-outform", "DER"], Some(&pem)).unwrap();
        let hash = openssl(&["dgst", "-sha256", "-binary"], Some(&der)).unwrap();
        assert_eq!(pin, format!("sha256//{}", b64e(&hash)));
        let dates = openssl(&["x509", "-in", cert, "-noout", "-enddate"], None).unwrap();
        let year = &not_after[..4];
        assert!(String::from_utf8(dates).unwrap().contains(year));
    } else {
        eprintln!("openssl is not on PATH: the fingerprint is not compared with it");
    }

    let text = env.at("alpha").args(["tls", "show"]).assert().success();
    let text = stdout(text.get_output());
    assert!(text.contains(fingerprint) && text.contains(pin), "{text}");
    assert!(
        text.contains(not_after) && text.contains("tls.crt"),
        "{text}"
    );
    assert!(!text.contains("Created now") && !text.contains("Renewed now"));

    // A lost certificate is issued again for the same key: same pin, new certificate.
    std::fs::remove_file(env.path("alpha/tls.crt")).unwrap();
    let renewed = env.at("alpha").args(["tls", "show"]).assert().success();
    assert!(stdout(renewed.get_output()).contains("Renewed now"));
    let v2 = tls_show(&env, "alpha");
    assert_eq!(v2["pin"], pin);
    assert_eq!(v2["change"], "loaded");
    // A lost key is a new identity: a new pin.
    std::fs::remove_file(env.path("alpha/tls.key")).unwrap();
    let v3 = tls_show(&env, "alpha");
    assert_eq!(v3["change"], "created");
    assert_ne!(v3["pin"], pin);
}

#[test]
fn a_grant_is_listed_its_token_printed_only_by_access_token_and_revoked() {
    let env = Env::new();
    env.channel();
    let pin = tls_show(&env, "alpha")["pin"].as_str().unwrap().to_owned();
    let out = env
        .at("alpha")
        .args([
            "access",
            "grant",
            "--name",
            "auditor",
            "--out",
            "auditor.cred",
        ])
        .assert()
        .success();
    let file = env.path("auditor.cred");
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
    let credential = ReadCredential::read_file(&file, now_s()).unwrap();
    assert_eq!(credential.name, "auditor");
    assert_eq!(credential.expires, None);
    assert_eq!(
        dyad_node::tls::fingerprint::pin_text(&credential.server_pin),
        pin
    );
    let token = credential.token.expose().to_owned();
    let printed = format!("{}{}", stdout(out.get_output()), stderr(out.get_output()));
    assert!(
        printed.contains("auditor") && printed.contains(&pin),
        "{printed}"
    );
    assert!(printed.contains("auditor.cred"), "{printed}");
    assert!(
        !printed.contains(&token[6..]),
        "the token was printed: {printed}"
    );

    let store = std::fs::read_to_string(env.path("alpha/access.json")).unwrap();
    assert!(!store.contains(&token[6..]));
    let hash = hex::encode(ReadToken::parse(&token).unwrap().hash());
    assert!(store.contains(&hash));

    let list = env.at("alpha").args(["access", "list"]).assert().success();
    let list = stdout(list.get_output());
    assert!(list.contains("auditor") && list.contains("never"), "{list}");
    assert!(!list.contains(&token[6..]));
    let v = env.stdout_json(env.at("alpha").args(["--json", "access", "list"]));
    let grants = v["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["name"], "auditor");
    assert_eq!(grants[0]["expires"], serde_json::Value::Null);
    assert_eq!(grants[0]["expired"], false);
    assert!(grants[0]["granted_at"].as_str().unwrap().ends_with('Z'));

    // `access token` needs no data directory: it is the reader's command.
    let out = env
        .dyad()
        .args(["access", "token", "auditor.cred"])
        .assert()
        .success();
    assert_eq!(stdout(out.get_output()), format!("{token}\n"));
    assert_eq!(stderr(out.get_output()), "");
    let v = env.stdout_json(
        env.dyad()
            .args(["--json", "access", "token", "auditor.cred"]),
    );
    assert_eq!(v["token"], token.as_str());

    let v = env.stdout_json(
        env.at("alpha")
            .args(["--json", "access", "revoke", "auditor"]),
    );
    assert_eq!(v["revoked"], "auditor");
    let v = env.stdout_json(env.at("alpha").args(["--json", "access", "list"]));
    assert_eq!(v["grants"], serde_json::json!([]));
    env.at("alpha")
        .args(["access", "list"])
        .assert()
        .success()
        .stdout("No read grants.\n");
    let store = std::fs::read_to_string(env.path("alpha/access.json")).unwrap();
    assert!(!store.contains(&hash), "{store}");
    assert!(!store.contains("auditor"), "{store}");
    // The data directory is still private with the store and its lock in it.
    env.at("alpha").arg("status").assert().success();
}

#[test]
fn an_expiring_grant_carries_its_expiry_into_the_file_and_the_list() {
    let env = Env::new();
    env.channel();
    let before = now_s();
    let v = env.stdout_json(env.at("bravo").args([
        "--json",
        "access",
        "grant",
        "--name",
        "taxii.bridge",
        "--out",
        "taxii.cred",
        "--expires-in",
        "30",
    ]));
    assert_eq!(v["name"], "taxii.bridge");
    assert!(v.get("token").is_none(), "{v}");
    assert!(!v.to_string().contains("dyadr_"), "{v}");
    assert_eq!(v["server_pin"], tls_show(&env, "bravo")["pin"]);
    let credential = ReadCredential::read_file(&env.path("taxii.cred"), now_s()).unwrap();
    let expires = credential.expires.unwrap();
    let thirty_days = 30 * 86_400;
    assert!((before + thirty_days..=now_s() + thirty_days).contains(&expires));
    let granted = v;
    assert!(granted["expires"].as_str().unwrap().ends_with('Z'));
    let v = env.stdout_json(env.at("bravo").args(["--json", "access", "list"]));
    assert_eq!(v["grants"][0]["expires"], granted["expires"]);
    assert_eq!(v["grants"][0]["granted_at"], granted["granted_at"]);
    assert_eq!(v["grants"][0]["expired"], false);
    let list = env.at("bravo").args(["access", "list"]).assert().success();
    let list = stdout(list.get_output());
    assert!(
        list.contains(granted["expires"].as_str().unwrap()),
        "{list}"
    );

    env.at("bravo")
        .args(["access", "grant", "--name", "x", "--out", "x.cred"])
        .args(["--expires-in", "0"])
        .assert()
        .code(2);
    assert!(!env.path("x.cred").exists());
}

#[test]
fn grants_and_revocations_that_cannot_be_done_are_refused_with_exit_2() {
    let env = Env::new();
    env.channel();
    let grant = |name: &str, out: &str| {
        let mut c = env.at("alpha");
        c.args(["access", "grant", "--name", name, "--out", out]);
        c
    };
    Refusal {
        name: "revoke with no grants",
        args: &["access", "revoke", "auditor"],
        code: 2,
        says: &["no grant is named auditor", "there are no grants"],
    }
    .check(env.at("alpha"));
    grant("auditor", "a.cred").assert().success();
    let first = std::fs::read_to_string(env.path("a.cred")).unwrap();
    grant("siem", "s.cred").assert().success();

    // The same name again: refused, the first grant and its file untouched.
    grant("auditor", "a2.cred")
        .assert()
        .code(2)
        .stderr(contains("a grant named auditor exists already"));
    assert!(!env.path("a2.cred").exists());
    // An existing --out: refused before anything is granted.
    grant("other", "a.cred")
        .assert()
        .code(2)
        .stderr(contains("already exists"));
    assert_eq!(std::fs::read_to_string(env.path("a.cred")).unwrap(), first);
    grant("bad name", "b.cred")
        .assert()
        .code(2)
        .stderr(contains("A-Z a-z 0-9 . _ -"));
    // An --out that cannot be written: no grant stays behind.
    grant("lost", "no-such-dir/l.cred").assert().code(2);
    let v = env.stdout_json(env.at("alpha").args(["--json", "access", "list"]));
    let names: Vec<&str> = v["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["auditor", "siem"]);

    Refusal {
        name: "revoke an unknown name",
        args: &["access", "revoke", "nobody"],
        code: 2,
        says: &["no grant is named nobody", "the grants are: auditor, siem"],
    }
    .check(env.at("alpha"));
    let out = env
        .at("alpha")
        .args(["--json", "access", "revoke", "nobody"])
        .assert()
        .code(2);
    let v = json(&out.get_output().stdout);
    assert_eq!(v["error"], "no grant is named nobody");
    assert_eq!(v["hint"], "the grants are: auditor, siem");
    assert_eq!(v["exit"], 2);
    env.dyad()
        .args(["access", "list"])
        .assert()
        .code(2)
        .stderr(contains("no dyad data directory"));
}

#[test]
fn access_token_refuses_an_expired_malformed_or_missing_credential_file() {
    let env = Env::new();
    let expired = ReadCredential {
        name: "old".into(),
        token: ReadToken::generate(),
        server_pin: [7; 32],
        expires: Some(now_s() - 60),
    };
    expired.write_file(&env.path("old.cred")).unwrap();
    let token = expired.token.expose().to_owned();
    let out = env
        .dyad()
        .args(["access", "token", "old.cred"])
        .assert()
        .code(2)
        .stderr(contains("expired"))
        .stderr(contains("new grant"));
    assert_eq!(stdout(out.get_output()), "");
    assert!(!stderr(out.get_output()).contains(&token[6..]));

    let mut cut = expired.encode();
    cut.truncate(cut.len() - 1);
    std::fs::write(env.path("cut.cred"), cut).unwrap();
    env.dyad()
        .args(["access", "token", "cut.cred"])
        .assert()
        .code(2)
        .stderr(contains("cut.cred"))
        .stderr(contains("newline"));
    std::fs::write(env.path("not.cred"), "hello\n").unwrap();
    env.dyad()
        .args(["access", "token", "not.cred"])
        .assert()
        .code(2)
        .stderr(contains("dyad-read-credential/v1"));
    env.dyad()
        .args(["access", "token", "missing.cred"])
        .assert()
        .code(2)
        .stderr(contains("missing.cred"));
    let v = json(
        &env.dyad()
            .args(["--json", "access", "token", "old.cred"])
            .assert()
            .code(2)
            .get_output()
            .stdout,
    );
    assert_eq!(v["exit"], 2);
    assert!(v["error"].as_str().unwrap().contains("expired"), "{v}");
}

#[test]
fn concurrent_grants_all_survive() {
    let env = Env::new();
    env.channel();
    let children: Vec<_> = (0..6)
        .map(|i| {
            StdCommand::new(env!("CARGO_BIN_EXE_dyad"))
                .current_dir(env.dir.path())
                .env_remove("DYAD_DATA")
                .arg("--data")
                .arg(env.path("alpha"))
                .args(["access", "grant", "--name", &format!("g{i}")])
                .args(["--out", &format!("g{i}.cred")])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let v = env.stdout_json(env.at("alpha").args(["--json", "access", "list"]));
    let mut names: Vec<&str> = v["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["g0", "g1", "g2", "g3", "g4", "g5"]);
    let pin = tls_show(&env, "alpha")["pin"].as_str().unwrap().to_owned();
    for i in 0..6 {
        let c = ReadCredential::read_file(&env.path(&format!("g{i}.cred")), now_s()).unwrap();
        assert_eq!(dyad_node::tls::fingerprint::pin_text(&c.server_pin), pin);
    }
}
