//! A streaming audit of a whole log over its tiles API: every entry into an
//! [`Auditor`], checked on the machine's cores (bounded memory), then the checkpoint
//! checked against the recomputed root.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dyad_verifier::audit::{AuditError, AuditReport, AuditTrust, Auditor};
use dyad_verifier::parallel_audit::{cores, push_leaves, PushError};

use super::http::{ClientError, Reach};
use super::tiles::{BlockingClient, TileClient};

/// Why an audit over the tiles API failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditUrlError {
    /// The log could not be fetched.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The log was fetched and does not verify.
    #[error("the log does not verify: {0}")]
    Audit(#[from] AuditError),
}

/// The size a checkpoint note claims (unverified: the auditor checks it).
pub(crate) fn claimed_size(url: &str, note_bytes: &[u8]) -> Result<u64, ClientError> {
    let bad = |reason: String| ClientError::BadCheckpoint {
        url: url.to_owned(),
        reason,
    };
    let checkpoint =
        dyad_verifier::checkpoint::parse_note(note_bytes).map_err(|e| bad(e.to_string()))?;
    Ok(checkpoint.size)
}

/// Audits the whole log served at `url` (a node or a static tile export) up to its
/// checkpoint: streams every entry into an [`Auditor`], checking their signatures on the
/// machine's cores ([`push_leaves`]; the verdict and first error are a sequential
/// audit's), in bounded memory, and checks the checkpoint (committed under `trust`, root
/// recomputed), reaching the server as `reach` says. `progress(done, total)` is called
/// every 256 entries audited and at the end. Blocking.
pub fn audit_url(
    url: &str,
    reach: Reach,
    trust: AuditTrust,
    progress: impl FnMut(u64, u64),
) -> Result<AuditReport, AuditUrlError> {
    let client = BlockingClient::with_reach(url, reach)?;
    let note = client.checkpoint()?;
    let size = claimed_size(url, &note)?;
    let mut auditor = Auditor::new(trust)?;
    let entries = client.entries(0, size).map(|e| e.map(|(_, bytes)| bytes));
    audit_entries(&mut auditor, &note, size, entries, progress)?;
    Ok(auditor.finish()?)
}

/// Entries handed from the fetching task to the audit's thread at most, in [`audit`].
const HANDOFF: usize = 256;

/// [`audit_url`] for async callers: the audit runs on a blocking thread (and its checking
/// threads) while this task fetches the entries and hands them over, a bounded number at
/// a time. `progress(done, total)` is called as entries are handed over, with the number
/// audited so far, and at the end.
pub async fn audit(
    client: &TileClient,
    trust: AuditTrust,
    mut progress: impl FnMut(u64, u64),
) -> Result<AuditReport, AuditUrlError> {
    let note = client.checkpoint().await?;
    let size = claimed_size(client.base_url(), &note)?;
    let mut auditor = Auditor::new(trust)?;
    progress(0, size);
    let (tx, mut rx) = tokio::sync::mpsc::channel(HANDOFF);
    let audited = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&audited);
    let job = tokio::task::spawn_blocking(move || {
        let leaves = std::iter::from_fn(move || rx.blocking_recv());
        let count = |done, _| counter.store(done, Ordering::Relaxed);
        audit_entries(&mut auditor, &note, size, leaves, count)?;
        Ok::<_, AuditUrlError>(auditor.finish()?)
    });
    let mut stream = client.entries(0, size);
    let mut shown = 0;
    while let Some(entry) = stream.next().await {
        let failed = entry.is_err();
        // A closed channel means the audit stopped: its error is the job's.
        if tx.send(entry.map(|(_, bytes)| bytes)).await.is_err() || failed {
            break;
        }
        let done = audited.load(Ordering::Relaxed);
        if done >= shown + 256 {
            shown = done;
            progress(done, size);
        }
    }
    drop((tx, stream));
    let report = job.await.map_err(|e| ClientError::Task(e.to_string()))??;
    progress(size, size);
    Ok(report)
}

/// Leaf 0 first (it defines the channel), then the checkpoint, then the other leaves,
/// checked on the machine's cores.
fn audit_entries(
    auditor: &mut Auditor,
    note: &[u8],
    size: u64,
    entries: impl Iterator<Item = Result<Vec<u8>, ClientError>> + Send,
    mut progress: impl FnMut(u64, u64),
) -> Result<(), AuditUrlError> {
    let mut given = false;
    progress(0, size);
    push_leaves(auditor, entries, cores(), |auditor| {
        let done = auditor.leaves();
        if done == 1 {
            auditor.check_checkpoint(note)?;
            given = true;
        }
        if done % 256 == 0 {
            progress(done, size);
        }
        Ok(())
    })
    .map_err(|e| match e {
        PushError::Audit(e) => AuditUrlError::Audit(e),
        PushError::Source(e) => AuditUrlError::Client(e),
    })?;
    if !given {
        auditor.check_checkpoint(note)?;
    }
    progress(size, size);
    Ok(())
}
