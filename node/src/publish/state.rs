//! What a target already holds: the size of the checkpoint published there, read back.
//! Because the checkpoint is written last (see [`super::plan`]), every object of its tree
//! is there too, so a publisher that crashed resumes from it with no state of its own; a
//! crash before the checkpoint leaves objects of the next tree, which the next publish
//! finds with a `HEAD` and keeps (immutable ones) or writes again (the others).

use object_store::{ObjectStore, ObjectStoreExt};

use super::retry::{with_retry, Backoff};
use super::target::Target;

/// The size of the tree whose checkpoint `target` holds: 0 for none, or one that is not
/// a checkpoint (it is then replaced).
pub async fn published_size(target: &Target, backoff: Backoff) -> Result<u64, object_store::Error> {
    let key = target.key("checkpoint");
    let got = with_retry(backoff, key.as_ref(), || async {
        target.store.get(&key).await?.bytes().await
    })
    .await;
    match got {
        Ok(note) => Ok(size_of_note(&note).unwrap_or(0)),
        Err(object_store::Error::NotFound { .. }) => Ok(0),
        Err(e) => Err(e),
    }
}

/// Whether the immutable object `key` is already there with `len` bytes: a full tile
/// that was written before a crash is not written again.
pub async fn holds(
    store: &dyn ObjectStore,
    key: &object_store::path::Path,
    len: u64,
    backoff: Backoff,
) -> Result<bool, object_store::Error> {
    match with_retry(backoff, key.as_ref(), || store.head(key)).await {
        Ok(meta) => Ok(meta.size == len),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The tree size a C2SP checkpoint names (its second line).
pub fn size_of_note(note: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(note).ok()?;
    let line = text.lines().nth(1)?;
    if line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    line.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_is_the_second_line_of_the_note() {
        assert_eq!(size_of_note(b"origin\n42\nroot=\n\n- sig\n"), Some(42));
        assert_eq!(size_of_note(b"origin\n+42\nroot=\n"), None);
        assert_eq!(size_of_note(b"origin\n"), None);
        assert_eq!(size_of_note(&[0xff, b'\n', b'1']), None);
    }

    #[test]
    fn a_target_without_a_checkpoint_has_published_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::open(&format!("file://{}", dir.path().display())).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        assert_eq!(
            rt.block_on(published_size(&target, Backoff::default()))
                .unwrap(),
            0
        );
        std::fs::write(dir.path().join("checkpoint"), b"o\n7\nr\n").unwrap();
        assert_eq!(
            rt.block_on(published_size(&target, Backoff::default()))
                .unwrap(),
            7
        );
        let key = target.key("checkpoint");
        let backoff = Backoff::default();
        assert!(rt
            .block_on(holds(target.store.as_ref(), &key, 6, backoff))
            .unwrap());
        assert!(!rt
            .block_on(holds(target.store.as_ref(), &key, 5, backoff))
            .unwrap());
    }
}
