//! The checkpoint notes a replica keeps hold the checkpoint text and only the signature
//! lines it verified itself, one per key, in a fixed order: the log's, the co-signer's,
//! then the witnesses' in the genesis order. Lines of unknown keys, which a verifier skips
//! and anyone may append, are never stored: a stored note stays small, and adding a line to
//! it can never make it a note with two lines of one key.

use dyad_verifier::key::VerifierKey;
use dyad_verifier::note::{self, NoteError};

/// `note_bytes` rebuilt from its text and the lines of `keys` that verified, in the order of
/// `keys`, leaving out the line of `skip` if any. Strict: the note must verify under `keys`
/// (a known key's bad line, or two lines of one key, refuse it).
pub(crate) fn rebuild(
    note_bytes: &[u8],
    keys: &[VerifierKey],
    skip: Option<&VerifierKey>,
) -> Result<Vec<u8>, NoteError> {
    let verified = note::verify(note_bytes, keys)?;
    let parsed = note::parse(note_bytes)?;
    let mut out = verified.text.clone().into_bytes();
    out.push(b'\n');
    for key in keys {
        if skip == Some(key) || !verified.verified.iter().any(|v| v.key == *key) {
            continue;
        }
        if let Some(sig) = parsed
            .signatures
            .iter()
            .find(|s| s.name == key.name() && s.key_id == key.key_id())
        {
            out.extend_from_slice(
                note::signature_line(&sig.name, sig.key_id, &sig.signature).as_bytes(),
            );
        }
    }
    Ok(out)
}

/// A note that does not verify as a whole (two lines of one key, too many lines), rebuilt
/// from the first line of each of `keys` that verifies on its own. `None` when the note
/// has no text and signature block, or no line verifies.
pub(crate) fn salvage(note_bytes: &[u8], keys: &[VerifierKey]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(note_bytes).ok()?;
    let separator = text.rfind("\n\n")?;
    let (body, block) = (&text[..=separator], &text[separator + 2..]);
    let mut kept: Vec<(&VerifierKey, &str)> = Vec::new();
    for line in block.split('\n').filter(|l| !l.is_empty()) {
        let single = format!("{body}\n{line}\n");
        let Ok(v) = note::verify(single.as_bytes(), keys) else {
            continue;
        };
        let Some(key) = keys
            .iter()
            .find(|k| v.verified.iter().any(|s| s.key == **k))
        else {
            continue;
        };
        if !kept.iter().any(|(k, _)| *k == key) {
            kept.push((key, line));
        }
    }
    if kept.is_empty() {
        return None;
    }
    let mut out = format!("{body}\n");
    for key in keys {
        if let Some((_, line)) = kept.iter().find(|(k, _)| *k == key) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SignerKey;

    fn key(name: &str, seed: u8) -> (SignerKey, VerifierKey) {
        let k = SignerKey::from_seed(name, [seed; 32]).unwrap();
        let v = k.verifier_key().clone();
        (k, v)
    }

    fn signed(text: &str, signers: &[&SignerKey]) -> Vec<u8> {
        let mut out = format!("{text}\n");
        for s in signers {
            let v = s.verifier_key();
            out.push_str(&note::signature_line(
                v.name(),
                v.key_id(),
                &s.sign(text.as_bytes()),
            ));
        }
        out.into_bytes()
    }

    #[test]
    fn only_verified_lines_are_kept_in_key_order() {
        let (a, va) = key("example.org/a", 1);
        let (b, vb) = key("example.org/b", 2);
        let (c, _) = key("example.org/c", 3);
        let text = "example.org/o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let note_bytes = signed(text, &[&c, &b, &a]);
        let keys = [va.clone(), vb.clone()];
        let kept = rebuild(&note_bytes, &keys, None).unwrap();
        assert_eq!(kept, signed(text, &[&a, &b]));
        assert_eq!(
            rebuild(&note_bytes, &keys, Some(&vb)).unwrap(),
            signed(text, &[&a])
        );
        // Two lines of one key: refused whole, salvaged line by line.
        let twice = signed(text, &[&a, &b, &a]);
        assert!(rebuild(&twice, &keys, None).is_err());
        assert_eq!(salvage(&twice, &keys).unwrap(), signed(text, &[&a, &b]));
        assert!(salvage(&signed(text, &[&c]), &keys).is_none());
    }
}
