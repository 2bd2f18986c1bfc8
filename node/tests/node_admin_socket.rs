//! The admin API's trust path: the node serves it on `<data_dir>/admin.sock` in a data
//! directory that must be its owner's only (0700, files 0600), writes a new token at every
//! start, and the operator's client finds the node through that socket only, never
//! through a URL file another local user could have taken over (spec/node.md section 5).

mod node_support;

use std::net::TcpListener;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use dyad_ledger::private_dir::PrivateDirError;
use dyad_node::{
    self, AdminClient, ClientError, NodeError, ADMIN_SOCKET_FILE, ADMIN_TOKEN_FILE, ADMIN_URL_FILE,
};
use node_support::*;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn set_mode(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

#[test]
fn the_admin_token_is_new_at_every_start_and_the_old_one_is_refused() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        create_channel(dir.path());
        let mut cfg = config(dir.path(), "alpha", alpha());
        cfg.admin_listen = None;
        let data = cfg.data_dir.clone();
        let token_path = data.join(ADMIN_TOKEN_FILE);
        let socket = data.join(ADMIN_SOCKET_FILE);

        let n = dyad_node::start(cfg.clone()).await.unwrap();
        let first = n.admin_token().to_owned();
        assert_eq!(std::fs::read_to_string(&token_path).unwrap().trim(), first);
        assert_eq!(mode(&token_path), 0o600);
        assert!(std::fs::symlink_metadata(&socket)
            .unwrap()
            .file_type()
            .is_socket());
        assert_eq!(mode(&socket), 0o600);
        assert_eq!(n.admin_socket(), socket);
        assert_eq!(n.admin_addr(), None);
        assert!(!data.join(ADMIN_URL_FILE).exists());
        // The operator's client finds the node through the socket.
        let admin = AdminClient::for_data_dir(&data).unwrap().expect("a socket");
        let st = admin.status().await.unwrap();
        assert_eq!(st["role"], "sequencer");
        n.shutdown().await.unwrap();
        assert!(!socket.exists(), "a graceful stop removes the socket");
        assert!(AdminClient::for_data_dir(&data).unwrap().is_none());

        let n = dyad_node::start(cfg.clone()).await.unwrap();
        let second = n.admin_token().to_owned();
        assert_ne!(first, second, "the token did not change across a restart");
        assert_eq!(std::fs::read_to_string(&token_path).unwrap().trim(), second);
        assert_eq!(mode(&token_path), 0o600);
        // A leaked token of the earlier run is worthless now.
        let old = AdminClient::over_socket(&socket, &first).unwrap();
        match old.status().await {
            Err(ClientError::Status { status: 401, .. }) => {}
            other => panic!("the old token: expected 401, got {other:?}"),
        }
        let new = AdminClient::over_socket(&socket, &second).unwrap();
        new.status().await.unwrap();
        n.kill().await;
    });
}

#[test]
fn a_data_directory_or_file_others_can_reach_keeps_the_node_from_starting() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        create_channel(dir.path());
        let cfg = config(dir.path(), "alpha", alpha());
        let data = cfg.data_dir.clone();
        for m in [0o755, 0o750, 0o711, 0o701, 0o770] {
            set_mode(&data, m);
            let Err(e) = dyad_node::start(cfg.clone()).await else {
                panic!("the node started in a data directory of mode {m:o}");
            };
            match &e {
                NodeError::PrivateDir(PrivateDirError::Insecure { path, mode, want }) => {
                    assert_eq!(path, &data);
                    assert_eq!(*mode, m);
                    assert_eq!(*want, 0o700);
                }
                other => panic!("mode {m:o}: expected PrivateDir(Insecure), got {other:?}"),
            }
            assert!(
                e.to_string()
                    .contains(&format!("chmod 700 {}", data.display())),
                "{e}"
            );
            assert!(!data.join(ADMIN_SOCKET_FILE).exists());
            assert!(!data.join(ADMIN_TOKEN_FILE).exists());
            // The operator's client will not use such a directory either.
            assert!(matches!(
                AdminClient::for_data_dir(&data),
                Err(NodeError::PrivateDir(_))
            ));
        }
        set_mode(&data, 0o700);
        let notes = data.join("notes.txt");
        std::fs::write(&notes, "x").unwrap();
        for m in [0o644, 0o640, 0o604, 0o620] {
            set_mode(&notes, m);
            let Err(e) = dyad_node::start(cfg.clone()).await else {
                panic!("the node started with a file of mode {m:o} in its data directory");
            };
            assert!(
                e.to_string()
                    .contains(&format!("chmod 600 {}", notes.display())),
                "{e}"
            );
        }
        set_mode(&notes, 0o600);
        // Subdirectories are inside the private directory: their modes do not matter.
        set_mode(&data.join("ledger"), 0o755);
        dyad_node::start(cfg)
            .await
            .unwrap()
            .shutdown()
            .await
            .unwrap();
    });
}

#[test]
fn a_stale_socket_is_replaced_and_a_live_one_keeps_a_second_node_out() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        create_channel(dir.path());
        let mut cfg = config(dir.path(), "alpha", alpha());
        cfg.admin_listen = None;
        let data = cfg.data_dir.clone();
        let socket = data.join(ADMIN_SOCKET_FILE);
        // A crashed node's socket: the file is there, nobody listens.
        drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
        assert!(socket.exists());
        // An admin.url an older version left behind, naming a port someone else now holds.
        let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
        squatter.set_nonblocking(true).unwrap();
        std::fs::write(
            data.join(ADMIN_URL_FILE),
            format!("http://{}\n", squatter.local_addr().unwrap()),
        )
        .unwrap();
        set_mode(&data.join(ADMIN_URL_FILE), 0o600);

        let n = dyad_node::start(cfg.clone()).await.unwrap();
        assert!(
            !data.join(ADMIN_URL_FILE).exists(),
            "a stale admin.url is removed"
        );
        let admin = AdminClient::for_data_dir(&data).unwrap().unwrap();
        admin.status().await.unwrap();
        let token = n.admin_token().to_owned();

        // A second node on the same directory: refused while the first answers, and the
        // first node's token is left alone.
        let mut other = cfg.clone();
        other.listen = "127.0.0.1:0".parse().unwrap();
        match dyad_node::start(other).await {
            Err(NodeError::AdminSocketInUse(path)) => {
                assert_eq!(path, socket.display().to_string())
            }
            Err(e) => panic!("expected AdminSocketInUse, got {e:?}"),
            Ok(_) => panic!("a second node started on the same data directory"),
        }
        assert_eq!(
            std::fs::read_to_string(data.join(ADMIN_TOKEN_FILE))
                .unwrap()
                .trim(),
            token
        );
        admin.status().await.unwrap();
        n.shutdown().await.unwrap();
        // Nothing ever connected to the squatter.
        std::thread::sleep(Duration::from_millis(50));
        assert!(squatter.accept().is_err(), "a client went to the squatter");
    });
}

#[test]
fn the_client_never_follows_an_admin_url_file() {
    let dir = tempfile::tempdir().unwrap();
    create_channel(dir.path());
    let data = dir.path().join("alpha");
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    squatter.set_nonblocking(true).unwrap();
    std::fs::write(
        data.join(ADMIN_URL_FILE),
        format!("http://{}\n", squatter.local_addr().unwrap()),
    )
    .unwrap();
    set_mode(&data.join(ADMIN_URL_FILE), 0o600);
    std::fs::write(
        data.join(ADMIN_TOKEN_FILE),
        "0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    set_mode(&data.join(ADMIN_TOKEN_FILE), 0o600);
    assert!(AdminClient::for_data_dir(&data).unwrap().is_none());
    assert!(squatter.accept().is_err());
}

/// The replica's reads on the admin API (spec/node.md 5.3 to 5.6) want the token like every
/// admin route; a bad query is a 400 with a JSON reason, a refusal the ledger's own
/// [`ReadError`](dyad_ledger::reads::ReadError), read back by the client as such.
#[test]
fn the_admin_reads_want_the_token_and_answer_refusals_as_json() {
    use dyad_ledger::reads::ReadError;

    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        create_channel(dir.path());
        let n = dyad_node::start(config(dir.path(), "alpha", alpha()))
            .await
            .unwrap();
        let base = n.admin_url();
        for path in [
            "/admin/receipt?index=0",
            "/admin/proof/inclusion?index=0",
            "/admin/proof/consistency?old=0&new=1",
            "/admin/checkpoint",
            "/admin/checkpoint?size=1",
        ] {
            let r = http().get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 401, "{path} without a token");
            assert_eq!(r.headers()["www-authenticate"], "Bearer", "{path}");
            let r = http()
                .get(format!("{base}{path}"))
                .bearer_auth("0123456789abcdef0123")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 401, "{path} with a wrong token");
        }
        for path in [
            "/admin/receipt",
            "/admin/receipt?index=-1",
            "/admin/proof/inclusion?index=0&index=0",
            "/admin/proof/consistency?old=0",
            "/admin/checkpoint?size=1&other=2",
        ] {
            let r = http()
                .get(format!("{base}{path}"))
                .bearer_auth(n.admin_token())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 400, "{path}");
            let body: serde_json::Value =
                serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
            assert_eq!(body["reason"], "bad-query", "{path}: {body}");
        }

        // The genesis alone, not co-signed (no co-signer runs).
        let admin = AdminClient::for_data_dir(&dir.path().join("alpha"))
            .unwrap()
            .expect("a socket");
        match admin.receipt(5).await.unwrap() {
            Err(ReadError::NoSuchEntry { index: 5, held: 1 }) => {}
            other => panic!("receipt 5: {other:?}"),
        }
        match admin.receipt(0).await.unwrap() {
            Err(ReadError::EntryPending {
                index: 0,
                committed_size: 0,
            }) => {}
            other => panic!("receipt 0: {other:?}"),
        }
        match admin.consistency_proof(1, 0).await.unwrap() {
            Err(ReadError::OldAfterNew { old: 1, new: 0 }) => {}
            other => panic!("consistency 1 0: {other:?}"),
        }
        match admin.checkpoint_note(None).await.unwrap() {
            Err(ReadError::NoCheckpointYet) => {}
            other => panic!("the latest checkpoint: {other:?}"),
        }
        let proof = admin.inclusion_proof(0, None).await.unwrap().unwrap();
        assert_eq!((proof.index, proof.size, proof.committed), (0, 1, false));
        assert!(proof.proof.is_empty());
        assert_eq!(proof.root, proof.leaf_hash, "a tree of one leaf");
        n.kill().await;
    });
}
