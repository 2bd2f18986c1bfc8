//! The TLS binding (node::tls::binding, spec/node.md 9.3) on any bytes: never panics.
//!
//! Layout: byte 0 chooses the input. Even: the rest is used as it is, as a binding value
//! (`Binding::decode`) and as a certificate (`verify_certificate`, `certificate_spki`).
//! Odd: the rest is edits to a valid certificate the target issues once (bravo's binding
//! for the test channel), each 3 bytes: a big-endian u16 position (modulo the length) and
//! the byte written there; with byte 0 bit 1 set, the certificate is also cut at the
//! first edit's position. Checks: a decoded value encodes back to the input (DER is
//! canonical); an accepted certificate is bound to the one accepted key, its SPKI is the
//! certificate's, and an unedited certificate is accepted.
#![no_main]

use std::sync::OnceLock;

use dyad_ledger::keys::SignerKey;
use dyad_node::tls::binding::{certificate_spki, verify_certificate, Binding};
use dyad_node::tls::TlsIdentity;
use libfuzzer_sys::fuzz_target;

const ORIGIN: &str = "example.org/dyad/fuzz";
const NOW: u64 = 1_800_000_000;

fn bravo() -> &'static SignerKey {
    static KEY: OnceLock<SignerKey> = OnceLock::new();
    KEY.get_or_init(|| SignerKey::from_seed("bravo", [2; 32]).unwrap())
}

fn valid_certificate() -> &'static [u8] {
    static CERT: OnceLock<Vec<u8>> = OnceLock::new();
    CERT.get_or_init(|| {
        let identity = TlsIdentity::ephemeral(bravo(), ORIGIN, NOW).unwrap();
        identity.certificate().to_vec()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let certificate = if mode & 1 == 0 {
        if let Ok(binding) = Binding::decode(rest) {
            assert_eq!(binding.encode(), rest, "a decoded binding is not canonical");
        }
        rest.to_vec()
    } else {
        let mut cert = valid_certificate().to_vec();
        let edits: Vec<(usize, u8)> = rest
            .chunks_exact(3)
            .map(|c| {
                (
                    usize::from(u16::from_be_bytes([c[0], c[1]])) % cert.len(),
                    c[2],
                )
            })
            .collect();
        for &(at, byte) in &edits {
            cert[at] = byte;
        }
        if mode & 2 != 0 {
            if let Some(&(at, _)) = edits.first() {
                cert.truncate(at);
            }
        }
        if edits.is_empty() {
            verify_certificate(&cert, ORIGIN, &[bravo().public_key()], NOW)
                .expect("the unedited certificate is accepted");
        }
        cert
    };
    let accepted = [bravo().public_key()];
    if let Ok(bound) = verify_certificate(&certificate, ORIGIN, &accepted, NOW) {
        assert_eq!(bound.party_key, accepted[0]);
        assert!(bound.not_after >= NOW);
        assert_eq!(Ok(bound.spki), certificate_spki(&certificate));
    }
});
