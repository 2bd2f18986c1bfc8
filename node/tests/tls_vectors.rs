//! spec/vectors/tls-binding.json (made by `examples/gen_tls_vectors.rs`) against the code:
//! the statement, signature and extension value derived from the certificate's SPKI are
//! byte for byte what the code builds; the certificate verifies for the vector key and
//! channel, and is refused for another channel, another key and after its notAfter; and
//! openssl, which nobody here wrote, finds the binding under the OID spec/node.md names.

use dyad_ledger::keys::SignerKey;
use dyad_node::tls::binding::{
    certificate_spki, statement, verify_certificate, Binding, BindingError,
};
use serde_json::Value;

fn vector() -> Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/tls-binding.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("tls-binding.json is JSON")
}

fn bytes(v: &Value, field: &str) -> Vec<u8> {
    hex::decode(v[field].as_str().unwrap_or_else(|| panic!("{field}"))).expect(field)
}

fn key(v: &Value) -> SignerKey {
    let seed: [u8; 32] = hex::decode(v["party"]["seed_hex"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    SignerKey::from_seed(v["party"]["name"].as_str().unwrap(), seed).unwrap()
}

#[test]
fn the_binding_derived_from_the_certificate_is_what_the_vector_says() {
    let v = vector();
    let origin = v["origin"].as_str().unwrap();
    let not_after = v["not_after"].as_u64().unwrap();
    let key = key(&v);
    assert_eq!(
        key.public_key().to_vec(),
        bytes(&v["party"], "public_key_hex")
    );
    let der = bytes(&v, "certificate_der_hex");
    let spki = certificate_spki(&der).unwrap();
    assert_eq!(spki, bytes(&v, "spki_hex"));
    assert_eq!(
        statement(origin, not_after, &spki).unwrap(),
        bytes(&v, "statement_hex")
    );
    let binding = Binding::sign(&key, origin, not_after, &spki).unwrap();
    assert_eq!(binding.signature.to_vec(), bytes(&v, "signature_hex"));
    let extension = bytes(&v, "extension_value_hex");
    assert_eq!(binding.encode(), extension);
    assert_eq!(Binding::decode(&extension).unwrap(), binding);
    assert_eq!(
        dyad_node::tls::pin(&der).unwrap(),
        v["pin"].as_str().unwrap()
    );
    assert_eq!(
        dyad_node::tls::fingerprint_text(&der),
        v["fingerprint"].as_str().unwrap()
    );
}

#[test]
fn the_vector_certificate_verifies_only_for_its_channel_key_and_lifetime() {
    let v = vector();
    let origin = v["origin"].as_str().unwrap();
    let not_after = v["not_after"].as_u64().unwrap();
    let party = key(&v).public_key();
    let der = bytes(&v, "certificate_der_hex");
    let issued = v["issued"].as_u64().unwrap();
    let bound = verify_certificate(&der, origin, &[party], issued).unwrap();
    assert_eq!((bound.party_key, bound.not_after), (party, not_after));
    assert_eq!(
        verify_certificate(&der, "example.org/dyad/other", &[party], issued).unwrap_err(),
        BindingError::BadSignature
    );
    assert_eq!(
        verify_certificate(&der, origin, &[[7; 32]], issued).unwrap_err(),
        BindingError::UnknownPartyKey
    );
    assert!(matches!(
        verify_certificate(&der, origin, &[party], not_after + 1).unwrap_err(),
        BindingError::Expired { .. }
    ));
}

#[test]
fn openssl_finds_the_binding_under_the_specified_oid() {
    let v = vector();
    let der = bytes(&v, "certificate_der_hex");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cert.der");
    std::fs::write(&path, &der).unwrap();
    let out = match std::process::Command::new("openssl")
        .args(["asn1parse", "-inform", "DER", "-in"])
        .arg(&path)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            assert!(
                std::env::var_os("DYAD_REQUIRE_EXTERNAL_TOOLS").is_none(),
                "openssl: {e}"
            );
            eprintln!("openssl is not on PATH: skipping the check against it");
            return;
        }
    };
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let oid = v["oid"].as_str().unwrap();
    assert!(
        text.lines().any(|l| l.contains(&format!(":{oid}"))),
        "no {oid} in\n{text}"
    );
    // The extension's value, as openssl dumps it, is the vector's DER binding.
    let at = text.lines().position(|l| l.contains(oid)).unwrap();
    let value_line = text
        .lines()
        .skip(at + 1)
        .find(|l| l.contains("OCTET STRING"))
        .unwrap();
    let dump = value_line.split("[HEX DUMP]:").nth(1).unwrap().trim();
    assert_eq!(hex::decode(dump).unwrap(), bytes(&v, "extension_value_hex"));
}
