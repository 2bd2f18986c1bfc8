//! Party keys: C2SP signed-note signer keys (`PRIVATE+KEY+name+keyid+base64(0x01||seed)`),
//! their verifier keys, and the private key file (mode 0600). Spec section 2.

use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dyad_verifier::key::{SignatureType, VerifierKey};
use ed25519_dalek::{Signer, SigningKey};

const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// Why a key or key file is refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The text does not start with `PRIVATE+KEY+`.
    #[error("a private key must start with \"PRIVATE+KEY+\"")]
    MissingPrivatePrefix,
    /// The text is not `PRIVATE+KEY+<name>+<key id>+<base64>`.
    #[error("a private key has the form PRIVATE+KEY+<name>+<key id>+<base64 key>")]
    Malformed,
    /// The key part is not standard base64.
    #[error("the private key's base64 part is not valid standard base64")]
    BadBase64,
    /// The key part is not type 0x01 and a 32-byte seed.
    #[error("the private key is not an Ed25519 (type 0x01) 32-byte seed")]
    NotEd25519Seed,
    /// The key id is not the one the name and key give.
    #[error(
        "the private key's key id {found:08x} does not match its name and key ({computed:08x})"
    )]
    KeyIdMismatch {
        /// The key id in the text.
        found: u32,
        /// The key id of the name and key.
        computed: u32,
    },
    /// The key name is not a valid signed-note key name.
    #[error("invalid key name: {0}")]
    InvalidName(dyad_verifier::key::KeyError),
    /// Writing a key file where one exists.
    #[error("key file {path} already exists; refusing to overwrite it")]
    FileExists {
        /// The key file.
        path: String,
    },
    /// The key file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Read {
        /// The key file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The key file could not be written.
    #[error("cannot write key file {path}: {source}")]
    Write {
        /// The key file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The key file is readable by group or others.
    #[error(
        "private key file {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`"
    )]
    InsecurePermissions {
        /// The key file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file was cut short: on a file system without hard links a key file is
    /// written in place (`durable`'s no-clobber copy), so a crash can leave part of one.
    #[error(
        "private key file {path} is incomplete (its writing was interrupted) and holds no \
         usable key ({reason}); remove it and create the key again"
    )]
    Incomplete {
        /// The key file.
        path: String,
        /// Why what it holds does not parse.
        reason: Box<KeyError>,
    },
}

/// An Ed25519 party key with its signed-note name. Its `Debug` never shows the seed.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    signing: SigningKey,
    verifier: VerifierKey,
}

impl SignerKey {
    /// A new random key named `name`.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        let signing = SigningKey::generate(&mut rand_core::OsRng);
        Self::from_seed(name, signing.to_bytes())
    }

    /// The key of a 32-byte Ed25519 seed, named `name`.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, KeyError> {
        let signing = SigningKey::from_bytes(&seed);
        let verifier = VerifierKey::new(
            name,
            SignatureType::Ed25519,
            signing.verifying_key().to_bytes(),
        )
        .map_err(KeyError::InvalidName)?;
        Ok(Self {
            name: name.to_owned(),
            signing,
            verifier,
        })
    }

    /// Parses a signed-note private key string, checking its key id.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let rest = text
            .trim_end_matches('\n')
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or(KeyError::MissingPrivatePrefix)?;
        // Names never contain '+' but base64 may, so split from the left.
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(KeyError::Malformed);
        };
        // from_str_radix alone would also take a sign.
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeyError::Malformed);
        }
        let found = u32::from_str_radix(id_hex, 16).map_err(|_| KeyError::Malformed)?;
        let raw = STANDARD.decode(key_b64).map_err(|_| KeyError::BadBase64)?;
        let seed: [u8; 32] = match raw.as_slice() {
            [0x01, seed @ ..] => seed.try_into().map_err(|_| KeyError::NotEd25519Seed)?,
            _ => return Err(KeyError::NotEd25519Seed),
        };
        let key = Self::from_seed(name, seed)?;
        let computed = key.verifier.key_id();
        if computed != found {
            return Err(KeyError::KeyIdMismatch { found, computed });
        }
        Ok(key)
    }

    /// The key's (party's) name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Type 0x01 key id under the party name; entries carry it as `sender`.
    pub fn key_id(&self) -> u32 {
        self.verifier.key_id()
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The party's verifier key (type 0x01 under its name), the content of `NAME.pub`.
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.verifier
    }

    /// The Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// The signed-note private key string. Only for writing the key file.
    fn to_private_string(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(0x01);
        raw.extend_from_slice(&self.signing.to_bytes());
        format!(
            "{PRIVATE_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id(),
            STANDARD.encode(raw)
        )
    }

    /// Writes the key to a new file with mode 0600, atomically and durably; refuses to
    /// overwrite. Temporary files a crash left in the key's directory go first.
    pub fn write_private_file(&self, path: &Path) -> Result<(), KeyError> {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Err(e) = crate::durable::remove_stale_temporaries(dir.unwrap_or(Path::new("."))) {
            tracing::warn!(path = %path.display(), error = %e, "could not remove temporary files left by a crash");
        }
        let mut line = self.to_private_string();
        line.push('\n');
        let options = crate::durable::WriteOptions::PRIVATE.keep_existing();
        match crate::durable::write(path, line.as_bytes(), options) {
            Ok(true) => Ok(()),
            Ok(false) => Err(KeyError::FileExists {
                path: path.display().to_string(),
            }),
            Err(source) => Err(KeyError::Write {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Reads a private key file, refusing one that group or others can read.
    pub fn read_private_file(path: &Path) -> Result<Self, KeyError> {
        let display = path.display().to_string();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(path).map_err(|source| KeyError::Read {
                path: display.clone(),
                source,
            })?;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyError::InsecurePermissions {
                    path: display,
                    mode,
                });
            }
        }
        let text = read_small_text(path, MAX_KEY_FILE_BYTES).map_err(|source| KeyError::Read {
            path: display.clone(),
            source,
        })?;
        // Every key file this crate writes ends in a newline: one that does not parse
        // and lacks it was cut short (a hand-written key without it still parses).
        Self::parse(&text).map_err(|reason| match text.ends_with('\n') {
            true => reason,
            false => KeyError::Incomplete {
                path: display,
                reason: Box::new(reason),
            },
        })
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerKey")
            .field("name", &self.name)
            .field("verifier", &self.verifier.to_string())
            .finish_non_exhaustive()
    }
}

/// The most a private key file can hold (one line of a name and base64): larger files are
/// refused after reading this much.
pub const MAX_KEY_FILE_BYTES: u64 = 16 << 10;

/// Reads a small UTF-8 text file, reading at most `limit + 1` bytes: a larger (or endless)
/// file is an `InvalidData` error naming the limit.
pub fn read_small_text(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than the {limit} bytes accepted"),
        ));
    }
    String::from_utf8(buf)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::WriteOptions;

    #[test]
    fn private_string_round_trips_and_debug_hides_seed() {
        let key = SignerKey::from_seed("example.org/alpha", [7; 32]).unwrap();
        let parsed = SignerKey::parse(&key.to_private_string()).unwrap();
        assert_eq!(parsed.public_key(), key.public_key());
        assert_eq!(parsed.key_id(), key.key_id());
        let debug = format!("{key:?}");
        assert!(!debug.contains(&STANDARD.encode([7u8; 32])));
    }

    #[test]
    fn keys_whose_base64_contains_plus_parse() {
        let with_plus = (0u8..=255)
            .map(|i| SignerKey::from_seed("example.org/alpha", [i; 32]).unwrap())
            // "PRIVATE+KEY+name+id+base64" has four '+' of its own.
            .find(|k| k.to_private_string().matches('+').count() > 4)
            .expect("some seed gives a '+' in base64");
        assert_eq!(
            SignerKey::parse(&with_plus.to_private_string())
                .unwrap()
                .public_key(),
            with_plus.public_key()
        );
    }

    #[test]
    fn rejects_wrong_key_id_and_bad_forms() {
        let key = SignerKey::from_seed("example.org/alpha", [7; 32]).unwrap();
        let good = key.to_private_string();
        let bad_id = good.replacen(
            &format!("{:08x}", key.key_id()),
            &format!("{:08x}", key.key_id() ^ 1),
            1,
        );
        assert!(matches!(
            SignerKey::parse(&bad_id),
            Err(KeyError::KeyIdMismatch { .. })
        ));
        assert!(matches!(
            SignerKey::parse(&good[8..]),
            Err(KeyError::MissingPrivatePrefix)
        ));
        assert!(matches!(
            SignerKey::parse("PRIVATE+KEY+x+0000"),
            Err(KeyError::Malformed)
        ));
        let signed_id = good.replacen(
            &format!("+{:08x}+", key.key_id()),
            &format!("++{:07x}+", key.key_id() >> 4),
            1,
        );
        assert!(matches!(
            SignerKey::parse(&signed_id),
            Err(KeyError::Malformed)
        ));
        // A public key in a private key's clothing decodes as a seed whose key id cannot match.
        let verifier_as_private = format!("PRIVATE+KEY+{}", key.verifier_key());
        assert!(matches!(
            SignerKey::parse(&verifier_as_private),
            Err(KeyError::KeyIdMismatch { .. })
        ));
        let short_seed = format!("PRIVATE+KEY+example.org/alpha+{:08x}+AQID", key.key_id());
        assert!(matches!(
            SignerKey::parse(&short_seed),
            Err(KeyError::NotEd25519Seed)
        ));
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_0600_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alpha.key");
        let key = SignerKey::from_seed("example.org/alpha", [9; 32]).unwrap();
        key.write_private_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(
            key.write_private_file(&path),
            Err(KeyError::FileExists { .. })
        ));
        assert_eq!(
            SignerKey::read_private_file(&path).unwrap().public_key(),
            key.public_key()
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            SignerKey::read_private_file(&path),
            Err(KeyError::InsecurePermissions { .. })
        ));
    }

    /// What a crash during the no-clobber copy (file systems without hard links) leaves:
    /// a prefix of the key file, or nothing, under the final name.
    #[test]
    fn a_cut_key_file_is_reported_incomplete_and_a_whole_one_without_newline_loads() {
        let dir = tempfile::tempdir().unwrap();
        let key = SignerKey::from_seed("example.org/alpha", [9; 32]).unwrap();
        let whole = key.to_private_string();
        for cut in [0, 12, whole.len() - 5] {
            let path = dir.path().join(format!("cut-{cut}.key"));
            crate::durable::write(&path, &whole.as_bytes()[..cut], WriteOptions::PRIVATE).unwrap();
            let e = SignerKey::read_private_file(&path).unwrap_err();
            assert!(matches!(e, KeyError::Incomplete { .. }), "{cut}: {e}");
            assert!(e.to_string().contains("create the key again"), "{e}");
        }
        let path = dir.path().join("no-newline.key");
        crate::durable::write(&path, whole.as_bytes(), WriteOptions::PRIVATE).unwrap();
        assert_eq!(
            SignerKey::read_private_file(&path).unwrap().public_key(),
            key.public_key()
        );
        // A damaged file that is not cut short is reported as what it is.
        let path = dir.path().join("bad.key");
        let bad = format!("{}\n", whole.replace("PRIVATE", "PUBLIC"));
        crate::durable::write(&path, bad.as_bytes(), WriteOptions::PRIVATE).unwrap();
        assert!(matches!(
            SignerKey::read_private_file(&path),
            Err(KeyError::MissingPrivatePrefix)
        ));
    }

    #[test]
    fn writing_a_key_removes_stale_temporaries_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(".alpha.key.0123456789abcdef.tmp");
        std::fs::write(&stale, b"PRIVATE+KEY+").unwrap();
        let past = std::time::SystemTime::now() - crate::durable::STALE_TEMPORARY_AGE * 2;
        let file = std::fs::File::options().write(true).open(&stale).unwrap();
        file.set_modified(past).unwrap();
        let key = SignerKey::from_seed("example.org/alpha", [9; 32]).unwrap();
        key.write_private_file(&dir.path().join("alpha.key"))
            .unwrap();
        assert!(!stale.exists());
    }
}
