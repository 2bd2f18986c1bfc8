//! When to ask a witness again: bounded exponential backoff after a failure, and no new
//! request for a checkpoint the witness refused as unverifiable (422) until a newer one.

use std::time::{Duration, Instant};

/// The retry state of one witness.
#[derive(Clone, Debug)]
pub(crate) struct Retry {
    initial: Duration,
    max: Duration,
    backoff: Duration,
    next_try: Option<Instant>,
    /// The checkpoint size the witness answered 422 to.
    refused_size: Option<u64>,
}

impl Retry {
    pub(crate) fn new(initial: Duration, max: Duration) -> Retry {
        Retry {
            initial,
            max,
            backoff: initial,
            next_try: None,
            refused_size: None,
        }
    }

    /// Whether to send the checkpoint of `size` now.
    pub(crate) fn due(&self, size: u64, now: Instant) -> bool {
        self.refused_size.is_none_or(|r| size > r) && self.next_try.is_none_or(|t| now >= t)
    }

    /// When the next request may go, if one waits.
    pub(crate) fn next_try(&self) -> Option<Instant> {
        self.next_try
    }

    pub(crate) fn succeeded(&mut self) {
        self.backoff = self.initial;
        self.next_try = None;
        self.refused_size = None;
    }

    /// A failure worth retrying: wait, twice as long as last time (bounded).
    pub(crate) fn failed(&mut self, now: Instant) {
        self.next_try = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(self.max);
    }

    /// The witness refused the checkpoint of `size` as unverifiable: asking again with
    /// the same checkpoint cannot help.
    pub(crate) fn refused(&mut self, size: u64) {
        self.refused_size = Some(size);
        self.next_try = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_bound_and_resets_on_success() {
        let now = Instant::now();
        let mut r = Retry::new(Duration::from_millis(100), Duration::from_millis(300));
        assert!(r.due(5, now));
        r.failed(now);
        assert!(!r.due(5, now));
        assert!(r.due(5, now + Duration::from_millis(100)));
        r.failed(now);
        assert_eq!(r.next_try(), Some(now + Duration::from_millis(200)));
        r.failed(now);
        assert_eq!(r.next_try(), Some(now + Duration::from_millis(300)));
        r.succeeded();
        assert!(r.due(5, now));
    }

    #[test]
    fn a_refused_checkpoint_is_not_sent_again_but_a_newer_one_is() {
        let now = Instant::now();
        let mut r = Retry::new(Duration::from_millis(100), Duration::from_secs(1));
        r.refused(7);
        assert!(!r.due(7, now + Duration::from_secs(60)));
        assert!(r.due(8, now));
    }
}
