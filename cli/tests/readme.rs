//! README.md's commands, executed: every `sh` block is either run as written (in one
//! scratch directory, in order, with this build's `dyad` first on PATH) or named below with
//! the reason it is not, so a new block fails this test until someone decides which.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What to do with one `sh` block, found by the section it sits in and its first command.
struct Block {
    section: &'static str,
    first_command: &'static str,
    run: Run,
}

enum Run {
    /// Run every line, after these (from, to) substitutions; lines starting with one of
    /// `skip` are left out.
    Yes {
        substitute: &'static [(&'static str, &'static str)],
        skip: &'static [&'static str],
    },
    /// Not run; the reason says why.
    No(&'static str),
}

const BLOCKS: &[Block] = &[
    Block {
        section: "Try it",
        first_command: "cargo run --release -p dyad-cli -- demo",
        run: Run::Yes {
            substitute: &[("cargo run --release -p dyad-cli -- ", "dyad ")],
            skip: &["cargo test"], // the suite this test is part of
        },
    },
    Block {
        section: "Using it",
        first_command: "dyad keygen alpha",
        run: Run::Yes {
            substitute: &[],
            skip: &[],
        },
    },
    Block {
        section: "Using it",
        first_command: "dyad verify receipt",
        run: Run::Yes {
            substitute: &[],
            skip: &[],
        },
    },
    Block {
        section: "Using it",
        first_command: "DYAD_DATA=A dyad serve",
        run: Run::No(
            "two long-running nodes in two terminals; the live exchange is covered by \
             the node tests and `dyad demo`",
        ),
    },
    Block {
        section: "Using it",
        first_command: "dyad --data A policy show",
        run: Run::Yes {
            substitute: &[],
            skip: &[],
        },
    },
    Block {
        section: "Using it",
        first_command: "dyad --data A tls show",
        run: Run::Yes {
            substitute: &[],
            // A reader's request needs a running node (the node tests cover it).
            skip: &["curl"],
        },
    },
    Block {
        section: "Using it",
        first_command: "bash .ci/install-web-tools.sh",
        run: Run::No(
            "installs tools and builds for wasm32 (minutes); .ci/run does the same, and \
             cli/tests/cli_web_page.rs runs `dyad export web` and `/audit/` on its build",
        ),
    },
    Block {
        section: "Using it",
        first_command: "export AWS_ACCESS_KEY_ID",
        run: Run::No(
            "needs an S3 endpoint and credentials; cli/tests/publish.rs runs these commands \
             against a loopback S3 server and nginx",
        ),
    },
    Block {
        section: "Performance",
        first_command: "cargo build --release -p dyad-cli",
        run: Run::No("benchmarks, minutes long, are not tests"),
    },
];

/// Every ```sh block of `markdown`, with the `## ` section it sits in.
fn sh_blocks(markdown: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut section = String::new();
    let mut current: Option<Vec<String>> = None;
    for line in markdown.lines() {
        match &mut current {
            Some(lines) if line.starts_with("```") => {
                blocks.push((section.clone(), std::mem::take(lines)));
                current = None;
            }
            Some(lines) => lines.push(line.to_string()),
            None if line.starts_with("```sh") => current = Some(Vec::new()),
            None => {
                if let Some(title) = line.strip_prefix("## ") {
                    section = title.trim().to_string();
                }
            }
        }
    }
    assert!(current.is_none(), "README.md ends inside a code block");
    blocks
}

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn script(lines: &[String], substitute: &[(&str, &str)], skip: &[&str]) -> String {
    let mut script = String::from("set -euo pipefail\n");
    for line in lines {
        if skip.iter().any(|s| line.trim_start().starts_with(s)) {
            continue;
        }
        let mut line = line.clone();
        for (from, to) in substitute {
            line = line.replace(from, to);
        }
        script.push_str(&line);
        script.push('\n');
    }
    script
}

fn path_with_dyad() -> String {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_dyad"));
    let dir = bin.parent().expect("the binary's directory");
    let old = std::env::var("PATH").unwrap_or_default();
    format!("{}:{old}", dir.display())
}

#[test]
fn every_sh_block_of_the_readme_is_classified_and_the_runnable_ones_succeed() {
    let blocks = sh_blocks(&readme());
    assert_eq!(
        blocks.len(),
        BLOCKS.len(),
        "README.md has {} sh blocks, this test knows {}: classify the new one in BLOCKS",
        blocks.len(),
        BLOCKS.len()
    );
    let scratch = tempfile::tempdir().unwrap();
    let mut printed = String::new();
    for ((section, lines), known) in blocks.iter().zip(BLOCKS) {
        let first = lines.first().map(String::as_str).unwrap_or_default();
        assert!(
            *section == known.section && first.starts_with(known.first_command),
            "README.md's sh blocks changed: found `{first}` in \"{section}\", expected \
             `{}` in \"{}\"; update BLOCKS",
            known.first_command,
            known.section
        );
        let (substitute, skip) = match &known.run {
            Run::Yes { substitute, skip } => (substitute, skip),
            Run::No(reason) => {
                eprintln!("not run: `{first}` in \"{section}\": {reason}");
                continue;
            }
        };
        let script = script(lines, substitute, skip);
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(scratch.path())
            .env("PATH", path_with_dyad())
            .env_remove("DYAD_DATA")
            .output()
            .expect("run bash");
        assert!(
            out.status.success(),
            "README.md's block in \"{section}\" failed ({}):\n{script}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        printed.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    // Exit codes alone would pass a walk-through that stops short of its point.
    assert!(
        printed.contains("VERDICT: OK"),
        "the demo's verdict:\n{printed}"
    );
    assert!(printed.contains("3 committed, 0 pending"), "{printed}");
    assert!(printed.contains("Revoked auditor"), "{printed}");
    assert!(scratch.path().join("receipt-1.tlog-proof").is_file());
}
