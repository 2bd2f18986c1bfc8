//! The credential store across restarts, and credential files refused for each defect
//! with a named error (spec/node.md 9.5).

use super::*;
use crate::tls::fingerprint::pin_text;

#[test]
fn grants_verify_until_revoked_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = CredentialStore::open(dir.path()).unwrap();
    assert!(store.list().is_empty());
    let auditor = store.grant("auditor", 100).unwrap();
    let taxii = store.grant("taxii-bridge.1", 200).unwrap();
    assert_eq!(store.verify(auditor.expose()), Some("auditor"));
    assert_eq!(store.verify(taxii.expose()), Some("taxii-bridge.1"));
    assert_eq!(store.verify(ReadToken::generate().expose()), None);
    assert_eq!(store.verify(""), None);

    // The file holds hashes, never the tokens.
    let file = std::fs::read_to_string(dir.path().join(ACCESS_FILE)).unwrap();
    assert!(!file.contains(auditor.expose()) && !file.contains(&auditor.expose()[6..]));
    assert!(file.contains(&hex::encode(auditor.hash())));
    assert!(!format!("{store:?}").contains(auditor.expose()));

    let mut store = CredentialStore::open(dir.path()).unwrap();
    assert_eq!(
        store.list(),
        [
            Grant {
                name: "auditor".into(),
                granted_at: 100,
                expires: None,
            },
            Grant {
                name: "taxii-bridge.1".into(),
                granted_at: 200,
                expires: None,
            },
        ]
    );
    assert_eq!(store.verify(auditor.expose()), Some("auditor"));

    store.revoke("auditor").unwrap();
    assert_eq!(store.verify(auditor.expose()), None);
    assert_eq!(store.verify(taxii.expose()), Some("taxii-bridge.1"));
    let store = CredentialStore::open(dir.path()).unwrap();
    assert_eq!(store.verify(auditor.expose()), None);
    assert_eq!(store.list().len(), 1);
}

#[test]
fn bad_names_repeated_names_and_unknown_revocations_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = CredentialStore::open(dir.path()).unwrap();
    store.grant("a", 1).unwrap();
    assert!(matches!(store.grant("a", 2), Err(AccessError::NameTaken(n)) if n == "a"));
    for bad in ["", "has space", "slash/name", "é", &"x".repeat(65)] {
        assert!(
            matches!(store.grant(bad, 1), Err(AccessError::BadName)),
            "{bad:?}"
        );
    }
    assert!(store.grant(&"x".repeat(64), 1).is_ok());
    assert!(matches!(store.revoke("b"), Err(AccessError::UnknownName(n)) if n == "b"));
    assert_eq!(store.list().len(), 2);
}

#[cfg(unix)]
#[test]
fn the_store_is_private_and_a_corrupt_one_is_refused_not_emptied() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(ACCESS_FILE);
    CredentialStore::open(dir.path())
        .unwrap()
        .grant("a", 1)
        .unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let good = std::fs::read_to_string(&path).unwrap();
    for bad in [
        String::from("{"),
        good.replace("\"version\": 1", "\"version\": 2"),
        good.replace("token_sha256", "token"),
        good.replace("\"a\"", "\"a b\""),
    ] {
        std::fs::write(&path, &bad).unwrap();
        let e = CredentialStore::open(dir.path()).unwrap_err();
        assert!(matches!(e, AccessError::Corrupt { .. }), "{e}");
    }
    std::fs::write(&path, " ".repeat(300 * 1024)).unwrap();
    assert!(matches!(
        CredentialStore::open(dir.path()),
        Err(AccessError::Read { .. })
    ));
}

#[test]
fn an_expiring_grant_verifies_until_its_expiry_and_keeps_it_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = CredentialStore::open(dir.path()).unwrap();
    let lasting = store.grant("lasting", 100).unwrap();
    let brief = store.grant_until("brief", 100, Some(1_000)).unwrap();
    assert_eq!(store.verify_at(brief.expose(), 999), Some("brief"));
    assert_eq!(store.verify_at(brief.expose(), 1_000), Some("brief"));
    assert_eq!(store.verify_at(brief.expose(), 1_001), None);
    assert_eq!(store.verify_at(lasting.expose(), u64::MAX), Some("lasting"));
    // `verify` uses the wall clock, long past 1970 + 1000 s.
    assert_eq!(store.verify(brief.expose()), None);
    assert_eq!(store.verify(lasting.expose()), Some("lasting"));

    let store = CredentialStore::open(dir.path()).unwrap();
    let grants = store.list();
    assert_eq!(grants[1].expires, Some(1_000));
    assert!(grants[1].expired_at(1_001) && !grants[1].expired_at(1_000));
    assert_eq!(grants[0].expires, None);
    assert!(!grants[0].expired_at(u64::MAX));
    assert_eq!(store.verify_at(brief.expose(), 1_001), None);
    assert_eq!(store.verify_at(brief.expose(), 500), Some("brief"));

    // Only the grant with an expiry has the field in the file.
    let file = std::fs::read_to_string(dir.path().join(ACCESS_FILE)).unwrap();
    assert_eq!(file.matches("\"expires\": 1000").count(), 1, "{file}");
    assert_eq!(file.matches("expires").count(), 1, "{file}");
}

#[test]
fn an_expiry_not_after_the_grant_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = CredentialStore::open(dir.path()).unwrap();
    for expires in [0, 99, 100] {
        let e = store.grant_until("a", 100, Some(expires)).unwrap_err();
        assert!(
            matches!(e, AccessError::ExpiresBeforeGrant { expires: x, now: 100 } if x == expires),
            "{e}"
        );
    }
    assert!(store.list().is_empty());
    assert!(!dir.path().join(ACCESS_FILE).exists());
}

#[test]
fn a_store_written_before_grants_could_expire_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    let token = ReadToken::generate();
    let old = format!(
        "{{\n  \"version\": 1,\n  \"grants\": [\n    {{\n      \"name\": \"old\",\n      \"token_sha256\": \"{}\",\n      \"granted_at\": 5\n    }}\n  ]\n}}\n",
        hex::encode(token.hash())
    );
    std::fs::write(dir.path().join(ACCESS_FILE), &old).unwrap();
    let mut store = CredentialStore::open(dir.path()).unwrap();
    assert_eq!(
        store.list(),
        [Grant {
            name: "old".into(),
            granted_at: 5,
            expires: None
        }]
    );
    assert_eq!(store.verify(token.expose()), Some("old"));
    // Saving it again writes the same form: no `expires` for a grant that has none.
    store.grant("new", 6).unwrap();
    let file = std::fs::read_to_string(dir.path().join(ACCESS_FILE)).unwrap();
    let old_grant = old.strip_suffix("\n  ]\n}\n").unwrap();
    assert!(file.starts_with(old_grant), "{file}");
    assert!(!file.contains("expires"), "{file}");
}

#[test]
fn writers_wait_for_the_lock_so_concurrent_grants_all_survive() {
    let dir = tempfile::tempdir().unwrap();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let data = dir.path().to_owned();
            std::thread::spawn(move || {
                let mut store = CredentialStore::open_for_change(&data).unwrap();
                // Widen the window between reading and saving.
                std::thread::sleep(std::time::Duration::from_millis(5));
                store.grant(&format!("g{i}"), i).unwrap()
            })
        })
        .collect();
    let tokens: Vec<ReadToken> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let store = CredentialStore::open(dir.path()).unwrap();
    assert_eq!(store.list().len(), 8);
    for (i, token) in tokens.iter().enumerate() {
        assert_eq!(store.verify(token.expose()), Some(format!("g{i}").as_str()));
    }
}

#[test]
fn a_writer_that_cannot_get_the_lock_in_time_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let held = CredentialStore::open_for_change(dir.path()).unwrap();
    let wait = std::time::Duration::from_millis(100);
    let e = StoreLock::acquire(dir.path(), wait).unwrap_err();
    assert!(matches!(e, LockError::Busy { .. }), "{e}");
    assert!(e.to_string().contains(ACCESS_LOCK_FILE), "{e}");
    drop(held);
    assert!(StoreLock::acquire(dir.path(), wait).is_ok());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let lock = std::fs::metadata(dir.path().join(ACCESS_LOCK_FILE)).unwrap();
        assert_eq!(lock.permissions().mode() & 0o777, 0o600);
    }
}

fn credential(expires: Option<u64>) -> ReadCredential {
    ReadCredential {
        name: "auditor".into(),
        token: ReadToken::generate(),
        server_pin: [9; 32],
        expires,
    }
}

#[test]
fn a_credential_file_round_trips_and_is_private() {
    let dir = tempfile::tempdir().unwrap();
    for c in [credential(None), credential(Some(2_000_000_000))] {
        let text = c.encode();
        assert!(text.starts_with("dyad-read-credential/v1\nname auditor\ntoken dyadr_"));
        assert_eq!(ReadCredential::parse(text.as_bytes()).unwrap(), c);
        let path = dir.path().join("auditor.credential");
        c.write_file(&path).unwrap();
        assert_eq!(ReadCredential::read_file(&path, 1_000_000_000).unwrap(), c);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{c:?}").contains(c.token.expose()));
    }
}

#[test]
fn malformed_expired_and_oversized_credentials_are_refused_by_name() {
    let c = credential(Some(1_000));
    let good = c.encode();
    let token = c.token.expose().to_owned();
    let pin = pin_text(&c.server_pin);
    let cases: Vec<(String, &str)> = vec![
        (good.trim_end().to_owned(), "NoFinalNewline"),
        (good.replace("/v1", "/v2"), "BadHeader"),
        (good.replace("name auditor\n", ""), "UnexpectedLine"),
        (
            "dyad-read-credential/v1\nname auditor\n".to_owned(),
            "MissingLine",
        ),
        (good.replace("name auditor", "name audi tor"), "BadName"),
        (good.replace(&token, &token[..40]), "BadToken"),
        (
            good.replace(&pin, &pin.replace("sha256//", "sha1//")),
            "BadPin",
        ),
        (good.replace("expires 1000", "expires 01000"), "BadExpiry"),
        (good.replace("expires 1000", "expires -1"), "BadExpiry"),
        (format!("{good}extra line\n"), "UnexpectedLine"),
        (good.replace("token ", "token\n"), "UnexpectedLine"),
        (good.replace("token ", ""), "UnexpectedLine"),
        (good.replace("\n", "\r\n"), "BadHeader"),
        (
            format!("{good}{}\n", "#".repeat(MAX_CREDENTIAL_LEN)),
            "TooLarge",
        ),
    ];
    for (text, want) in cases {
        let e = ReadCredential::parse(text.as_bytes()).unwrap_err();
        assert!(format!("{e:?}").starts_with(want), "{want}: got {e:?}");
        assert!(!e.to_string().contains(&token[6..16]), "{e}");
    }
    assert!(matches!(
        ReadCredential::parse(b"\xff\n"),
        Err(CredentialError::NotUtf8)
    ));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c");
    c.write_file(&path).unwrap();
    assert!(ReadCredential::read_file(&path, 1_000).is_ok());
    let e = ReadCredential::read_file(&path, 1_001).unwrap_err();
    assert!(
        matches!(
            e,
            CredentialError::Expired {
                expires: 1_000,
                now: 1_001
            }
        ),
        "{e}"
    );
    std::fs::write(&path, vec![b'a'; 10 * MAX_CREDENTIAL_LEN]).unwrap();
    assert!(matches!(
        ReadCredential::read_file(&path, 0),
        Err(CredentialError::TooLarge)
    ));
    let missing = ReadCredential::read_file(&dir.path().join("none"), 0).unwrap_err();
    assert!(matches!(missing, CredentialError::Io { .. }));
}
