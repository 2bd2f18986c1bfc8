//! A checkpoint note: a signed note (C2SP signed-note) whose text is a checkpoint
//! (spec/dyad.md), read with the verifier's `checkpoint::parse_note` by every command that
//! reads checkpoints (sync bundles, the store, receipts, evidence, files); its signatures
//! are checked where the trusted keys are known, not here.

pub use dyad_verifier::checkpoint::{parse_note as parse, CheckpointNoteError};

/// The size of the tree a checkpoint note commits to, to put notes in order.
pub fn size(note: &[u8]) -> Option<u64> {
    parse(note).ok().map(|c| c.size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(text: &str) -> Vec<u8> {
        let line = dyad_verifier::note::signature_line("example.org/log", 0x0102_0304, &[7; 64]);
        format!("{text}\n{line}").into_bytes()
    }

    #[test]
    fn a_checkpoint_note_is_read_and_anything_else_is_named() {
        let root = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let note = signed(&format!("example.org/log\n12\n{root}\n"));
        let cp = parse(&note).unwrap();
        assert_eq!((cp.origin.as_str(), cp.size), ("example.org/log", 12));
        assert_eq!(size(&note), Some(12));

        assert!(matches!(
            parse(&signed("example.org/log\nnot a size\n")),
            Err(CheckpointNoteError::Checkpoint(_))
        ));
        assert!(matches!(
            parse(b"no signature lines"),
            Err(CheckpointNoteError::Note(_))
        ));
        assert_eq!(size(b"no signature lines"), None);
    }
}
