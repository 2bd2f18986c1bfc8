//! Documents refused and accepted, by the refusal's object and property.

use super::*;

const INDICATOR: &str = r#"{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '192.0.2.10']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}"#;

fn bundle(objects: &str) -> String {
    format!(
        r#"{{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{objects}]}}"#
    )
}

/// `INDICATOR` with `from` replaced by `to`.
fn indicator_with(from: &str, to: &str) -> String {
    assert!(INDICATOR.contains(from), "{from}");
    bundle(&INDICATOR.replace(from, to))
}

#[test]
fn a_bundle_and_a_single_object_are_accepted() {
    assert_eq!(validate_document(bundle(INDICATOR).as_bytes()), Ok(()));
    assert_eq!(validate_document(INDICATOR.as_bytes()), Ok(()));
    assert_eq!(validate_document(bundle("").as_bytes()), Ok(()));
}

#[test]
fn not_json_and_not_objects_are_refused() {
    assert!(matches!(
        validate_document(b"this is not json at all"),
        Err(StixError::NotJson(_))
    ));
    assert_eq!(validate_document(b"[1,2]"), Err(StixError::NotAnObject));
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert_eq!(
        validate_document(deep.as_bytes()),
        Err(StixError::TooDeep { max: MAX_DEPTH })
    );
}

#[test]
fn refusals_name_the_object_and_the_property() {
    let id = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    for (from, to, says) in [
        (
            r#""pattern":"[ipv4-addr:value = '192.0.2.10']","#,
            "",
            "pattern: required",
        ),
        (
            "[ipv4-addr:value = '192.0.2.10']",
            "ipv4-addr:value = 1",
            "pattern: not a STIX pattern",
        ),
        (
            r#""spec_version":"2.1""#,
            r#""spec_version":"2.0""#,
            "spec_version:",
        ),
        (
            r#""valid_from":"2026-01-01T00:00:00Z""#,
            r#""valid_from":"2026-01-01T00:00:00Z","valid_until":"2026-01-01T00:00:00Z""#,
            "valid_until: must be later than valid_from",
        ),
        (
            r#""modified":"2026-01-01T00:00:00.000Z""#,
            r#""modified":"2025-01-01T00:00:00.000Z""#,
            "modified: must be no earlier than created",
        ),
        (
            r#""created":"2026-01-01T00:00:00.000Z""#,
            r#""created":"2026-01-01T00:00:00+00:00""#,
            "created:",
        ),
        (
            r#""pattern_type":"stix""#,
            r#""pattern_type":5"#,
            "pattern_type: must be",
        ),
        (
            r#""valid_from""#,
            r#""created_by_ref":"identity--0000","valid_from""#,
            "created_by_ref:",
        ),
    ] {
        let err = validate_document(indicator_with(from, to).as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("{id} : ")) && err.contains(says),
            "{to}: {err}"
        );
    }
    // An id of another type, or not an RFC 4122 UUID.
    let err = validate_document(
        indicator_with(id, "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").as_bytes(),
    );
    assert!(err.unwrap_err().to_string().contains(": id: "));
    let err = validate_document(
        indicator_with(id, "indicator--8e2e2d2b-17d4-4cbf-738f-98ee46b3cd3f").as_bytes(),
    );
    assert!(err.unwrap_err().to_string().contains(": id: "));
}

#[test]
fn per_type_requirements() {
    let sdo = |ty: &str, uuid: &str, rest: &str| {
        format!(
            r#"{{"type":"{ty}","spec_version":"2.1","id":"{ty}--{uuid}","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"{rest}}}"#
        )
    };
    let u = "11111111-1111-4111-8111-111111111111";
    let cases: [(String, Option<&str>); 10] = [
        (sdo("malware", u, r#","is_family":true"#), Some("name: required")),
        (sdo("malware", u, r#","is_family":false"#), None),
        (sdo("malware", u, ""), Some("is_family: required")),
        (sdo("relationship", u, r#","relationship_type":"indicates","source_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","target_ref":"nope""#), Some("target_ref:")),
        (sdo("sighting", u, ""), Some("sighting_of_ref: required")),
        (sdo("report", u, r#","name":"r","published":"2026-01-01T00:00:00Z","object_refs":[]"#), Some("object_refs: must be")),
        (r#"{"type":"ipv4-addr","id":"ipv4-addr--11111111-1111-5111-8111-111111111111"}"#.into(), Some("value: required")),
        (r#"{"type":"file","id":"file--11111111-1111-5111-8111-111111111111","hashes":{"SHA-256":"ab"}}"#.into(), Some("hashes.SHA-256: must be")),
        (r#"{"type":"file","id":"file--11111111-1111-5111-8111-111111111111","hashes":{"MD5":"cead3f77f6cda6ec00f57d76c9a6879f","x_custom":"ab"}}"#.into(), None),
        (r#"{"type":"x-acme-widget","id":"x-acme-widget--11111111-1111-4111-8111-111111111111","x_acme_colour":"red"}"#.into(), None),
    ];
    for (object, refused) in cases {
        let got = validate_document(bundle(&object).as_bytes());
        match refused {
            None => assert_eq!(got, Ok(()), "{object}"),
            Some(says) => {
                let err = got.unwrap_err().to_string();
                assert!(
                    err.contains(says) && err.contains("--1111"),
                    "{object}: {err}"
                );
            }
        }
    }
}

#[test]
fn object_count_is_bounded() {
    let one = r#"{"type":"ipv4-addr","id":"ipv4-addr--11111111-1111-5111-8111-111111111111","value":"192.0.2.1"}"#;
    let many = vec![one; MAX_OBJECTS + 1].join(",");
    assert!(matches!(
        validate_document(bundle(&many).as_bytes()),
        Err(StixError::TooManyObjects { .. })
    ));
}

#[test]
fn content_types() {
    assert!(is_stix_content_type("application/stix+json;version=2.1"));
    assert!(is_stix_content_type("application/stix+json"));
    assert!(is_stix_content_type("Application/STIX+JSON ; version=2.1"));
    assert!(!is_stix_content_type("application/json"));
    assert!(!is_stix_content_type("application/taxii+json;version=2.1"));
}
