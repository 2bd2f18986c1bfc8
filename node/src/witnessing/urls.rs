//! The witnesses' add-checkpoint URLs as the sequencer's node holds them while it runs.
//! The channel names witnesses by key only (spec/dyad.md 4, 3.8); their URLs are node
//! configuration (`NodeConfig::witnesses`, from `dyad.json`'s `witness_urls`). A witness
//! change can bring new witnesses: the URLs given to `/admin/witness-change[/approve]`
//! (spec/node.md 5.6) are added here, so they take effect without a restart, and handed to
//! the [`WitnessUrlSaver`] (the CLI writes them into `dyad.json`, atomically) so that they
//! last.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use super::WitnessUrl;
use crate::lock;

/// The longest witness URL taken (a base URL; `add-checkpoint` is appended).
pub const MAX_WITNESS_URL_LEN: usize = 2048;

/// Stores the whole map of witness URLs (by key name) durably; an error says why not.
type SaveFn = dyn Fn(&BTreeMap<String, String>) -> Result<(), String> + Send + Sync;

/// Where a node's witness URLs last (the CLI: `dyad.json`). Without one, URLs given
/// through the admin API hold until the node stops.
#[derive(Clone)]
pub struct WitnessUrlSaver(Arc<SaveFn>);

impl WitnessUrlSaver {
    /// A saver that calls `save` with every witness URL the node holds, by name.
    pub fn new(
        save: impl Fn(&BTreeMap<String, String>) -> Result<(), String> + Send + Sync + 'static,
    ) -> WitnessUrlSaver {
        WitnessUrlSaver(Arc::new(save))
    }
}

impl fmt::Debug for WitnessUrlSaver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WitnessUrlSaver")
    }
}

/// A URL the admin API refuses.
#[derive(Debug, thiserror::Error)]
pub enum WitnessUrlError {
    /// Not an http:// or https:// base URL, or longer than [`MAX_WITNESS_URL_LEN`].
    #[error("the URL of witness {name:?} is not an http:// or https:// base URL of at most {MAX_WITNESS_URL_LEN} bytes")]
    Bad {
        /// The witness's name.
        name: String,
    },
    /// The saver could not store them.
    #[error("cannot store the witness URLs: {0}")]
    Save(String),
}

/// The URLs in force, by witness key name.
#[derive(Debug, Default)]
pub(crate) struct WitnessUrls {
    urls: Mutex<BTreeMap<String, String>>,
    /// Held while URLs are saved, so that two requests write in turn (each its full map).
    saving: Mutex<()>,
}

impl WitnessUrls {
    pub(crate) fn new(configured: &[WitnessUrl]) -> WitnessUrls {
        WitnessUrls {
            urls: Mutex::new(
                configured
                    .iter()
                    .map(|u| (u.name.clone(), u.url.clone()))
                    .collect(),
            ),
            saving: Mutex::new(()),
        }
    }

    /// The URL of the witness of this key name, if the node has one.
    pub(crate) fn of(&self, name: &str) -> Option<String> {
        lock(&self.urls).get(name).cloned()
    }

    /// Adds (or replaces) these URLs: saved first (when the node has a saver), then in
    /// force. Nothing changes if one is bad or the save fails.
    pub(crate) fn add(
        &self,
        given: &BTreeMap<String, String>,
        saver: Option<&WitnessUrlSaver>,
    ) -> Result<BTreeMap<String, String>, WitnessUrlError> {
        let checked = check(given)?;
        if checked.is_empty() {
            return Ok(checked);
        }
        let _turn = lock(&self.saving);
        let mut all = lock(&self.urls).clone();
        all.extend(checked.clone());
        if let Some(saver) = saver {
            (saver.0)(&all).map_err(WitnessUrlError::Save)?;
        }
        *lock(&self.urls) = all;
        Ok(checked)
    }
}

/// Each URL normalised (no trailing `/`), or the first bad one.
pub(crate) fn check(
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, WitnessUrlError> {
    given
        .iter()
        .map(|(name, url)| {
            let bad = || WitnessUrlError::Bad { name: name.clone() };
            if url.len() > MAX_WITNESS_URL_LEN {
                return Err(bad());
            }
            let base = crate::client::base_url(url).map_err(|_| bad())?;
            Ok((name.clone(), base))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, u)| (n.to_string(), u.to_string()))
            .collect()
    }

    #[test]
    fn added_urls_are_saved_whole_and_then_in_force() {
        let urls = WitnessUrls::new(&[WitnessUrl {
            name: "w1".into(),
            url: "http://a.example".into(),
        }]);
        let saved = Arc::new(Mutex::new(BTreeMap::new()));
        let s = saved.clone();
        let saver = WitnessUrlSaver::new(move |m| {
            *lock(&s) = m.clone();
            Ok(())
        });
        urls.add(&map(&[("w2", "http://b.example/")]), Some(&saver))
            .unwrap();
        assert_eq!(urls.of("w2").as_deref(), Some("http://b.example"));
        assert_eq!(
            *lock(&saved),
            map(&[("w1", "http://a.example"), ("w2", "http://b.example")])
        );
    }

    #[test]
    fn a_bad_url_or_a_failed_save_changes_nothing() {
        let urls = WitnessUrls::new(&[]);
        let bad = urls.add(&map(&[("w", "ftp://x")]), None);
        assert!(matches!(bad, Err(WitnessUrlError::Bad { .. })));
        let long = format!("http://{}", "a".repeat(MAX_WITNESS_URL_LEN));
        assert!(urls.add(&map(&[("w", &long)]), None).is_err());
        let failing = WitnessUrlSaver::new(|_| Err("disk full".into()));
        let failed = urls.add(&map(&[("w", "http://x.example")]), Some(&failing));
        assert!(matches!(failed, Err(WitnessUrlError::Save(_))));
        assert_eq!(urls.of("w"), None);
    }
}
