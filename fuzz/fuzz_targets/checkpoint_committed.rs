//! Is a checkpoint note committed (spec section 7)? Two implementations in the verifier
//! must agree on every note: `genesis::CommitKeys` (what the auditor and receipts use)
//! and the C2SP tlog-policy that `Genesis::policy` writes for the same channel (section 9),
//! both as built and as parsed back from its text.
//!
//! Two channels: the spec vectors' (no witnesses) and a witnessed one (the same parties,
//! witnesses X1, X2, X3 of notes.json, threshold 2).
#![no_main]

use std::sync::OnceLock;

use dyad_fuzz::vectors::{vectors, witnessed_record};
use dyad_verifier::genesis::{self, ChannelParams};
use dyad_verifier::policy::{self, Policy};
use libfuzzer_sys::fuzz_target;

struct Channel {
    params: ChannelParams,
    policy: Policy,
    reparsed: Policy,
}

fn channels() -> &'static [Channel] {
    static CHANNELS: OnceLock<Vec<Channel>> = OnceLock::new();
    CHANNELS.get_or_init(|| {
        [vectors().genesis_record.clone(), witnessed_record()]
            .iter()
            .map(|record| {
                let genesis = genesis::decode_record(record).expect("vector genesis record");
                let policy = genesis.policy().expect("channel policy");
                let reparsed = policy::parse(&policy.to_string()).expect("policy text parses");
                assert_eq!(reparsed, policy);
                Channel {
                    params: ChannelParams::new(genesis).expect("channel params"),
                    policy,
                    reparsed,
                }
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    for channel in channels() {
        let committed = channel.params.verify_checkpoint(data);
        let by_policy = channel.policy.verify_checkpoint(data);
        let by_reparsed = channel.reparsed.verify_checkpoint(data);
        assert_eq!(by_policy, by_reparsed, "a policy and its own text disagree");
        match (&committed, &by_policy) {
            (Ok(c), Ok(p)) => {
                assert_eq!(c.checkpoint, p.checkpoint);
                assert_eq!(c.log, p.log);
                let cosigner = p.cosigners.iter().find(|(name, _)| name == "cosigner");
                assert_eq!(cosigner.map(|(_, t)| *t), Some(c.cosigned_at));
                let witnesses: Vec<u64> = p
                    .cosigners
                    .iter()
                    .filter(|(name, _)| name != "cosigner")
                    .map(|(_, t)| *t)
                    .collect();
                let from_keys: Vec<u64> = c.witnesses.iter().map(|(_, t)| *t).collect();
                assert_eq!(witnesses, from_keys, "different witness cosignatures counted");
            }
            (Err(_), Err(_)) => {}
            (c, p) => panic!(
                "commit keys and the channel's policy disagree:\n  commit keys: {c:?}\n  policy: {p:?}"
            ),
        }
    }
});
