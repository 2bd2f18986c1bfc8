//! `dyad keygen`: a party's Ed25519 key pair as C2SP signed-note key files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use dyad_ledger::keys::SignerKey;

use crate::error::{CliError, Result};
use crate::output::{json, key_id_hex, outln, write_file};
use crate::Ctx;

pub const EXAMPLES: &str = "\
Examples:
  dyad keygen alpha                  # ./alpha.key and ./alpha.pub, key name \"alpha\"
  dyad keygen alpha --key-name cert.alpha.example --out keys/

NAME.key is the signed-note private key (PRIVATE+KEY+...), created with mode 0600; keep it
where only the operator can read it. NAME.pub is the verifier key line to give to the peer
and to auditors. Existing files are never overwritten.";

#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// File name stem of the key files (and the key name unless --key-name is given).
    pub name: String,
    /// Directory to write NAME.key and NAME.pub into (created if missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// The signed-note key name, e.g. a schema-less URL naming the party (default: NAME).
    #[arg(long, value_name = "KEYNAME")]
    pub key_name: Option<String>,
}

pub struct Generated {
    pub key: SignerKey,
    pub key_file: PathBuf,
    pub pub_file: PathBuf,
}

/// Generates a key pair into `dir` as `stem.key` / `stem.pub`.
pub fn generate(dir: &Path, stem: &str, key_name: &str) -> Result<Generated> {
    if stem.is_empty() || stem.contains('/') || stem.contains('\\') || stem.starts_with('.') {
        return Err(CliError::usage_hint(
            format!("{stem:?} cannot be a file name stem"),
            "give a plain NAME, and the full key name with --key-name (it may contain '/')",
        ));
    }
    dyad_verifier::key::validate_name(key_name)
        .map_err(|e| CliError::usage(format!("{key_name:?} is not a valid key name: {e}")))?;
    std::fs::create_dir_all(dir).map_err(CliError::write(dir))?;
    let key_file = dir.join(format!("{stem}.key"));
    let pub_file = dir.join(format!("{stem}.pub"));
    // Check both before writing either, so a refusal leaves nothing behind.
    for path in [&key_file, &pub_file] {
        if path.exists() {
            return Err(CliError::Exists { path: path.clone() });
        }
    }
    let key = SignerKey::generate(key_name)?;
    key.write_private_file(&key_file)?;
    write_file(
        &pub_file,
        format!("{}\n", key.verifier_key()).as_bytes(),
        false,
    )?;
    Ok(Generated {
        key,
        key_file,
        pub_file,
    })
}

pub fn run(ctx: &Ctx, args: &KeygenArgs) -> Result<ExitCode> {
    let key_name = args.key_name.clone().unwrap_or_else(|| args.name.clone());
    let g = generate(&args.out, &args.name, &key_name)?;
    let public = g.key.verifier_key().to_string();
    if ctx.json {
        json(&serde_json::json!({
            "name": g.key.name(),
            "key_id": key_id_hex(g.key.key_id()),
            "public_key": public,
            "key_file": g.key_file,
            "pub_file": g.pub_file,
        }))?;
    } else {
        outln(&public)?;
        eprintln!(
            "wrote {} (private, mode 0600) and {}",
            g.key_file.display(),
            g.pub_file.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
