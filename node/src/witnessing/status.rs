//! What the sequencer's node knows of each witness, as `/admin/status` and `dyad status`
//! show it.

use serde::Serialize;

/// One witness of the next checkpoint (the genesis's or the last witness change's), as the
/// node last saw it.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct WitnessStatus {
    /// The witness's key name.
    pub name: String,
    /// Its add-checkpoint base URL (node configuration), if any: without one it is never
    /// asked.
    pub url: Option<String>,
    /// The size the witness last said it holds (200 or 409).
    pub size: Option<u64>,
    /// The largest checkpoint it co-signed for this node.
    pub cosigned_size: Option<u64>,
    /// Entries co-signed by both parties that this witness has not co-signed yet.
    pub lag: u64,
    /// Why the last request failed, until one succeeds.
    pub last_error: Option<String>,
    /// Consecutive failed requests.
    pub failures: u64,
}

/// The witnesses' status and whether the channel's witness quorum is met.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WitnessesStatus {
    /// How many witnesses must co-sign the next checkpoint for it to be committed.
    pub threshold: usize,
    /// Each witness of the next checkpoint, in the order its record lists them.
    pub witnesses: Vec<WitnessStatus>,
}
