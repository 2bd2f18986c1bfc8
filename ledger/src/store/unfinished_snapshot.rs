//! Snapshots sled left unfinished. sled 0.34 writes its page-table snapshot to
//! `snap.<lsn>.generating`, syncs it and only then renames it to `snap.<lsn>`, deleting
//! older snapshots after the rename; but when it opens, it reads the last `snap.*` file by
//! name, an unfinished `.generating` one included, and refuses to open if its checksum is
//! wrong (sled issue 1527). A process killed while writing one thus left a store that
//! would not open. Such a file was never a finished snapshot: the one before it (if any)
//! and the log hold everything, so it is removed and the open tried again.

use std::path::Path;

/// Removes every `snap.*.generating` file in `dir`; how many there were. Called only after
/// sled opened the directory far enough to read its snapshot, that is, holding sled's
/// lock: no other process was writing one.
pub(super) fn remove_unfinished_snapshots(dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}
