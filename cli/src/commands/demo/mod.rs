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
use dyad_ledger::genesis::Party;
use dyad_verifier::receipt::VerifiedReceipt;
use serde_json::json as j;

use crate::commands::append::Message;
use crate::commands::audit::{audit_data, report_lines, AuditOutcome};
use crate::commands::init::{cosign, propose, Terms};
use crate::commands::keys::{generate, Generated};
use crate::commands::receipt::{make_receipt, write_receipt};
use crate::commands::sync::import;
use crate::commands::verify::check_receipt;
use crate::data::DataDir;
use crate::error::{CliError, Result, EXIT_CHECK};
use crate::output::{absolute, b64, json, outln};
use crate::trust::read_party_key;
use crate::Ctx;

mod live;
mod offline;
mod script;
mod witnesses;

use live::Live;
use script::script;
use witnesses::{DemoWitnesses, MAX_DEMO_WITNESSES};

pub const EXAMPLES: &str = "\
Examples:
  dyad demo                          # in a new temporary directory (printed, kept afterwards)
  dyad demo --dir /tmp/hotline --messages 50
  dyad demo --offline                # messages cross as sync bundles, no network
  dyad demo --witnesses 2            # and two third-party witnesses co-sign every checkpoint
  DYAD_DATA=/tmp/hotline/alpha dyad log
  cd /tmp/hotline && dyad audit --data bravo --trust keys/alpha.pub --trust keys/bravo.pub

  # afterwards, run the two nodes for real and keep talking:
  DYAD_DATA=/tmp/hotline/alpha dyad serve --listen 127.0.0.1:7380 --peer https://127.0.0.1:7381 &
  DYAD_DATA=/tmp/hotline/bravo dyad serve --listen 127.0.0.1:7381 --peer https://127.0.0.1:7380 &
  DYAD_DATA=/tmp/hotline/bravo dyad append --kind notification --subject 'Hello' --wait committed

By default the two nodes run in this process on loopback ports (127.0.0.1, ephemeral) and
the messages go over HTTP. DIR/keys/ holds alpha.key/.pub and bravo.key/.pub, DIR/alpha and
DIR/bravo the two parties' data directories (alpha sequences), DIR/transfer/ every file
that crossed between them by hand (the genesis; with --offline, every sync bundle), and
DIR/receipt-1.tlog-proof a receipt for the first message. With --witnesses N, N `dyad witness
serve` processes (this binary) co-sign too, each on a loopback port, with threshold N; their
keys are DIR/keys/witnessI.key/.pub, their state and logs DIR/witnesses/, and they are
stopped when the demo ends.";

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
    #[arg(long, conflicts_with = "witnesses")]
    pub offline: bool,
    /// Also run N third-party witnesses (`dyad witness serve` processes) that must all
    /// co-sign every checkpoint (needs the live nodes: not with --offline).
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u8).range(0..=i64::from(MAX_DEMO_WITNESSES)))]
    pub witnesses: u8,
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
    /// The witness processes (--witnesses), stopped on drop.
    witnesses: DemoWitnesses,
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

    /// Sends one message from `from` to the other party, and says so.
    fn send(&mut self, from: Side, message: Message) -> Result<()> {
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
            self.send_live(from, message, &subject, &reply, to)
        } else {
            self.send_offline(from, message, &subject, &reply, to)
        }
    }
}

/// ` and witnesses W1, W2` for a checkpoint the witnesses co-signed; empty otherwise.
fn witnessed_by(witnesses: &[(dyad_verifier::key::VerifierKey, u64)]) -> String {
    if witnesses.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = witnesses.iter().map(|(k, _)| k.name()).collect();
    format!(" and witnesses {}", names.join(", "))
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

pub fn run(ctx: &Ctx, args: &DemoArgs) -> Result<ExitCode> {
    let dir = prepare_dir(args.dir.as_deref())?;
    let mut d = Demo::new(&dir, ctx.json)?;
    d.say("dyad demo: two national incident centres on a hotline channel; alpha sequences, bravo co-signs")?;
    d.say(&format!("  directory  {}", dir.display()))?;
    let parties = d.keys()?;
    if args.witnesses > 0 {
        d.start_witnesses(&parties.alpha, args.witnesses)?;
    }
    d.genesis(&parties)?;
    if args.offline {
        d.say("transport  offline: every sync bundle crosses as a file in transfer/")?;
    } else {
        d.go_live()?;
    }
    script(&mut d, args.messages)?;
    let live_size = d.stop_live()?;
    let checks = d.check(&parties)?;
    report(ctx, args, &d, &checks, live_size)
}

/// The two parties' key files, in DIR/keys/.
struct Parties {
    alpha: Generated,
    bravo: Generated,
}

/// What the demo checked at the end, with the verifier only.
struct Checks {
    receipt_path: PathBuf,
    receipt: std::result::Result<VerifiedReceipt, String>,
    audit_alpha: AuditOutcome,
    audit_bravo: AuditOutcome,
}

impl Demo {
    fn new(dir: &Path, quiet: bool) -> Result<Demo> {
        let transfer = dir.join("transfer");
        std::fs::create_dir_all(&transfer).map_err(CliError::write(&transfer))?;
        Ok(Demo {
            dir: dir.to_owned(),
            alpha: DataDir::new(&dir.join("alpha")),
            bravo: DataDir::new(&dir.join("bravo")),
            transfers: 0,
            bravo_dirty: false,
            alpha_dirty: false,
            quiet,
            sent: 0,
            sizes: [1, 1],
            live: None,
            witnesses: DemoWitnesses::default(),
        })
    }

    fn keys_dir(&self) -> PathBuf {
        self.dir.join("keys")
    }

    fn keys(&self) -> Result<Parties> {
        let keys = self.keys_dir();
        let alpha = generate(&keys, "alpha", "csirt.alpha.example")?;
        let bravo = generate(&keys, "bravo", "cert.bravo.example")?;
        self.say(&format!(
            "  keys       keys/alpha.key ({}), keys/bravo.key ({}), and their .pub files",
            alpha.key.name(),
            bravo.key.name()
        ))?;
        self.say(&format!("  channel    {ORIGIN}"))?;
        Ok(Parties { alpha, bravo })
    }

    /// The channel is created offline, as `dyad init` does it: the proposal and the signed
    /// genesis cross by file.
    fn genesis(&mut self, p: &Parties) -> Result<()> {
        self.say("genesis")?;
        let (a, b) = (&p.alpha, &p.bravo);
        let proposed = propose(
            &self.alpha,
            ORIGIN,
            &a.key_file,
            &b.pub_file,
            Terms::default(),
            &self.witnesses.terms(),
        )?;
        let proposal = self.transfer_path("alpha-to-bravo.genesis.proposal");
        std::fs::copy(&proposed.proposal_path, &proposal).map_err(CliError::write(&proposal))?;
        self.say(&format!(
            "  alpha signs the channel's terms       ⇄ {}",
            rel(&self.dir, &proposal)
        ))?;
        let cosigned = cosign(&self.bravo, ORIGIN, &b.key_file, &a.pub_file, &proposal)?;
        let signed = self.transfer_path("bravo-to-alpha.genesis.signed");
        std::fs::copy(&cosigned.signed_path, &signed).map_err(CliError::write(&signed))?;
        self.say(&format!(
            "  bravo checks them and co-signs        ⇄ {}",
            rel(&self.dir, &signed)
        ))?;
        import(&self.alpha, &signed)?;
        self.say("  alpha checks bravo's signature; both replicas hold entry 0")
    }

    fn go_live(&mut self) -> Result<()> {
        let live = Live::start(&self.alpha, &self.bravo)?;
        let (ua, ub) = live.urls();
        self.say(&format!(
            "transport  live nodes over TLS 1.3, each recognising the other by its genesis key: alpha (sequencer) at {ua}, bravo (co-signer) at {ub}, in this process"
        ))?;
        self.live = Some(live);
        Ok(())
    }

    /// Once both live nodes hold the whole log, committed, stops them: the size they hold.
    fn stop_live(&mut self) -> Result<Option<u64>> {
        let Some(mut live) = self.live.take() else {
            return Ok(None);
        };
        let settled = live.settle(std::time::Duration::from_secs(20));
        let witnessed = live.witness_status();
        live.stop()?;
        let size = settled?;
        if !self.witnesses.list.is_empty() {
            self.say_witness_status(&witnessed?)?;
        }
        self.say(&format!(
            "  both nodes hold {size} entries, all committed; nodes stopped (serve them again with `dyad serve`)"
        ))?;
        self.stop_witnesses()?;
        Ok(Some(size))
    }

    /// The receipt (alpha can prove that bravo acknowledged the inquiry) and both
    /// replicas' audits, with the two `.pub` files only.
    fn check(&self, p: &Parties) -> Result<Checks> {
        let dir = &self.dir;
        self.say("receipt")?;
        let (receipt, cp_size) = make_receipt(&self.alpha, 1)?;
        let receipt_path = dir.join("receipt-1.tlog-proof");
        write_receipt(&receipt_path, &receipt)?;
        let alpha_pub = read_party_key(&p.alpha.pub_file)?;
        let bravo_pub = read_party_key(&p.bravo.pub_file)?;
        let verified = if self.witnesses.list.is_empty() {
            check_receipt(&receipt, alpha_pub.clone(), bravo_pub.clone(), Some(ORIGIN))
        } else {
            self.witnesses
                .check_receipt(&receipt, alpha_pub.clone(), bravo_pub.clone(), ORIGIN)
        };
        match &verified {
            Ok(r) => self.say(&format!(
                "  {}: entry 1 ({} from {}), in the checkpoint of size {cp_size} co-signed by {}{} — verified with keys/*.pub only",
                rel(dir, &receipt_path),
                r.entry.kind,
                r.sender.name(),
                r.committed.cosigner.name(),
                witnessed_by(&r.committed.witnesses)
            ))?,
            Err(e) => self.say(&format!("  {}: DOES NOT VERIFY: {e}", rel(dir, &receipt_path)))?,
        }

        self.say("audits (independent verifier, with keys/*.pub only)")?;
        let parties = dyad_verifier::audit::AuditTrust::Parties([alpha_pub, bravo_pub]);
        let audit_alpha = audit_data(&self.alpha.dir, parties.clone(), true)?;
        let audit_bravo = audit_data(&self.bravo.dir, parties, true)?;
        for (side, outcome) in [("alpha", &audit_alpha), ("bravo", &audit_bravo)] {
            let lines = report_lines(outcome);
            self.say(&format!(
                "  {side}: {}",
                lines.first().cloned().unwrap_or_default()
            ))?;
            if outcome.result.is_err() {
                for l in lines.iter().skip(1) {
                    self.say(&format!("  {l}"))?;
                }
            }
        }
        Ok(Checks {
            receipt_path,
            receipt: verified,
            audit_alpha,
            audit_bravo,
        })
    }
}

/// The verdict: both replicas identical and all committed, the receipt verified, both
/// audits passed.
fn report(
    ctx: &Ctx,
    args: &DemoArgs,
    d: &Demo,
    checks: &Checks,
    live_size: Option<u64>,
) -> Result<ExitCode> {
    let (ra, rb) = (
        checks.audit_alpha.result.as_ref().ok(),
        checks.audit_bravo.result.as_ref().ok(),
    );
    let same = match (ra, rb) {
        (Some(x), Some(y)) => x.root == y.root && x.leaves == y.leaves,
        _ => false,
    };
    let all_committed = ra
        .zip(rb)
        .is_some_and(|(x, y)| x.pending == 0 && y.pending == 0);
    let ok = checks.receipt.is_ok() && same && all_committed;
    let entries = ra.map_or(0, |r| r.leaves);
    let root = ra.map(|r| b64(&r.root));
    if ctx.json {
        json(&j!({
            "verdict": if ok { "ok" } else { "failed" },
            "dir": d.dir,
            "origin": ORIGIN,
            "alpha": d.alpha.dir,
            "bravo": d.bravo.dir,
            "keys": d.keys_dir(),
            "messages": d.sent,
            "entries": entries,
            "committed_size": ra.map(|r| r.committed_size),
            "root": root,
            "replicas_identical": same,
            "transfers": d.transfers,
            "live": !args.offline,
            "live_size": live_size,
            "witnesses": d.witnesses.list.iter().map(|w| j!({
                "name": w.key.key.name(),
                "url": w.url,
                "verifier_key": Party::of(&w.key.key).cosignature_key().ok().map(|k| k.to_string()),
            })).collect::<Vec<_>>(),
            "witness_threshold": d.witnesses.list.len(),
            "receipt_witnesses": checks.receipt.as_ref().map_or(0, |r| r.committed.witnesses.len()),
            "receipt": checks.receipt_path,
            "receipt_verified": checks.receipt.is_ok(),
            "audits": {
                "alpha": if checks.audit_alpha.result.is_ok() { "pass" } else { "fail" },
                "bravo": if checks.audit_bravo.result.is_ok() { "pass" } else { "fail" },
            },
        }))?;
    } else if ok {
        outln(&format!(
            "VERDICT: OK — both replicas hold the same {entries} entries (root {}), every one committed (co-signed by both parties{}); the receipt verifies and both audits pass.",
            root.unwrap_or_default(),
            match d.witnesses.list.len() {
                0 => String::new(),
                n => format!(" and {n} witnesses"),
            }
        ))?;
        outln(&format!(
            "Look around: DYAD_DATA={} {} log   (or {}/bravo)",
            d.alpha.dir.display(),
            dyad_command(),
            d.dir.display()
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

/// How to run this very binary from a shell: `dyad` when that is what PATH finds,
/// otherwise its full path (`cargo run` leaves it in target/, off PATH).
fn dyad_command() -> String {
    let Ok(me) = std::env::current_exe().and_then(|p| p.canonicalize()) else {
        return "dyad".to_owned();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .filter_map(|dir| dir.join("dyad").canonicalize().ok())
            .next()
            .is_some_and(|found| found == me)
    });
    if on_path {
        "dyad".to_owned()
    } else {
        me.display().to_string()
    }
}
