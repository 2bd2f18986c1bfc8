//! `dyad log --awaiting-endorsement`: the records (spec/dyad.md section 3.6) no
//! endorsement in the log names yet, split by who is to endorse them: the other party's
//! records await this party's `dyad endorse N`; this party's own await the other's.

use std::process::ExitCode;

use serde_json::{json as j, Value};

use crate::error::Result;
use crate::joint::{JointLog, RecordSeen};
use crate::output::{json, outln, printable};
use crate::Ctx;

pub fn awaiting_endorsement(ctx: &Ctx) -> Result<ExitCode> {
    let joint = JointLog::read(&ctx.data_dir())?;
    let pending = joint
        .records
        .iter()
        .filter(|(_, r)| r.endorsed_in.is_none());
    let (theirs, mine): (Vec<_>, Vec<_>) = pending.partition(|(_, r)| r.sender != joint.own);
    let item = |(index, r): &(&u64, &RecordSeen)| {
        j!({
            "index": index,
            "subject": r.subject,
            "sender": joint.name(r.sender),
            "endorsement_queued": r.endorsement_queued,
        })
    };
    if ctx.json {
        json(&j!({
            "size": joint.size,
            "awaiting_my_endorsement": theirs.iter().map(item).collect::<Vec<Value>>(),
            "awaiting_their_endorsement": mine.iter().map(item).collect::<Vec<Value>>(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if theirs.is_empty() && mine.is_empty() {
        outln("no record awaits an endorsement")?;
        return Ok(ExitCode::SUCCESS);
    }
    for (index, r) in &theirs {
        let queued = if r.endorsement_queued {
            " (my endorsement is queued: `dyad sync export`)"
        } else {
            ""
        };
        outln(&format!(
            "{index}  awaiting my endorsement (by {}){queued}: {}",
            printable(&joint.name(r.sender)),
            printable(&r.subject)
        ))?;
    }
    for (index, r) in &mine {
        outln(&format!(
            "{index}  mine, awaiting their endorsement: {}",
            printable(&r.subject)
        ))?;
    }
    if theirs.iter().any(|(_, r)| !r.endorsement_queued) {
        eprintln!("endorse a record with `dyad endorse INDEX` (read it first: `dyad show INDEX`)");
    }
    Ok(ExitCode::SUCCESS)
}
