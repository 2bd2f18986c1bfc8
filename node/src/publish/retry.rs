//! Retries of object store requests with exponential backoff: a bucket that is briefly
//! unreachable or throttling (HTTP 503) must not fail a publish that would succeed a
//! moment later.

use std::future::Future;
use std::time::Duration;

/// How often and how long to retry.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait after the first failure; doubled after each next one.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            attempts: 6,
            first: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// The wait after failed attempt `n` (0-based).
    pub fn delay(&self, n: u32) -> Duration {
        self.first
            .saturating_mul(1u32.checked_shl(n).unwrap_or(u32::MAX))
            .min(self.max)
    }
}

/// Runs `op` until it succeeds or `backoff.attempts` failed; a "not found" or a
/// precondition failure is an answer, not a fault, and is returned at once.
pub async fn with_retry<T, F, Fut>(
    backoff: Backoff,
    what: &str,
    mut op: F,
) -> Result<T, object_store::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, object_store::Error>>,
{
    let mut n = 0;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if is_answer(&e) || n + 1 >= backoff.attempts => return Err(e),
            Err(e) => {
                let wait = backoff.delay(n);
                tracing::warn!(object = what, error = %e, ?wait, "object store request failed; retrying");
                tokio::time::sleep(wait).await;
                n += 1;
            }
        }
    }
}

fn is_answer(e: &object_store::Error) -> bool {
    matches!(
        e,
        object_store::Error::NotFound { .. }
            | object_store::Error::Precondition { .. }
            | object_store::Error::NotImplemented { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn the_wait_doubles_up_to_the_maximum() {
        let b = Backoff::default();
        assert_eq!(b.delay(0), Duration::from_millis(100));
        assert_eq!(b.delay(3), Duration::from_millis(800));
        assert_eq!(b.delay(10), Duration::from_secs(5));
        assert_eq!(b.delay(40), Duration::from_secs(5));
    }

    #[test]
    fn failures_are_retried_and_not_found_is_not() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let fast = Backoff {
            attempts: 3,
            first: Duration::from_millis(1),
            max: Duration::from_millis(1),
        };
        let calls = Cell::new(0);
        let generic = || object_store::Error::Generic {
            store: "test",
            source: "down".into(),
        };
        let r = rt.block_on(with_retry(fast, "x", || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(generic())
                } else {
                    Ok(n)
                }
            }
        }));
        assert_eq!(r.unwrap(), 3);
        calls.set(0);
        let r: Result<(), _> = rt.block_on(with_retry(fast, "x", || {
            calls.set(calls.get() + 1);
            async { Err(generic()) }
        }));
        assert!(r.is_err());
        assert_eq!(calls.get(), 3);
        calls.set(0);
        let r: Result<(), _> = rt.block_on(with_retry(fast, "x", || {
            calls.set(calls.get() + 1);
            async {
                Err(object_store::Error::NotFound {
                    path: "p".into(),
                    source: "no".into(),
                })
            }
        }));
        assert!(r.is_err());
        assert_eq!(calls.get(), 1);
    }
}
