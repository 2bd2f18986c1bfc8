//! The log of this party's running node, read through it: `dyad serve` holds the store, so
//! `dyad log` and `dyad show` take the sizes from the node's admin status and the entries
//! from its tiles API, reached as the party itself (`running_node::own_node_reach`).

use dyad_ledger::entry::SignedEntry;
use dyad_ledger::genesis::Genesis;
use serde_json::Value;

use crate::data::DataDir;
use crate::entry_view::read_entry;
use crate::error::{CliError, Result};
use crate::running_node::{own_node_reach, Running};

/// What the running node's admin status says of its log.
pub struct NodeLog<'a> {
    /// Its public URL (tiles API), where the entries are read.
    pub url: &'a str,
    /// How this party's CLI reaches its own node.
    pub reach: dyad_node::Reach,
    pub size: u64,
    /// The size of the tree it publishes: entries beyond are still being signed.
    pub published: u64,
    pub committed: u64,
    pub queued: u64,
    pub role: String,
    pub genesis: Genesis,
}

impl<'a> NodeLog<'a> {
    /// The sizes from the node's admin status, the genesis from its tiles API.
    pub fn read(node: &'a Running, data: &DataDir) -> Result<NodeLog<'a>> {
        let Some(url) = node.public_url.as_deref() else {
            return Err(CliError::usage_hint(
                format!(
                    "a node runs on this data directory (admin socket {}) and holds the store",
                    node.admin_socket.display()
                ),
                "read the log from the node's tiles API (dyad audit --url URL), or stop the node",
            ));
        };
        let st = &node.status;
        let num = |k: &str| st.get(k).and_then(Value::as_u64).unwrap_or(0);
        let size = num("size");
        let published = num("published_size").min(size);
        let reach = own_node_reach(data, url)?;
        let genesis_entry = fetch(url, &reach, 0, 1.min(published))?;
        let Some((_, first)) = genesis_entry.first() else {
            return Err(CliError::check("the node publishes no entries yet"));
        };
        let genesis = dyad_ledger::genesis::check_genesis(&first.entry).map_err(|e| {
            CliError::check(format!("entry 0 from the node is not a valid genesis: {e}"))
        })?;
        Ok(NodeLog {
            url,
            reach,
            size,
            published,
            committed: num("committed_size").min(size),
            queued: num("queued"),
            role: st
                .get("role")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned(),
            genesis,
        })
    }

    /// Hands entries `[start, end)` to `each`, one bundle of 256 at a time: memory stays
    /// flat.
    pub fn for_each(
        &self,
        (start, end): (u64, u64),
        mut each: impl FnMut(u64, &SignedEntry) -> Result<()>,
    ) -> Result<()> {
        let mut from = start;
        while from < end {
            let to = (from + 256).min(end);
            for (index, e) in fetch(self.url, &self.reach, from, to)? {
                each(index, &e)?;
            }
            from = to;
        }
        Ok(())
    }

    /// Entry `index`'s exact bytes (the leaf data), if the node publishes it.
    pub fn leaf(&self, index: u64) -> Result<Vec<u8>> {
        for item in dyad_node::fetch_entries(self.url, self.reach.clone(), index, index + 1)? {
            let (at, bytes) = item?;
            if at == index {
                return Ok(bytes);
            }
        }
        Err(CliError::check(format!(
            "the node did not serve entry {index}"
        )))
    }
}

/// Entries `[from, to)` from a tiles API, decoded.
fn fetch(
    url: &str,
    reach: &dyad_node::Reach,
    from: u64,
    to: u64,
) -> Result<Vec<(u64, SignedEntry)>> {
    let mut entries = Vec::new();
    if from >= to {
        return Ok(entries);
    }
    for item in dyad_node::fetch_entries(url, reach.clone(), from, to)? {
        let (index, bytes) = item?;
        entries.push((index, read_entry(index, &bytes)?));
    }
    Ok(entries)
}
