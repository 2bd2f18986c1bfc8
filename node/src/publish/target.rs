//! Where a log is published: an S3-compatible bucket (`s3://BUCKET/PREFIX`) or a local
//! directory (`file:///DIR`), both behind `object_store`'s one trait, so the same
//! publishing code writes either.
//!
//! The S3 client's credentials, endpoint and region come from the standard AWS
//! environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_ENDPOINT_URL` or `AWS_ENDPOINT`, `AWS_REGION`, `AWS_ALLOW_HTTP` for a plain-HTTP
//! endpoint such as a loopback test server): nothing secret is ever part of the URL, so
//! the URL can be logged.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;

/// Why a publishing target was refused.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Neither `s3://` nor `file://`.
    #[error("{url}: a publishing target is s3://BUCKET[/PREFIX] or file:///DIR")]
    Scheme {
        /// The URL given.
        url: String,
    },
    /// `s3://` without a bucket name.
    #[error("{url}: no bucket name after s3://")]
    NoBucket {
        /// The URL given.
        url: String,
    },
    /// `file://` with a relative path.
    #[error("{url}: a file target needs an absolute path (file:///DIR)")]
    RelativePath {
        /// The URL given.
        url: String,
    },
    /// The object store client could not be built (bad configuration in the environment).
    #[error("{url}: {source}")]
    Client {
        /// The URL given.
        url: String,
        /// What object_store reported.
        source: object_store::Error,
    },
}

/// An opened publishing target.
#[derive(Clone, Debug)]
pub struct Target {
    /// The store objects are written to.
    pub store: Arc<dyn ObjectStore>,
    /// Every object's key starts with this prefix (empty: the bucket's or directory's root).
    pub prefix: ObjectPath,
    /// The URL given, for messages (it holds no secret).
    pub url: String,
    /// Whether objects carry HTTP headers (`Content-Type`, `Cache-Control`): an object
    /// store does; a directory does not (its web server's configuration sets them).
    pub carries_headers: bool,
}

impl Target {
    /// Opens `url`: `s3://BUCKET[/PREFIX]` or `file:///DIR` (the directory is created).
    pub fn open(url: &str) -> Result<Target, TargetError> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(TargetError::NoBucket { url: url.into() });
            }
            // The S3 client is reqwest with rustls: the node's provider (ring), once per
            // process; already installed is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let store = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|source| TargetError::Client {
                    url: url.into(),
                    source,
                })?;
            return Ok(Target {
                store: Arc::new(store),
                prefix: ObjectPath::from(prefix.trim_matches('/')),
                url: url.into(),
                carries_headers: true,
            });
        }
        if let Some(dir) = url.strip_prefix("file://") {
            if !dir.starts_with('/') {
                return Err(TargetError::RelativePath { url: url.into() });
            }
            let client_error = |source| TargetError::Client {
                url: url.into(),
                source,
            };
            std::fs::create_dir_all(dir).map_err(|e| {
                client_error(object_store::Error::Generic {
                    store: "LocalFileSystem",
                    source: Box::new(e),
                })
            })?;
            let store = LocalFileSystem::new_with_prefix(dir).map_err(client_error)?;
            return Ok(Target {
                store: Arc::new(store),
                prefix: ObjectPath::default(),
                url: url.into(),
                carries_headers: false,
            });
        }
        Err(TargetError::Scheme { url: url.into() })
    }

    /// The key of the object at `path` (a tlog-tiles path such as `tile/0/000`).
    pub fn key(&self, path: &str) -> ObjectPath {
        let mut key = self.prefix.clone();
        for part in path.split('/') {
            key = key.join(part);
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_parsed_into_bucket_prefix_and_directory() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().join("out").display());
        let t = Target::open(&url).unwrap();
        assert!(!t.carries_headers);
        assert_eq!(t.key("tile/0/000.p/3").as_ref(), "tile/0/000.p/3");
        assert!(dir.path().join("out").is_dir());

        let t = Target::open("s3://bucket/some/prefix/").unwrap();
        assert!(t.carries_headers);
        assert_eq!(t.key("checkpoint").as_ref(), "some/prefix/checkpoint");

        assert!(matches!(
            Target::open("s3:///x"),
            Err(TargetError::NoBucket { .. })
        ));
        assert!(matches!(
            Target::open("file://rel/dir"),
            Err(TargetError::RelativePath { .. })
        ));
        assert!(matches!(
            Target::open("https://example.invalid/x"),
            Err(TargetError::Scheme { .. })
        ));
    }
}
