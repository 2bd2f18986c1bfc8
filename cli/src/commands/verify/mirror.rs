//! `dyad verify receipt --mirror URL`: the receipt checked against a published copy of its
//! log, which may be a hash-only mirror (`dyad export tiles --hash-only`): the copy's
//! checkpoint must be committed under the same trust and be of the same origin, the
//! receipt's checkpoint must be consistent with it, and the receipt's entry included in it
//! (spec/node.md, "Publishing to object storage"). Both proofs are built from the copy's
//! hash tiles alone (`dyad_node::client::TileNodes`) and verified against the two co-signed
//! roots, so a copy that serves a stale checkpoint or an altered tile fails.

use dyad_ledger::tree::{consistency_proof, inclusion_proof, Hash};
use dyad_node::client::{BlockingClient, ClientError, TileNodes, TileNodesError};
use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::proof::{verify_consistency, verify_inclusion};
use dyad_verifier::receipt::ReceiptTrust;

use super::failed;
use crate::error::{CliError, Result};
use crate::running_node::check_url;

/// What the copy at `url` holds, checked: its co-signed checkpoint.
pub(super) struct Mirrored {
    pub url: String,
    pub checkpoint: Checkpoint,
}

/// Checks the receipt's checkpoint `held` and its entry (`index`, `leaf`) against the
/// copy published at `url`. An unreachable copy is unreadable input (exit 2); a copy that
/// does not bear the receipt out fails the check (exit 1), saying why.
pub(super) fn check(
    url: &str,
    trust: &ReceiptTrust,
    held: &Checkpoint,
    index: u64,
    leaf: &Hash,
) -> Result<Mirrored> {
    let url = check_url(url, "--mirror")?;
    let client = BlockingClient::new(&url).map_err(|e| unreachable(&url, e))?;
    let note = client.checkpoint().map_err(|e| unreachable(&url, e))?;
    let committed = trust.verify_checkpoint(&note).map_err(|e| {
        failed(format!(
            "{url}: its checkpoint is not committed by the two parties: {e}"
        ))
    })?;
    let cp = committed.checkpoint;
    if cp.origin != held.origin {
        return Err(failed(format!(
            "{url}: its checkpoint is of {:?}, the receipt's of {:?}",
            cp.origin, held.origin
        )));
    }
    if cp.size < held.size {
        return Err(failed(format!(
            "{url}: the copy is stale: its checkpoint has {} entries, the receipt's {}",
            cp.size, held.size
        )));
    }
    let nodes = TileNodes::new(&client, cp.size);
    let tiles = |e: TileNodesError| match e {
        TileNodesError::Client(e) if reaches_nothing(&e) => unreachable(&url, e),
        e => failed(format!("{url}: its hash tiles: {e}")),
    };
    let proof = consistency_proof(held.size, cp.size, &nodes).map_err(tiles)?;
    verify_consistency(held.size, cp.size, &held.root, &cp.root, &proof).map_err(|e| {
        failed(format!(
            "{url}: its checkpoint of size {} is not consistent with the receipt's of size {} \
             by its hash tiles ({e}): a tile it serves is wrong, or the two checkpoints are \
             of different trees (if so, keep both notes: both parties signed each)",
            cp.size, held.size
        ))
    })?;
    let proof = inclusion_proof(index, cp.size, &nodes).map_err(tiles)?;
    verify_inclusion(leaf, index, cp.size, &proof, &cp.root).map_err(|e| {
        failed(format!(
            "{url}: entry {index} is not included in its checkpoint of size {} by its hash \
             tiles: {e}",
            cp.size
        ))
    })?;
    Ok(Mirrored {
        url,
        checkpoint: cp,
    })
}

/// Nothing answered, or not over HTTP: the input could not be read (exit 2).
fn reaches_nothing(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Http { .. } | ClientError::BadUrl(_) | ClientError::Runtime(_)
    )
}

fn unreachable(url: &str, e: ClientError) -> CliError {
    if reaches_nothing(&e) {
        CliError::usage_hint(
            format!("--mirror {url}: cannot be read: {e}"),
            "check the URL: it is the base of a published copy (its checkpoint and tile/ below it)",
        )
    } else {
        failed(format!("{url}: {e}"))
    }
}
