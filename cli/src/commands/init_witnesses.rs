//! `dyad init --witness FILE.pub[=URL] --witness-threshold K`: the channel's witnesses.
//! The genesis names each witness by its key (spec/dyad.md 4); the URL of its
//! add-checkpoint endpoint is no term of the channel and goes into the sequencer's
//! `dyad.json` (`witness_urls`), from where `dyad serve` gives it to the node.

use std::path::Path;

use dyad_ledger::genesis::{Genesis, Party};

use crate::error::{CliError, Result};
use crate::trust::read_public_key;

/// One `--witness` argument: the witness's key, and its URL if given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessArg {
    pub party: Party,
    pub url: Option<String>,
}

/// Parses `FILE.pub` or `FILE.pub=URL`.
pub fn parse_witness_arg(arg: &str) -> Result<WitnessArg> {
    let (file, url) = match arg.split_once('=') {
        Some((file, url)) => (file, Some(url)),
        None => (arg, None),
    };
    let url = url
        .map(|u| {
            dyad_node::client::base_url(u).map_err(|_| {
                CliError::usage(format!(
                    "--witness {arg}: {u:?} is not an http:// or https:// URL"
                ))
            })
        })
        .transpose()?;
    // A .pub file of either type: a party key (`dyad keygen`) or a cosignature key.
    let key = read_public_key(Path::new(file))?;
    Ok(WitnessArg {
        party: Party::from_verifier_key(&key),
        url,
    })
}

/// Puts the witnesses and the threshold into the genesis terms.
pub fn apply(genesis: &mut Genesis, witnesses: &[WitnessArg], threshold: Option<u8>) -> Result<()> {
    genesis.witnesses = witnesses.iter().map(|w| w.party.clone()).collect();
    let threshold = threshold.unwrap_or(0);
    if usize::from(threshold) > witnesses.len() {
        return Err(CliError::usage(format!(
            "--witness-threshold {threshold} is more than the {} witness(es) given",
            witnesses.len()
        )));
    }
    if threshold == 0 && !witnesses.is_empty() {
        return Err(CliError::usage_hint(
            "witnesses are given but --witness-threshold is 0: none would be needed to commit",
            "give --witness-threshold K (1..=number of witnesses)",
        ));
    }
    genesis.witness_threshold = threshold;
    Ok(())
}

/// The URLs to keep in `dyad.json`, by witness name.
pub fn urls(witnesses: &[WitnessArg]) -> Vec<(String, String)> {
    witnesses
        .iter()
        .filter_map(|w| w.url.clone().map(|u| (w.party.name.clone(), u)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_ledger::keys::SignerKey;

    #[test]
    fn a_threshold_above_the_witnesses_or_zero_with_witnesses_is_refused() {
        let k = |s| SignerKey::from_seed(&format!("w{s}.example"), [s; 32]).unwrap();
        let a = SignerKey::from_seed("a.example", [1; 32]).unwrap();
        let b = SignerKey::from_seed("b.example", [2; 32]).unwrap();
        let mut g = Genesis::new("o.example/x", Party::of(&a), Party::of(&b));
        let w = vec![WitnessArg {
            party: Party::of(&k(3)),
            url: None,
        }];
        assert!(apply(&mut g, &w, Some(2)).is_err());
        assert!(apply(&mut g, &w, None).is_err());
        apply(&mut g, &w, Some(1)).unwrap();
        assert_eq!((g.witnesses.len(), g.witness_threshold), (1, 1));
    }
}
