//! `dyad serve --publish URL`: a background task that publishes the log after each
//! commit, from the node's own replica, and counts what it did in the node's metrics
//! (published size, lag behind the committed size, errors) and `/admin/status`.

use std::sync::Arc;
use std::time::Duration;

use super::plan::Item;
use super::{publish, PublishError, PublishOptions, Source, Target};
use crate::metrics::Metrics;
use crate::state::Shared;

/// Where and what the node publishes (`[publish]` in the config, `--publish`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishConfig {
    /// `s3://BUCKET[/PREFIX]` or `file:///DIR`.
    pub url: String,
    /// Hash tiles and checkpoints only.
    pub hash_only: bool,
}

/// The running node's replica, read on a blocking thread under the shared lock.
struct NodeSource(Arc<Shared>);

fn node_error(e: crate::NodeError) -> PublishError {
    PublishError::Node(e.to_string())
}

impl Source for NodeSource {
    async fn checkpoint(&self) -> Result<(u64, Vec<u8>), PublishError> {
        let latest = self
            .0
            .read(|ch| Ok(ch.store().latest_checkpoint()))
            .await
            .map_err(node_error)?;
        latest?.ok_or(PublishError::NoCommittedCheckpoint)
    }

    async fn attachments_named(
        &self,
        from: u64,
        to: u64,
    ) -> Result<Vec<([u8; 32], u64)>, PublishError> {
        self.0
            .read(move |ch| Ok(super::source::attachments_named(ch.store(), from, to)))
            .await
            .map_err(node_error)?
    }

    async fn read(&self, item: &Item) -> Result<Vec<u8>, PublishError> {
        let item = item.clone();
        let shared = self.0.clone();
        self.0
            .read(move |ch| {
                Ok(super::source::read_item(
                    ch.store(),
                    Some(&shared.attachments),
                    &shared.tile_checks,
                    &item,
                ))
            })
            .await
            .map_err(node_error)?
    }
}

/// Publishes after each commit until the node stops. A failed publish (retries
/// exhausted) is logged and counted, and tried again after `retry_max`.
pub(crate) async fn run(shared: Arc<Shared>, config: PublishConfig) {
    let target = match Target::open(&config.url) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "cannot publish");
            Metrics::inc(&shared.metrics.publish_errors, 1);
            return;
        }
    };
    let options = PublishOptions {
        plan: super::PlanOptions {
            hash_only: config.hash_only,
        },
        ..PublishOptions::default()
    };
    let source = NodeSource(shared.clone());
    let mut committed = shared.committed.subscribe();
    let mut stop = shared.shutdown_signal();
    loop {
        let wait = match publish(&source, &target, &options, |_, _| {}).await {
            Ok(done) => {
                Metrics::set(&shared.metrics.publish_size, done.size);
                if done.objects_written > 0 {
                    tracing::info!(target = %target.url, size = done.size, objects = done.objects_written, "published");
                }
                None
            }
            Err(PublishError::NoCommittedCheckpoint) => None,
            Err(e) => {
                Metrics::inc(&shared.metrics.publish_errors, 1);
                *crate::state::lock(&shared.last_publish_error) = Some(e.to_string());
                tracing::warn!(target = %target.url, error = %e, "publishing failed; trying again");
                Some(shared.config.retry_max)
            }
        };
        if wait.is_none() {
            *crate::state::lock(&shared.last_publish_error) = None;
        }
        let published = shared
            .metrics
            .publish_size
            .load(std::sync::atomic::Ordering::Relaxed);
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(wait.unwrap_or(Duration::from_secs(3600))), if wait.is_some() => {}
            _ = committed.wait_for(|&c| c > published), if wait.is_none() => {}
        }
        if *stop.borrow() {
            return;
        }
    }
}
