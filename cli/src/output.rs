//! Output helpers: standard output that survives a closed pipe, JSON, base64, times,
//! reading inputs, and progress bars that appear only on a terminal.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use dyad_ledger::durable::{self, WriteOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{CliError, Result};

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn unb64(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text).ok()
}

/// A key ID (the 4 bytes that name a key in signatures) as the CLI prints it everywhere:
/// 8 lower-case hex digits.
pub fn key_id_hex(key_id: u32) -> String {
    format!("{key_id:08x}")
}

/// A 32-byte hash from standard base64, for the proof JSON files.
pub fn hash_from_b64(text: &str) -> Option<[u8; 32]> {
    unb64(text).and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
}

/// Writes to standard output. A reader that went away (`dyad log | head`) is not an
/// error worth a message: main exits quietly on `BrokenPipe`.
pub fn out(text: &str) -> Result<()> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(CliError::Output)
}

pub fn outln(text: &str) -> Result<()> {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    out(&line)
}

pub fn out_bytes(bytes: &[u8]) -> Result<()> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(CliError::Output)
}

/// Prints one JSON value on one line.
pub fn json(value: &serde_json::Value) -> Result<()> {
    outln(&value.to_string())
}

/// Reads a whole input file, `-` meaning standard input, of at most
/// [`crate::bounded::MAX_EVIDENCE`] bytes; callers that know their kind of input use
/// [`crate::bounded::read_bounded`] with its own limit.
#[allow(dead_code)] // kept for callers without a kind-specific limit
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    crate::bounded::read_bounded(path, crate::bounded::MAX_EVIDENCE)
}

/// Writes a file atomically and durably (mode 0644 less the umask); refuses to replace an
/// existing one unless `overwrite`.
pub fn write_file(path: &Path, bytes: &[u8], overwrite: bool) -> Result<()> {
    let options = if overwrite {
        WriteOptions::SHARED
    } else {
        WriteOptions::SHARED.keep_existing()
    };
    write_with(path, bytes, options)
}

/// Writes a file atomically and durably with `options`; a file `options` keeps is an
/// [`CliError::Exists`].
pub fn write_with(path: &Path, bytes: &[u8], options: WriteOptions) -> Result<()> {
    match durable::write(path, bytes, options) {
        Ok(true) => Ok(()),
        Ok(false) => Err(CliError::Exists {
            path: path.to_owned(),
        }),
        Err(source) => Err(CliError::Write {
            path: path.to_owned(),
            source,
        }),
    }
}

pub fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(CliError::read(path))
}

/// A progress bar on standard error, drawn only when standard error is a terminal, so
/// scripts and logs never see escape codes.
pub fn progress(len: u64, message: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(message.to_owned());
    bar
}

pub use dyad_ledger::clock::now_ms;

/// RFC 3339 UTC time with milliseconds, e.g. `2026-01-01T12:00:00.000Z`.
pub fn format_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days(secs / 86400);
    let rem = secs % 86400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ms % 1000
    )
}

/// RFC 3339 UTC time for POSIX seconds.
pub fn format_s(secs: u64) -> String {
    let (y, m, d) = civil_from_days(secs / 86400);
    let rem = secs % 86400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day): H. Hinnant's
/// `civil_from_days`, for non-negative day counts.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Text safe to print on one terminal line: control characters are shown escaped, so
/// a peer's subject cannot move the cursor or fake other lines.
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_as_rfc3339() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ms(1_767_225_600_123), "2026-01-01T00:00:00.123Z");
        assert_eq!(format_s(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn printable_escapes_control_characters() {
        assert_eq!(printable("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\n");
    }
}
