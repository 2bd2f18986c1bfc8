//! `dyad tls show`: the node's TLS identity (spec/node.md 9.2): its certificate's
//! fingerprint, the pin credential holders check, until when it is valid, and its files.
//! Loading it creates or renews it as the node's start would (9.4), with the party's key.

use std::process::ExitCode;

use clap::Subcommand;
use dyad_ledger::keys::SignerKey;
use dyad_node::tls::{IdentityChange, IdentityError, TlsIdentity, TLS_CERT_FILE, TLS_KEY_FILE};

use crate::data::DataDir;
use crate::error::{CliError, Result};
use crate::output::{format_s, json, now_ms, outln};
use crate::Ctx;

pub const EXAMPLES: &str = "\
Examples:
  dyad --data alpha tls show           # fingerprint, pin, expiry and files of alpha's node
  dyad --data alpha --json tls show    # the same as one JSON object

The fingerprint is what `openssl x509 -in alpha/tls.crt -noout -fingerprint -sha256`
prints; it changes at every renewal. The pin (sha256//..., curl's --pinnedpubkey form) is
the hash of the TLS key and survives renewals; credential files (`dyad access grant`)
carry it. A missing identity is created (`dyad init` creates it; so would `dyad serve`),
and a certificate with less than 30 days left is renewed with the same key.";

#[derive(Subcommand, Debug)]
pub enum TlsCommand {
    /// Print the node's certificate fingerprint, pin, expiry and files (creating or
    /// renewing the identity if needed).
    #[command(after_help = EXAMPLES)]
    Show,
}

/// Loads the TLS identity of `data`, creating the key and certificate if missing and
/// renewing a certificate that is expiring or not for this channel and key.
pub fn load_identity(
    data: &DataDir,
    key: &SignerKey,
    origin: &str,
) -> Result<(TlsIdentity, IdentityChange)> {
    TlsIdentity::load_or_create(&data.dir, key, origin, now_ms() / 1000).map_err(|e| match e {
        IdentityError::File(e) => CliError::PrivateDir(e),
        IdentityError::BadKey { .. } => CliError::usage_hint(
            format!("the node's TLS identity: {e}"),
            format!(
                "move {} away to make a new TLS key; its pin changes, so every credential file (`dyad access grant`) must be granted again",
                data.dir.join(TLS_KEY_FILE).display()
            ),
        ),
        other => CliError::usage(format!("the node's TLS identity: {other}")),
    })
}

/// How `dyad tls show` and `dyad init` say what loading the identity did.
pub fn change_word(change: IdentityChange) -> &'static str {
    match change {
        IdentityChange::Loaded => "loaded",
        IdentityChange::Renewed => "renewed",
        IdentityChange::Created => "created",
    }
}

pub fn run(ctx: &Ctx, command: &TlsCommand) -> Result<ExitCode> {
    match command {
        TlsCommand::Show => show(ctx),
    }
}

fn show(ctx: &Ctx) -> Result<ExitCode> {
    let data = ctx.data_dir();
    let config = data.read_config()?;
    let (identity, change) = load_identity(&data, &config.signer_key()?, &config.origin)?;
    let key_file = data.dir.join(TLS_KEY_FILE);
    let cert_file = data.dir.join(TLS_CERT_FILE);
    if ctx.json {
        json(&serde_json::json!({
            "fingerprint_sha256": identity.fingerprint_text(),
            "pin": identity.pin(),
            "not_after": format_s(identity.not_after()),
            "key_file": key_file,
            "cert_file": cert_file,
            "change": change_word(change),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    outln(&format!(
        "TLS identity of the node in {}:",
        data.dir.display()
    ))?;
    outln(&format!(
        "  fingerprint  SHA256 {}",
        identity.fingerprint_text()
    ))?;
    outln(&format!("  pin          {}", identity.pin()))?;
    outln(&format!(
        "  not after    {}",
        format_s(identity.not_after())
    ))?;
    outln(&format!("  key          {} (private)", key_file.display()))?;
    outln(&format!("  certificate  {}", cert_file.display()))?;
    match change {
        IdentityChange::Loaded => {}
        IdentityChange::Created => outln("Created now: a new TLS key and certificate.")?,
        IdentityChange::Renewed => {
            outln("Renewed now: a new certificate for the same key (the pin is unchanged).")?
        }
    }
    Ok(ExitCode::SUCCESS)
}
