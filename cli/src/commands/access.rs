//! `dyad access`: read credentials for readers who are not the peer (spec/node.md 9.5):
//! grant one (a credential file holding its token and the node's pin), list, revoke, and
//! hand a credential file's token to an HTTP client. This command is the only writer of
//! `access.json`; the running node re-reads it when it changes, so a revocation takes
//! effect at the node's next request.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use dyad_ledger::durable::WriteOptions;
use dyad_node::access::{AccessError, CredentialError, CredentialStore, ReadCredential};
use dyad_node::tls::parse_pin;

use crate::data::DataDir;
use crate::error::{CliError, Result};
use crate::output::{format_s, json, now_ms, outln};
use crate::Ctx;

pub const EXAMPLES: &str = "\
Examples:
  # let an auditor's tools read alpha's log for 90 days
  dyad --data alpha access grant --name auditor --out auditor.credential --expires-in 90
  dyad --data alpha access list
  dyad --data alpha access revoke auditor     # its token is refused from the next request

  # on the reader's side: the bearer token for curl or a TAXII client; PIN is the file's
  # server-pin (the node has no CA-signed certificate: -k, and the pin authenticates it)
  TOKEN=$(dyad access token auditor.credential)
  curl -k --pinnedpubkey \"$PIN\" -H \"Authorization: Bearer $TOKEN\" \"$URL/checkpoint\"

A credential file (mode 0600) holds the grant's name, its token and the node's pin; give it
to its holder only. The node keeps only a hash of the token; `dyad access` never prints it,
except `dyad access token FILE` for the holder of FILE.";

#[derive(Subcommand, Debug)]
pub enum AccessCommand {
    /// Grant read access under a name and write its credential file (mode 0600).
    #[command(after_help = EXAMPLES)]
    Grant(GrantArgs),
    /// List the read grants: name, when granted, when they expire.
    #[command(after_help = EXAMPLES)]
    List,
    /// Revoke a read grant: its token is refused from the node's next request.
    #[command(after_help = EXAMPLES)]
    Revoke(RevokeArgs),
    /// Print the bearer token of a credential file (for curl, TAXII clients, ...).
    #[command(after_help = EXAMPLES)]
    Token(TokenArgs),
}

#[derive(Args, Debug)]
pub struct GrantArgs {
    /// The grant's name: 1 to 64 characters of A-Z a-z 0-9 . _ -
    #[arg(long)]
    pub name: String,
    /// The credential file to write (refused if it exists).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Days until the grant and its credential file expire (default: never).
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u64).range(1..=36_500))]
    pub expires_in: Option<u64>,
}

#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The grant's name.
    pub name: String,
}

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// The credential file (`dyad access grant --out FILE` wrote it).
    pub file: PathBuf,
}

pub fn run(ctx: &Ctx, command: &AccessCommand) -> Result<ExitCode> {
    match command {
        AccessCommand::Grant(args) => grant(ctx, args),
        AccessCommand::List => list(ctx),
        AccessCommand::Revoke(args) => revoke(ctx, args),
        AccessCommand::Token(args) => token(ctx, args),
    }
}

fn now_s() -> u64 {
    now_ms() / 1000
}

fn store_error(data: &DataDir, e: AccessError) -> CliError {
    match e {
        AccessError::File(e) => CliError::PrivateDir(e),
        AccessError::UnknownName(name) => {
            let names: Vec<String> = CredentialStore::open(&data.dir)
                .map(|s| s.list().into_iter().map(|g| g.name).collect())
                .unwrap_or_default();
            let hint = if names.is_empty() {
                "there are no grants".to_owned()
            } else {
                format!("the grants are: {}", names.join(", "))
            };
            CliError::usage_hint(format!("no grant is named {name}"), hint)
        }
        AccessError::NameTaken(_) => CliError::usage_hint(
            e.to_string(),
            "choose another name, or `dyad access revoke NAME` first (its credential file stops working)",
        ),
        AccessError::Corrupt { .. } => CliError::usage_hint(
            format!("the credential store: {e}"),
            "restore access.json from a backup, or move it away (every grant is then gone)",
        ),
        other => CliError::usage(format!("the credential store: {other}")),
    }
}

fn grant(ctx: &Ctx, args: &GrantArgs) -> Result<ExitCode> {
    let data = ctx.data_dir();
    let config = data.read_config()?;
    if !dyad_node::access::valid_name(&args.name) {
        return Err(store_error(&data, AccessError::BadName));
    }
    if args.out.exists() {
        return Err(CliError::Exists {
            path: args.out.clone(),
        });
    }
    // The lock covers the TLS identity too: two first grants must not make two keys.
    let mut store =
        CredentialStore::open_for_change(&data.dir).map_err(|e| store_error(&data, e))?;
    let (identity, _) = super::tls::load_identity(&data, &config.signer_key()?, &config.origin)?;
    let server_pin = parse_pin(&identity.pin())
        .ok_or_else(|| CliError::usage("the node's TLS identity has no valid pin"))?;
    let now = now_s();
    let expires = args
        .expires_in
        .map(|days| now.saturating_add(days * 86_400));
    let token = store
        .grant_until(&args.name, now, expires)
        .map_err(|e| store_error(&data, e))?;
    let credential = ReadCredential {
        name: args.name.clone(),
        token,
        server_pin,
        expires,
    };
    if let Err(e) = write_credential(&args.out, &credential) {
        // A grant whose credential file does not exist would only wait to be revoked.
        if let Err(undo) = store.revoke(&args.name) {
            eprintln!(
                "warning: the grant {} stays in the store without a credential file ({undo}); revoke it with `dyad access revoke {}`",
                args.name, args.name
            );
        }
        return Err(e);
    }
    let expiry = expires.map(format_s);
    if ctx.json {
        json(&serde_json::json!({
            "name": args.name,
            "file": args.out,
            "server_pin": identity.pin(),
            "granted_at": format_s(now),
            "expires": expiry,
        }))?;
    } else {
        outln(&format!(
            "Granted read access as {} ({}).",
            args.name,
            expiry.map_or("no expiry".to_owned(), |t| format!("expires {t}"))
        ))?;
        outln(&format!(
            "Wrote {} (mode 0600): it holds the token; give it to its holder only.",
            args.out.display()
        ))?;
        outln(&format!("  server pin  {}", identity.pin()))?;
        outln(&format!(
            "Revoke it with `dyad --data {} access revoke {}`.",
            data.dir.display(),
            args.name
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the credential file, mode 0600, refusing to replace an existing file (one made
/// since the check before the grant included).
fn write_credential(path: &Path, credential: &ReadCredential) -> Result<()> {
    let text = credential.encode();
    crate::output::write_with(path, text.as_bytes(), WriteOptions::PRIVATE.keep_existing())
}

fn list(ctx: &Ctx) -> Result<ExitCode> {
    let data = ctx.data_dir();
    data.read_config()?;
    let store = CredentialStore::open(&data.dir).map_err(|e| store_error(&data, e))?;
    let now = now_s();
    let grants = store.list();
    if ctx.json {
        let grants: Vec<serde_json::Value> = grants
            .iter()
            .map(|g| {
                serde_json::json!({
                    "name": g.name,
                    "granted_at": format_s(g.granted_at),
                    "expires": g.expires.map(format_s),
                    "expired": g.expired_at(now),
                })
            })
            .collect();
        json(&serde_json::json!({ "grants": grants }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if grants.is_empty() {
        outln("No read grants.")?;
        return Ok(ExitCode::SUCCESS);
    }
    let width = grants
        .iter()
        .map(|g| g.name.len())
        .max()
        .unwrap_or(0)
        .max(4);
    outln(&format!("{:width$}  {:20}  EXPIRES", "NAME", "GRANTED"))?;
    for g in &grants {
        let expires = match g.expires {
            None => "never".to_owned(),
            Some(t) if g.expired_at(now) => format!("{} (expired)", format_s(t)),
            Some(t) => format_s(t),
        };
        outln(&format!(
            "{:width$}  {:20}  {expires}",
            g.name,
            format_s(g.granted_at)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn revoke(ctx: &Ctx, args: &RevokeArgs) -> Result<ExitCode> {
    let data = ctx.data_dir();
    data.read_config()?;
    let mut store =
        CredentialStore::open_for_change(&data.dir).map_err(|e| store_error(&data, e))?;
    let revoked = store.revoke(&args.name);
    // Unlocked first: the error lists the grants that exist, and reads the store again.
    drop(store);
    revoked.map_err(|e| store_error(&data, e))?;
    if ctx.json {
        json(&serde_json::json!({ "revoked": args.name }))?;
    } else {
        outln(&format!(
            "Revoked {}: the node refuses its token from its next request.",
            args.name
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn token(ctx: &Ctx, args: &TokenArgs) -> Result<ExitCode> {
    let credential = ReadCredential::read_file(&args.file, now_s()).map_err(|e| {
        let hint = match e {
            CredentialError::Expired { .. } => {
                "ask the node's operator for a new grant (`dyad access grant`)"
            }
            CredentialError::Io { .. } => "give the credential file `dyad access grant --out FILE` wrote",
            _ => "this is not a credential file as `dyad access grant` writes it; ask its sender for it again",
        };
        let message = match e {
            CredentialError::Io { .. } => format!("cannot read the credential file {e}"),
            _ => format!("{}: {e}", args.file.display()),
        };
        CliError::usage_hint(message, hint)
    })?;
    if ctx.json {
        json(&serde_json::json!({
            "name": credential.name,
            "token": credential.token.expose(),
        }))?;
    } else {
        outln(credential.token.expose())?;
    }
    Ok(ExitCode::SUCCESS)
}
