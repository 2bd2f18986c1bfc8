//! What the demo's two parties say: four scripted messages (an inquiry, its answer, a
//! STIX 2.1 indicator share, a notification), then as many more as asked.

use dyad_ledger::entry::Kind;
use serde_json::json as j;
use sha2::{Digest, Sha256};

use super::{Demo, Side};
use crate::commands::append::Message;
use crate::error::Result;
use crate::output::{format_ms, now_ms};

fn uuid(seed: &str) -> String {
    let h: [u8; 32] = Sha256::digest(seed.as_bytes()).into();
    let x = hex::encode(&h[..16]);
    format!(
        "{}-{}-4{}-a{}-{}",
        &x[0..8],
        &x[8..12],
        &x[13..16],
        &x[17..20],
        &x[20..32]
    )
}

/// A STIX 2.1 bundle of indicators, as national CERTs share them.
fn stix_bundle(seed: &str, now: &str, indicators: &[(&str, &str, &str)]) -> Vec<u8> {
    let identity = format!("identity--{}", uuid(&format!("{seed}/identity")));
    let mut objects = vec![j!({
        "type": "identity",
        "spec_version": "2.1",
        "id": identity,
        "created": now,
        "modified": now,
        "name": "CSIRT Alpha (national CERT)",
        "identity_class": "organization",
        "sectors": ["government-national"],
    })];
    let malware = format!("malware--{}", uuid(&format!("{seed}/malware")));
    objects.push(j!({
        "type": "malware",
        "spec_version": "2.1",
        "id": malware,
        "created": now,
        "modified": now,
        "created_by_ref": identity,
        "name": "GRIDLOCK loader",
        "is_family": true,
        "malware_types": ["remote-access-trojan"],
    }));
    for (i, (name, pattern, description)) in indicators.iter().enumerate() {
        let id = format!("indicator--{}", uuid(&format!("{seed}/indicator/{i}")));
        objects.push(j!({
            "type": "indicator",
            "spec_version": "2.1",
            "id": id,
            "created": now,
            "modified": now,
            "created_by_ref": identity,
            "name": name,
            "description": description,
            "indicator_types": ["malicious-activity"],
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": now,
            "object_marking_refs": ["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"],
        }));
        objects.push(j!({
            "type": "relationship",
            "spec_version": "2.1",
            "id": format!("relationship--{}", uuid(&format!("{seed}/rel/{i}"))),
            "created": now,
            "modified": now,
            "relationship_type": "indicates",
            "source_ref": id,
            "target_ref": malware,
        }));
    }
    let bundle =
        j!({"type": "bundle", "id": format!("bundle--{}", uuid(seed)), "objects": objects});
    serde_json::to_vec_pretty(&bundle).unwrap_or_default()
}

fn text(kind: Kind, subject: &str, body: &str, reply_to: Option<u64>) -> Message {
    Message {
        kind,
        subject: subject.to_owned(),
        content_type: None,
        payload: body.as_bytes().to_vec(),
        reply_to,
        attachments: Vec::new(),
        stix_feed: None,
    }
}

/// A threat-indicators message with a STIX payload (the default content type).
fn indicators(subject: String, payload: Vec<u8>) -> Message {
    Message {
        kind: Kind::ThreatIndicators,
        subject,
        content_type: None,
        payload,
        reply_to: None,
        attachments: Vec::new(),
        stix_feed: None,
    }
}

/// The four scripted messages, then `n` more, alternating senders.
pub(super) fn script(d: &mut Demo, n: u32) -> Result<()> {
    let now = format_ms(now_ms());
    d.say("messages")?;
    d.send(
        Side::Alpha,
        text(
            Kind::Inquiry,
            "Credential brute-forcing against our energy regulator from 198.51.100.0/24 (AS64511)",
            "CSIRT Alpha to CERT Bravo, under the bilateral confidence-building arrangement.\n\n\
Since 02:10 UTC today we observe sustained password-spraying and VPN brute-force attempts\n\
against the national energy regulator's remote-access gateway (about 41,000 attempts so far),\n\
originating from 198.51.100.0/24, announced by AS64511, which is registered in your territory.\n\
We also see scanning of TCP/502 (Modbus) from 198.51.100.23 and 198.51.100.77.\n\n\
We ask you to: (1) confirm whether these addresses are known to you; (2) take the measures\n\
available to you to stop the activity; (3) share any indicators you hold on the operator.\n\
Logs can be provided on request. Point of contact: duty officer, CSIRT Alpha, 24/7 line.\n",
            None,
        ),
    )?;
    d.sync()?;
    d.send(
        Side::Bravo,
        text(
            Kind::Response,
            "Re: brute-forcing from 198.51.100.0/24 — hosting customer, servers isolated",
            "CERT Bravo to CSIRT Alpha.\n\n\
We confirm receipt. 198.51.100.0/24 belongs to a hosting provider under our jurisdiction; the\n\
provider reports that 198.51.100.23 and 198.51.100.77 are rented virtual servers paid with a\n\
stolen card. Both were isolated at 06:40 UTC and images preserved for our law-enforcement\n\
partners. We see no evidence of state involvement. We will share indicators from the images.\n",
            Some(1),
        ),
    )?;
    d.sync()?;
    let stix = stix_bundle(
        &format!("{now}/share-1"),
        &now,
        &[
            ("Brute-force source", "[ipv4-addr:value = '198.51.100.23']", "VPN password spraying against the energy regulator"),
            ("Modbus scanner", "[ipv4-addr:value = '198.51.100.77']", "TCP/502 scanning of OT networks"),
            ("C2 domain", "[domain-name:value = 'update-check.example.net']", "GRIDLOCK loader command and control"),
            (
                "Loader sample",
                "[file:hashes.'SHA-256' = '4f9d1c2b7a8e6d5c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c']",
                "First-stage loader dropped on the VPN concentrator",
            ),
        ],
    );
    d.send(
        Side::Alpha,
        indicators(
            "Indicators: GRIDLOCK campaign against the energy sector (TLP:CLEAR)".into(),
            stix,
        ),
    )?;
    d.send(
        Side::Bravo,
        text(
            Kind::Notification,
            "Notification: national cyber exercise BRAVO SHIELD, 3–5 March, 06:00–18:00 UTC",
            "CERT Bravo notifies CSIRT Alpha of the national exercise BRAVO SHIELD. Simulated attack\n\
traffic will originate from 203.0.113.0/24 towards ranges in our own territory only. Any\n\
traffic from this range reaching your networks is unintended: please tell us at once.\n",
            None,
        ),
    )?;
    d.sync()?;
    for i in 0..n {
        let side = if i % 2 == 0 { Side::Alpha } else { Side::Bravo };
        let latest = d.size_of(side).saturating_sub(1).max(1);
        let k = d.sent + 1;
        let message = match i % 8 {
            0 => text(Kind::Notification, &format!("Daily status {k}: brute-force traffic down 92% since isolation"), "Monitoring continues; no new sources observed.\n", None),
            1 => text(Kind::Response, &format!("Re: status — provider confirms takedown of two more servers ({k})"), "Two further rented servers linked to the same payment were taken down.\n", Some(latest)),
            2 => text(Kind::Inquiry, &format!("New beacons to update-check.example.net from 203.0.113.7 — same operator? ({k})"), "Is 203.0.113.7 part of your exercise range or a real host?\n", None),
            3 => indicators(
                format!("Indicators from the preserved server images ({k})"),
                stix_bundle(&format!("{now}/share-{k}"), &now, &[("Staging server", "[ipv4-addr:value = '192.0.2.44']", "Payload staging")]),
            ),
            4 => text(Kind::Response, &format!("Re: indicators — deployed on national sensors ({k})"), "Thank you. The indicators are deployed; two hits so far, both blocked.\n", Some(latest)),
            5 => text(Kind::Notification, &format!("Maintenance window of the hotline gateway, Sunday 02:00–03:00 UTC ({k})"), "Messages sent in that hour will be queued and delivered afterwards.\n", None),
            6 => text(Kind::Inquiry, &format!("Request for connection logs for 192.0.2.44, 1–2 March ({k})"), "Please share the flow records you can release for this address.\n", None),
            _ => text(Kind::Response, &format!("Re: logs — flow records released ({k})"), "Flow records for the period are attached to our next indicator share.\n", Some(latest)),
        };
        d.send(side, message)?;
        if side == Side::Bravo || i + 1 == n {
            d.sync()?;
        }
    }
    d.sync()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo's shares are valid STIX 2.1 (spec/dyad.md 3.2): the append would refuse
    /// them otherwise, and the README's main command runs the demo.
    #[test]
    fn demo_bundles_are_valid_stix() {
        let now = format_ms(now_ms());
        let bundle = stix_bundle(
            "seed",
            &now,
            &[
                ("a", "[ipv4-addr:value = '198.51.100.23']", "d"),
                ("b", "[domain-name:value = 'example.com'] FOLLOWEDBY [url:value = 'http://example.com/x']", "d"),
            ],
        );
        assert_eq!(dyad_ledger::stix::validate_document(&bundle), Ok(()));
    }
}
