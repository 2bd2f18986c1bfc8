//! The live demo: two real nodes on loopback ports in this process, and each message
//! sent through its sender's admin API over HTTP, as `dyad append` does with `dyad serve`.

use std::time::Duration;

use super::{Demo, Side};
use crate::commands::append::{default_content_type, Message};
use crate::data::DataDir;
use crate::error::{CliError, Result};
use crate::output::b64;

/// The two nodes of the live demo, on loopback ports, in this process.
pub(super) struct Live {
    rt: tokio::runtime::Runtime,
    alpha: Option<dyad_node::RunningNode>,
    bravo: Option<dyad_node::RunningNode>,
    alpha_admin: dyad_node::AdminClient,
    bravo_admin: dyad_node::AdminClient,
}

impl Live {
    pub(super) fn start(alpha: &DataDir, bravo: &DataDir) -> Result<Live> {
        use dyad_node::{start, AdminClient, NodeConfig};
        let rt = dyad_node::runtime::workers("dyad-demo", Some(2)).map_err(CliError::Client)?;
        let config = |data: &DataDir| -> Result<NodeConfig> {
            let config = data.read_config()?;
            let key = config.signer_key()?;
            let mut c = NodeConfig::new(data.dir.clone(), data.ledger_path(), key);
            c.witnesses = crate::commands::serve::witness_urls(&config);
            c.retry_initial = Duration::from_millis(20);
            c.retry_max = Duration::from_millis(500);
            c.peer_timeout = Duration::from_secs(10);
            Ok(c)
        };
        let (ca, cb) = (config(alpha)?, config(bravo)?);
        let a = rt.block_on(start(ca))?;
        let b = match rt.block_on(start(cb)) {
            Ok(b) => b,
            Err(e) => {
                let _ = rt.block_on(a.shutdown());
                return Err(e.into());
            }
        };
        a.set_peer_url(Some(b.url()));
        b.set_peer_url(Some(a.url()));
        let (alpha_admin, bravo_admin) = {
            let _guard = rt.enter();
            (
                AdminClient::new(&a.admin_url(), a.admin_token())?,
                AdminClient::new(&b.admin_url(), b.admin_token())?,
            )
        };
        Ok(Live {
            rt,
            alpha: Some(a),
            bravo: Some(b),
            alpha_admin,
            bravo_admin,
        })
    }

    pub(super) fn urls(&self) -> (String, String) {
        let url =
            |n: &Option<dyad_node::RunningNode>| n.as_ref().map(|n| n.url()).unwrap_or_default();
        (url(&self.alpha), url(&self.bravo))
    }

    /// Both nodes' (size, committed size).
    fn sizes(&self) -> Result<[(u64, u64); 2]> {
        let mut out = [(0, 0); 2];
        for (i, node) in [&self.alpha, &self.bravo].into_iter().enumerate() {
            if let Some(n) = node {
                let st = self.rt.block_on(n.status())?;
                out[i] = (st.size, st.committed_size);
            }
        }
        Ok(out)
    }

    /// What alpha's node (the sequencer) knows of the witnesses.
    pub(super) fn witness_status(&self) -> Result<dyad_node::WitnessesStatus> {
        let node = self
            .alpha
            .as_ref()
            .ok_or_else(|| CliError::check("internal: alpha's node is not running"))?;
        Ok(self.rt.block_on(node.status())?.witnesses)
    }

    /// Waits (bounded) until both replicas hold the same log, all of it committed.
    pub(super) fn settle(&self, timeout: Duration) -> Result<u64> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let [(sa, ca), (sb, cb)] = self.sizes()?;
            if sa == sb && ca == sa && cb == sb {
                return Ok(sa);
            }
            if std::time::Instant::now() >= deadline {
                return Err(CliError::check(format!(
                    "the nodes did not settle within {} s: alpha holds {sa} entries ({ca} committed), bravo {sb} ({cb} committed)",
                    timeout.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops both nodes gracefully (their stores closed, reopenable).
    pub(super) fn stop(&mut self) -> Result<()> {
        let (a, b) = (self.alpha.take(), self.bravo.take());
        self.rt.block_on(async {
            if let Some(b) = b {
                b.shutdown().await?;
            }
            if let Some(a) = a {
                a.shutdown().await?;
            }
            Ok::<(), dyad_node::NodeError>(())
        })?;
        Ok(())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

impl Demo {
    /// Sends a message through the sender's node's admin API and waits until it is
    /// committed (co-signed by both): the next message may answer it.
    pub(super) fn send_live(
        &mut self,
        from: Side,
        message: Message,
        subject: &str,
        reply: &str,
        to: &str,
    ) -> Result<()> {
        use dyad_node::AppendRequest;
        let live = self
            .live
            .as_ref()
            .ok_or_else(|| CliError::check("internal: no live nodes"))?;
        let kind = message.kind;
        let req = AppendRequest {
            kind: kind.as_str().to_owned(),
            subject: message.subject.clone(),
            content_type: message
                .content_type
                .clone()
                .unwrap_or_else(|| default_content_type(kind).to_owned()),
            payload: b64(&message.payload),
            reply_to: message.reply_to,
            wait: Some("committed".into()),
            timeout_ms: Some(20_000),
            attachments: Vec::new(),
        };
        let admin = match from {
            Side::Alpha => &live.alpha_admin,
            Side::Bravo => &live.bravo_admin,
        };
        let (status, answer) = live.rt.block_on(admin.append(&req))?;
        let Some(index) = answer
            .index
            .filter(|_| status == 200 && answer.state == "committed")
        else {
            return Err(CliError::check(format!(
                "{}'s message {subject:?} was not committed within 20 s (state {})",
                from.name(),
                answer.state
            )));
        };
        self.sizes = [index + 1, index + 1];
        self.sent += 1;
        let route = match from {
            Side::Alpha => "alpha's node appends; bravo's node co-signs",
            Side::Bravo => "bravo's node → alpha's /submit (promised); co-signed",
        };
        self.say(&format!(
            "  #{index:<3} {} → {to}  {:<17} {subject}{reply}",
            from.name(),
            kind.as_str()
        ))?;
        self.say(&format!("        ⇄ HTTPS: {route}; committed on both"))
    }
}
