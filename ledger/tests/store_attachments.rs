//! Content-addressed attachments: durable puts, checked reads, limits.

use std::io::{self, Read};
use std::path::Path;

use dyad_ledger::attachments::{AttachmentError, Attachments};
use sha2::{Digest, Sha256};

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn put_then_get_by_sha256() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Attachments::open(tmp.path(), 1 << 20).unwrap();
    let data = b"indicator feed, 2026-01-01".to_vec();
    let hash = a.put(&data).unwrap();
    assert_eq!(hash, <[u8; 32]>::from(Sha256::digest(&data)));
    assert_eq!(a.dir(), tmp.path().join("attachments"));
    assert_eq!(files(a.dir()), vec![hex::encode(hash)]);
    assert_eq!(std::fs::read(a.path_of(&hash)).unwrap(), data);
    assert_eq!(a.get(&hash).unwrap(), data);
    assert!(a.contains(&hash).unwrap());
    assert_eq!(a.hashes().unwrap(), vec![hash]);

    // Idempotent: the same content again changes nothing.
    assert_eq!(a.put(&data).unwrap(), hash);
    assert_eq!(files(a.dir()), vec![hex::encode(hash)]);
    // Reopening finds it.
    let again = Attachments::open(tmp.path(), 1 << 20).unwrap();
    assert_eq!(again.get(&hash).unwrap(), data);

    let empty = a.put(b"").unwrap();
    assert_eq!(a.get(&empty).unwrap(), Vec::<u8>::new());
}

#[test]
fn a_missing_attachment_is_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Attachments::open(tmp.path(), 1024).unwrap();
    let hash = [9u8; 32];
    assert!(!a.contains(&hash).unwrap());
    assert!(matches!(a.get(&hash), Err(AttachmentError::NotFound { hash: h }) if h == hash));
}

#[test]
fn every_read_rehashes_and_a_put_repairs() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Attachments::open(tmp.path(), 1024).unwrap();
    let data = b"the original document".to_vec();
    let hash = a.put(&data).unwrap();
    let mut damaged = data.clone();
    damaged[4] ^= 0x20;
    std::fs::write(a.path_of(&hash), &damaged).unwrap();
    match a.get(&hash) {
        Err(e @ AttachmentError::AttachmentCorrupted { .. }) => {
            assert!(e.to_string().contains(&hex::encode(hash)), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // Truncated to nothing: still caught.
    std::fs::write(a.path_of(&hash), b"").unwrap();
    assert!(matches!(
        a.get(&hash),
        Err(AttachmentError::AttachmentCorrupted { .. })
    ));
    // Putting the real content again replaces the damaged copy.
    assert_eq!(a.put(&data).unwrap(), hash);
    assert_eq!(a.get(&hash).unwrap(), data);
    std::fs::write(a.path_of(&hash), &damaged).unwrap();
    assert_eq!(a.put_reader(&data[..]).unwrap(), (hash, data.len() as u64));
    assert_eq!(a.get(&hash).unwrap(), data);
}

#[test]
fn limits_are_enforced_on_put_and_get() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Attachments::open(tmp.path(), 100).unwrap();
    assert!(matches!(
        a.put(&[1u8; 101]),
        Err(AttachmentError::TooLarge {
            size: 101,
            max: 100
        })
    ));
    assert!(a.put(&[1u8; 100]).is_ok());
    assert!(matches!(
        a.put_reader(&[2u8; 5000][..]),
        Err(AttachmentError::TooLarge { max: 100, .. })
    ));
    assert_eq!(files(a.dir()).len(), 1, "nothing is left of refused puts");
    // A file grown behind the store's back is refused before being read into memory.
    let small = a.put(b"small").unwrap();
    std::fs::write(a.path_of(&small), vec![0u8; 1000]).unwrap();
    assert!(matches!(
        a.get(&small),
        Err(AttachmentError::TooLarge {
            size: 1000,
            max: 100
        })
    ));
}

/// Yields its data in uneven pieces, then optionally fails.
struct Trickle {
    data: Vec<u8>,
    at: usize,
    step: usize,
    fail_at_end: bool,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.data.len() {
            return if self.fail_at_end {
                Err(io::Error::other("source broke"))
            } else {
                Ok(0)
            };
        }
        self.step = self.step * 7 % 9973 + 1;
        let n = self.step.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn streaming_put_hashes_while_copying() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Attachments::open(tmp.path(), 10 << 20).unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let (hash, len) = a
        .put_reader(Trickle {
            data: data.clone(),
            at: 0,
            step: 1,
            fail_at_end: false,
        })
        .unwrap();
    assert_eq!(len, data.len() as u64);
    assert_eq!(hash, <[u8; 32]>::from(Sha256::digest(&data)));
    assert_eq!(a.get(&hash).unwrap(), data);
    assert_eq!(files(a.dir()), vec![hex::encode(hash)]);

    let broken = a.put_reader(Trickle {
        data: b"partial".to_vec(),
        at: 0,
        step: 1,
        fail_at_end: true,
    });
    assert!(matches!(broken, Err(AttachmentError::Source(_))));
    assert_eq!(
        files(a.dir()),
        vec![hex::encode(hash)],
        "a failed put leaves no file behind"
    );
}
