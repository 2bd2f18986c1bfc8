//! The JSON line a `dyad` server prints on stdout once it listens (`dyad --json serve`,
//! `dyad --json witness serve`), read with a bound on the wait.

use std::io::{BufRead, BufReader};
use std::process::ChildStdout;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// The first line of `out`, parsed as JSON; panics naming `what` if none comes within 20 s
/// or it is not JSON.
pub fn read_announcement(out: ChildStdout, what: &str) -> Value {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what} did not say where it listens within 20 s"));
    serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{what} printed {line:?}: {e}"))
}
