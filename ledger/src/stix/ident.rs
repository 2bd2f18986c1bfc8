//! STIX 2.1 identifiers (part 2.9) and timestamps (part 2.15): the forms the spec's MUSTs
//! fix, checked without a date or UUID library.

use std::cmp::Ordering;

/// Whether `name` is a STIX type name (part 3.1): 3 to 250 characters of lower-case
/// ASCII letters, digits and hyphens, starting with a letter, not ending in a hyphen and
/// without two hyphens in a row.
pub fn is_type_name(name: &str) -> bool {
    (3..=250).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Whether `uuid` is an RFC 4122 UUID in its text form: 8-4-4-4-12 hex digits, a
/// version from 1 to 5 and the RFC 4122 variant (`8`, `9`, `a` or `b`). STIX 2.1 says
/// SDOs and SROs SHOULD use version 4 and SCOs version 5: a SHOULD, so either is taken.
pub fn is_rfc4122_uuid(uuid: &str) -> bool {
    let b = uuid.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
        && (b'1'..=b'5').contains(&b[14])
        && matches!(b[19], b'8' | b'9' | b'a' | b'b' | b'A' | b'B')
}

/// Whether `id` is an identifier `<type>--<UUID>`; with `of_type`, of that type.
pub fn is_identifier(id: &str, of_type: Option<&str>) -> bool {
    let Some((ty, uuid)) = id.split_once("--") else {
        return false;
    };
    is_type_name(ty) && of_type.is_none_or(|t| t == ty) && is_rfc4122_uuid(uuid)
}

/// Whether `value` has the form of a hash by `algorithm` (STIX 2.1 2.7: the hash-algorithm
/// vocabulary, matched as stix2-patterns does, upper case without hyphens); None for an
/// algorithm not known here (a custom one), whose values are not checked.
pub fn hash_value_ok(algorithm: &str, value: &str) -> Option<bool> {
    let hex = |lengths: &[usize]| {
        lengths.contains(&value.len()) && value.bytes().all(|b| b.is_ascii_hexdigit())
    };
    let name: String = algorithm
        .chars()
        .filter(|&c| c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    Some(match name.as_str() {
        "MD5" => hex(&[32]),
        "MD6" => hex(&[32, 40, 56, 64, 96, 128]),
        "RIPEMD160" | "SHA1" => hex(&[40]),
        "SHA224" | "SHA3224" => hex(&[56]),
        "SHA256" | "SHA3256" => hex(&[64]),
        "SHA384" | "SHA3384" => hex(&[96]),
        "SHA512" | "SHA3512" | "WHIRLPOOL" => hex(&[128]),
        "SSDEEP" => {
            (1..=128).contains(&value.len())
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/+:.".contains(&b))
        }
        _ => return None,
    })
}

/// An RFC 3339 timestamp in UTC as STIX writes it: `YYYY-MM-DDTHH:MM:SS[.s+]Z`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timestamp<'a> {
    /// Year, month, day, hour, minute, second: compared in this order.
    fields: [u32; 6],
    /// The fraction's digits without trailing zeros: compared as text, which orders
    /// fractions by value.
    fraction: &'a str,
}

impl PartialOrd for Timestamp<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.fields
            .cmp(&other.fields)
            .then_with(|| self.fraction.cmp(other.fraction))
    }
}

/// Parses a STIX timestamp: the date exists (leap years counted), the time is in range
/// (second 60 is a leap second), and the zone is `Z`.
pub fn check_timestamp(text: &str) -> Result<Timestamp<'_>, ()> {
    let b = text.as_bytes();
    if b.len() < 20 || b.last() != Some(&b'Z') {
        return Err(());
    }
    let shape = b"dddd-dd-ddTdd:dd:dd";
    let shaped = shape.iter().zip(b).all(|(&s, &c)| match s {
        b'd' => c.is_ascii_digit(),
        _ => c == s,
    });
    if !shaped {
        return Err(());
    }
    let fraction = match &text[19..text.len() - 1] {
        "" => "",
        f => {
            let digits = f.strip_prefix('.').ok_or(())?;
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return Err(());
            }
            digits.trim_end_matches('0')
        }
    };
    let num = |r: core::ops::Range<usize>| text[r].parse::<u32>().map_err(drop);
    let fields = [
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    ];
    let [year, month, day, hour, minute, second] = fields;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(()),
    };
    if day == 0 || day > days || hour > 23 || minute > 59 || second > 60 {
        return Err(());
    }
    Ok(Timestamp { fields, fraction })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(is_identifier(
            "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            Some("indicator")
        ));
        assert!(is_identifier(
            "x-acme-thing--8e2e2d2b-17d4-5cbf-a38f-98ee46b3cd3f",
            None
        ));
        assert!(!is_identifier(
            "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            Some("malware")
        ));
        // Version 0 and 6, the NCS variant, a missing dash, a wrong type name.
        for bad in [
            "indicator--8e2e2d2b-17d4-0cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-6cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-4cbf-738f-98ee46b3cd3f",
            "indicator--8e2e2d2b17d4-4cbf-938f-98ee46b3cd3f0",
            "Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "ab--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        ] {
            assert!(!is_identifier(bad, None), "{bad}");
        }
    }

    #[test]
    fn timestamps() {
        for ok in [
            "2016-02-29T23:59:60Z",
            "2026-01-01T00:00:00.000Z",
            "1999-12-31T00:00:00.5Z",
        ] {
            assert!(check_timestamp(ok).is_ok(), "{ok}");
        }
        for bad in [
            "2015-02-29T00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00+00:00",
            "2026-01-01 00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00.Z",
            "2026-04-31T00:00:00Z",
            "2026-01-01T00:00:00z",
        ] {
            assert!(check_timestamp(bad).is_err(), "{bad}");
        }
        let t = |s| check_timestamp(s).unwrap();
        assert!(t("2026-01-01T00:00:00.5Z") > t("2026-01-01T00:00:00.45Z"));
        assert_eq!(t("2026-01-01T00:00:00.50Z"), t("2026-01-01T00:00:00.5Z"));
        assert!(t("2026-01-01T00:00:01Z") > t("2026-01-01T00:00:00.999Z"));
        assert!(t("2025-12-31T23:59:59Z") < t("2026-01-01T00:00:00Z"));
    }
}
