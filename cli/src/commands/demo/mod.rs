//! `dyad demo`: dyad's main job in one command. Two parties (alpha sequences, bravo
//! co-signs) create a channel (the genesis crosses by file, DIR/transfer/), then start
//! two real nodes on loopback ports in this process and exchange the messages over HTTP:
//! alpha's through alpha's admin API, bravo's through bravo's admin API to bravo's node,
//! which submits them to alpha's `/submit`; alpha's node gets each batch co-signed by
//! bravo's `/add-checkpoint`. Then the nodes stop, a receipt is written and verified and
//! both replicas are audited with the independent verifier. With `--offline` the
//! messages cross as sync bundles instead, as an air-gapped deployment would carry them.
//!
//! It runs the same functions as the commands (`init`, `serve`, `append`, `sync
//! export/import`, `receipt`, `verify receipt`, `audit`), so the directories it leaves are
//! ordinary data directories: `DYAD_DATA=DIR/alpha dyad log` works afterwards, and so
//! does `dyad serve` on each.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use dyad_ledger::entry::Kind;
use serde_json::json as j;
use sha2::{Digest, Sha256};

use crate::commands::append::{append, default_content_type, Appended, Message};
use crate::commands::audit::{audit_data, report_lines};
use crate::commands::init::{cosign, propose, Terms};
use crate::commands::keys::generate;
use crate::commands::prove::{make_receipt, write_receipt};
use crate::commands::sync::{export_to_file, import};
use crate::commands::verify::check_receipt;
use crate::data::{read_party_key, DataDir};
use crate::error::{CliError, Result, EXIT_CHECK};
use crate::output::{absolute, b64, format_ms, json, now_ms, outln};
use crate::Ctx;

pub const EXAMPLES: &str = "\
Examples:
  dyad demo                          # in a new temporary directory (printed, kept afterwards)
  dyad demo --dir /tmp/hotline --messages 50
  dyad demo --offline                # messages cross as sync bundles, no network
  DYAD_DATA=/tmp/hotline/alpha dyad log
  cd /tmp/hotline && dyad audit --data bravo --trust keys/alpha.pub --trust keys/bravo.pub

  # afterwards, run the two nodes for real and keep talking:
  DYAD_DATA=/tmp/hotline/alpha dyad serve --listen 127.0.0.1:7380 --peer http://127.0.0.1:7381 &
  DYAD_DATA=/tmp/hotline/bravo dyad serve --listen 127.0.0.1:7381 --peer http://127.0.0.1:7380 &
  DYAD_DATA=/tmp/hotline/bravo dyad append --kind notification --subject 'Hello' --wait committed

By default the two nodes run in this process on loopback ports (127.0.0.1, ephemeral) and
the messages go over HTTP. DIR/keys/ holds alpha.key/.pub and bravo.key/.pub, DIR/alpha and
DIR/bravo the two parties' data directories (alpha sequences), DIR/transfer/ every file
that crossed between them by hand (the genesis; with --offline, every sync bundle), and
DIR/receipt-1.tlog-proof a receipt for the first message.";

const ORIGIN: &str = "hotline.alpha-bravo.example/dyad";

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Directory to create the demo in (new or empty; default: a new temporary directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// How many messages to exchange after the scripted four (alternating senders).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub messages: u32,
    /// Exchange the messages as sync bundles (files) instead of between two live nodes.
    #[arg(long)]
    pub offline: bool,
}

/// The two nodes of the live demo, on loopback ports, in this process.
struct Live {
    rt: tokio::runtime::Runtime,
    alpha: Option<dyad_node::RunningNode>,
    bravo: Option<dyad_node::RunningNode>,
    alpha_admin: dyad_node::AdminClient,
    bravo_admin: dyad_node::AdminClient,
}

impl Live {
    fn start(alpha: &DataDir, bravo: &DataDir) -> Result<Live> {
        use dyad_node::{start, AdminClient, NodeConfig};
        let rt = dyad_node::runtime::workers("dyad-demo", Some(2)).map_err(CliError::Client)?;
        let config = |data: &DataDir| -> Result<NodeConfig> {
            let key = data.read_config()?.signer_key()?;
            let mut c = NodeConfig::new(data.dir.clone(), data.ledger_path(), key);
            c.retry_initial = std::time::Duration::from_millis(20);
            c.retry_max = std::time::Duration::from_millis(500);
            c.peer_timeout = std::time::Duration::from_secs(10);
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

    fn urls(&self) -> (String, String) {
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

    /// Waits (bounded) until both replicas hold the same log, all of it committed.
    fn settle(&self, timeout: std::time::Duration) -> Result<u64> {
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
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Stops both nodes gracefully (their stores closed, reopenable).
    fn stop(&mut self) -> Result<()> {
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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Alpha,
    Bravo,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Alpha => "alpha",
            Side::Bravo => "bravo",
        }
    }
}

struct Demo {
    dir: PathBuf,
    alpha: DataDir,
    bravo: DataDir,
    transfers: u32,
    /// bravo holds something alpha lacks (queued messages or a newer co-signature).
    bravo_dirty: bool,
    /// alpha holds entries bravo has not co-signed.
    alpha_dirty: bool,
    quiet: bool,
    sent: u32,
    /// Entries each replica holds, as the commands reported them.
    sizes: [u64; 2],
    /// The live nodes, unless --offline.
    live: Option<Live>,
}

fn uuid(seed: &str) -> String {
    let h: [u8; 32] = Sha256::digest(seed.as_bytes()).into();
    let x = hex::encode(&h[..16]);
    format!(
        "{}-{}-4{}-a{}-{}",
        &x[0..8],
        &x[8..12],
        &x[13..16],
        &x[17..20],
        &x[20..32]
    )
}

/// A STIX 2.1 bundle of indicators, as national CERTs share them.
fn stix_bundle(seed: &str, now: &str, indicators: &[(&str, &str, &str)]) -> Vec<u8> {
    let identity = format!("identity--{}", uuid(&format!("{seed}/identity")));
    let mut objects = vec![j!({
        "type": "identity",
        "spec_version": "2.1",
        "id": identity,
        "created": now,
        "modified": now,
        "name": "CSIRT Alpha (national CERT)",
        "identity_class": "organization",
        "sectors": ["government-national"],
    })];
    let malware = format!("malware--{}", uuid(&format!("{seed}/malware")));
    objects.push(j!({
        "type": "malware",
        "spec_version": "2.1",
        "id": malware,
        "created": now,
        "modified": now,
        "created_by_ref": identity,
        "name": "GRIDLOCK loader",
        "is_family": true,
        "malware_types": ["remote-access-trojan"],
    }));
    for (i, (name, pattern, description)) in indicators.iter().enumerate() {
        let id = format!("indicator--{}", uuid(&format!("{seed}/indicator/{i}")));
        objects.push(j!({
            "type": "indicator",
            "spec_version": "2.1",
            "id": id,
            "created": now,
            "modified": now,
            "created_by_ref": identity,
            "name": name,
            "description": description,
            "indicator_types": ["malicious-activity"],
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": now,
            "object_marking_refs": ["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"],
        }));
        objects.push(j!({
            "type": "relationship",
            "spec_version": "2.1",
            "id": format!("relationship--{}", uuid(&format!("{seed}/rel/{i}"))),
            "created": now,
            "modified": now,
            "relationship_type": "indicates",
            "source_ref": id,
            "target_ref": malware,
        }));
    }
    let bundle =
        j!({"type": "bundle", "id": format!("bundle--{}", uuid(seed)), "objects": objects});
    serde_json::to_vec_pretty(&bundle).unwrap_or_default()
}

fn text(kind: Kind, subject: &str, body: &str, reply_to: Option<u64>) -> Message {
    Message {
        kind,
        subject: subject.to_owned(),
        content_type: None,
        payload: body.as_bytes().to_vec(),
        reply_to,
        attachments: Vec::new(),
    }
}

impl Demo {
    fn say(&self, line: &str) -> Result<()> {
        if self.quiet {
            return Ok(());
        }
        outln(line)
    }

    fn data(&self, side: Side) -> &DataDir {
        match side {
            Side::Alpha => &self.alpha,
            Side::Bravo => &self.bravo,
        }
    }

    fn size_of(&self, side: Side) -> u64 {
        self.sizes[side as usize]
    }

    fn transfer_path(&mut self, what: &str) -> PathBuf {
        self.transfers += 1;
        self.dir
            .join("transfer")
            .join(format!("{:02}-{what}", self.transfers))
    }

    fn send(&mut self, from: Side, message: Message) -> Result<()> {
        let kind = message.kind;
        let subject = message.subject.clone();
        let reply = message
            .reply_to
            .map_or_else(String::new, |r| format!(" (re #{r})"));
        let to = if from == Side::Alpha {
            "bravo"
        } else {
            "alpha"
        };
        if self.live.is_some() {
            return self.send_live(from, message, &subject, &reply, to);
        }
        let label = match append(self.data(from), message)? {
            Appended::Logged { index, .. } => {
                self.alpha_dirty = true;
                self.sizes[Side::Alpha as usize] = index + 1;
                format!("#{index:<3}")
            }
            Appended::Queued { sequence, .. } => {
                self.bravo_dirty = true;
                format!("q{sequence:<3}")
            }
        };
        self.sent += 1;
        self.say(&format!(
            "  {label} {} → {to}  {:<17} {subject}{reply}",
            from.name(),
            kind.as_str()
        ))
    }

    /// Sends a message through the sender's node's admin API and waits until it is
    /// committed (co-signed by both): the next message may answer it.
    fn send_live(
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
        self.say(&format!("        ⇄ HTTP: {route}; committed on both"))
    }

    /// Carries bundles back and forth until both sides hold the same co-signed log.
    fn sync(&mut self) -> Result<()> {
        if self.live.is_some() {
            return Ok(());
        }
        while self.bravo_dirty || self.alpha_dirty {
            if self.bravo_dirty {
                let path = self.transfer_path("bravo-to-alpha.dyad-sync");
                let out = export_to_file(&self.bravo, None, &path)?;
                let s = import(&self.alpha, &path)?;
                self.sizes[Side::Alpha as usize] = s.size;
                self.bravo_dirty = false;
                if !s.appended.is_empty() {
                    self.alpha_dirty = true;
                }
                let mut what = Vec::new();
                if out.submissions > 0 {
                    what.push(format!(
                        "{} message(s), appended at {}",
                        out.submissions,
                        join(&s.appended)
                    ));
                }
                if let Some(size) = out.cosigned.last() {
                    what.push(format!("co-signature of size {size}"));
                }
                self.say(&format!(
                    "        ⇄ {}: {}; alpha: {} committed",
                    rel(&self.dir, &path),
                    what.join(", "),
                    s.committed_size
                ))?;
            }
            if self.alpha_dirty {
                let path = self.transfer_path("alpha-to-bravo.dyad-sync");
                let out = export_to_file(&self.alpha, None, &path)?;
                let s = import(&self.bravo, &path)?;
                self.sizes[Side::Bravo as usize] = s.size;
                self.alpha_dirty = false;
                self.bravo_dirty = s.cosigned.is_some();
                let entries = match out.entries {
                    Some((a, b)) if b > a => format!("entries {a}..{}", b - 1),
                    _ => "no entries".to_owned(),
                };
                self.say(&format!(
                    "        ⇄ {}: {entries} + checkpoint; bravo re-checks them and co-signs size {}",
                    rel(&self.dir, &path),
                    s.cosigned.map_or_else(|| "-".to_owned(), |c| c.to_string())
                ))?;
            }
        }
        Ok(())
    }
}

fn join(indexes: &[u64]) -> String {
    indexes
        .iter()
        .map(|i| format!("#{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn rel(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn prepare_dir(dir: Option<&Path>) -> Result<PathBuf> {
    match dir {
        Some(d) => {
            if d.exists() {
                let mut entries = std::fs::read_dir(d).map_err(CliError::read(d))?;
                if entries.next().is_some() {
                    return Err(CliError::usage_hint(
                        format!("{} is not empty", d.display()),
                        "give a new or empty directory with --dir, or omit it to use a new temporary directory",
                    ));
                }
            }
            std::fs::create_dir_all(d).map_err(CliError::write(d))?;
            absolute(d)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("dyad-demo-")
                .tempdir()
                .map_err(CliError::write(&std::env::temp_dir()))?;
            Ok(t.keep())
        }
    }
}

/// The four scripted messages, then `n` more, alternating senders.
fn script(d: &mut Demo, n: u32) -> Result<()> {
    let now = format_ms(now_ms());
    d.say("messages")?;
    d.send(
        Side::Alpha,
        text(
            Kind::Inquiry,
            "Credential brute-forcing against our energy regulator from 198.51.100.0/24 (AS64511)",
            "CSIRT Alpha to CERT Bravo, under the bilateral confidence-building arrangement.\n\n\
Since 02:10 UTC today we observe sustained password-spraying and VPN brute-force attempts\n\
against the national energy regulator's remote-access gateway (about 41,000 attempts so far),\n\
originating from 198.51.100.0/24, announced by AS64511, which is registered in your territory.\n\
We also see scanning of TCP/502 (Modbus) from 198.51.100.23 and 198.51.100.77.\n\n\
We ask you to: (1) confirm whether these addresses are known to you; (2) take the measures\n\
available to you to stop the activity; (3) share any indicators you hold on the operator.\n\
Logs can be provided on request. Point of contact: duty officer, CSIRT Alpha, 24/7 line.\n",
            None,
        ),
    )?;
    d.sync()?;
    d.send(
        Side::Bravo,
        text(
            Kind::Response,
            "Re: brute-forcing from 198.51.100.0/24 — hosting customer, servers isolated",
            "CERT Bravo to CSIRT Alpha.\n\n\
We confirm receipt. 198.51.100.0/24 belongs to a hosting provider under our jurisdiction; the\n\
provider reports that 198.51.100.23 and 198.51.100.77 are rented virtual servers paid with a\n\
stolen card. Both were isolated at 06:40 UTC and images preserved for our law-enforcement\n\
partners. We see no evidence of state involvement. We will share indicators from the images.\n",
            Some(1),
        ),
    )?;
    d.sync()?;
    let stix = stix_bundle(
        &format!("{now}/share-1"),
        &now,
        &[
            ("Brute-force source", "[ipv4-addr:value = '198.51.100.23']", "VPN password spraying against the energy regulator"),
            ("Modbus scanner", "[ipv4-addr:value = '198.51.100.77']", "TCP/502 scanning of OT networks"),
            ("C2 domain", "[domain-name:value = 'update-check.example.net']", "GRIDLOCK loader command and control"),
            (
                "Loader sample",
                "[file:hashes.'SHA-256' = '4f9d1c2b7a8e6d5c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c']",
                "First-stage loader dropped on the VPN concentrator",
            ),
        ],
    );
    d.send(
        Side::Alpha,
        Message {
            kind: Kind::ThreatIndicators,
            subject: "Indicators: GRIDLOCK campaign against the energy sector (TLP:CLEAR)".into(),
            content_type: None,
            payload: stix,
            reply_to: None,
            attachments: Vec::new(),
        },
    )?;
    d.send(
        Side::Bravo,
        text(
            Kind::Notification,
            "Notification: national cyber exercise BRAVO SHIELD, 3–5 March, 06:00–18:00 UTC",
            "CERT Bravo notifies CSIRT Alpha of the national exercise BRAVO SHIELD. Simulated attack\n\
traffic will originate from 203.0.113.0/24 towards ranges in our own territory only. Any\n\
traffic from this range reaching your networks is unintended: please tell us at once.\n",
            None,
        ),
    )?;
    d.sync()?;
    for i in 0..n {
        let side = if i % 2 == 0 { Side::Alpha } else { Side::Bravo };
        let latest = d.size_of(side).saturating_sub(1).max(1);
        let k = d.sent + 1;
        let message = match i % 8 {
            0 => text(Kind::Notification, &format!("Daily status {k}: brute-force traffic down 92% since isolation"), "Monitoring continues; no new sources observed.\n", None),
            1 => text(Kind::Response, &format!("Re: status — provider confirms takedown of two more servers ({k})"), "Two further rented servers linked to the same payment were taken down.\n", Some(latest)),
            2 => text(Kind::Inquiry, &format!("New beacons to update-check.example.net from 203.0.113.7 — same operator? ({k})"), "Is 203.0.113.7 part of your exercise range or a real host?\n", None),
            3 => Message {
                kind: Kind::ThreatIndicators,
                subject: format!("Indicators from the preserved server images ({k})"),
                content_type: None,
                payload: stix_bundle(&format!("{now}/share-{k}"), &now, &[("Staging server", "[ipv4-addr:value = '192.0.2.44']", "Payload staging")]),
                reply_to: None,
                attachments: Vec::new(),
            },
            4 => text(Kind::Response, &format!("Re: indicators — deployed on national sensors ({k})"), "Thank you. The indicators are deployed; two hits so far, both blocked.\n", Some(latest)),
            5 => text(Kind::Notification, &format!("Maintenance window of the hotline gateway, Sunday 02:00–03:00 UTC ({k})"), "Messages sent in that hour will be queued and delivered afterwards.\n", None),
            6 => text(Kind::Inquiry, &format!("Request for connection logs for 192.0.2.44, 1–2 March ({k})"), "Please share the flow records you can release for this address.\n", None),
            _ => text(Kind::Response, &format!("Re: logs — flow records released ({k})"), "Flow records for the period are attached to our next indicator share.\n", Some(latest)),
        };
        d.send(side, message)?;
        if side == Side::Bravo || i + 1 == n {
            d.sync()?;
        }
    }
    d.sync()
}

pub fn run(ctx: &Ctx, args: &DemoArgs) -> Result<ExitCode> {
    let dir = prepare_dir(args.dir.as_deref())?;
    let keys = dir.join("keys");
    let transfer = dir.join("transfer");
    std::fs::create_dir_all(&transfer).map_err(CliError::write(&transfer))?;
    let mut d = Demo {
        dir: dir.clone(),
        alpha: DataDir::new(&dir.join("alpha")),
        bravo: DataDir::new(&dir.join("bravo")),
        transfers: 0,
        bravo_dirty: false,
        alpha_dirty: false,
        quiet: ctx.json,
        sent: 0,
        sizes: [1, 1],
        live: None,
    };
    d.say("dyad demo: two national incident centres on a hotline channel; alpha sequences, bravo co-signs")?;
    d.say(&format!("  directory  {}", dir.display()))?;
    let a = generate(&keys, "alpha", "csirt.alpha.example")?;
    let b = generate(&keys, "bravo", "cert.bravo.example")?;
    d.say(&format!(
        "  keys       keys/alpha.key ({}), keys/bravo.key ({}), and their .pub files",
        a.key.name(),
        b.key.name()
    ))?;
    d.say(&format!("  channel    {ORIGIN}"))?;

    d.say("genesis")?;
    let proposed = propose(&d.alpha, ORIGIN, &a.key_file, &b.pub_file, Terms::default())?;
    let proposal = d.transfer_path("alpha-to-bravo.genesis.proposal");
    std::fs::copy(&proposed.proposal_path, &proposal).map_err(CliError::write(&proposal))?;
    d.say(&format!(
        "  alpha signs the channel's terms       ⇄ {}",
        rel(&dir, &proposal)
    ))?;
    let cosigned = cosign(&d.bravo, ORIGIN, &b.key_file, &a.pub_file, &proposal)?;
    let signed = d.transfer_path("bravo-to-alpha.genesis.signed");
    std::fs::copy(&cosigned.signed_path, &signed).map_err(CliError::write(&signed))?;
    d.say(&format!(
        "  bravo checks them and co-signs        ⇄ {}",
        rel(&dir, &signed)
    ))?;
    import(&d.alpha, &signed)?;
    d.say("  alpha checks bravo's signature; both replicas hold entry 0")?;

    if args.offline {
        d.say("transport  offline: every sync bundle crosses as a file in transfer/")?;
    } else {
        let live = Live::start(&d.alpha, &d.bravo)?;
        let (ua, ub) = live.urls();
        d.say(&format!(
            "transport  live nodes: alpha (sequencer) at {ua}, bravo (co-signer) at {ub}, in this process"
        ))?;
        d.live = Some(live);
    }
    script(&mut d, args.messages)?;
    let mut live_size = None;
    if let Some(mut live) = d.live.take() {
        let settled = live.settle(std::time::Duration::from_secs(20));
        live.stop()?;
        let size = settled?;
        d.say(&format!(
            "  both nodes hold {size} entries, all committed; nodes stopped (serve them again with `dyad serve`)"
        ))?;
        live_size = Some(size);
    }

    // The receipt: alpha can prove that bravo acknowledged the inquiry.
    d.say("receipt")?;
    let (receipt, cp_size) = make_receipt(&d.alpha, 1)?;
    let receipt_path = dir.join("receipt-1.tlog-proof");
    write_receipt(&receipt_path, &receipt)?;
    let alpha_pub = read_party_key(&a.pub_file)?;
    let bravo_pub = read_party_key(&b.pub_file)?;
    let verified = check_receipt(&receipt, alpha_pub.clone(), bravo_pub.clone(), Some(ORIGIN));
    match &verified {
        Ok(r) => d.say(&format!(
            "  {}: entry 1 ({} from {}), in the checkpoint of size {cp_size} co-signed by {} — verified with keys/*.pub only",
            rel(&dir, &receipt_path),
            r.entry.kind,
            r.sender.name(),
            r.committed.cosigner.name()
        ))?,
        Err(e) => d.say(&format!("  {}: DOES NOT VERIFY: {e}", rel(&dir, &receipt_path)))?,
    }

    d.say("audits (independent verifier, with keys/*.pub only)")?;
    let audit_alpha = audit_data(&d.alpha.dir, alpha_pub.clone(), bravo_pub.clone())?;
    let audit_bravo = audit_data(&d.bravo.dir, alpha_pub, bravo_pub)?;
    for (side, outcome) in [("alpha", &audit_alpha), ("bravo", &audit_bravo)] {
        let lines = report_lines(outcome);
        d.say(&format!(
            "  {side}: {}",
            lines.first().cloned().unwrap_or_default()
        ))?;
        if outcome.result.is_err() {
            for l in lines.iter().skip(1) {
                d.say(&format!("  {l}"))?;
            }
        }
    }

    let (ra, rb) = (
        audit_alpha.result.as_ref().ok(),
        audit_bravo.result.as_ref().ok(),
    );
    let same = match (ra, rb) {
        (Some(x), Some(y)) => x.root == y.root && x.leaves == y.leaves,
        _ => false,
    };
    let all_committed = ra
        .zip(rb)
        .is_some_and(|(x, y)| x.pending == 0 && y.pending == 0);
    let ok = verified.is_ok() && same && all_committed;
    let entries = ra.map_or(0, |r| r.leaves);
    let root = ra.map(|r| b64(&r.root));
    if ctx.json {
        json(&j!({
            "verdict": if ok { "ok" } else { "failed" },
            "dir": dir,
            "origin": ORIGIN,
            "alpha": d.alpha.dir,
            "bravo": d.bravo.dir,
            "keys": keys,
            "messages": d.sent,
            "entries": entries,
            "committed_size": ra.map(|r| r.committed_size),
            "root": root,
            "replicas_identical": same,
            "transfers": d.transfers,
            "live": !args.offline,
            "live_size": live_size,
            "receipt": receipt_path,
            "receipt_verified": verified.is_ok(),
            "audits": {
                "alpha": if audit_alpha.result.is_ok() { "pass" } else { "fail" },
                "bravo": if audit_bravo.result.is_ok() { "pass" } else { "fail" },
            },
        }))?;
    } else if ok {
        outln(&format!(
            "VERDICT: OK — both replicas hold the same {entries} entries (root {}), every one committed (co-signed by both parties); the receipt verifies and both audits pass.",
            root.unwrap_or_default()
        ))?;
        outln(&format!(
            "Look around: DYAD_DATA={} dyad log   (or {}/bravo)",
            d.alpha.dir.display(),
            dir.display()
        ))?;
    } else {
        outln("VERDICT: FAILED — see above.")?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CHECK)
    })
}
