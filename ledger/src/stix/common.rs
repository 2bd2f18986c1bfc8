//! The bundle (STIX 2.1 part 8) and the common properties of every object (part 3.2):
//! `type`, `id`, `spec_version`, `created`, `modified`, the reference properties, and the
//! property-name rules custom properties follow (part 11.1).

use serde_json::{Map, Value};

use super::ident::{check_timestamp, is_identifier, is_type_name, Timestamp};
use super::types::{self, Category};
use super::StixError;

/// The longest value a refusal quotes.
const QUOTE_MAX: usize = 100;

/// How a refusal names an object: its `id` when that is a string, else `fallback` (its
/// place in the bundle), cut to a readable length.
pub fn object_name(object: &Map<String, Value>, fallback: &str) -> String {
    match object.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => quote(id),
        _ => fallback.to_owned(),
    }
}

/// `text`, cut to [`QUOTE_MAX`] characters.
pub fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// A [`StixError::WrongType`] for `property` of `object`.
pub fn wrong_type(
    object: &Map<String, Value>,
    fallback: &str,
    property: &str,
    expected: &'static str,
) -> StixError {
    StixError::WrongType {
        object: object_name(object, fallback),
        property: property.to_owned(),
        expected,
    }
}

/// An object being checked: its properties and how refusals name it.
pub struct Checked<'a> {
    pub props: &'a Map<String, Value>,
    pub name: String,
}

impl<'a> Checked<'a> {
    pub fn missing(&self, property: &str) -> StixError {
        StixError::Missing {
            object: self.name.clone(),
            property: property.to_owned(),
        }
    }

    pub fn wrong(&self, property: &str, expected: &'static str) -> StixError {
        StixError::WrongType {
            object: self.name.clone(),
            property: property.to_owned(),
            expected,
        }
    }

    /// The string `property`, required.
    pub fn string(&self, property: &str) -> Result<&'a str, StixError> {
        match self.props.get(property) {
            None => Err(self.missing(property)),
            Some(Value::String(s)) if !s.is_empty() => Ok(s),
            Some(_) => Err(self.wrong(property, "a non-empty string")),
        }
    }

    /// The timestamp `property`, if present.
    pub fn timestamp(&self, property: &str) -> Result<Option<Timestamp<'a>>, StixError> {
        let Some(value) = self.props.get(property) else {
            return Ok(None);
        };
        let text = value
            .as_str()
            .ok_or_else(|| self.wrong(property, "a timestamp string"))?;
        check_timestamp(text)
            .map(Some)
            .map_err(|()| StixError::BadTimestamp {
                object: self.name.clone(),
                property: property.to_owned(),
                value: quote(text),
            })
    }

    /// The timestamp `property`, required.
    pub fn required_timestamp(&self, property: &str) -> Result<Timestamp<'a>, StixError> {
        self.timestamp(property)?
            .ok_or_else(|| self.missing(property))
    }

    /// `later` is after `earlier` (`strictly`) or not before it, when both are present.
    pub fn ordered(
        &self,
        earlier: &'static str,
        later: &'static str,
        strictly: bool,
    ) -> Result<(), StixError> {
        if let (Some(a), Some(b)) = (self.timestamp(earlier)?, self.timestamp(later)?) {
            if b < a || (strictly && b == a) {
                return Err(StixError::OutOfOrder {
                    object: self.name.clone(),
                    property: later.to_owned(),
                    relation: if strictly {
                        "later than"
                    } else {
                        "no earlier than"
                    },
                    earlier,
                });
            }
        }
        Ok(())
    }

    /// An identifier in `property` (`shown` in the refusal, e.g. `object_refs[2]`).
    pub fn identifier(
        &self,
        shown: &str,
        value: &Value,
        of_type: Option<&str>,
    ) -> Result<(), StixError> {
        match value.as_str() {
            Some(id) if is_identifier(id, of_type) => Ok(()),
            _ => Err(StixError::BadIdentifier {
                object: self.name.clone(),
                property: shown.to_owned(),
                value: quote(&value.to_string()),
                expected: match of_type {
                    Some(t) => format!("{t}--<RFC 4122 UUID>"),
                    None => "<type>--<RFC 4122 UUID>".to_owned(),
                },
            }),
        }
    }

    /// The required reference `property`.
    pub fn reference(&self, property: &str) -> Result<(), StixError> {
        let value = self
            .props
            .get(property)
            .ok_or_else(|| self.missing(property))?;
        self.identifier(property, value, None)
    }

    /// The required, non-empty list of references `property`.
    pub fn references(&self, property: &str) -> Result<(), StixError> {
        let value = self
            .props
            .get(property)
            .ok_or_else(|| self.missing(property))?;
        self.reference_list(property, value)
    }

    fn reference_list(&self, property: &str, value: &Value) -> Result<(), StixError> {
        match value {
            Value::Array(ids) if !ids.is_empty() => ids
                .iter()
                .enumerate()
                .try_for_each(|(i, id)| self.identifier(&format!("{property}[{i}]"), id, None)),
            _ => Err(self.wrong(property, "a non-empty list of identifiers")),
        }
    }
}

/// The bundle's own properties: `type` "bundle" and an `id` of type bundle.
pub fn check_bundle(bundle: &Map<String, Value>) -> Result<(), StixError> {
    let checked = Checked {
        props: bundle,
        name: object_name(bundle, "the bundle"),
    };
    let id = bundle.get("id").ok_or_else(|| checked.missing("id"))?;
    checked.identifier("id", id, Some("bundle"))
}

/// One STIX object: the common properties, the reference properties, the custom
/// property names, then what its type requires.
pub fn check_object(value: &Value, fallback: &str) -> Result<(), StixError> {
    let Value::Object(props) = value else {
        return Err(StixError::WrongType {
            object: fallback.to_owned(),
            property: "(object)".to_owned(),
            expected: "a JSON object",
        });
    };
    let checked = Checked {
        props,
        name: object_name(props, fallback),
    };
    let ty = checked.string("type")?;
    if !is_type_name(ty) || ty == "bundle" {
        return Err(StixError::BadValue {
            object: checked.name,
            property: "type".into(),
            value: quote(ty),
            problem: "is not a STIX object type (3-250 of a-z, 0-9, single hyphens; not bundle)",
        });
    }
    let id = props.get("id").ok_or_else(|| checked.missing("id"))?;
    checked.identifier("id", id, Some(ty))?;
    let category = types::category(ty);
    check_spec_version(&checked, category)?;
    check_created_modified(&checked, category)?;
    check_property_names(&checked)?;
    check_reference_properties(&checked)?;
    types::check_type(&checked, ty)
}

/// `spec_version` is "2.1": required on SDOs, SROs and meta objects, optional on SCOs
/// (part 3.2) and on custom types, which may be either.
fn check_spec_version(checked: &Checked<'_>, category: Category) -> Result<(), StixError> {
    match checked.props.get("spec_version") {
        None if matches!(category, Category::Domain) => Err(checked.missing("spec_version")),
        None => Ok(()),
        Some(Value::String(v)) if v == "2.1" => Ok(()),
        Some(v) => Err(StixError::BadValue {
            object: checked.name.clone(),
            property: "spec_version".into(),
            value: quote(&v.to_string()),
            problem: "is not \"2.1\"",
        }),
    }
}

/// `created` and `modified` (part 3.2): required on SDOs and SROs (a marking definition
/// has only `created`), absent from SCOs; timestamps wherever present, and `modified`
/// no earlier than `created`.
fn check_created_modified(checked: &Checked<'_>, category: Category) -> Result<(), StixError> {
    if matches!(category, Category::Domain) {
        checked.required_timestamp("created")?;
        if checked.props.get("type").and_then(Value::as_str) != Some("marking-definition") {
            checked.required_timestamp("modified")?;
        }
    }
    checked.ordered("created", "modified", false)
}

/// Property names (part 3.1, and 11.1 for custom ones): ASCII letters, digits and
/// underscores, 3 to 250 characters (`id` is the spec's own two-letter exception).
fn check_property_names(checked: &Checked<'_>) -> Result<(), StixError> {
    for name in checked.props.keys() {
        let shaped = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if name != "id" && (!shaped || !(3..=250).contains(&name.len())) {
            return Err(StixError::BadValue {
                object: checked.name.clone(),
                property: quote(name),
                value: quote(name),
                problem: "is not a property name (3-250 of A-Z, a-z, 0-9, _)",
            });
        }
    }
    Ok(())
}

/// Every top-level `*_ref` holds an identifier and every `*_refs` a list of them (part
/// 2.10, binding custom properties too); `created_by_ref` names an identity and
/// `object_marking_refs` marking definitions.
fn check_reference_properties(checked: &Checked<'_>) -> Result<(), StixError> {
    for (name, value) in checked.props {
        if name == "created_by_ref" {
            checked.identifier(name, value, Some("identity"))?;
        } else if name == "object_marking_refs" {
            let Value::Array(ids) = value else {
                return Err(checked.wrong(name, "a list of marking-definition identifiers"));
            };
            for (i, id) in ids.iter().enumerate() {
                checked.identifier(&format!("{name}[{i}]"), id, Some("marking-definition"))?;
            }
        } else if name.ends_with("_ref") {
            checked.identifier(name, value, None)?;
        } else if name.ends_with("_refs") {
            checked.reference_list(name, value)?;
        }
    }
    Ok(())
}
