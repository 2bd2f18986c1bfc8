//! A streaming audit of a whole log over its tiles API: every entry into an
//! [`Auditor`] (flat memory), then the checkpoint checked against the recomputed root.

use dyad_verifier::audit::{AuditError, AuditReport, AuditTrust, Auditor};

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
/// checkpoint: streams every entry into an [`Auditor`] (flat memory) and checks the
/// checkpoint (committed under `trust`, root recomputed), reaching it as `reach` says.
/// `progress(done, total)` is
/// called every 256 entries and at the end. Blocking.
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
    let entries = client.entries(0, size);
    audit_entries(&mut auditor, &note, size, entries, progress)?;
    Ok(auditor.finish()?)
}

/// [`audit_url`] for async callers.
pub async fn audit(
    client: &TileClient,
    trust: AuditTrust,
    mut progress: impl FnMut(u64, u64),
) -> Result<AuditReport, AuditUrlError> {
    let note = client.checkpoint().await?;
    let size = claimed_size(client.base_url(), &note)?;
    let mut auditor = Auditor::new(trust)?;
    let mut stream = client.entries(0, size);
    let mut given = false;
    progress(0, size);
    while let Some(entry) = stream.next().await {
        let (index, bytes) = entry?;
        feed(
            &mut auditor,
            &note,
            &mut given,
            index,
            &bytes,
            size,
            &mut progress,
        )?;
    }
    if !given {
        auditor.check_checkpoint(&note)?;
    }
    progress(size, size);
    Ok(auditor.finish()?)
}

fn audit_entries(
    auditor: &mut Auditor,
    note: &[u8],
    size: u64,
    entries: impl Iterator<Item = Result<(u64, Vec<u8>), ClientError>>,
    mut progress: impl FnMut(u64, u64),
) -> Result<(), AuditUrlError> {
    let mut given = false;
    progress(0, size);
    for entry in entries {
        let (index, bytes) = entry?;
        feed(
            auditor,
            note,
            &mut given,
            index,
            &bytes,
            size,
            &mut progress,
        )?;
    }
    if !given {
        auditor.check_checkpoint(note)?;
    }
    progress(size, size);
    Ok(())
}

/// Leaf 0 first (it defines the channel), then the checkpoint, then the other leaves.
fn feed(
    auditor: &mut Auditor,
    note: &[u8],
    given: &mut bool,
    index: u64,
    bytes: &[u8],
    size: u64,
    progress: &mut impl FnMut(u64, u64),
) -> Result<(), AuditUrlError> {
    auditor.push_leaf(bytes)?;
    if index == 0 {
        auditor.check_checkpoint(note)?;
        *given = true;
    }
    if (index + 1) % 256 == 0 {
        progress(index + 1, size);
    }
    Ok(())
}
