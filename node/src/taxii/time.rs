//! TAXII timestamps (spec/node.md 11.3): `date_added` is microseconds since the Unix epoch,
//! written `YYYY-MM-DDTHH:MM:SS.ffffffZ`; `added_after` is any RFC 3339 UTC timestamp STIX
//! accepts, read to the microsecond (finer digits are dropped, which keeps "strictly after"
//! exact for microsecond `date_added` values).

use dyad_ledger::stix::parse_timestamp;

/// Days from 1970-01-01 to the proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count from 1970-01-01 (the inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `micros` since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn format_micros(micros: u64) -> String {
    let seconds = micros / 1_000_000;
    let fraction = micros % 1_000_000;
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let of_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:06}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// An RFC 3339 UTC timestamp (STIX's form) as microseconds since the epoch; `None` if it is
/// not one, or is before 1970. A leap second counts as the next second's start.
pub fn parse_micros(text: &str) -> Option<u64> {
    parse_timestamp(text)?;
    let num = |r: core::ops::Range<usize>| text[r].parse::<u32>().ok();
    let days = days_from_civil(i64::from(num(0..4)?), num(5..7)?, num(8..10)?);
    let seconds = days * 86_400
        + i64::from(num(11..13)?) * 3600
        + i64::from(num(14..16)?) * 60
        + i64::from(num(17..19)?);
    let digits = text[19..text.len() - 1].trim_start_matches('.');
    let micros: u64 = digits
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(6)
        .fold(0, |n, d| n * 10 + u64::from(d - b'0'));
    u64::try_from(seconds)
        .ok()?
        .checked_mul(1_000_000)?
        .checked_add(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_back() {
        for micros in [0, 1, 999_999, 1_767_225_600_123_456, 951_782_400_000_000] {
            let text = format_micros(micros);
            assert_eq!(parse_micros(&text), Some(micros), "{text}");
        }
        assert_eq!(format_micros(0), "1970-01-01T00:00:00.000000Z");
        // 2000-02-29, a leap day of a century leap year.
        assert_eq!(
            format_micros(951_782_400_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
    }

    #[test]
    fn parses_stix_forms_and_refuses_others() {
        assert_eq!(parse_micros("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(parse_micros("1970-01-01T00:00:00.1234567Z"), Some(123_456));
        assert_eq!(parse_micros("1970-01-01T00:00:00+00:00"), None);
        assert_eq!(parse_micros("1969-12-31T23:59:59Z"), None);
        assert_eq!(parse_micros("2026-02-30T00:00:00Z"), None);
        assert_eq!(parse_micros(""), None);
    }
}
