//! The order in which `POST /submit-batch` requests hand their entries to the group commit
//! (spec/node.md 4.3). The co-signer keeps two batches in flight, so that the next one is
//! at the sequencer while the one before it is written; the two can reach the handlers in
//! either order. A request whose first entry comes after the entries handed over so far
//! waits (at most [`TURN_WAIT`]) until they reach it: handed over first, it would only meet
//! a sequence gap (409) and a retry.

use std::time::Duration;

use tokio::sync::watch;

/// How long a request waits for the one before it. Past that it goes ahead: the batcher
/// still judges every entry in order, so a wrong guess costs a refusal, never a wrong entry.
pub(crate) const TURN_WAIT: Duration = Duration::from_secs(1);

/// One past the highest sequence number a submit-batch request has handed over; 0 until
/// one has (then nobody waits: the first request after a start cannot know its turn).
pub(crate) struct SubmitOrder {
    next: watch::Sender<u64>,
}

impl Default for SubmitOrder {
    fn default() -> Self {
        SubmitOrder {
            next: watch::Sender::new(0),
        }
    }
}

impl SubmitOrder {
    /// Waits until the entries before `first` have been handed over, at most
    /// [`TURN_WAIT`]; at once for an entry at or before the next expected one (a
    /// resubmission after a restart) or before any request has handed anything over.
    pub(crate) async fn wait_for_turn(&self, first: u64) {
        let mut next = self.next.subscribe();
        let turn = next.wait_for(|&n| n == 0 || first <= n);
        let _ = tokio::time::timeout(TURN_WAIT, turn).await;
    }

    /// Records that a request handed over entries up to sequence number `last`.
    pub(crate) fn handed_over(&self, last: u64) {
        self.next.send_if_modified(|n| {
            let moved = last.saturating_add(1) > *n;
            if moved {
                *n = last.saturating_add(1);
            }
            moved
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The second batch waits for the first, not for the whole `TURN_WAIT`; an early or
    /// repeated batch does not wait at all.
    #[tokio::test(start_paused = true)]
    async fn a_batch_waits_for_the_one_before_it() {
        let order = std::sync::Arc::new(SubmitOrder::default());
        let start = tokio::time::Instant::now();
        order.wait_for_turn(1025).await;
        assert_eq!(start.elapsed(), Duration::ZERO, "nothing handed over yet");
        order.handed_over(1024);
        order.wait_for_turn(1).await;
        order.wait_for_turn(1025).await;
        assert_eq!(start.elapsed(), Duration::ZERO, "its turn has come");
        let second = tokio::spawn({
            let order = order.clone();
            async move {
                order.wait_for_turn(2049).await;
                tokio::time::Instant::now()
            }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        order.handed_over(2048);
        let went = second.await.unwrap();
        assert_eq!(went - start, Duration::from_millis(30));
        order.wait_for_turn(9000).await;
        assert_eq!(start.elapsed(), Duration::from_millis(30) + TURN_WAIT);
    }
}
