//! `dyad demo --witnesses N`: N third-party witnesses, each a `dyad witness serve` process
//! (this very binary) on a loopback port, co-signing the demo channel's log as a neutral
//! organisation would (spec/node.md 3.2). The genesis names them with threshold N, so an
//! entry is committed only once both parties and every witness co-signed it. The
//! processes are stopped when the demo ends, however it ends: by [`Drop`], and, should the
//! demo be killed, by the end of the pipe on their stdin (`--stop-when-stdin-closes`),
//! which closes with the demo's process. Each one's state and log stay in DIR/witnesses/.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use dyad_ledger::genesis::Party;
use dyad_node::WitnessesStatus;
use dyad_verifier::key::VerifierKey;
use dyad_verifier::receipt::{self, ReceiptTrust, VerifiedReceipt};

use super::Demo;
use crate::commands::init::Witnesses;
use crate::commands::init_witnesses::WitnessArg;
use crate::commands::keys::{generate, Generated};
use crate::error::{CliError, Result};
use crate::replica_reads::Replica;

/// The most witnesses the demo starts (each is a process).
pub(super) const MAX_DEMO_WITNESSES: u8 = 9;

/// How long a witness process may take to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// One witness process of the demo.
pub(super) struct DemoWitness {
    pub key: Generated,
    pub url: String,
    /// The command that serves it again, relative to the demo directory.
    pub command: String,
    child: Option<Child>,
}

/// The demo's witness processes; stopped on drop.
#[derive(Default)]
pub(super) struct DemoWitnesses {
    pub list: Vec<DemoWitness>,
}

impl DemoWitnesses {
    /// Generates N witness keys into `keys` and starts a `dyad witness serve` for each,
    /// configured for the log `log_key` (the sequencer's key under the origin's name).
    pub(super) fn start(dir: &Path, keys: &Path, n: u8, log_key: &VerifierKey) -> Result<Self> {
        let home = dir.join("witnesses");
        std::fs::create_dir_all(&home).map_err(CliError::write(&home))?;
        let logs = home.join("logs.txt");
        std::fs::write(&logs, format!("log {log_key}\n")).map_err(CliError::write(&logs))?;
        let mut started = DemoWitnesses::default();
        for i in 1..=n {
            let stem = format!("witness{i}");
            let key = generate(keys, &stem, &format!("{stem}.demo.example"))?;
            let data = home.join(&stem);
            let log_file = home.join(format!("{stem}.log"));
            // On failure `started` is dropped, which stops the ones already running.
            let (child, url) = spawn(&key.key_file, &logs, &data, &log_file)?;
            let command = format!(
                "{} witness serve --key keys/{stem}.key --logs witnesses/logs.txt --data witnesses/{stem} --listen {}",
                super::dyad_command(),
                url.trim_start_matches("http://")
            );
            started.list.push(DemoWitness {
                key,
                url,
                command,
                child: Some(child),
            });
        }
        Ok(started)
    }

    /// The genesis terms' witnesses (threshold: all of them), with their URLs for
    /// `dyad.json`.
    pub(super) fn terms(&self) -> Witnesses {
        Witnesses {
            witnesses: self
                .list
                .iter()
                .map(|w| WitnessArg {
                    party: Party::of(&w.key.key),
                    url: Some(w.url.clone()),
                })
                .collect(),
            threshold: u8::try_from(self.list.len()).ok(),
        }
    }

    /// The witnesses' cosignature keys (type 0x04), as a verifier trusts them.
    pub(super) fn cosignature_keys(&self) -> Result<Vec<VerifierKey>> {
        self.list
            .iter()
            .map(|w| {
                Party::of(&w.key.key)
                    .cosignature_key()
                    .map_err(|e| CliError::check(e.to_string()))
            })
            .collect()
    }

    /// Stops every witness process and waits for it.
    pub(super) fn stop(&mut self) {
        for w in &mut self.list {
            if let Some(mut child) = w.child.take() {
                // A kill loses nothing: the witness records each checkpoint durably
                // before it returns the cosignature (spec/node.md 3.2).
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for DemoWitnesses {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts `dyad --json witness serve` on an ephemeral loopback port, its log in
/// `log_file`, and waits (bounded) for the line saying where it listens: the child and
/// its URL.
fn spawn(key: &Path, logs: &Path, data: &Path, log_file: &PathBuf) -> Result<(Child, String)> {
    let me = std::env::current_exe().map_err(|e| {
        CliError::usage(format!(
            "cannot find the dyad binary to run the witnesses: {e}"
        ))
    })?;
    let log = std::fs::File::create(log_file).map_err(CliError::write(log_file))?;
    let mut child = Command::new(me)
        .args(["--json", "witness", "serve", "--listen", "127.0.0.1:0"])
        .arg("--stop-when-stdin-closes")
        .arg("--key")
        .arg(key)
        .arg("--logs")
        .arg(logs)
        .arg("--data")
        .arg(data)
        .env("RUST_LOG", "warn")
        // Never written to: the pipe's end closes when this process ends, however it ends,
        // and the witness then stops (it is held open in `child.stdin` until then).
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| CliError::usage(format!("cannot start dyad witness serve: {e}")))?;
    let out = child.stdout.take();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        if let Some(out) = out {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let _ = tx.send(line);
    });
    let url = rx
        .recv_timeout(START_TIMEOUT)
        .ok()
        .and_then(|line| serde_json::from_str::<serde_json::Value>(line.trim()).ok())
        .and_then(|v| v["url"].as_str().map(str::to_owned));
    match url {
        Some(url) => Ok((child, url)),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(CliError::check(format!(
                "a witness process did not say where it listens within {} s; see {}",
                START_TIMEOUT.as_secs(),
                log_file.display()
            )))
        }
    }
}

impl DemoWitnesses {
    /// Checks a receipt as [`check_receipt`](crate::commands::verify::check_receipt) does,
    /// and also that every witness co-signed its checkpoint.
    pub(super) fn check_receipt(
        &self,
        bytes: &[u8],
        a: VerifierKey,
        b: VerifierKey,
        origin: &str,
    ) -> std::result::Result<VerifiedReceipt, String> {
        let keys = self.cosignature_keys().map_err(|e| e.to_string())?;
        let n = keys.len();
        let trust = ReceiptTrust::parties(a, b)
            .and_then(|t| t.with_origin(origin).with_witnesses(keys, n))
            .map_err(|e| e.to_string())?;
        receipt::verify(bytes, &trust).map_err(|e| format!("the receipt does not verify: {e}"))
    }
}

impl Demo {
    /// Generates the witnesses' keys and starts their processes.
    pub(super) fn start_witnesses(&mut self, alpha: &Generated, n: u8) -> Result<()> {
        let log_key = alpha
            .key
            .verifier_key()
            .with_name(super::ORIGIN)
            .map_err(|e| CliError::check(e.to_string()))?;
        self.witnesses = DemoWitnesses::start(&self.dir, &self.keys_dir(), n, &log_key)?;
        let who = if n == 1 {
            "1 third party, a `dyad witness serve` process; it must co-sign".to_owned()
        } else {
            format!("{n} third parties, each a `dyad witness serve` process; all {n} must co-sign")
        };
        self.say(&format!(
            "witnesses  {who} every checkpoint before it is committed"
        ))?;
        for w in &self.witnesses.list {
            self.say(&format!(
                "  {} at {} (keys/{}.pub)",
                w.key.key.name(),
                w.url,
                w.key
                    .key_file
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
            ))?;
        }
        Ok(())
    }

    /// What the sequencer's node saw of each witness, said once the log settled.
    pub(super) fn say_witness_status(&self, status: &WitnessesStatus) -> Result<()> {
        self.say(&format!(
            "  witnesses ({} of {} needed), as alpha's node saw them:",
            status.threshold,
            status.witnesses.len()
        ))?;
        for w in &status.witnesses {
            let cosigned = w
                .cosigned_size
                .map_or_else(|| "nothing".to_owned(), |s| format!("size {s}"));
            let state = w
                .last_error
                .as_deref()
                .map_or_else(|| "ok".to_owned(), |e| format!("last error: {e}"));
            self.say(&format!(
                "    {}: co-signed {cosigned}, {} behind; {state}",
                w.name, w.lag
            ))?;
        }
        Ok(())
    }

    /// Stops the witness processes, and shows the signature lines of the committed
    /// checkpoint they co-signed.
    pub(super) fn stop_witnesses(&mut self) -> Result<()> {
        if self.witnesses.list.is_empty() {
            return Ok(());
        }
        self.witnesses.stop();
        let note = Replica::of(&self.alpha)?.checkpoint_note(None)?;
        let text = String::from_utf8_lossy(&note);
        let size = text.lines().nth(1).unwrap_or("?");
        self.say(&format!(
            "  the committed checkpoint (size {size}) carries the log's signature, bravo's cosignature and each witness's:"
        ))?;
        for line in text.lines().filter(|l| l.starts_with('\u{2014}')) {
            self.say(&format!("    {line}"))?;
        }
        self.say("  witness processes stopped; to run one again:")?;
        for w in &self.witnesses.list {
            self.say(&format!("    (cd {} && {})", self.dir.display(), w.command))?;
        }
        Ok(())
    }
}
