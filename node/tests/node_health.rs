//! `GET /healthz` and `GET /readyz` (spec/node.md 1.2): answered to a stranger without a
//! credential on a closed node, on the public and the admin listeners, never cached, and
//! saying nothing of the log; the co-signer is ready once it knows the sequencer's URL.

mod node_support;

use node_support::*;

struct Answer {
    status: u16,
    content_type: String,
    cache_control: String,
    body: String,
}

async fn get(client: &reqwest::Client, url: String) -> Answer {
    let r = client.get(&url).send().await.unwrap();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    Answer {
        status: r.status().as_u16(),
        content_type: header("content-type"),
        cache_control: header("cache-control"),
        body: r.text().await.unwrap(),
    }
}

fn assert_plain_uncached(a: &Answer, what: &str) {
    assert!(
        a.content_type.starts_with("text/plain"),
        "{what}: {}",
        a.content_type
    );
    assert_eq!(a.cache_control, "no-store", "{what}");
    assert!(!a.body.contains(ORIGIN), "{what} reveals the origin");
    assert_eq!(a.body.lines().count(), 1, "{what}: one line: {:?}", a.body);
}

#[test]
fn a_stranger_without_credential_gets_health_and_readiness_of_a_closed_node() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        let stranger = stranger();
        for node in [pair.seq(), pair.cos()] {
            let role = node.role().as_str();
            // The read API is closed to this client...
            let refused = get(&stranger, format!("{}/checkpoint", node.url())).await;
            assert_eq!(refused.status, 401, "{role}: the read API is closed");
            // ... the health checks are not.
            let health = get(&stranger, format!("{}/healthz", node.url())).await;
            assert_eq!(
                (health.status, health.body.as_str()),
                (200, "ok\n"),
                "{role}"
            );
            assert_plain_uncached(&health, "/healthz");
            let ready = get(&stranger, format!("{}/readyz", node.url())).await;
            assert_eq!(
                (ready.status, ready.body.as_str()),
                (200, "ready\n"),
                "{role}"
            );
            assert_plain_uncached(&ready, "/readyz");
            // So is /audit/, the auditor's page, which says so when it was not built in.
            let page = get(&stranger, format!("{}/audit/", node.url())).await;
            assert_eq!(page.status, 404, "{role}: /audit/ without a page");
            assert!(
                page.body.contains("auditor's page was not built"),
                "{role}: {}",
                page.body
            );
            // The admin listener answers them without the admin token.
            let admin_health = get(&http(), format!("{}/healthz", node.admin_url())).await;
            assert_eq!(admin_health.status, 200, "{role}: admin /healthz");
            let admin_ready = get(&http(), format!("{}/readyz", node.admin_url())).await;
            assert_eq!(admin_ready.status, 200, "{role}: admin /readyz");
            let status = get(&http(), format!("{}/admin/status", node.admin_url())).await;
            assert_eq!(
                status.status, 401,
                "{role}: the rest of the admin API needs its token"
            );
        }
        pair.stop().await;
    });
}

#[test]
fn the_cosigner_is_ready_once_it_knows_the_sequencer_url() {
    let dir = tempfile::tempdir().unwrap();
    create_channel(dir.path());
    runtime().block_on(async {
        let seq = dyad_node::start(config(dir.path(), "alpha", alpha()))
            .await
            .unwrap();
        let cos = dyad_node::start(config(dir.path(), "bravo", bravo()))
            .await
            .unwrap();
        let stranger = stranger();
        // The sequencer accepts work without its peer; the co-signer cannot.
        let seq_ready = get(&stranger, format!("{}/readyz", seq.url())).await;
        assert_eq!(seq_ready.status, 200, "{}", seq_ready.body);
        let not_ready = get(&stranger, format!("{}/readyz", cos.url())).await;
        assert_eq!(not_ready.status, 503);
        assert!(
            not_ready
                .body
                .starts_with("not ready: the sequencer's URL is not known"),
            "{}",
            not_ready.body
        );
        assert_plain_uncached(&not_ready, "/readyz (503)");
        let health = get(&stranger, format!("{}/healthz", cos.url())).await;
        assert_eq!(health.status, 200, "alive even while not ready");
        let admin_not_ready = get(&http(), format!("{}/readyz", cos.admin_url())).await;
        assert_eq!(admin_not_ready.status, 503, "the admin listener agrees");

        cos.set_peer_url(Some(seq.url()));
        let ready = get(&stranger, format!("{}/readyz", cos.url())).await;
        assert_eq!((ready.status, ready.body.as_str()), (200, "ready\n"));
        cos.shutdown().await.unwrap();
        seq.shutdown().await.unwrap();
    });
}
