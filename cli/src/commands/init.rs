//! `dyad init`: creating a channel. The genesis entry needs both parties' signatures, so
//! it takes three steps, offline by file (the network issue does the same over HTTP):
//!
//! 1. the sequencer proposes: signs the genesis and writes `genesis.proposal`;
//! 2. the co-signer checks the proposal's terms against the keys it expects, adds its
//!    signature, creates its replica and writes `genesis.signed`;
//! 3. the sequencer imports `genesis.signed` (`dyad sync import` or `dyad init --genesis`),
//!    checks it is its own proposal signed by the expected peer, and creates its replica.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use dyad_ledger::channel::{Channel, Role};
use dyad_ledger::entry::SignedEntry;
use dyad_ledger::genesis::{check_genesis, cosign_proposal, read_proposal, Genesis, Party};
use dyad_verifier::key::VerifierKey;

use crate::bundle::{self, Bundle, Record};
use crate::data::{read_signer_key, Config, DataDir, CONFIG_FORMAT};
use crate::error::{CliError, Result};
use crate::output::{absolute, b64, json, key_id_hex, now_ms, outln};
use crate::trust::read_party_key;
use crate::{Ctx, RoleArg};

pub const EXAMPLES: &str = "\
The genesis needs both parties' signatures; offline it takes three steps:

  # 1. the sequencer (alpha) proposes; writes alpha/genesis.proposal
  dyad --data alpha init --origin hotline.example/ab --role sequencer \\
       --key alpha.key --peer bravo.pub

  # 2. the co-signer (bravo) checks the terms, co-signs, creates its replica,
  #    and writes bravo/genesis.signed
  dyad --data bravo init --origin hotline.example/ab --role cosigner \\
       --key bravo.key --peer alpha.pub --proposal genesis.proposal

  # 3. the sequencer imports the signed genesis and creates its replica
  dyad --data alpha sync import genesis.signed    # or: dyad --data alpha init --genesis FILE

The private key file stays where it is: dyad.json records its absolute path, and every
command that signs reads it from there (it must not be readable by group or others).";

/// What `dyad init` says of the node's TLS identity (spec/node.md 9.2), made with the
/// configuration.
const TLS_CREATED: &str =
    "Created the node's TLS key and certificate (tls.key, tls.crt): `dyad tls show` prints the fingerprint and pin to give readers.";

#[derive(Args, Debug)]
pub struct InitArgs {
    /// The channel's origin: a key name, e.g. hotline.example/dyad/alpha-bravo.
    #[arg(long)]
    pub origin: Option<String>,
    /// This party's private key file (NAME.key).
    #[arg(long, value_name = "SELF.key")]
    pub key: Option<PathBuf>,
    /// The other party's verifier key file (NAME.pub).
    #[arg(long, value_name = "PEER.pub")]
    pub peer: Option<PathBuf>,
    /// This party's role in the channel.
    #[arg(long, value_enum)]
    pub role: Option<RoleArg>,
    /// Co-signer: the sequencer's genesis proposal to check and co-sign.
    #[arg(long, value_name = "FILE")]
    pub proposal: Option<PathBuf>,
    /// Sequencer: the signed genesis the co-signer sent back (step 3).
    #[arg(long, value_name = "FILE", conflicts_with = "proposal")]
    pub genesis: Option<PathBuf>,
    /// Also write the file to send to the peer (proposal or signed genesis) here.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Sequencer: largest payload in bytes (at most 61440).
    #[arg(long, value_name = "BYTES")]
    pub max_payload: Option<u32>,
    /// Sequencer: largest attachment in bytes.
    #[arg(long, value_name = "BYTES")]
    pub max_attachment_size: Option<u64>,
    /// Sequencer: tolerated clock skew in seconds (1..=86400).
    #[arg(long, value_name = "SECONDS")]
    pub max_clock_skew: Option<u32>,
    /// Sequencer: a witness's verifier key file, and the base URL of its C2SP
    /// add-checkpoint endpoint (kept in dyad.json, not in the genesis). Repeatable.
    #[arg(long, value_name = "FILE.pub[=URL]")]
    pub witness: Vec<String>,
    /// Sequencer: how many witnesses must co-sign a checkpoint for it to be committed.
    #[arg(long, value_name = "K")]
    pub witness_threshold: Option<u8>,
}

/// The genesis terms a sequencer may choose.
#[derive(Clone, Copy, Debug, Default)]
pub struct Terms {
    pub max_payload: Option<u32>,
    pub max_attachment_size: Option<u64>,
    pub max_clock_skew_s: Option<u32>,
}

/// The channel's witnesses (`--witness`, `--witness-threshold`).
#[derive(Clone, Debug, Default)]
pub struct Witnesses {
    pub witnesses: Vec<super::init_witnesses::WitnessArg>,
    pub threshold: Option<u8>,
}

pub struct Proposed {
    pub genesis: Genesis,
    pub proposal_path: PathBuf,
}

pub struct Cosigned {
    pub genesis: Genesis,
    pub signed_path: PathBuf,
    pub leaf_hash: [u8; 32],
}

fn require<'a, T>(value: &'a Option<T>, flag: &str, why: &str) -> Result<&'a T> {
    value
        .as_ref()
        .ok_or_else(|| CliError::usage(format!("{flag} is required {why}")))
}

fn check_origin(origin: &str) -> Result<()> {
    dyad_verifier::key::validate_name(origin).map_err(|e| {
        CliError::usage(format!(
            "--origin {origin:?} is not a valid origin: {e} (it names the log's key)"
        ))
    })?;
    if origin.len() > 255 {
        return Err(CliError::usage("--origin is longer than 255 bytes"));
    }
    Ok(())
}

fn refuse_initialised(data: &DataDir) -> Result<()> {
    if data.has_config() {
        let origin = data.read_config().map(|c| c.origin).unwrap_or_default();
        return Err(CliError::AlreadyInitialised {
            dir: data.dir.clone(),
            origin,
        });
    }
    if data.has_ledger() {
        return Err(CliError::AlreadyInitialised {
            dir: data.dir.clone(),
            origin: String::new(),
        });
    }
    Ok(())
}

fn describe(key: &VerifierKey) -> String {
    format!("{} (key id {})", key.name(), key_id_hex(key.key_id()))
}

fn party_desc(p: &Party) -> String {
    match p.entry_key() {
        Ok(k) => describe(&k),
        Err(_) => p.name.clone(),
    }
}

/// Step 1: the sequencer signs the genesis and writes the proposal.
pub fn propose(
    data: &DataDir,
    origin: &str,
    key_path: &Path,
    peer_path: &Path,
    terms: Terms,
    witnesses: &Witnesses,
) -> Result<Proposed> {
    check_origin(origin)?;
    refuse_initialised(data)?;
    let key = read_signer_key(key_path)?;
    let peer = read_party_key(peer_path)?;
    if peer.public_key_bytes() == key.public_key() || peer.name() == key.name() {
        return Err(CliError::usage(
            "--key and --peer are the same party; the peer is the other party's .pub file",
        ));
    }
    let mut genesis = Genesis::new(origin, Party::of(&key), Party::from_verifier_key(&peer));
    if let Some(v) = terms.max_payload {
        genesis.max_payload = v;
    }
    if let Some(v) = terms.max_attachment_size {
        genesis.max_attachment_size = v;
    }
    if let Some(v) = terms.max_clock_skew_s {
        genesis.max_clock_skew_s = v;
    }
    super::init_witnesses::apply(&mut genesis, &witnesses.witnesses, witnesses.threshold)?;
    genesis
        .validate()
        .map_err(|e| CliError::usage(format!("the channel's terms are not valid: {e}")))?;
    let proposal = genesis.propose(&key, now_ms())?;
    data.create_private()?;
    let proposal_path = data.proposal_path();
    bundle::write_file(&proposal_path, origin, [Record::Proposal(proposal.bytes)])?;
    dyad_ledger::private_dir::restrict_file(&proposal_path)?;
    data.write_config(&Config {
        format: CONFIG_FORMAT.into(),
        role: Role::Sequencer.as_str().into(),
        origin: origin.into(),
        key_file: absolute(key_path)?,
        peer: peer.to_string(),
        peer_url: None,
        previous_key_file: None,
        witness_urls: super::init_witnesses::urls(&witnesses.witnesses)
            .into_iter()
            .collect(),
    })?;
    super::tls::load_identity(data, &key, origin)?;
    Ok(Proposed {
        genesis,
        proposal_path,
    })
}

/// The data of the one record of a proposal or signed-genesis file.
fn read_single(path: &Path, want: &str) -> Result<(String, Vec<u8>)> {
    let b = Bundle::read_at_most(path, crate::bounded::MAX_GENESIS_FILE)?;
    match <[Record; 1]>::try_from(b.records) {
        Ok([Record::Proposal(bytes)]) if want == "proposal" => Ok((b.origin, bytes)),
        Ok([Record::Genesis(bytes)]) if want == "genesis" => Ok((b.origin, bytes)),
        _ => Err(CliError::malformed(
            path,
            format!("expected a file holding exactly one {want} record"),
        )),
    }
}

/// Step 2: the co-signer checks the proposal's terms, co-signs, and creates its replica.
pub fn cosign(
    data: &DataDir,
    origin: &str,
    key_path: &Path,
    peer_path: &Path,
    proposal_path: &Path,
) -> Result<Cosigned> {
    check_origin(origin)?;
    refuse_initialised(data)?;
    let key = read_signer_key(key_path)?;
    let peer = read_party_key(peer_path)?;
    let (bundle_origin, bytes) = read_single(proposal_path, "proposal").map_err(|e| match e {
        CliError::Malformed { path, .. } => CliError::usage_hint(
            format!("{} is not a genesis proposal", path.display()),
            "pass the genesis.proposal file the sequencer's `dyad init --role sequencer` wrote",
        ),
        other => other,
    })?;
    let (_, genesis) = read_proposal(&bytes)?;
    if genesis.origin != origin || bundle_origin != origin {
        return Err(CliError::check(format!(
            "the proposal is for channel {:?}, not --origin {origin:?}",
            genesis.origin
        )));
    }
    if genesis.sequencer != Party::from_verifier_key(&peer) {
        return Err(CliError::check_hint(
            format!(
                "the proposal's sequencer is {}, but --peer {} is {}",
                party_desc(&genesis.sequencer),
                peer_path.display(),
                describe(&peer)
            ),
            "check with the other party which key they proposed with; do not co-sign a channel with an unexpected party",
        ));
    }
    if genesis.cosigner != Party::of(&key) {
        return Err(CliError::check(format!(
            "the proposal names {} as co-signer, not this key {}",
            party_desc(&genesis.cosigner),
            describe(key.verifier_key())
        )));
    }
    let (signed, genesis) = cosign_proposal(&bytes, &key)?;
    data.create_private()?;
    Channel::create(&data.ledger_path(), &signed, Role::Cosigner)?
        .keep_replica_record(&data.dir)?;
    let signed_path = data.signed_genesis_path();
    bundle::write_file(
        &signed_path,
        origin,
        [Record::Genesis(signed.bytes.clone())],
    )?;
    dyad_ledger::private_dir::restrict_file(&signed_path)?;
    data.write_config(&Config {
        format: CONFIG_FORMAT.into(),
        role: Role::Cosigner.as_str().into(),
        origin: origin.into(),
        key_file: absolute(key_path)?,
        peer: peer.to_string(),
        peer_url: None,
        witness_urls: Default::default(),
        previous_key_file: None,
    })?;
    super::tls::load_identity(data, &key, origin)?;
    Ok(Cosigned {
        genesis,
        signed_path,
        leaf_hash: signed.leaf_hash,
    })
}

/// What importing a signed genesis did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenesisImport {
    Created,
    AlreadyHeld,
}

/// Step 3 (and any later sight of the genesis): checks a fully signed genesis entry
/// against this party's configuration, then creates the replica, or confirms the one
/// held has exactly this entry 0.
pub fn import_genesis(data: &DataDir, config: &Config, bytes: &[u8]) -> Result<GenesisImport> {
    let signed = SignedEntry::decode(bytes)
        .map_err(|e| CliError::check(format!("the signed genesis is not a valid entry: {e}")))?;
    let genesis = check_genesis(&signed.entry)?;
    if genesis.origin != config.origin {
        return Err(CliError::check(format!(
            "the signed genesis is for channel {:?}, not {:?}",
            genesis.origin, config.origin
        )));
    }
    if data.ledger_exists()? {
        let channel = Channel::open(&data.ledger_path())?;
        if channel.store().leaf(0)? != bytes {
            return Err(CliError::check(
                "the genesis in the bundle differs from this replica's entry 0: the two parties are not in the same channel",
            ));
        }
        return Ok(GenesisImport::AlreadyHeld);
    }
    if config.role()? != Role::Sequencer {
        return Err(CliError::usage("this co-signer has no replica; create it with `dyad init --role cosigner --proposal FILE`"));
    }
    let key = config.signer_key()?;
    let peer = config.peer_key()?;
    if genesis.sequencer != Party::of(&key) {
        return Err(CliError::check(format!(
            "the signed genesis names {} as sequencer, not this party's key {}",
            party_desc(&genesis.sequencer),
            describe(key.verifier_key())
        )));
    }
    if genesis.cosigner != Party::from_verifier_key(&peer) {
        return Err(CliError::check_hint(
            format!(
                "the signed genesis names {} as co-signer, but the peer in dyad.json is {}",
                party_desc(&genesis.cosigner),
                describe(&peer)
            ),
            "the genesis was co-signed by a party other than the one this channel was proposed to",
        ));
    }
    let proposal_path = data.proposal_path();
    if proposal_path.is_file() {
        let (_, proposal) = read_single(&proposal_path, "proposal")?;
        let (proposed, _) = read_proposal(&proposal)?;
        if proposed.body != signed.entry.body {
            return Err(CliError::check(format!(
                "the signed genesis is not the proposal in {} (another proposal of this key?)",
                proposal_path.display()
            )));
        }
    }
    Channel::create(&data.ledger_path(), &signed, Role::Sequencer)?
        .keep_replica_record(&data.dir)?;
    // The proposal has served its purpose; its presence would only suggest a pending step.
    let _ = std::fs::remove_file(&proposal_path);
    Ok(GenesisImport::Created)
}

fn print_terms(genesis: &Genesis) -> Result<()> {
    outln(&format!("  channel     {}", genesis.origin))?;
    outln(&format!("  sequencer   {}", party_desc(&genesis.sequencer)))?;
    outln(&format!("  co-signer   {}", party_desc(&genesis.cosigner)))?;
    for w in &genesis.witnesses {
        outln(&format!("  witness     {}", party_desc(w)))?;
    }
    if !genesis.witnesses.is_empty() {
        outln(&format!(
            "  committed   when the co-signer and {} of {} witnesses have co-signed",
            genesis.witness_threshold,
            genesis.witnesses.len()
        ))?;
    }
    outln(&format!(
        "  limits      payload {} bytes, attachment {} bytes, clock skew {} s",
        genesis.max_payload, genesis.max_attachment_size, genesis.max_clock_skew_s
    ))
}

fn terms_json(genesis: &Genesis) -> serde_json::Value {
    let key = |p: &Party| p.entry_key().map(|k| k.to_string()).unwrap_or_default();
    serde_json::json!({
        "origin": genesis.origin,
        "sequencer": key(&genesis.sequencer),
        "cosigner": key(&genesis.cosigner),
        "max_payload": genesis.max_payload,
        "max_attachment_size": genesis.max_attachment_size,
        "max_clock_skew_s": genesis.max_clock_skew_s,
        "witnesses": genesis.witnesses.iter().map(|w| w.name.clone()).collect::<Vec<_>>(),
        "witness_threshold": genesis.witness_threshold,
    })
}

/// What the sequencer's step 1 did, and what comes next.
fn print_proposed(data: &DataDir, genesis: &Genesis, sent: &Path) -> Result<()> {
    let origin = &genesis.origin;
    outln(&format!(
        "Proposed the genesis of channel {origin} as its sequencer:"
    ))?;
    print_terms(genesis)?;
    outln(&format!("Wrote the proposal to {}.", sent.display()))?;
    outln(TLS_CREATED)?;
    outln("Next:")?;
    outln(&format!(
        "  1. send {} to the co-signer, who runs:",
        sent.display()
    ))?;
    outln(&format!(
        "       dyad init --origin {origin} --key THEIR.key --peer YOUR.pub --role cosigner --proposal genesis.proposal"
    ))?;
    outln("  2. import the genesis.signed they send back:")?;
    outln(&format!(
        "       dyad --data {} sync import genesis.signed",
        data.dir.display()
    ))
}

fn copy_out(from: &Path, out: &Option<PathBuf>) -> Result<()> {
    if let Some(out) = out {
        let bytes = crate::bounded::read_bounded(from, crate::bounded::MAX_GENESIS_FILE)?;
        crate::output::write_file(out, &bytes, false)?;
    }
    Ok(())
}

pub fn run(ctx: &Ctx, args: &InitArgs) -> Result<ExitCode> {
    let data = ctx.data_dir();
    if let Some(genesis_path) = &args.genesis {
        return run_import(ctx, &data, args, genesis_path);
    }
    let role = *require(
        &args.role,
        "--role",
        "(sequencer proposes the genesis, cosigner co-signs it)",
    )?;
    let origin = require(&args.origin, "--origin", "to name the channel")?;
    let key = require(&args.key, "--key", "(this party's NAME.key)")?;
    let peer = require(&args.peer, "--peer", "(the other party's NAME.pub)")?;
    match role {
        RoleArg::Sequencer => {
            if args.proposal.is_some() {
                return Err(CliError::usage(
                    "--proposal is for the co-signer; the sequencer writes the proposal",
                ));
            }
            let terms = Terms {
                max_payload: args.max_payload,
                max_attachment_size: args.max_attachment_size,
                max_clock_skew_s: args.max_clock_skew,
            };
            let witnesses = Witnesses {
                witnesses: args
                    .witness
                    .iter()
                    .map(|w| super::init_witnesses::parse_witness_arg(w))
                    .collect::<Result<_>>()?,
                threshold: args.witness_threshold,
            };
            let p = propose(&data, origin, key, peer, terms, &witnesses)?;
            copy_out(&p.proposal_path, &args.out)?;
            let sent = args.out.clone().unwrap_or(p.proposal_path.clone());
            if ctx.json {
                json(&serde_json::json!({
                    "role": "sequencer",
                    "status": "proposed",
                    "proposal": sent,
                    "terms": terms_json(&p.genesis),
                }))?;
            } else {
                print_proposed(&data, &p.genesis, &sent)?;
            }
        }
        RoleArg::Cosigner => {
            let proposal = args.proposal.as_ref().ok_or_else(|| {
                CliError::usage_hint(
                    "the co-signer needs the sequencer's genesis proposal: --proposal FILE",
                    "the sequencer's `dyad init --role sequencer` wrote it as genesis.proposal",
                )
            })?;
            if args.max_payload.is_some()
                || args.max_attachment_size.is_some()
                || args.max_clock_skew.is_some()
                || !args.witness.is_empty()
                || args.witness_threshold.is_some()
            {
                return Err(CliError::usage("the channel's limits and witnesses are the sequencer's proposal; the co-signer only accepts or refuses them"));
            }
            let c = cosign(&data, origin, key, peer, proposal)?;
            copy_out(&c.signed_path, &args.out)?;
            let sent = args.out.clone().unwrap_or(c.signed_path.clone());
            if ctx.json {
                json(&serde_json::json!({
                    "role": "cosigner",
                    "status": "cosigned",
                    "genesis_signed": sent,
                    "leaf_hash": b64(&c.leaf_hash),
                    "terms": terms_json(&c.genesis),
                }))?;
            } else {
                outln(&format!(
                    "Checked and co-signed the genesis of channel {origin}:"
                ))?;
                print_terms(&c.genesis)?;
                outln(&format!(
                    "Created the co-signer's replica in {}.",
                    data.ledger_path().display()
                ))?;
                outln(TLS_CREATED)?;
                outln(&format!(
                    "Next: send {} to the sequencer, who runs:",
                    sent.display()
                ))?;
                outln("  dyad sync import genesis.signed")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `dyad init --genesis FILE`: step 3, with the configuration from step 1 (or, if the
/// directory is new, from --origin/--key/--peer).
fn run_import(ctx: &Ctx, data: &DataDir, args: &InitArgs, path: &Path) -> Result<ExitCode> {
    if args.role == Some(RoleArg::Cosigner) {
        return Err(CliError::usage(
            "--genesis is the sequencer's last step; the co-signer uses --proposal",
        ));
    }
    let config = if data.has_config() {
        data.read_config()?
    } else {
        let origin = require(
            &args.origin,
            "--origin",
            "when the data directory has no dyad.json yet",
        )?;
        let key = require(
            &args.key,
            "--key",
            "when the data directory has no dyad.json yet",
        )?;
        let peer = require(
            &args.peer,
            "--peer",
            "when the data directory has no dyad.json yet",
        )?;
        check_origin(origin)?;
        let peer = read_party_key(peer)?;
        let signer = read_signer_key(key)?;
        data.create_private()?;
        let config = Config {
            format: CONFIG_FORMAT.into(),
            role: Role::Sequencer.as_str().into(),
            origin: origin.clone(),
            key_file: absolute(key)?,
            peer: peer.to_string(),
            peer_url: None,
            witness_urls: Default::default(),
            previous_key_file: None,
        };
        data.write_config(&config)?;
        super::tls::load_identity(data, &signer, origin)?;
        config
    };
    let (origin, bytes) = read_single(path, "genesis")?;
    if origin != config.origin {
        return Err(CliError::Bundle(crate::bundle::BundleError::WrongOrigin {
            path: path.to_owned(),
            expected: config.origin.clone(),
            found: origin,
        }));
    }
    let outcome = import_genesis(data, &config, &bytes)?;
    let status = match outcome {
        GenesisImport::Created => "created",
        GenesisImport::AlreadyHeld => "already-held",
    };
    if ctx.json {
        json(
            &serde_json::json!({ "role": config.role, "status": status, "origin": config.origin }),
        )?;
    } else if outcome == GenesisImport::Created {
        outln(&format!(
            "Created the sequencer's replica of channel {} in {}.",
            config.origin,
            data.ledger_path().display()
        ))?;
        outln("The channel is open: `dyad append` to send, `dyad sync export` to hand entries to the co-signer.")?;
    } else {
        outln("This replica already holds exactly this genesis; nothing to do.")?;
    }
    Ok(ExitCode::SUCCESS)
}
