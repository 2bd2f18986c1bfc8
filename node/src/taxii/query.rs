//! The query of a TAXII 2.1 request (spec/node.md 11.4), parsed without the network: the
//! filters `added_after`, `match[id]`, `match[type]`, `match[version]`,
//! `match[spec_version]`, and `limit` and `next` for paging. Bounded: the query is at most
//! [`MAX_QUERY`] bytes and each list at most [`MAX_VALUES`] values, so a request allocates
//! little whatever it sends.

use super::time::parse_micros;

/// The longest query string read.
pub const MAX_QUERY: usize = 4096;
/// The most values a `match[...]` list may hold.
pub const MAX_VALUES: usize = 64;
/// The most objects (or manifest records, or versions) one page holds.
pub const MAX_LIMIT: usize = 1000;
/// A page's size when the client names none.
pub const DEFAULT_LIMIT: usize = 100;

/// Which versions of an object a request wants (`match[version]`, default `last`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Versions {
    /// Every version.
    pub all: bool,
    /// The earliest version.
    pub first: bool,
    /// The latest version.
    pub last: bool,
    /// The versions with these timestamps (as written; compared as timestamps).
    pub at: Vec<String>,
}

/// A parsed TAXII query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// Only objects added strictly after this time (microseconds since the epoch).
    pub added_after: Option<u64>,
    /// The page's size, 1 to [`MAX_LIMIT`].
    pub limit: usize,
    /// Where the previous page stopped (the opaque `next` of its answer).
    pub next: Option<u64>,
    /// Only these identifiers (empty: any).
    pub ids: Vec<String>,
    /// Only these STIX types (empty: any).
    pub types: Vec<String>,
    /// Which versions.
    pub versions: Versions,
    /// Only these `spec_version`s (empty: any). Every object served is 2.1.
    pub spec_versions: Vec<String>,
}

/// Why a query is refused (400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Longer than [`MAX_QUERY`].
    #[error("the query is longer than {MAX_QUERY} bytes")]
    TooLong,
    /// A `%` not followed by two hex digits, or bytes that are not UTF-8 once decoded.
    #[error("{0:?} is not a well-formed percent-encoded parameter")]
    BadEncoding(String),
    /// A parameter this server does not know.
    #[error("unknown query parameter {0:?}")]
    Unknown(String),
    /// A parameter given twice.
    #[error("{0} is given twice")]
    Twice(&'static str),
    /// A list longer than [`MAX_VALUES`], or an empty value.
    #[error("{0} must hold 1 to {MAX_VALUES} non-empty values")]
    BadList(&'static str),
    /// `limit` is not a number from 1 up.
    #[error("limit={0:?} is not a number from 1 up")]
    BadLimit(String),
    /// `next` is not one this server wrote.
    #[error("next={0:?} is not a cursor this server gave")]
    BadCursor(String),
    /// `added_after` is not an RFC 3339 UTC timestamp.
    #[error("added_after={0:?} is not an RFC 3339 UTC timestamp (YYYY-MM-DDTHH:MM:SS[.s]Z)")]
    BadTime(String),
    /// A `match[version]` value is neither first, last, all nor a timestamp.
    #[error("match[version]={0:?} is not first, last, all or a timestamp")]
    BadVersion(String),
}

/// A cursor as `next` carries it: the position in the collection to resume from.
pub fn format_cursor(position: u64) -> String {
    format!("p{position}")
}

fn parse_cursor(text: &str) -> Result<u64, QueryError> {
    let bad = || QueryError::BadCursor(text.chars().take(40).collect());
    let digits = text.strip_prefix('p').ok_or_else(bad)?;
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    digits.parse().map_err(|_| bad())
}

/// Percent-decodes one name or value of a query (`+` is a space, as in forms).
fn decode(text: &str) -> Result<String, QueryError> {
    let bad = || QueryError::BadEncoding(text.chars().take(40).collect());
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        out.push(match b {
            b'+' => b' ',
            b'%' => {
                let hex = |b: Option<u8>| (b.ok_or_else(bad)? as char).to_digit(16).ok_or_else(bad);
                (hex(bytes.next())? * 16 + hex(bytes.next())?) as u8
            }
            b => b,
        });
    }
    String::from_utf8(out).map_err(|_| bad())
}

fn list(name: &'static str, value: &str) -> Result<Vec<String>, QueryError> {
    let values: Vec<String> = value
        .split(',')
        .take(MAX_VALUES + 1)
        .map(str::to_owned)
        .collect();
    if values.len() > MAX_VALUES || values.iter().any(String::is_empty) {
        return Err(QueryError::BadList(name));
    }
    Ok(values)
}

fn versions(value: &str) -> Result<Versions, QueryError> {
    let mut v = Versions::default();
    for item in list("match[version]", value)? {
        match item.as_str() {
            "all" => v.all = true,
            "first" => v.first = true,
            "last" => v.last = true,
            t if parse_micros(t).is_some() => v.at.push(item),
            _ => return Err(QueryError::BadVersion(item.chars().take(40).collect())),
        }
    }
    Ok(v)
}

/// Parses a request's query string (without the `?`).
pub fn parse(query: &str) -> Result<Query, QueryError> {
    if query.len() > MAX_QUERY {
        return Err(QueryError::TooLong);
    }
    let mut q = Query {
        added_after: None,
        limit: DEFAULT_LIMIT,
        next: None,
        ids: Vec::new(),
        types: Vec::new(),
        versions: Versions {
            last: true,
            ..Versions::default()
        },
        spec_versions: Vec::new(),
    };
    let mut seen = [false; 7];
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (decode(name)?, decode(value)?);
        let (slot, label) = match name.as_str() {
            "added_after" => (0, "added_after"),
            "limit" => (1, "limit"),
            "next" => (2, "next"),
            "match[id]" => (3, "match[id]"),
            "match[type]" => (4, "match[type]"),
            "match[version]" => (5, "match[version]"),
            "match[spec_version]" => (6, "match[spec_version]"),
            _ => return Err(QueryError::Unknown(name.chars().take(40).collect())),
        };
        if std::mem::replace(&mut seen[slot], true) {
            return Err(QueryError::Twice(label));
        }
        // An empty `next` (taxii2-client's first page) and an empty filter say nothing.
        if value.is_empty() && slot != 1 {
            continue;
        }
        match slot {
            0 => {
                let t = parse_micros(&value)
                    .ok_or_else(|| QueryError::BadTime(value.chars().take(40).collect()))?;
                q.added_after = Some(t);
            }
            1 => q.limit = parse_limit(&value)?,
            2 => q.next = Some(parse_cursor(&value)?),
            3 => q.ids = list(label, &value)?,
            4 => q.types = list(label, &value)?,
            5 => q.versions = versions(&value)?,
            _ => q.spec_versions = list(label, &value)?,
        }
    }
    Ok(q)
}

/// `limit`: a number from 1; above [`MAX_LIMIT`] it is cut to it (TAXII lets a server
/// send fewer than asked). taxii2-client's first page of `as_pages` asks for 0, which
/// means "the server's default".
fn parse_limit(value: &str) -> Result<usize, QueryError> {
    let bad = || QueryError::BadLimit(value.chars().take(40).collect());
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let digits = value.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(DEFAULT_LIMIT);
    }
    if digits.len() > 7 {
        return Ok(MAX_LIMIT);
    }
    Ok(digits.parse::<usize>().map_err(|_| bad())?.min(MAX_LIMIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_parameter_percent_encoded_or_not() {
        let q = parse("added_after=2026-01-01T00:00:00Z&limit=5&next=p7&match%5Bid%5D=a,b&match[type]=indicator&match[version]=all,2026-01-01T00:00:00.5Z").unwrap();
        assert_eq!(q.added_after, parse_micros("2026-01-01T00:00:00Z"));
        assert_eq!((q.limit, q.next), (5, Some(7)));
        assert_eq!(q.ids, ["a", "b"]);
        assert_eq!(q.types, ["indicator"]);
        assert!(q.versions.all && !q.versions.last);
        assert_eq!(q.versions.at, ["2026-01-01T00:00:00.5Z"]);
    }

    #[test]
    fn defaults_and_bounds() {
        let q = parse("").unwrap();
        assert_eq!(
            (q.limit, q.next, q.versions.last),
            (DEFAULT_LIMIT, None, true)
        );
        assert_eq!(parse("limit=0&next=").unwrap().limit, DEFAULT_LIMIT);
        assert_eq!(
            parse("limit=99999999999999999999").unwrap().limit,
            MAX_LIMIT
        );
        assert_eq!(parse("limit=1001").unwrap().limit, MAX_LIMIT);
    }

    #[test]
    fn refuses_what_is_malformed() {
        let long = "a".repeat(MAX_QUERY + 1);
        let many = format!("match[id]={}", vec!["x"; MAX_VALUES + 1].join(","));
        for (query, want) in [
            (long.as_str(), QueryError::TooLong),
            ("limit=-1", QueryError::BadLimit("-1".into())),
            ("next=7", QueryError::BadCursor("7".into())),
            (
                "next=p99999999999999999999",
                QueryError::BadCursor("p99999999999999999999".into()),
            ),
            ("limit=1&limit=2", QueryError::Twice("limit")),
            ("match[foo]=x", QueryError::Unknown("match[foo]".into())),
            ("match%5Bid=%zz", QueryError::BadEncoding("%zz".into())),
            (
                "added_after=yesterday",
                QueryError::BadTime("yesterday".into()),
            ),
            (
                "match[version]=newest",
                QueryError::BadVersion("newest".into()),
            ),
            ("match[type]=a,,b", QueryError::BadList("match[type]")),
            (many.as_str(), QueryError::BadList("match[id]")),
        ] {
            assert_eq!(parse(query), Err(want), "{query:.60}");
        }
    }
}
