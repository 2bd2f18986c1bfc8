//! The stored tiles of tile levels 1 and up, held in memory (issue 20, "proofs at 10M").
//!
//! An inclusion proof touches one stored tile per tile level. Level 0 is the big file
//! (every 256 leaves add a tile); the levels above are tiny: 256 times smaller each, about
//! 2.4 MB for level 1 of a 10M-entry log. Holding them makes a proof one `pread` of one
//! level-0 tile. The copy is a mirror of the file, never the other way round: it is read
//! whole from the file on first use, follows every write and cut of the file, and is
//! dropped (reads go back to the file) if it would grow past [`MAX_HELD_BYTES`].

use std::sync::RwLock;

/// The most bytes one tile level's copy may hold: a level-1 file of about 260M entries.
pub(super) const MAX_HELD_BYTES: u64 = 64 << 20;

/// One tile level's copy.
#[derive(Debug, Default)]
enum Copy {
    /// Not read yet.
    #[default]
    Unread,
    /// The file's bytes from offset 0.
    Held(Vec<u8>),
    /// Read from the file: it is, or grew, larger than [`MAX_HELD_BYTES`], or was written
    /// past the copy's end.
    ReadFile,
}

/// The copy of one `tiles-L` file (`L` ≥ 1).
#[derive(Debug, Default)]
pub(super) struct UpperTile {
    copy: RwLock<Copy>,
}

impl UpperTile {
    /// Fills `buf` from offset `at` of the copy, reading the whole file with `load` first
    /// if it was not read yet (`load` gives None for a file larger than
    /// [`MAX_HELD_BYTES`], and an empty file for a missing one). `None`: the copy cannot
    /// answer (too large, or the range lies past it); the caller reads the file.
    pub(super) fn read_at<E>(
        &self,
        at: u64,
        buf: &mut [u8],
        load: impl FnOnce() -> Result<Option<Vec<u8>>, E>,
    ) -> Result<Option<()>, E> {
        if let Some(answer) = self.read_held(at, buf) {
            return Ok(answer);
        }
        {
            let mut copy = self.copy.write().unwrap_or_else(|p| p.into_inner());
            if matches!(*copy, Copy::Unread) {
                *copy = match load()? {
                    Some(bytes) if bytes.len() as u64 <= MAX_HELD_BYTES => Copy::Held(bytes),
                    _ => Copy::ReadFile,
                };
            }
        }
        Ok(self.read_held(at, buf).flatten())
    }

    /// `Some(Some(()))` read from the copy, `Some(None)` the copy cannot answer, `None`
    /// not read yet.
    fn read_held(&self, at: u64, buf: &mut [u8]) -> Option<Option<()>> {
        let copy = self.copy.read().unwrap_or_else(|p| p.into_inner());
        match &*copy {
            Copy::Unread => None,
            Copy::ReadFile => Some(None),
            Copy::Held(bytes) => {
                let range = usize::try_from(at)
                    .ok()
                    .and_then(|start| Some(start..start.checked_add(buf.len())?))
                    .filter(|r| r.end <= bytes.len());
                Some(range.map(|r| buf.copy_from_slice(&bytes[r])))
            }
        }
    }

    /// Follows a write of `bytes` at `at` to the file (after it succeeded).
    pub(super) fn wrote(&self, at: u64, bytes: &[u8]) {
        let mut copy = self.copy.write().unwrap_or_else(|p| p.into_inner());
        let Copy::Held(held) = &mut *copy else {
            return;
        };
        let end = at.saturating_add(bytes.len() as u64);
        if end > MAX_HELD_BYTES || at > held.len() as u64 {
            // Too large, or a write past the copy's end (the file has a hole the copy
            // cannot show): read the file from now on.
            *copy = Copy::ReadFile;
            return;
        }
        let (at, end) = (at as usize, end as usize);
        if held.len() < end {
            held.resize(end, 0);
        }
        held[at..end].copy_from_slice(bytes);
    }

    /// Follows a cut of the file to `len` bytes.
    pub(super) fn cut(&self, len: u64) {
        let mut copy = self.copy.write().unwrap_or_else(|p| p.into_inner());
        if let Copy::Held(held) = &mut *copy {
            held.truncate(usize::try_from(len).unwrap_or(usize::MAX));
        }
    }

    /// Forgets the copy (the file was removed); the next read reads the file again.
    pub(super) fn forget(&self) {
        *self.copy.write().unwrap_or_else(|p| p.into_inner()) = Copy::Unread;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(t: &UpperTile, file: &[u8], at: u64, len: usize) -> Option<Vec<u8>> {
        let mut buf = vec![0; len];
        let loaded = t
            .read_at(at, &mut buf, || Ok::<_, ()>(Some(file.to_vec())))
            .unwrap();
        loaded.map(|()| buf)
    }

    #[test]
    fn reads_follow_writes_and_cuts() {
        let t = UpperTile::default();
        let file = [1u8, 2, 3, 4];
        assert_eq!(read(&t, &file, 1, 2), Some(vec![2, 3]));
        assert_eq!(read(&t, &file, 3, 2), None, "past the end");
        t.wrote(4, &[5, 6]);
        assert_eq!(read(&t, &[], 3, 3), Some(vec![4, 5, 6]), "not loaded again");
        t.wrote(1, &[9]);
        assert_eq!(read(&t, &[], 0, 3), Some(vec![1, 9, 3]));
        t.cut(2);
        assert_eq!(read(&t, &[], 1, 2), None);
        assert_eq!(read(&t, &[], 0, 2), Some(vec![1, 9]));
        t.forget();
        assert_eq!(read(&t, &[7, 7, 7], 1, 2), Some(vec![7, 7]), "read again");
    }

    #[test]
    fn a_hole_or_an_oversized_file_goes_back_to_the_file() {
        let t = UpperTile::default();
        assert_eq!(read(&t, &[1, 2], 0, 1), Some(vec![1]));
        t.wrote(5, &[1]);
        assert_eq!(read(&t, &[], 0, 1), None, "a hole: the file answers");

        let big = UpperTile::default();
        let mut buf = [0u8; 1];
        let loaded = big.read_at(0, &mut buf, || Ok::<_, ()>(None)).unwrap();
        assert_eq!(loaded, None, "too large to hold");

        let growing = UpperTile::default();
        assert_eq!(read(&growing, &[0], 0, 1), Some(vec![0]));
        growing.wrote(MAX_HELD_BYTES - 1, &[0, 0]);
        assert_eq!(read(&growing, &[], 0, 1), None, "grew past the cap");
    }

    #[test]
    fn a_missing_file_reads_as_empty() {
        let t = UpperTile::default();
        let mut buf = [0u8; 1];
        let loaded = t
            .read_at(0, &mut buf, || Ok::<_, ()>(Some(Vec::new())))
            .unwrap();
        assert_eq!(loaded, None);
        t.wrote(0, &[3]);
        assert_eq!(read(&t, &[], 0, 1), Some(vec![3]));
    }
}
