//! The TAXII 2.1 feed of a running node (spec/node.md section 11), over real TLS with a
//! read credential: discovery, the two collections, objects paged with `next` and with
//! `added_after`, one object, its versions, the manifest with the dyad index, content
//! negotiation, and the read API's guard.

mod node_support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dyad_ledger::attachments::Attachments;
use dyad_node::admin::AttachmentRef;
use node_support::*;
use serde_json::{json, Value};

const STIX: &str = "application/stix+json;version=2.1";
const TAXII: &str = "application/taxii+json;version=2.1";

fn indicator(n: u32, modified: &str) -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--{n:08x}-17d4-4cbf-938f-98ee46b3cd3f"),
        "created": "2026-01-01T00:00:00.000Z",
        "modified": modified,
        "pattern": format!("[ipv4-addr:value = '10.0.{}.{}']", n / 256 % 256, n % 256),
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
    })
}

fn bundle(objects: Vec<Value>) -> Vec<u8> {
    let b = json!({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": objects});
    serde_json::to_vec(&b).unwrap()
}

fn indicators_request(payload: &[u8], content_type: &str) -> dyad_node::AppendRequest {
    let mut r = request("IOCs", "committed");
    r.kind = "threat-indicators".into();
    r.content_type = content_type.into();
    r.payload = STANDARD.encode(payload);
    r
}

struct Answer {
    status: u16,
    content_type: String,
    first: Option<String>,
    last: Option<String>,
    body: Value,
}

async fn get(client: &reqwest::Client, url: &str, accept: Option<&str>) -> Answer {
    let mut r = client.get(url);
    if let Some(a) = accept {
        r = r.header("accept", a);
    }
    let r = r.send().await.unwrap();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (content_type, first, last) = (
        header("content-type").unwrap_or_default(),
        header("x-taxii-date-added-first"),
        header("x-taxii-date-added-last"),
    );
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        content_type,
        first,
        last,
        body,
    }
}

/// Pages through `url` with `limit`, returning every object's id and how many pages.
async fn all_pages(client: &reqwest::Client, url: &str, limit: usize) -> (Vec<String>, usize) {
    let (mut ids, mut pages, mut next) = (Vec::new(), 0, String::new());
    loop {
        let a = get(
            client,
            &format!("{url}?limit={limit}&next={next}"),
            Some(TAXII),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        pages += 1;
        let objects = a.body["objects"].as_array().cloned().unwrap_or_default();
        assert!(objects.len() <= limit);
        ids.extend(objects.iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        if a.body["more"] != json!(true) {
            return (ids, pages);
        }
        next = a.body["next"].as_str().unwrap().to_owned();
    }
}

#[test]
fn a_taxii_client_reads_both_directions_paged_and_filtered() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        // The sequencer's own payload: two indicators, then a newer version of the first.
        let sent = bundle(vec![
            indicator(1, "2026-01-01T00:00:00.000Z"),
            indicator(2, "2026-01-01T00:00:00.000Z"),
        ]);
        let (code, _) = admin(pair.seq())
            .append(&indicators_request(&sent, STIX))
            .await
            .unwrap();
        assert_eq!(code, 200);
        let newer = bundle(vec![indicator(1, "2026-02-01T00:00:00.000Z")]);
        admin(pair.seq())
            .append(&indicators_request(&newer, STIX))
            .await
            .unwrap();
        // The co-signer's feed of 1500 indicators, as a STIX attachment with a summary.
        let feed = bundle(
            (1000..2500)
                .map(|n| indicator(n, "2026-01-01T00:00:00.000Z"))
                .collect(),
        );
        let store = Attachments::open(pair.cos().data_dir(), u64::MAX).unwrap();
        let hash = store.put(&feed).unwrap();
        let mut with_feed = indicators_request(b"indicator: 1500", "text/plain");
        with_feed.attachments = vec![AttachmentRef {
            name: "feed.json".into(),
            content_type: STIX.into(),
            sha256: hex::encode(hash),
            size: feed.len() as u64,
        }];
        let (code, _) = admin(pair.cos()).append(&with_feed).await.unwrap();
        assert_eq!(code, 200);
        pair.wait_converged(std::time::Duration::from_secs(20))
            .await;

        let seq = pair.seq().url();
        let client = dyad_node::TileClient::with_reach(&seq, reader(pair.seq(), "cti")).unwrap();
        let http = client.http().clone();

        let discovery = get(&http, &format!("{seq}/taxii2/"), Some(TAXII)).await;
        assert_eq!(
            (discovery.status, discovery.content_type.as_str()),
            (200, TAXII)
        );
        let root = discovery.body["api_roots"][0].as_str().unwrap().to_owned();
        assert!(root.ends_with("/taxii2/api/"), "{root}");
        let api = get(&http, &format!("{seq}/taxii2/api/"), None).await;
        assert_eq!(api.body["versions"], json!([TAXII]));

        let collections = get(
            &http,
            &format!("{seq}/taxii2/api/collections/"),
            Some(TAXII),
        )
        .await;
        let list = collections.body["collections"].as_array().unwrap().clone();
        let bravo_name = bravo().name().to_owned();
        let by_title = |title: String| {
            let c = list
                .iter()
                .find(|c| c["title"] == json!(title))
                .unwrap_or_else(|| panic!("{title}: {list:?}"));
            assert_eq!(
                (c["can_read"].clone(), c["can_write"].clone()),
                (json!(true), json!(false))
            );
            format!(
                "{seq}/taxii2/api/collections/{}/",
                c["id"].as_str().unwrap()
            )
        };
        let received = by_title(format!("received from {bravo_name}"));
        let sent_to = by_title(format!("sent to {bravo_name}"));

        // Paged with next: every object once, in pages of at most the limit.
        let (ids, pages) = all_pages(&http, &format!("{received}objects/"), 400).await;
        assert_eq!((ids.len(), pages), (1500, 4));
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 1500);

        // added_after the first page's last date: exactly the rest.
        let first = get(&http, &format!("{received}objects/?limit=400"), Some(TAXII)).await;
        let last = first.last.clone().unwrap();
        assert!(first.first.unwrap() < last);
        let rest = get(
            &http,
            &format!("{received}objects/?limit=1000&added_after={last}"),
            Some(TAXII),
        )
        .await;
        // At most MAX_LIMIT (1000) a page, whatever the limit asked.
        assert_eq!(rest.body["objects"].as_array().unwrap().len(), 1000);
        assert_eq!(rest.body["more"], json!(true));
        let next = rest.body["next"].as_str().unwrap();
        let end = format!("{received}objects/?added_after={last}&next={next}");
        let end = get(&http, &end, Some(TAXII)).await;
        assert_eq!(end.body["objects"].as_array().unwrap().len(), 100);
        assert_eq!(end.body["more"], json!(false));

        // The sent collection: the latest version of indicator 1 by default, both on request.
        let id1 = indicator(1, "")
            .get("id")
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned();
        let objects = get(&http, &format!("{sent_to}objects/"), Some(TAXII)).await;
        let objects = objects.body["objects"].as_array().unwrap().clone();
        assert_eq!(objects.len(), 2);
        assert!(objects
            .iter()
            .any(|o| o["id"] == json!(id1) && o["modified"] == json!("2026-02-01T00:00:00.000Z")));
        let all = get(
            &http,
            &format!("{sent_to}objects/?match[version]=all&match[id]={id1}"),
            Some(TAXII),
        )
        .await;
        assert_eq!(all.body["objects"].as_array().unwrap().len(), 2);
        let versions = get(
            &http,
            &format!("{sent_to}objects/{id1}/versions/"),
            Some(TAXII),
        )
        .await;
        assert_eq!(
            versions.body["versions"],
            json!(["2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z"])
        );
        let one = get(&http, &format!("{sent_to}objects/{id1}/"), Some(TAXII)).await;
        assert_eq!(
            one.body["objects"][0]["modified"],
            json!("2026-02-01T00:00:00.000Z")
        );
        let manifest = get(
            &http,
            &format!("{sent_to}manifest/?match[version]=all"),
            Some(TAXII),
        )
        .await;
        let records = manifest.body["objects"].as_array().unwrap();
        assert_eq!(records.len(), 3);
        let entry = records[2]["x_dyad_index"].as_u64().unwrap();
        assert!(records[0]["x_dyad_index"].as_u64().unwrap() < entry);
        assert_eq!(
            records[2]["x_dyad_receipt"],
            json!(format!("dyad receipt {entry}"))
        );
        assert_eq!(records[2]["media_type"], json!(STIX));

        // Refusals: unknown object and collection, bad query, unacceptable Accept.
        let missing = format!("{sent_to}objects/indicator--00000000-0000-4000-8000-000000000000/");
        assert_eq!(get(&http, &missing, Some(TAXII)).await.status, 404);
        let nowhere =
            format!("{seq}/taxii2/api/collections/00000000-0000-8000-8000-000000000000/objects/");
        assert_eq!(get(&http, &nowhere, Some(TAXII)).await.status, 404);
        let bad = get(
            &http,
            &format!("{sent_to}objects/?added_after=yesterday"),
            Some(TAXII),
        )
        .await;
        assert_eq!((bad.status, bad.content_type.as_str()), (400, TAXII));
        assert_eq!(bad.body["http_status"], json!("400"));
        let old = get(
            &http,
            &format!("{seq}/taxii2/"),
            Some("application/taxii+json;version=2.0"),
        )
        .await;
        assert_eq!(old.status, 406);

        // The read API's guard: no credential, 401 revealing nothing.
        let refused = get(&stranger(), &format!("{received}objects/"), Some(TAXII)).await;
        assert_eq!(refused.status, 401);
        assert!(!refused.body.to_string().contains("indicator"));
        pair.stop().await;
    });
}

/// Appends `count` indicators numbered from `from` on `node` as one STIX attachment with a
/// summary payload, as `dyad append --stix` does for a feed over the entry limit.
async fn append_feed(node: &dyad_node::RunningNode, from: u32, count: u32) {
    let feed = bundle(
        (from..from + count)
            .map(|n| indicator(n, "2026-01-01T00:00:00.000Z"))
            .collect(),
    );
    let store = Attachments::open(node.data_dir(), u64::MAX).unwrap();
    let hash = store.put(&feed).unwrap();
    let mut r = indicators_request(format!("indicator: {count}").as_bytes(), "text/plain");
    r.wait = Some("accepted".into());
    r.attachments = vec![AttachmentRef {
        name: format!("feed-{from}.json"),
        content_type: STIX.into(),
        sha256: hex::encode(hash),
        size: feed.len() as u64,
    }];
    let (code, _) = admin(node).append(&r).await.unwrap();
    assert_eq!(code, 200);
}

/// OASIS taxii2-client and stix2 (PyPI) against a live node: discovery, collections,
/// 10,000 objects paged, `added_after`, one object and its versions, no credential → 401.
/// The Python is `DYAD_STIX_PYTHON` (CI's venv) or `python3`; without the packages the
/// test is skipped, unless `DYAD_REQUIRE_EXTERNAL_TOOLS` is set.
#[test]
fn oasis_taxii2_client_pages_through_ten_thousand_objects() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        for part in 0..4 {
            append_feed(pair.cos(), 10_000 + part * 2500, 2500).await;
        }
        pair.wait_converged(std::time::Duration::from_secs(30))
            .await;
        let credential = credential(pair.seq(), "taxii-client");
        let token = credential.token.expose().to_owned();
        let seq = pair.seq().url();
        let python = std::env::var("DYAD_STIX_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/taxii_client.py");
        let peer = bravo().name().to_owned();
        let started = std::time::Instant::now();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(&python)
                .args([script, &seq, &token, "10000", &peer])
                .output()
                .map_err(|e| format!("{python}: {e}"))
        })
        .await
        .unwrap();
        let stderr = out
            .as_ref()
            .map(|o| String::from_utf8_lossy(&o.stderr).into_owned());
        match &out {
            Ok(o) if o.status.success() => eprintln!(
                "{} in {:?}",
                String::from_utf8_lossy(&o.stdout).trim(),
                started.elapsed()
            ),
            Ok(o) if o.status.code() != Some(2) => panic!("taxii_client.py: {}", stderr.unwrap()),
            _ => {
                let why = stderr.unwrap_or_else(|e| e.clone());
                assert!(
                    std::env::var_os("DYAD_REQUIRE_EXTERNAL_TOOLS").is_none(),
                    "taxii2-client and stix2 are needed (DYAD_REQUIRE_EXTERNAL_TOOLS is set): {why}"
                );
                eprintln!("skipping the taxii2-client check: {why}");
            }
        }
        pair.stop().await;
    });
}
