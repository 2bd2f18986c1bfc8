//! Bad inputs to a node that docs/bad-inputs.md lists: an admin token file others can
//! read (the node refuses to start), and an entry from too far in the future on
//! `POST /submit` (422, spec/node.md section 4).

mod node_support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use dyad_ledger::entry::{Draft, Kind};
use dyad_ledger::genesis::DEFAULT_MAX_CLOCK_SKEW_S;
use dyad_ledger::private_dir::PrivateDirError;
use dyad_node::{NodeError, Promise, ADMIN_SOCKET_FILE, ADMIN_TOKEN_FILE};
use node_support::*;

#[test]
fn an_admin_token_readable_by_group_or_others_keeps_the_node_from_starting() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        create_channel(dir.path());
        let cfg = config(dir.path(), "alpha", alpha());
        let token_path = cfg.data_dir.join(ADMIN_TOKEN_FILE);
        std::fs::write(&token_path, "0123456789abcdef0123456789abcdef\n").unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660, 0o606, 0o777, 0o610] {
            std::fs::set_permissions(&token_path, std::fs::Permissions::from_mode(mode)).unwrap();
            let Err(e) = dyad_node::start(cfg.clone()).await else {
                panic!("the node started with the token file at mode {mode:o}");
            };
            match &e {
                NodeError::PrivateDir(PrivateDirError::Insecure {
                    mode: m,
                    path,
                    want,
                }) => {
                    assert_eq!(*m, mode);
                    assert_eq!(*want, 0o600);
                    assert_eq!(path, &token_path);
                }
                other => panic!("mode {mode:o}: expected PrivateDir(Insecure), got {other:?}"),
            }
            assert!(
                e.to_string()
                    .contains(&format!("chmod 600 {}", token_path.display())),
                "{e}"
            );
            // It refused before binding its socket or touching the token.
            assert!(!cfg.data_dir.join(ADMIN_SOCKET_FILE).exists());
            assert_eq!(
                std::fs::read_to_string(&token_path).unwrap(),
                "0123456789abcdef0123456789abcdef\n"
            );
            assert_eq!(
                std::fs::metadata(&token_path).unwrap().permissions().mode() & 0o777,
                mode
            );
            // The operator's CLI refuses to use it too.
            assert!(matches!(
                dyad_node::read_admin_token(&cfg.data_dir),
                Err(NodeError::InsecureToken { .. })
            ));
        }
        // Owner-only modes are fine: the node starts, with a new token of its own (0600).
        for mode in [0o600, 0o400] {
            std::fs::set_permissions(&token_path, std::fs::Permissions::from_mode(mode)).unwrap();
            let n = dyad_node::start(cfg.clone()).await.unwrap();
            assert_ne!(n.admin_token(), "0123456789abcdef0123456789abcdef");
            assert_eq!(
                std::fs::read_to_string(&token_path).unwrap().trim(),
                n.admin_token()
            );
            assert_eq!(
                std::fs::metadata(&token_path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            n.shutdown().await.unwrap();
            std::fs::write(&token_path, "0123456789abcdef0123456789abcdef\n").unwrap();
        }

        // A token the node creates itself is owner-only.
        let cfg = config(dir.path(), "bravo", bravo());
        let n = dyad_node::start(cfg.clone()).await.unwrap();
        let mode = std::fs::metadata(cfg.data_dir.join(ADMIN_TOKEN_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        n.shutdown().await.unwrap();
    });
}

#[test]
fn an_entry_from_too_far_in_the_future_is_refused_over_http_with_422() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        let submit = format!("{}/submit", pair.seq().url());
        let before = pair.seq().status().await.unwrap().size;
        let skew_ms = u64::from(DEFAULT_MAX_CLOCK_SKEW_S) * 1000;
        let entry = |subject: &str, at: u64| {
            Draft::new(Kind::Notification, subject, "text/plain", b"x".to_vec())
                .sign(&bravo(), ORIGIN, 1, at)
                .unwrap()
                .bytes
        };

        // Beyond the genesis's max_clock_skew_s (default 300 s), by a minute and by a year.
        for ahead in [skew_ms + 60_000, 365 * 86_400_000] {
            let r = http_to(&submit)
                .post(&submit)
                .body(entry("from the future", now_ms() + ahead))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            assert_eq!(status, 422, "{ahead} ms ahead: {text}");
            assert!(text.contains("allowed clock skew ahead of now"), "{text}");
        }
        assert_eq!(pair.seq().status().await.unwrap().size, before);
        // Counted among the entries the channel rules refused (the batcher's "append").
        assert_eq!(pair.seq().metrics().rejected("append", "channel-rule"), 2);

        // Within the skew, the same sequence number is accepted and promised.
        let r = http_to(&submit)
            .post(&submit)
            .body(entry("a little ahead", now_ms() + skew_ms / 2))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let note = r.bytes().await.unwrap();
        let log_key = alpha().verifier_key().with_name(ORIGIN).unwrap();
        let promise = Promise::verify(&note, &log_key).unwrap();
        assert_eq!(promise.index, before);
        pair.wait_converged(Duration::from_secs(20)).await;
        pair.stop().await;
    });
}
