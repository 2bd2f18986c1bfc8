//! Helpers for the end-to-end tests: each test gets its own temporary directory and runs
//! the real `dyad` binary in it.
//!
//! These tests (and the crash and disk-full harnesses) live in `cli/tests/` because Cargo tells only
//! the tests of the package that owns a binary where it is (`CARGO_BIN_EXE_dyad`), and
//! builds it for them: no second build, no stale binary.
#![allow(dead_code)]

pub mod announce;
pub mod node;
pub mod policy;
pub mod witness;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

pub const ORIGIN: &str = "hotline.example/dyad/test";

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// `dyad` in the test directory, with no data directory from the environment.
    pub fn dyad(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dyad"));
        c.current_dir(self.dir.path()).env_remove("DYAD_DATA");
        c
    }

    /// `dyad --data <dir>/<data>`.
    pub fn at(&self, data: &str) -> Command {
        let mut c = self.dyad();
        c.arg("--data").arg(self.path(data));
        c
    }

    pub fn keygen(&self, name: &str) {
        self.dyad()
            .args([
                "keygen",
                name,
                "--key-name",
                &format!("cert.{name}.example"),
                "--out",
                "keys",
            ])
            .assert()
            .success();
    }

    /// `dyad keygen FILE --key-name cert.PARTY.example --out keys`: a new key for `party`
    /// (a key change's new key, spec/dyad.md 3.7).
    pub fn new_party_key(&self, file: &str, party: &str) {
        self.dyad()
            .args(["keygen", file, "--key-name"])
            .arg(format!("cert.{party}.example"))
            .args(["--out", "keys"])
            .assert()
            .success();
    }

    /// Keys for alpha and bravo, and a channel alpha sequences, created by the three
    /// offline init steps.
    pub fn channel(&self) {
        self.keygen("alpha");
        self.keygen("bravo");
        self.channel_in("alpha", "bravo", ORIGIN);
    }

    /// A channel between the existing alpha and bravo keys in data dirs `a` and `b`.
    pub fn channel_in(&self, a: &str, b: &str, origin: &str) {
        self.at(a)
            .args([
                "init",
                "--origin",
                origin,
                "--key",
                "keys/alpha.key",
                "--peer",
                "keys/bravo.pub",
                "--role",
                "sequencer",
            ])
            .assert()
            .success();
        let proposal = self.path(a).join("genesis.proposal");
        self.at(b)
            .args([
                "init",
                "--origin",
                origin,
                "--key",
                "keys/bravo.key",
                "--peer",
                "keys/alpha.pub",
                "--role",
                "cosigner",
                "--proposal",
            ])
            .arg(&proposal)
            .assert()
            .success();
        let signed = self.path(b).join("genesis.signed");
        self.at(a)
            .args(["sync", "import"])
            .arg(&signed)
            .assert()
            .success();
    }

    pub fn append(&self, data: &str, kind: &str, subject: &str, body: &str) -> Value {
        let out = self
            .at(data)
            .args([
                "--json",
                "append",
                "--kind",
                kind,
                "--subject",
                subject,
                "-",
            ])
            .write_stdin(body.to_owned())
            .assert()
            .success();
        json(&out.get_output().stdout)
    }

    /// Exports from `from` into a bundle file and imports it into `to`; returns the file.
    pub fn sync(&self, from: &str, to: &str) -> PathBuf {
        let n = std::fs::read_dir(self.dir.path())
            .map(|d| d.count())
            .unwrap_or(0);
        let file = self.path(&format!("{from}-to-{to}-{n}.dyad-sync"));
        self.at(from)
            .args(["sync", "export", "--out"])
            .arg(&file)
            .assert()
            .success();
        self.at(to)
            .args(["sync", "import"])
            .arg(&file)
            .assert()
            .success();
        file
    }

    /// Everything committed on both sides.
    pub fn sync_all(&self) {
        self.sync("bravo", "alpha");
        self.sync("alpha", "bravo");
        self.sync("bravo", "alpha");
    }

    pub fn trust(&self) -> [String; 4] {
        [
            "--trust".into(),
            "keys/alpha.pub".into(),
            "--trust".into(),
            "keys/bravo.pub".into(),
        ]
    }

    pub fn stdout_json(&self, cmd: &mut Command) -> Value {
        let out = cmd.assert().success();
        json(&out.get_output().stdout)
    }
}

/// `dyad log --json` on `data` (through its node if one runs there), which must succeed.
pub fn log_json(env: &Env, data: &std::path::Path) -> Value {
    let out = env
        .dyad()
        .env("DYAD_DATA", data)
        .args(["--json", "log"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("dyad log");
    assert!(out.status.success(), "dyad log failed: {}", stderr(&out));
    json(&out.stdout)
}

/// `dyad --json restore --from-peer PEER` on the data directory `data` (its node stopped),
/// with a bounded wait: its output, whatever it is.
pub fn restore_from_peer(env: &Env, data: &Path, peer: &str) -> std::process::Output {
    env.dyad()
        .env("DYAD_DATA", data)
        .args(["--json", "restore", "--from-peer", peer])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("dyad restore --from-peer")
}

/// The port of a node's URL (`https://127.0.0.1:PORT`), to start it again where it was.
pub fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Rewrites a sync bundle's records and recomputes its end line, as a forger would.
pub fn rewrite_bundle(path: &Path, edit: impl FnOnce(&mut Vec<String>)) {
    use base64::Engine as _;
    use sha2::Digest as _;
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.pop(); // the end line
    let mut records = lines.split_off(2);
    edit(&mut records);
    lines.extend(records);
    let mut body = lines.join("\n");
    body.push('\n');
    let digest = sha2::Sha256::digest(body.as_bytes());
    let count = lines.len() - 2;
    body.push_str(&format!(
        "end {count} {}\n",
        base64::engine::general_purpose::STANDARD.encode(digest)
    ));
    std::fs::write(path, body).unwrap();
}

pub fn b64d(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

pub fn b64e(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// One row of a table of refused command lines: its name (in every failure message), the
/// arguments after the table's base command, the exit code it must give and texts its
/// stderr must contain.
pub struct Refusal<'a> {
    pub name: &'a str,
    pub args: &'a [&'a str],
    pub code: i32,
    pub says: &'a [&'a str],
}

impl Refusal<'_> {
    /// Runs `base` with this case's arguments and checks the refusal, naming the case.
    pub fn check(&self, mut base: Command) {
        let out = base.args(self.args).output().expect("run dyad");
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(self.code),
            "case {:?}: exit code; stderr: {err}",
            self.name
        );
        for says in self.says {
            assert!(
                err.contains(says),
                "case {:?}: stderr lacks {says:?}: {err}",
                self.name
            );
        }
    }
}

/// Whether the external program `name` (openssl, curl) is on PATH. Without it a test that
/// checks dyad against it says so and skips that check, unless
/// `DYAD_REQUIRE_EXTERNAL_TOOLS` is set (CI sets it): then a missing tool fails the test.
pub fn external_tool(name: &str) -> bool {
    let found = std::process::Command::new(name)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("DYAD_REQUIRE_EXTERNAL_TOOLS").is_none(),
            "{name} is not on PATH, and DYAD_REQUIRE_EXTERNAL_TOOLS is set"
        );
        eprintln!("{name} is not on PATH: skipping the check against it");
    }
    found
}

/// An external program named by the environment variable `var` (CI's install scripts set
/// it): its path, if `PROGRAM --help` runs. Without it the test that needs it says so and
/// skips, unless `DYAD_REQUIRE_EXTERNAL_TOOLS` is set (CI sets it): then it fails.
pub fn external_program(var: &str) -> Option<PathBuf> {
    find_external_program(var, None, "--help")
}

/// [`external_program`], or `fallback` on PATH when `var` is unset; `probe` is the argument
/// that shows the program runs (nginx knows `-v`, not `--help`).
pub fn external_program_or(var: &str, fallback: &str, probe: &str) -> Option<PathBuf> {
    find_external_program(var, Some(fallback), probe)
}

fn find_external_program(var: &str, fallback: Option<&str>, probe: &str) -> Option<PathBuf> {
    let program = std::env::var_os(var)
        .map(PathBuf::from)
        .or_else(|| fallback.map(PathBuf::from));
    let found = program.as_ref().is_some_and(|p| {
        std::process::Command::new(p)
            .arg(probe)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !found {
        assert!(
            std::env::var_os("DYAD_REQUIRE_EXTERNAL_TOOLS").is_none(),
            "{var} is unset or names no program that runs, and DYAD_REQUIRE_EXTERNAL_TOOLS is set"
        );
        eprintln!("{var} is unset or wrong: skipping (run .ci/install-*.sh, or set {var})");
        return None;
    }
    program
}
