//! The node's TAXII 2.1 request parsing (spec/node.md 11.4) on any bytes: the query parser
//! (`dyad_node::taxii::query::parse`) on the text before the first newline, the `Accept`
//! check on the text after it. Neither panics; an accepted query's page size is 1 to
//! `MAX_LIMIT`, its lists hold at most `MAX_VALUES` values, its cursor reads back as
//! written, and its `added_after` formats and parses back to the same microsecond.
#![no_main]

use dyad_node::taxii::media::accepts_taxii;
use dyad_node::taxii::query::{format_cursor, parse, MAX_LIMIT, MAX_VALUES};
use dyad_node::taxii::time::{format_micros, parse_micros};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (query, accept) = text.split_once('\n').unwrap_or((text, ""));
    let _ = accepts_taxii(Some(accept));
    let Ok(q) = parse(query) else {
        return;
    };
    assert!((1..=MAX_LIMIT).contains(&q.limit), "limit {}", q.limit);
    for list in [&q.ids, &q.types, &q.spec_versions, &q.versions.at] {
        assert!(list.len() <= MAX_VALUES);
    }
    if let Some(next) = q.next {
        let again = parse(&format!("next={}", format_cursor(next))).expect("own cursor");
        assert_eq!(again.next, Some(next));
    }
    if let Some(t) = q.added_after {
        assert_eq!(parse_micros(&format_micros(t)), Some(t), "added_after {t}");
    }
});
