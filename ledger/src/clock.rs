//! The wall clock as dyad stamps it on entries, checkpoints and cosignatures: whole
//! milliseconds since the Unix epoch (spec/dyad.md 3.1).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now; 0 for a clock set before 1970, and the
/// largest value for one beyond what 64 bits of milliseconds hold.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
