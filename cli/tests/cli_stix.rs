//! A `threat-indicators` message labelled `application/stix+json` must be a valid STIX
//! 2.1 document (spec/dyad.md 3.2): otherwise `dyad append` exits 2 naming the object and
//! the property, on either party, and nothing is stored or queued.

mod common;

use common::*;

const BUNDLE: &str = r#"{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '192.0.2.10']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}"#;

fn append_indicators(
    env: &Env,
    side: &str,
    content_type: Option<&str>,
    body: &str,
) -> (i32, String) {
    let mut cmd = env.at(side);
    cmd.args(["append", "--kind", "threat-indicators", "--subject", "IOCs"]);
    if let Some(ct) = content_type {
        cmd.args(["--content-type", ct]);
    }
    let out = cmd.arg("-").write_stdin(body.to_owned()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn invalid_stix_is_refused_with_exit_2_naming_object_and_property() {
    let env = Env::new();
    env.channel();
    let id = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    let cases: [(&str, Option<&str>, String, &[&str]); 5] = [
        (
            "not JSON",
            None,
            "this is not json at all".into(),
            &["not a valid STIX 2.1 document", "not JSON"],
        ),
        (
            "a broken pattern",
            Some("application/stix+json"),
            BUNDLE.replace(
                "[ipv4-addr:value = '192.0.2.10']",
                "ipv4-addr:value = '192.0.2.10'",
            ),
            &[id, ": pattern: not a STIX pattern"],
        ),
        (
            "a missing valid_from",
            None,
            BUNDLE.replace(r#","valid_from":"2026-01-01T00:00:00Z""#, ""),
            &[id, ": valid_from: required"],
        ),
        (
            "a timestamp without Z",
            Some("application/stix+json;version=2.1"),
            BUNDLE.replace(
                "2026-01-01T00:00:00.000Z\",\"pattern",
                "2026-01-01T00:00:00+00:00\",\"pattern",
            ),
            &[id, ": modified:", "RFC 3339"],
        ),
        (
            "an id that is not an RFC 4122 UUID",
            None,
            BUNDLE.replace(id, "indicator--8e2e2d2b-17d4-4cbf-738f-98ee46b3cd3f"),
            &["indicator--8e2e2d2b-17d4-4cbf-738f-98ee46b3cd3f : id:"],
        ),
    ];
    for side in ["alpha", "bravo"] {
        for (name, content_type, body, says) in &cases {
            let (code, err) = append_indicators(&env, side, *content_type, body);
            assert_eq!(code, 2, "{side}, {name}: {err}");
            for s in *says {
                assert!(err.contains(s), "{side}, {name}: {s:?} not in {err}");
            }
        }
        let log = env.stdout_json(env.at(side).args(["--json", "log"]));
        assert_eq!(log["size"], 1, "{side}: nothing appended");
        assert_eq!(
            log["queued"].as_array().map_or(0, Vec::len),
            0,
            "{side}: nothing queued"
        );
    }
    // The same payloads under another content type are not STIX documents: not checked.
    let (code, err) =
        append_indicators(&env, "alpha", Some("text/plain"), "this is not json at all");
    assert_eq!(code, 0, "{err}");
    // A valid bundle goes in on both sides, with or without the version parameter.
    assert_eq!(append_indicators(&env, "alpha", None, BUNDLE).0, 0);
    assert_eq!(
        append_indicators(&env, "bravo", Some("application/stix+json"), BUNDLE).0,
        0
    );
    let log = env.stdout_json(env.at("alpha").args(["--json", "log"]));
    assert_eq!(log["size"], 3);
}

/// A bundle of `n` valid indicators.
fn feed(n: u32) -> String {
    let objects: Vec<String> = (0..n)
        .map(|i| {
            BUNDLE
                .split_once("\"objects\":[")
                .unwrap()
                .1
                .trim_end_matches("]}")
                .replace("8e2e2d2b", &format!("{i:08x}"))
                .replace("192.0.2.10", &format!("10.0.{}.{}", i / 256, i % 256))
        })
        .collect();
    format!(
        r#"{{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{}]}}"#,
        objects.join(",")
    )
}

#[test]
fn a_stix_feed_is_the_payload_when_it_fits_else_an_attachment_with_a_summary() {
    let env = Env::new();
    env.channel();
    let small = env.path("small.json");
    std::fs::write(&small, BUNDLE).unwrap();
    let big = env.path("big.json");
    std::fs::write(&big, feed(400)).unwrap();
    assert!(std::fs::metadata(&big).unwrap().len() > 61440);
    for path in [&small, &big] {
        env.at("alpha")
            .args([
                "append",
                "--kind",
                "threat-indicators",
                "--subject",
                "feed",
                "--stix",
            ])
            .arg(path)
            .assert()
            .success();
    }
    let shown = |i: &str| env.stdout_json(env.at("alpha").args(["--json", "show", i]));
    let one = shown("1");
    assert_eq!(one["content_type"], "application/stix+json;version=2.1");
    assert_eq!(one["attachments"], serde_json::json!([]));
    assert_eq!(
        b64d(one["payload_base64"].as_str().unwrap()),
        BUNDLE.as_bytes()
    );
    let two = shown("2");
    assert_eq!(two["content_type"], "application/json");
    let attached = &two["attachments"][0];
    assert_eq!(attached["name"], "big.json");
    assert_eq!(
        attached["content_type"],
        "application/stix+json;version=2.1"
    );
    let summary = json(&b64d(two["payload_base64"].as_str().unwrap()));
    assert_eq!(
        summary,
        serde_json::json!({"stix_feed": "big.json", "objects": 400, "by_type": {"indicator": 400}})
    );

    // Refused before anything is stored: an invalid feed, another kind, a payload beside.
    let bad = env.path("bad.json");
    std::fs::write(
        &bad,
        feed(300).replace(r#","valid_from":"2026-01-01T00:00:00Z""#, ""),
    )
    .unwrap();
    let refusals: [(&[&str], &str); 3] = [
        (&["--kind", "threat-indicators"], ": valid_from: required"),
        (
            &["--kind", "notification"],
            "--stix FEED is for --kind threat-indicators",
        ),
        (
            &["--kind", "threat-indicators", "payload.txt"],
            "cannot be used with",
        ),
    ];
    for (args, says) in refusals {
        let out = env
            .at("alpha")
            .arg("append")
            .args(args)
            .arg("--stix")
            .arg(&bad)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {says:?} not in {err}");
    }
    let log = env.stdout_json(env.at("alpha").args(["--json", "log"]));
    assert_eq!(log["size"], 3, "nothing more appended");
}

/// The stix2 round trip of a bundle file: parsed by OASIS stix2, serialised, parsed again
/// as JSON, compared. Exit 2 when stix2 is not installed.
const STIX2_ROUND_TRIP: &str = r#"
import json, sys
try:
    import stix2
except ImportError as e:
    print(e, file=sys.stderr); sys.exit(2)
original = json.load(open(sys.argv[1]))
bundle = stix2.parse(original, allow_custom=False)
again = json.loads(bundle.serialize())
key = lambda o: (o["id"], o["modified"])
assert sorted(map(key, again["objects"])) == sorted(map(key, original["objects"])), "objects differ"
for a, b in zip(sorted(original["objects"], key=key), sorted(again["objects"], key=key)):
    assert stix2.parse(a) == stix2.parse(b), a["id"]
print(len(again["objects"]))
"#;

#[test]
fn the_peers_indicators_export_as_one_deduplicated_bundle_that_stix2_round_trips() {
    let env = Env::new();
    env.channel();
    let big = env.path("big.json");
    std::fs::write(&big, feed(400)).unwrap();
    let small = env.path("small.json");
    std::fs::write(&small, BUNDLE).unwrap();
    // bravo sends the small bundle twice (its object is exported once) and a feed that goes
    // as an attachment; alpha sends one of its own, which is not "received".
    for path in [&small, &small, &big] {
        env.at("bravo")
            .args(["append", "--kind", "threat-indicators", "--stix"])
            .arg(path)
            .assert()
            .success();
    }
    env.at("alpha")
        .args(["append", "--kind", "threat-indicators", "--stix"])
        .arg(&small)
        .assert()
        .success();
    env.sync_all();
    let out = env.path("received.json");
    let summary = env.stdout_json(
        env.at("alpha")
            .args(["--json", "indicators", "export", "--since", "1", "--out"])
            .arg(&out),
    );
    assert_eq!(summary["entries"], 3, "{summary}");
    // The small bundle's indicator, sent twice, is written once.
    assert_eq!(
        (summary["objects"].clone(), summary["duplicates"].clone()),
        (401.into(), 1.into())
    );
    let bundle = json(&std::fs::read(&out).unwrap());
    assert_eq!(bundle["type"], "bundle");
    assert_eq!(bundle["objects"].as_array().unwrap().len(), 401);
    // Written once: a second export to the same file is refused.
    env.at("alpha")
        .args(["indicators", "export", "--out"])
        .arg(&out)
        .assert()
        .failure();

    let python = std::env::var("DYAD_STIX_PYTHON").unwrap_or_else(|_| "python3".into());
    match std::process::Command::new(&python)
        .args(["-c", STIX2_ROUND_TRIP])
        .arg(&out)
        .output()
    {
        Ok(o) if o.status.success() => assert_eq!(stdout(&o).trim(), "401"),
        Ok(o) if o.status.code() != Some(2) => panic!("stix2 round trip: {}", stderr(&o)),
        other => {
            let why = other.map_or_else(|e| e.to_string(), |o| stderr(&o));
            assert!(
                std::env::var_os("DYAD_REQUIRE_EXTERNAL_TOOLS").is_none(),
                "stix2 is needed (DYAD_REQUIRE_EXTERNAL_TOOLS is set): {why}"
            );
            eprintln!("skipping the stix2 round trip: {why}");
        }
    }
}
