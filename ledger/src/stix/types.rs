//! The properties each STIX 2.1 type requires beyond the common ones: SDOs (part 4),
//! SROs (part 5), the meta objects (part 7) and the cyber-observable objects an indicator
//! feed uses (part 6). A type not listed here is a custom one (part 11): only its common
//! properties are checked.

use serde_json::Value;

use super::common::Checked;
use super::ident::hash_value_ok;
use super::pattern::check_pattern;
use super::StixError;

/// Which common properties a type carries (part 3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// SDOs, SROs and meta objects: `spec_version`, `created` and `modified` required.
    Domain,
    /// Cyber-observable objects: `spec_version` optional, no `created` or `modified`.
    Observable,
    /// A custom type: the common properties are checked where present.
    Custom,
}

/// The SDOs, SROs and meta objects of STIX 2.1.
const DOMAIN_TYPES: [&str; 23] = [
    "attack-pattern",
    "campaign",
    "course-of-action",
    "grouping",
    "identity",
    "incident",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "location",
    "malware",
    "malware-analysis",
    "note",
    "observed-data",
    "opinion",
    "report",
    "threat-actor",
    "tool",
    "vulnerability",
    "relationship",
    "sighting",
    "marking-definition",
    "language-content",
];

/// The cyber-observable objects of STIX 2.1.
const OBSERVABLE_TYPES: [&str; 18] = [
    "artifact",
    "autonomous-system",
    "directory",
    "domain-name",
    "email-addr",
    "email-message",
    "file",
    "ipv4-addr",
    "ipv6-addr",
    "mac-addr",
    "mutex",
    "network-traffic",
    "process",
    "software",
    "url",
    "user-account",
    "windows-registry-key",
    "x509-certificate",
];

/// The category of type `ty`.
pub fn category(ty: &str) -> Category {
    if DOMAIN_TYPES.contains(&ty) || ty == "extension-definition" {
        Category::Domain
    } else if OBSERVABLE_TYPES.contains(&ty) {
        Category::Observable
    } else {
        Category::Custom
    }
}

/// The SDOs whose only required property of their own is `name`.
const NAMED: [&str; 9] = [
    "attack-pattern",
    "campaign",
    "course-of-action",
    "identity",
    "infrastructure",
    "intrusion-set",
    "threat-actor",
    "tool",
    "vulnerability",
];

/// The properties type `ty` requires, and the rules between them.
pub fn check_type(o: &Checked<'_>, ty: &str) -> Result<(), StixError> {
    if NAMED.contains(&ty) {
        o.string("name")?;
        return Ok(());
    }
    match ty {
        "indicator" => indicator(o),
        "malware" => malware(o),
        "relationship" => {
            o.string("relationship_type")?;
            o.reference("source_ref")?;
            o.reference("target_ref")
        }
        "sighting" => {
            o.reference("sighting_of_ref")?;
            count_in(o, "count", 0, 999_999_999)?;
            o.ordered("first_seen", "last_seen", false)
        }
        "report" => {
            o.string("name")?;
            o.required_timestamp("published")?;
            o.references("object_refs")
        }
        "note" => {
            o.string("content")?;
            o.references("object_refs")
        }
        "opinion" => opinion(o),
        "grouping" => {
            o.string("context")?;
            o.references("object_refs")
        }
        "observed-data" => observed_data(o),
        "location" => location(o),
        "malware-analysis" => {
            o.string("product")?;
            match o.props.contains_key("result") || o.props.contains_key("analysis_sco_refs") {
                true => Ok(()),
                false => Err(o.missing("result")),
            }
        }
        "incident" => o.string("name").map(drop),
        "marking-definition" => marking_definition(o),
        "language-content" => {
            o.reference("object_ref")?;
            o.required_timestamp("object_modified")?;
            object(o, "contents")
        }
        "extension-definition" => {
            o.string("name")?;
            o.string("schema")?;
            o.string("version")?;
            o.reference("created_by_ref")?;
            match o.props.get("extension_types") {
                Some(Value::Array(t)) if !t.is_empty() => Ok(()),
                Some(_) => Err(o.wrong("extension_types", "a non-empty list")),
                None => Err(o.missing("extension_types")),
            }
        }
        _ => observable(o, ty),
    }
}

/// Part 4.7: a pattern in a named language, valid from a time; `valid_until` after
/// `valid_from`; a `stix` pattern parses.
fn indicator(o: &Checked<'_>) -> Result<(), StixError> {
    let pattern = o.string("pattern")?;
    let pattern_type = o.string("pattern_type")?;
    o.required_timestamp("valid_from")?;
    o.ordered("valid_from", "valid_until", true)?;
    if pattern_type == "stix" {
        check_pattern(pattern).map_err(|reason| StixError::BadPattern {
            object: o.name.clone(),
            reason,
        })?;
    }
    Ok(())
}

/// Part 4.11: `is_family`, and a `name` for a family.
fn malware(o: &Checked<'_>) -> Result<(), StixError> {
    match o.props.get("is_family") {
        None => Err(o.missing("is_family")),
        Some(Value::Bool(true)) => o.string("name").map(drop),
        Some(Value::Bool(false)) => Ok(()),
        Some(_) => Err(o.wrong("is_family", "true or false")),
    }
}

/// Part 4.15: an opinion from the spec's enumeration, about objects.
fn opinion(o: &Checked<'_>) -> Result<(), StixError> {
    const OPINIONS: [&str; 5] = [
        "strongly-disagree",
        "disagree",
        "neutral",
        "agree",
        "strongly-agree",
    ];
    if !OPINIONS.contains(&o.string("opinion")?) {
        return Err(o.wrong(
            "opinion",
            "one of strongly-disagree, disagree, neutral, agree, strongly-agree",
        ));
    }
    o.references("object_refs")
}

/// Part 4.14: when and how often, and what was seen (`object_refs`, or the deprecated
/// `objects`).
fn observed_data(o: &Checked<'_>) -> Result<(), StixError> {
    o.required_timestamp("first_observed")?;
    o.required_timestamp("last_observed")?;
    o.ordered("first_observed", "last_observed", false)?;
    if !o.props.contains_key("number_observed") {
        return Err(o.missing("number_observed"));
    }
    count_in(o, "number_observed", 1, 999_999_999)?;
    match (
        o.props.contains_key("object_refs"),
        o.props.contains_key("objects"),
    ) {
        (true, false) => o.references("object_refs"),
        (false, true) => object(o, "objects"),
        (true, true) => Err(o.wrong("objects", "absent when object_refs is present")),
        (false, false) => Err(o.missing("object_refs")),
    }
}

/// Part 4.10: a region, a country, or a latitude and longitude (in range).
fn location(o: &Checked<'_>) -> Result<(), StixError> {
    let coordinate = |p: &str, max: f64| match o.props.get(p) {
        None => Ok(false),
        Some(v) if v.as_f64().is_some_and(|x| (-max..=max).contains(&x)) => Ok(true),
        Some(_) => Err(o.wrong(
            p,
            if max == 90.0 {
                "a number from -90 to 90"
            } else {
                "a number from -180 to 180"
            },
        )),
    };
    let latitude = coordinate("latitude", 90.0)?;
    let longitude = coordinate("longitude", 180.0)?;
    if latitude != longitude {
        return Err(o.missing(if latitude { "longitude" } else { "latitude" }));
    }
    if !(latitude || o.props.contains_key("region") || o.props.contains_key("country")) {
        return Err(o.missing("region"));
    }
    Ok(())
}

/// Part 7.2: a marking defined by `definition_type` and `definition` (the TLP and
/// statement markings) or by `extensions`.
fn marking_definition(o: &Checked<'_>) -> Result<(), StixError> {
    match (
        o.props.contains_key("definition_type"),
        o.props.contains_key("definition"),
    ) {
        (true, _) => {
            o.string("definition_type")?;
            object(o, "definition")
        }
        (false, true) => Err(o.missing("definition_type")),
        (false, false) if o.props.contains_key("extensions") => Ok(()),
        (false, false) => Err(o.missing("definition_type")),
    }
}

/// The cyber-observable objects (part 6) an indicator feed uses; any other type is
/// custom and needs nothing more.
fn observable(o: &Checked<'_>, ty: &str) -> Result<(), StixError> {
    match ty {
        "ipv4-addr" | "ipv6-addr" | "domain-name" | "url" | "email-addr" | "mac-addr" => {
            o.string("value").map(drop)
        }
        "mutex" | "software" => o.string("name").map(drop),
        "directory" => o.string("path").map(drop),
        "autonomous-system" => match o.props.get("number") {
            Some(n) if n.is_u64() => Ok(()),
            Some(_) => Err(o.wrong("number", "a non-negative integer")),
            None => Err(o.missing("number")),
        },
        "file" => {
            if o.props.contains_key("hashes") {
                hashes(o)
            } else {
                o.string("name").map(drop)
            }
        }
        "artifact" => match (
            o.props.contains_key("payload_bin"),
            o.props.contains_key("url"),
        ) {
            (true, true) => Err(o.wrong("url", "absent when payload_bin is present")),
            (false, true) => hashes(o),
            _ => Ok(()),
        },
        "email-message" => match o.props.get("is_multipart") {
            Some(Value::Bool(_)) => Ok(()),
            Some(_) => Err(o.wrong("is_multipart", "true or false")),
            None => Err(o.missing("is_multipart")),
        },
        "network-traffic" => {
            match o.props.get("protocols") {
                Some(Value::Array(p)) if !p.is_empty() && p.iter().all(Value::is_string) => {}
                Some(_) => return Err(o.wrong("protocols", "a non-empty list of strings")),
                None => return Err(o.missing("protocols")),
            }
            match o.props.contains_key("src_ref") || o.props.contains_key("dst_ref") {
                true => Ok(()),
                false => Err(o.missing("src_ref")),
            }
        }
        _ => Ok(()),
    }
}

/// `hashes` (part 2.7): a non-empty map of hash names to non-empty strings, each of a
/// known algorithm of that algorithm's form.
fn hashes(o: &Checked<'_>) -> Result<(), StixError> {
    let Some(value) = o.props.get("hashes") else {
        return Err(o.missing("hashes"));
    };
    let map = match value {
        Value::Object(h) if !h.is_empty() => h,
        _ => return Err(o.wrong("hashes", "a non-empty map of hash names to strings")),
    };
    for (algorithm, hash) in map {
        let text = hash.as_str().filter(|s| !s.is_empty());
        if text.is_none_or(|t| hash_value_ok(algorithm, t) == Some(false)) {
            return Err(o.wrong(
                &format!("hashes.{algorithm}"),
                "a hash of that algorithm's form",
            ));
        }
    }
    Ok(())
}

/// The required JSON object `property`.
fn object(o: &Checked<'_>, property: &str) -> Result<(), StixError> {
    match o.props.get(property) {
        Some(Value::Object(m)) if !m.is_empty() => Ok(()),
        Some(_) => Err(o.wrong(property, "a non-empty JSON object")),
        None => Err(o.missing(property)),
    }
}

/// An integer `property` from `min` to `max`, if present.
fn count_in(o: &Checked<'_>, property: &str, min: u64, max: u64) -> Result<(), StixError> {
    match o.props.get(property) {
        None => Ok(()),
        Some(n) if n.as_u64().is_some_and(|n| (min..=max).contains(&n)) => Ok(()),
        Some(_) => Err(o.wrong(property, "an integer in the spec's range")),
    }
}
