//! The objects of one TAXII collection (spec/node.md 11.3), kept in memory in log order,
//! and the pure selection of a page: filters, versions and the paging cursor.
//!
//! A collection only grows, at its end, as entries are committed; a position in it is
//! therefore a stable cursor. `date_added` strictly increases along it (see
//! [`Collection::add`]), so `added_after` is a binary search.

use std::cmp::Ordering;
use std::collections::HashMap;

use dyad_ledger::stix::parse_timestamp;
use serde_json::{Map, Value};

use super::query::Query;
use super::time::format_micros;

/// The most objects a collection holds in memory; later ones are not served (and the node
/// logs it): a bound on the memory the feed takes, far above what a channel's
/// indicator exchange reaches.
pub const MAX_OBJECTS: usize = 4_000_000;

/// One object of a collection.
#[derive(Debug)]
pub struct Record {
    /// The STIX `id`.
    pub id: Box<str>,
    /// The STIX `type`.
    pub stix_type: Box<str>,
    /// `modified`, else `created`, else `date_added` (TAXII 2.1 section 3.4.3).
    pub version: Box<str>,
    /// When the object entered the collection, microseconds since the epoch.
    pub date_added: u64,
    /// The log index of the entry that carried it.
    pub entry: u64,
    /// The object, as JSON.
    pub json: Box<str>,
}

/// One page of a collection: its records and, if more match, the cursor of the next page.
#[derive(Debug)]
pub struct Page<'a> {
    /// The records, in collection order.
    pub records: Vec<&'a Record>,
    /// The position the next page starts at, if any record after these matches.
    pub next: Option<u64>,
}

/// The objects of one collection, in the order they were added.
#[derive(Debug, Default)]
pub struct Collection {
    records: Vec<Record>,
    /// Positions of each identifier's versions, ascending.
    by_id: HashMap<Box<str>, Vec<u32>>,
}

/// Orders two version timestamps by time (equal texts of different precision are equal).
fn version_order(a: &str, b: &str) -> Ordering {
    match (parse_timestamp(a), parse_timestamp(b)) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => a.cmp(b),
    }
}

impl Collection {
    /// How many objects the collection holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the collection holds no object.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Adds `object`, carried by entry `entry` signed at `timestamp_ms`. Its `date_added` is
    /// the entry's timestamp, or one microsecond after the previous object's if that is not
    /// later: unique and increasing, so that polling with `added_after` misses nothing.
    /// A version already held (same `id`, same version time) is not added again; nor is
    /// an object without `id` and `type`, or one past [`MAX_OBJECTS`]. Returns whether it
    /// was added.
    pub fn add(&mut self, object: &Map<String, Value>, entry: u64, timestamp_ms: u64) -> bool {
        let text = |name: &str| object.get(name).and_then(Value::as_str);
        let (Some(id), Some(stix_type)) = (text("id"), text("type")) else {
            return false;
        };
        if self.records.len() >= MAX_OBJECTS {
            return false;
        }
        let after_last = self.records.last().map_or(0, |r| r.date_added + 1);
        let date_added = timestamp_ms.saturating_mul(1000).max(after_last);
        let version = match text("modified").or(text("created")) {
            Some(v) => v.to_owned(),
            None => format_micros(date_added),
        };
        let positions = self.by_id.entry(id.into()).or_default();
        let held = positions.iter().any(|&p| {
            version_order(&self.records[p as usize].version, &version) == Ordering::Equal
        });
        if held {
            return false;
        }
        positions.push(self.records.len() as u32);
        self.records.push(Record {
            id: id.into(),
            stix_type: stix_type.into(),
            version: version.into(),
            date_added,
            entry,
            json: Value::Object(object.clone()).to_string().into(),
        });
        true
    }

    /// The page `query` asks for; with `only_id`, of that object's versions only.
    pub fn page(&self, query: &Query, only_id: Option<&str>) -> Page<'_> {
        let after = query
            .added_after
            .map_or(0, |t| self.records.partition_point(|r| r.date_added <= t));
        let start = usize::try_from(query.next.unwrap_or(0))
            .unwrap_or(usize::MAX)
            .max(after);
        let positions: Box<dyn Iterator<Item = usize>> = match only_id {
            Some(id) => Box::new(
                self.by_id
                    .get(id)
                    .into_iter()
                    .flatten()
                    .map(|&p| p as usize)
                    .filter(move |&p| p >= start),
            ),
            None => Box::new(start.min(self.records.len())..self.records.len()),
        };
        let mut hits = positions.filter(|&p| self.matches(p, query));
        let records = hits
            .by_ref()
            .take(query.limit)
            .map(|p| &self.records[p])
            .collect();
        Page {
            records,
            next: hits.next().map(|p| p as u64),
        }
    }

    fn matches(&self, position: usize, query: &Query) -> bool {
        let r = &self.records[position];
        let listed =
            |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
        if !listed(&query.ids, &r.id)
            || !listed(&query.types, &r.stix_type)
            || !listed(&query.spec_versions, "2.1")
        {
            return false;
        }
        let v = &query.versions;
        if v.all
            || v.at
                .iter()
                .any(|t| version_order(t, &r.version) == Ordering::Equal)
        {
            return true;
        }
        let versions = self.by_id.get(&r.id).map(Vec::as_slice).unwrap_or_default();
        let by_version = |a: &&u32, b: &&u32| {
            version_order(
                &self.records[**a as usize].version,
                &self.records[**b as usize].version,
            )
        };
        // Ties (impossible: a version is held once) would go to the earliest position.
        let first = versions.iter().min_by(by_version).map(|&p| p as usize);
        let last = versions
            .iter()
            .rev()
            .max_by(by_version)
            .map(|&p| p as usize);
        (v.first && first == Some(position)) || (v.last && last == Some(position))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxii::query::parse;

    fn object(id: &str, modified: Option<&str>) -> Map<String, Value> {
        let mut o = serde_json::json!({"type": "indicator", "id": id});
        if let Some(m) = modified {
            o["modified"] = m.into();
        }
        o.as_object().unwrap().clone()
    }

    const A: &str = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    const B: &str = "indicator--5d0092c5-5f74-4287-9642-33f4c354e56d";

    fn collection() -> Collection {
        let mut c = Collection::default();
        assert!(c.add(&object(A, Some("2026-01-02T00:00:00Z")), 1, 5_000));
        assert!(c.add(&object(B, None), 1, 5_000));
        assert!(c.add(&object(A, Some("2026-01-01T00:00:00Z")), 2, 4_000));
        // The same version again, written with another precision: held once.
        assert!(!c.add(&object(A, Some("2026-01-01T00:00:00.000Z")), 3, 9_000));
        assert!(!c.add(&serde_json::Map::new(), 3, 9_000));
        c
    }

    fn ids(page: &Page) -> Vec<(String, String)> {
        page.records
            .iter()
            .map(|r| (r.id.to_string(), r.version.to_string()))
            .collect()
    }

    #[test]
    fn date_added_is_unique_and_increasing() {
        let c = collection();
        let added: Vec<u64> = c.records.iter().map(|r| r.date_added).collect();
        assert_eq!(added, [5_000_000, 5_000_001, 5_000_002]);
        assert_eq!(&*c.records[1].version, "1970-01-01T00:00:05.000001Z");
    }

    #[test]
    fn versions_first_last_all_and_at() {
        let c = collection();
        let page = c.page(&parse("").unwrap(), None);
        // Last by version time, not by position: the later-added A is the older version.
        assert_eq!(
            ids(&page),
            [
                (A.into(), "2026-01-02T00:00:00Z".into()),
                (B.into(), c.records[1].version.to_string())
            ]
        );
        let first = c.page(
            &parse("match[version]=first&match[type]=indicator").unwrap(),
            Some(A),
        );
        assert_eq!(ids(&first), [(A.into(), "2026-01-01T00:00:00Z".into())]);
        assert_eq!(
            c.page(&parse("match[version]=all").unwrap(), None)
                .records
                .len(),
            3
        );
        let at = c.page(
            &parse("match[version]=2026-01-02T00:00:00.000Z").unwrap(),
            None,
        );
        assert_eq!(at.records.len(), 1);
        assert!(c
            .page(&parse("match[type]=malware").unwrap(), None)
            .records
            .is_empty());
        assert!(c
            .page(&parse("match[spec_version]=2.0").unwrap(), None)
            .records
            .is_empty());
    }

    #[test]
    fn pages_resume_at_their_cursor_and_added_after_is_strict() {
        let c = collection();
        let one = c.page(&parse("limit=1&match[version]=all").unwrap(), None);
        assert_eq!((one.records.len(), one.next), (1, Some(1)));
        let two = c.page(&parse("limit=1&match[version]=all&next=p1").unwrap(), None);
        assert_eq!((two.records[0].date_added, two.next), (5_000_001, Some(2)));
        let three = c.page(&parse("limit=5&match[version]=all&next=p2").unwrap(), None);
        assert_eq!((three.records.len(), three.next), (1, None));
        let after = c.page(
            &parse("match[version]=all&added_after=1970-01-01T00:00:05.000001Z").unwrap(),
            None,
        );
        assert_eq!(
            after
                .records
                .iter()
                .map(|r| r.date_added)
                .collect::<Vec<_>>(),
            [5_000_002]
        );
        assert!(c.page(&parse("next=p99").unwrap(), None).records.is_empty());
    }
}
