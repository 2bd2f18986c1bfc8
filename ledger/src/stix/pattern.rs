//! STIX patterns (STIX 2.1 part 9): the grammar in `pattern.pest`, with the nesting
//! depth bounded before the parser runs and the timestamp literals' ranges checked after.

use pest::iterators::Pair;
use pest::Parser;
use pest_derive::Parser;

use super::ident::{check_timestamp, hash_value_ok};

/// The deepest nesting of `(` and `[` a pattern may have. The parser recurses once per
/// level (several frames each); real indicator patterns nest a handful of levels.
pub const MAX_PATTERN_DEPTH: usize = 32;

#[derive(Parser)]
#[grammar = "stix/pattern.pest"]
struct PatternGrammar;

/// Why a pattern does not parse: a message for the operator, with the position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatternRefusal {
    /// Brackets and parentheses nest deeper than [`MAX_PATTERN_DEPTH`].
    TooDeep,
    /// The text breaks the grammar.
    Syntax(String),
    /// A timestamp literal is not a valid UTC date and time.
    BadTimestamp(String),
    /// An observation carries two qualifiers of one kind.
    DuplicateQualifier(String),
    /// A known hash algorithm is compared with something not of its form.
    BadHash(String),
}

impl core::fmt::Display for PatternRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooDeep => write!(f, "nests deeper than {MAX_PATTERN_DEPTH} levels"),
            Self::Syntax(at) => write!(f, "not a STIX pattern: {at}"),
            Self::BadTimestamp(t) => write!(f, "timestamp literal {t} is not a valid UTC time"),
            Self::DuplicateQualifier(kind) => {
                write!(f, "an observation has more than one {kind} qualifier")
            }
            Self::BadHash(algorithm) => write!(
                f,
                "hashes.{algorithm} is compared with something other than a string of that hash's form"
            ),
        }
    }
}

/// Whether `pattern` is a STIX 2.1 pattern.
pub fn check_pattern(pattern: &str) -> Result<(), PatternRefusal> {
    if nesting_depth(pattern) > MAX_PATTERN_DEPTH {
        return Err(PatternRefusal::TooDeep);
    }
    // The first observation's bracket comes first (after parentheses and whitespace): the
    // grammar would allow a comment before it, stix2-patterns does not.
    let first = pattern.trim_start_matches(|c: char| c == '(' || c.is_whitespace());
    if !first.starts_with('[') {
        return Err(PatternRefusal::Syntax(
            "a pattern starts with an observation's [".into(),
        ));
    }
    let mut pairs = PatternGrammar::parse(Rule::pattern, pattern).map_err(|e| {
        let (line, col) = match e.line_col {
            pest::error::LineColLocation::Pos(p) | pest::error::LineColLocation::Span(p, _) => p,
        };
        PatternRefusal::Syntax(format!("unexpected input at line {line}, column {col}"))
    })?;
    match pairs.next() {
        Some(top) => check_tree(top),
        None => Err(PatternRefusal::Syntax("empty".into())),
    }
}

/// What the grammar alone does not check, walking the tree iteratively (it is as deep as
/// the pattern nests): timestamp literals name real UTC times, an observation carries
/// each kind of qualifier at most once, and a comparison of a known hash (`hashes.MD5`,
/// `hashes.'SHA-256'`, ...) is with a string of that hash's form, as stix2-patterns
/// checks.
fn check_tree(top: Pair<'_, Rule>) -> Result<(), PatternRefusal> {
    let mut stack = vec![top];
    while let Some(pair) = stack.pop() {
        match pair.as_rule() {
            Rule::timestamp_literal => {
                let literal = pair.as_str();
                let inner = literal
                    .strip_prefix("t'")
                    .and_then(|t| t.strip_suffix('\''))
                    .unwrap_or_default();
                if check_timestamp(inner).is_err() {
                    return Err(PatternRefusal::BadTimestamp(literal.to_owned()));
                }
                continue;
            }
            Rule::observation_qualified => check_qualifiers(&pair)?,
            Rule::property_test => check_hash_comparison(&pair)?,
            _ => {}
        }
        stack.extend(pair.into_inner());
    }
    Ok(())
}

/// At most one qualifier of each kind on an observation.
fn check_qualifiers(observation: &Pair<'_, Rule>) -> Result<(), PatternRefusal> {
    let mut seen: Vec<Rule> = Vec::new();
    for qualifier in observation
        .clone()
        .into_inner()
        .filter(|p| p.as_rule() == Rule::qualifier)
    {
        let kind = qualifier.into_inner().next().map(|k| k.as_rule());
        if let Some(kind) = kind {
            if seen.contains(&kind) {
                return Err(PatternRefusal::DuplicateQualifier(format!("{kind:?}")));
            }
            seen.push(kind);
        }
    }
    Ok(())
}

/// A comparison whose object path goes through `hashes` and ends in a known hash
/// algorithm compares it with a string literal of that algorithm's form.
fn check_hash_comparison(test: &Pair<'_, Rule>) -> Result<(), PatternRefusal> {
    let mut parts = test.clone().into_inner();
    let Some(path) = parts.next().filter(|p| p.as_rule() == Rule::object_path) else {
        return Ok(());
    };
    // Each component's name (quotes removed), or None for a list index.
    let components: Vec<Option<&str>> = path
        .into_inner()
        .skip(1)
        .map(|step| {
            step.into_inner()
                .next()
                .filter(|n| matches!(n.as_rule(), Rule::identifier | Rule::string_literal))
                .map(|n| n.as_str().trim_matches('\''))
        })
        .collect();
    let through_hashes = components.contains(&Some("hashes"));
    let Some(Some(algorithm)) = components.last().copied() else {
        return Ok(());
    };
    if !through_hashes || hash_value_ok(algorithm, "").is_none() {
        return Ok(());
    }
    let value = parts
        .filter(|p| !matches!(p.as_rule(), Rule::not | Rule::equality | Rule::ordering))
        .find_map(|p| match p.as_rule() {
            Rule::string_literal => Some(Some(p.as_str())),
            Rule::primitive_literal | Rule::orderable_literal => {
                let leaf = p.into_inner().flatten().last();
                Some(
                    leaf.filter(|l| l.as_rule() == Rule::string_literal)
                        .map(|l| l.as_str()),
                )
            }
            _ => None,
        })
        .flatten();
    let text = value.map(|v| v.trim_matches('\''));
    match text.and_then(|t| hash_value_ok(algorithm, t)) {
        Some(true) => Ok(()),
        _ => Err(PatternRefusal::BadHash(algorithm.to_owned())),
    }
}

/// The deepest nesting of `(` and `[` outside string literals and comments, tokenised as
/// the grammar does: a quote opens a literal that ends at the next unescaped quote.
fn nesting_depth(pattern: &str) -> usize {
    let bytes = pattern.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'\'' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'(' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_shaped_patterns_parse() {
        for p in [
            "[ipv4-addr:value = '192.0.2.10']",
            "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
            "[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] AND [file:name = 'x.exe']",
            "[email-message:from_ref.value MATCHES '.+\\\\@example\\\\.com$' AND email-message:body_multipart[*].body_raw_ref.name LIKE 'pdf%']",
            "([ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '203.0.113.33/32'] FOLLOWEDBY [domain-name:value = 'example.com']) WITHIN 600 SECONDS",
            "[network-traffic:dst_port IN (80, 443, 8080) AND network-traffic:protocols[0] = 'tcp'] REPEATS 5 TIMES",
            "[file:size > 1024 AND file:size <= 2.5] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00.123Z'",
            "[artifact:payload_bin = b'dGVzdA=='] OR [artifact:payload_bin = h'0a0b']",
            "[x-acme-widget:flag = true AND x-acme-widget:'quoted' != false]",
            "[user-account:account_type NOT = 'admin' AND EXISTS user-account:user_id]",
            "[windows-registry-key:values[12].name ISSUBSET '10.0.0.0/8' AND ipv4-addr:value ISSUPERSET '192.0.2.0/24']",
            "[domain-name:value = 'a' /* comment ( */] // trailing",
            " ( [a:b = 'c'])",
            "[a:LASTING = 'c' AND IN-x:b = 'c']",
            "[x_custom_type:detected = t'2018-03-22T12:11:14.1Z']",
            "[file:hashes.MD5 = 'CEAD3F77F6CDA6EC00F57D76C9A6879F' AND file:hashes.'x-custom' = 'ab']",
            "[file:hashes[*] = 'ab' AND file:hashes.SSDEEP = 'ab:cd']",
            "([a:b = 'c'] WITHIN 5 SECONDS) WITHIN 6 SECONDS",
            "[file : extensions . 'windows-pebinary-ext'.sections[ * ].entropy > 7.0]",
        ] {
            assert_eq!(check_pattern(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn broken_patterns_are_refused() {
        for p in [
            "",
            "this is not a pattern",
            "ipv4-addr:value = '192.0.2.10'",
            "[ipv4-addr:value = '192.0.2.10'",
            "[ipv4-addr:value = 192.0.2.10]",
            "[ipv4-addr:value and '1']",
            "[ipv4-addr:value = '1'] and [ipv4-addr:value = '2']",
            "[ipv4-addr = '1']",
            "[file:size > true]",
            "[file:name LIKE 5]",
            "[file:x = '1'] WITHIN -5 SECONDS",
            "[file:x = '1'] REPEATS 1.5 TIMES",
            "[file:x = '1'] START '2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
            "[file:x = t'2016-13-01T00:00:00Z']",
            "[file:x = t'2016-06-01T00:00:00+01:00']",
            "[artifact:payload_bin = b'dGVzdA=']",
            "[artifact:payload_bin = h'abc']",
            "[file:x = 'unterminated]",
            "[file:hashes.'SHA-256' = 'f00']",
            "[file:hashes.sha256 != 'ab']",
            "[file:x.hashes.MD5 LIKE 'cead%']",
            "[file:hashes.MD5 = 5]",
            "[file:hashes.MD5 IN ('cead3f77f6cda6ec00f57d76c9a6879f')]",
            "[a:b = 'c'] WITHIN 5 SECONDS WITHIN 6 SECONDS",
            "[a:b[-0] = 'c']",
            "[a:b[-1] = 'c']",
            "/* leading comment */ [a:b = 'c']",
            "[a:LAST = 'c']",
            "[IN:b = 'c']",
            "[a:b = b'']",
            "[a:b[+1] = 'c']",
            "[a:b = 'c'] REPEATS 2 TIMES WITHIN 5 SECONDS REPEATS 3 TIMES",
        ] {
            assert!(check_pattern(p).is_err(), "{p}");
        }
    }

    #[test]
    fn nesting_is_bounded_before_parsing() {
        let ok = format!(
            "{}[a:b = '(']{}",
            "(".repeat(MAX_PATTERN_DEPTH - 1),
            ")".repeat(MAX_PATTERN_DEPTH - 1)
        );
        assert_eq!(check_pattern(&ok), Ok(()));
        let deep = format!("{}[a:b = '1']{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(check_pattern(&deep), Err(PatternRefusal::TooDeep));
        // Brackets inside a string literal or a comment do not count.
        let quoted = format!("[a:b = '{}']", "(".repeat(1000));
        assert_eq!(check_pattern(&quoted), Ok(()));
    }
}
