//! STIX 2.1 validation of `threat-indicators` payloads (spec/dyad.md 3.2): a ledger
//! policy, applied to entries whose content type is `application/stix+json`.
//!
//! A document is a bundle or a single object. Each object carries the common properties
//! with their types (`common.rs`, part 3 of STIX 2.1), the properties its type requires
//! (`types.rs`, parts 4–6), identifiers and timestamps of the spec's form (`ident.rs`),
//! and an indicator whose `pattern_type` is `stix` a pattern that parses under the STIX
//! patterning grammar (`pattern.rs`, part 9). Unknown (custom) types and properties are
//! taken as the spec's customization rules allow (part 11), with the common properties
//! still checked. Bounds: the payload is already bounded by the genesis' `max_payload`;
//! nesting depth ([`MAX_DEPTH`]), object count ([`MAX_OBJECTS`]) and pattern nesting
//! ([`MAX_PATTERN_DEPTH`]) are bounded here.

mod common;
mod ident;
mod pattern;
mod types;

use serde_json::Value;

pub use ident::Timestamp;
pub use pattern::{check_pattern, PatternRefusal, MAX_PATTERN_DEPTH};

/// The deepest nesting of JSON arrays and objects a document may have. STIX objects
/// nest a few levels (a bundle, an object, `extensions`, a hash map, a list).
pub const MAX_DEPTH: usize = 16;

/// The most objects a bundle may hold.
pub const MAX_OBJECTS: usize = 10_000;

/// The content type whose payloads are STIX (parameters such as `;version=2.1` aside).
pub const STIX_MEDIA_TYPE: &str = "application/stix+json";

/// Whether `content_type` names a STIX document: `application/stix+json`, with or
/// without parameters, case-insensitively (RFC 6838 media types are).
pub fn is_stix_content_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case(STIX_MEDIA_TYPE)
}

/// Why a STIX document is refused. Object-level refusals name the object (its `id`, or
/// its place in the bundle when it has no usable id) and the property.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StixError {
    /// The payload is not JSON.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// The document is JSON but not an object (a bundle or a STIX object).
    #[error(
        "not a STIX document: the top level must be a JSON object (a bundle or a STIX object)"
    )]
    NotAnObject,
    /// Arrays and objects nest deeper than [`MAX_DEPTH`].
    #[error("nests deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// The bundle holds more than [`MAX_OBJECTS`] objects.
    #[error("holds {count} objects, more than {max}")]
    TooManyObjects {
        /// How many it holds.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A required property is missing.
    #[error("{object} : {property}: required, missing")]
    Missing {
        /// The object.
        object: String,
        /// The property.
        property: String,
    },
    /// A property's value has the wrong JSON type or is empty where the spec forbids.
    #[error("{object} : {property}: must be {expected}")]
    WrongType {
        /// The object.
        object: String,
        /// The property.
        property: String,
        /// What it must be.
        expected: &'static str,
    },
    /// An `id` or reference is not `<type>--<RFC 4122 UUID>` (of the type it must be).
    #[error("{object} : {property}: {value:?} is not an identifier {expected}")]
    BadIdentifier {
        /// The object.
        object: String,
        /// The property.
        property: String,
        /// The value found (cut to 100 characters).
        value: String,
        /// The form it must have.
        expected: String,
    },
    /// A timestamp is not RFC 3339 in UTC with `Z` (or names no real date and time).
    #[error("{object} : {property}: {value:?} is not an RFC 3339 UTC timestamp (YYYY-MM-DDTHH:MM:SS[.s]Z)")]
    BadTimestamp {
        /// The object.
        object: String,
        /// The property.
        property: String,
        /// The value found (cut to 100 characters).
        value: String,
    },
    /// A timestamp is earlier than one it must not precede (`modified` >= `created`,
    /// `valid_until` > `valid_from`, ...).
    #[error("{object} : {property}: must be {relation} {earlier}")]
    OutOfOrder {
        /// The object.
        object: String,
        /// The later property.
        property: String,
        /// "later than" or "no earlier than".
        relation: &'static str,
        /// The property it is compared with.
        earlier: &'static str,
    },
    /// `type` is not a STIX type name, or `spec_version` is not "2.1".
    #[error("{object} : {property}: {value:?} {problem}")]
    BadValue {
        /// The object.
        object: String,
        /// The property.
        property: String,
        /// The value found (cut to 100 characters).
        value: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// An indicator's STIX pattern does not parse.
    #[error("{object} : pattern: {reason}")]
    BadPattern {
        /// The indicator.
        object: String,
        /// Why.
        reason: PatternRefusal,
    },
}

/// `text` as a STIX timestamp (RFC 3339 in UTC, `YYYY-MM-DDTHH:MM:SS[.s+]Z`, a real date
/// and time), ordered by time; `None` if it is not one.
pub fn parse_timestamp(text: &str) -> Option<Timestamp<'_>> {
    ident::check_timestamp(text).ok()
}

/// Checks `payload` as a STIX 2.1 document: a bundle of objects, or one object.
pub fn validate_document(payload: &[u8]) -> Result<(), StixError> {
    let doc: Value =
        serde_json::from_slice(payload).map_err(|e| StixError::NotJson(e.to_string()))?;
    if exceeds_depth(&doc, MAX_DEPTH) {
        return Err(StixError::TooDeep { max: MAX_DEPTH });
    }
    let Value::Object(top) = &doc else {
        return Err(StixError::NotAnObject);
    };
    if top.get("type").and_then(Value::as_str) != Some("bundle") {
        return common::check_object(&doc, "the document");
    }
    common::check_bundle(top)?;
    let Some(objects) = top.get("objects") else {
        return Ok(());
    };
    let Value::Array(objects) = objects else {
        return Err(common::wrong_type(
            top,
            "the bundle",
            "objects",
            "a list of STIX objects",
        ));
    };
    if objects.len() > MAX_OBJECTS {
        return Err(StixError::TooManyObjects {
            count: objects.len(),
            max: MAX_OBJECTS,
        });
    }
    for (i, object) in objects.iter().enumerate() {
        common::check_object(object, &format!("objects[{i}]"))?;
    }
    Ok(())
}

/// Whether `value` nests arrays and objects more than `max` levels. serde_json's parser
/// already stops at 128 levels, so this recursion is bounded.
fn exceeds_depth(value: &Value, max: usize) -> bool {
    let children: Box<dyn Iterator<Item = &Value>> = match value {
        Value::Array(items) => Box::new(items.iter()),
        Value::Object(map) => Box::new(map.values()),
        _ => return false,
    };
    if max == 0 {
        return true;
    }
    children.into_iter().any(|c| exceeds_depth(c, max - 1))
}

#[cfg(test)]
mod tests;
