//! The check of a checkpoint note against the tree (spec/store.md, the `c` record): its
//! body must name the size it is stored under and the tree's root at that size. Commit
//! checks every note it stores, open the newest one, `verify_all` every one.

use super::nodes::SizedNodes;
use super::{CheckpointProblem, Damage, Store, StoreError};
use crate::tree::{self, Hash, NodeReader};

pub(super) enum CheckError {
    Problem(CheckpointProblem),
    Store(StoreError),
}

impl From<StoreError> for CheckError {
    fn from(e: StoreError) -> Self {
        CheckError::Store(e)
    }
}

/// A checkpoint note must name the size it is stored under and the tree's root there.
pub(super) fn check_checkpoint<R: NodeReader<Error = StoreError>>(
    size: u64,
    note: &[u8],
    reader: &R,
) -> Result<(), CheckError> {
    let (body_size, root) = checkpoint_body(note).map_err(CheckError::Problem)?;
    if body_size != size {
        return Err(CheckError::Problem(CheckpointProblem::SizeMismatch {
            body_size,
        }));
    }
    if size > reader.size() {
        return Err(CheckError::Problem(CheckpointProblem::BeyondLog {
            log_size: reader.size(),
        }));
    }
    if tree::root_at(size, reader)? != root {
        return Err(CheckError::Problem(CheckpointProblem::RootMismatch));
    }
    Ok(())
}

/// The size and root of the checkpoint in a signed note: its text is everything up to
/// the first blank line (C2SP signed-note), parsed by the verifier's tlog-checkpoint parser.
fn checkpoint_body(note: &[u8]) -> Result<(u64, Hash), CheckpointProblem> {
    let text = match note.windows(2).position(|w| w == b"\n\n") {
        Some(end) => &note[..=end],
        None => note,
    };
    let text = std::str::from_utf8(text).map_err(|_| CheckpointProblem::NotUtf8)?;
    let checkpoint =
        dyad_verifier::checkpoint::parse(text).map_err(CheckpointProblem::Malformed)?;
    Ok((checkpoint.size, checkpoint.root))
}

impl Store {
    pub(super) fn check_stored_checkpoint(&self, size: u64, note: &[u8]) -> Result<(), StoreError> {
        let reader = SizedNodes {
            store: self,
            size: self.size(),
        };
        match check_checkpoint(size, note, &reader) {
            Ok(()) => Ok(()),
            Err(CheckError::Problem(problem)) => Err(Damage::Checkpoint { size, problem }.into()),
            Err(CheckError::Store(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn checkpoint_bodies_parse_strictly() {
        let root = [7u8; 32];
        let b64 = base64::engine::general_purpose::STANDARD.encode(root);
        assert_eq!(
            checkpoint_body(format!("o\n12\n{b64}\n\n— o sig\n").as_bytes()),
            Ok((12, root))
        );
        assert_eq!(
            checkpoint_body(format!("o\n0\n{b64}\next\n\n— o sig\n").as_bytes()),
            Ok((0, root))
        );
        assert_eq!(
            checkpoint_body(format!("o\n12\n{b64}\n").as_bytes()),
            Ok((12, root))
        );
        for bad in [
            format!("\n12\n{b64}\n\n"),
            format!("o\n012\n{b64}\n\n"),
            format!("o\n+12\n{b64}\n\n"),
            format!("o\n12\n{b64}"),
            "o\n12\nAAAA\n\n".to_owned(),
            "o\n99999999999999999999\nAAAA\n\n".to_owned(),
            "o\n12\n".to_owned(),
            String::new(),
        ] {
            assert!(checkpoint_body(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert_eq!(
            checkpoint_body(b"o\n1\n\xff\n\n"),
            Err(CheckpointProblem::NotUtf8)
        );
    }
}
