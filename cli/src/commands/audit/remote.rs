//! The audit of a log served over the C2SP tlog-tiles API: a node, or a static export
//! (`dyad export tiles`) behind any web server.

use dyad_verifier::audit::{AuditError, AuditTrust};

use super::attachments::check_at_url;
use super::stream::untrusted_genesis;
use super::{AuditFailure, AuditOutcome};
use crate::error::{CliError, Result};
use crate::output::progress;
use crate::running_node::check_url;

/// Audits the log served at `url` (a node's tiles API or a static export). The fetching
/// and strict tile parsing are `dyad_node::client`'s; every check is the
/// verifier's `Auditor`, the entries' signatures checked on the machine's cores. An unreachable server or a missing
/// checkpoint is unreadable input (exit 2); anything wrong in what it serves fails the
/// audit (exit 1). With `check_attachments`, every entry's attachments are then fetched
/// from `<url>/attachment/<hash>` and checked.
pub(super) fn audit_url(
    url: &str,
    reach: dyad_node::Reach,
    trust: AuditTrust,
    check_attachments: bool,
) -> Result<AuditOutcome> {
    use dyad_node::client::AuditUrlError;
    use dyad_node::ClientError;
    let url = check_url(url, "--url")?;
    let source = format!("log at {url}");
    let bar = progress(0, "auditing");
    let result = dyad_node::audit_url(&url, reach.clone(), trust.clone(), |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    let result = match result {
        Ok(report) => match check_hash_tiles(&url, reach.clone(), report.leaves, &report.root) {
            Ok(()) => Ok(report),
            Err(TileCheck::Client(
                ClientError::Http { .. } | ClientError::Runtime(_) | ClientError::BadUrl(_),
            )) => {
                return Err(CliError::usage_hint(
                    format!("{url}: the server stopped answering while the hash tiles were read"),
                    "run the audit again",
                ))
            }
            Err(TileCheck::Client(e)) => Err(AuditFailure::Source(format!("hash tiles: {e}"))),
            Err(TileCheck::Mismatch(e)) => Err(AuditFailure::Source(format!("{url}: {e}"))),
        },
        Err(AuditUrlError::Audit(AuditError::UntrustedGenesis)) => {
            // Say whom the served genesis names: fetch leaf 0 once more.
            let leaf0 = dyad_node::fetch_entries(&url, reach.clone(), 0, 1)
                .ok()
                .and_then(|mut entries| entries.next())
                .and_then(|entry| entry.ok());
            Err(match leaf0 {
                Some((_, leaf)) => untrusted_genesis(&leaf, &trust),
                None => AuditFailure::Log(AuditError::UntrustedGenesis),
            })
        }
        Err(AuditUrlError::Audit(e)) => Err(AuditFailure::Log(e)),
        Err(AuditUrlError::Client(e)) => match e {
            ClientError::BadUrl(_) | ClientError::Runtime(_) => return Err(e.into()),
            ClientError::Http { ref url, .. } | ClientError::Status { ref url, .. }
                if url.ends_with("/checkpoint") =>
            {
                return Err(e.into())
            }
            ClientError::Http { .. } => return Err(e.into()),
            other => Err(AuditFailure::Source(other.to_string())),
        },
    };
    // The attachments the audit found named (the entries are not fetched again).
    let attachments = |report: &dyad_verifier::audit::AuditReport| {
        let client = dyad_node::BlockingClient::with_reach(&url, reach.clone())
            .map_err(|e| AuditFailure::Source(e.to_string()))?;
        check_at_url(&client, &report.attachments)
    };
    Ok(AuditOutcome::then_attachments(
        source,
        result,
        check_attachments,
        attachments,
    ))
}

/// Why the hash tiles did not check out.
enum TileCheck {
    Client(dyad_node::ClientError),
    Mismatch(String),
}

impl From<dyad_node::ClientError> for TileCheck {
    fn from(e: dyad_node::ClientError) -> TileCheck {
        TileCheck::Client(e)
    }
}

/// Checks the hash tiles a tlog-tiles server publishes for the tree of `size` leaves,
/// which readers use for proofs but a whole-log audit does not need: the entries are read
/// again, bundle by bundle, and the verifier's `TileChecker` asks for each hash tile as
/// soon as what it must hold is known (level 0: the entries' leaf hashes; above: the roots
/// of the full tiles below); the entries' tree must give the audited `root`. Memory: one
/// bundle, and at most 256 hashes per tile level.
fn check_hash_tiles(
    url: &str,
    reach: dyad_node::Reach,
    size: u64,
    root: &dyad_verifier::Hash,
) -> std::result::Result<(), TileCheck> {
    use dyad_node::TileClient;
    use dyad_verifier::hash::leaf_hash;
    use dyad_verifier::tiles::TileChecker;
    let bad = |e: dyad_verifier::tiles::TileError| TileCheck::Mismatch(e.to_string());
    let rt = dyad_node::runtime::client()?;
    let bar = progress(size.div_ceil(256), "checking hash tiles");
    let result = rt.block_on(async {
        let client = TileClient::with_reach(url, reach)?;
        let mut checker = TileChecker::new();
        for n in 0..size.div_ceil(256) {
            let width = (size - n * 256).min(256) as u16;
            let entries = client.entry_bundle(n, width).await?;
            for entry in &entries {
                let mut due = checker.push_leaf(&leaf_hash(entry)).map_err(bad)?;
                while let Some(tile) = due {
                    let hashes = client.hash_tile(tile.level, tile.index, tile.width).await?;
                    due = checker.check(tile, &hashes).map_err(bad)?;
                }
            }
            bar.inc(1);
        }
        for tile in checker.partial_tiles() {
            let hashes = client.hash_tile(tile.level, tile.index, tile.width).await?;
            checker.check(tile, &hashes).map_err(bad)?;
        }
        if size > 0 && checker.root() != *root {
            return Err(TileCheck::Mismatch(
                "the entries read with the hash tiles do not give the audited root (the server changed them)".into(),
            ));
        }
        Ok(())
    });
    bar.finish_and_clear();
    result
}
