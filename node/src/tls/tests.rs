//! Handshakes over loopback between nodes, strangers, forgers and readers (spec/node.md
//! 9.3 and 9.6), and the identity's life in a data directory (9.2 and 9.4).

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dyad_ledger::keys::SignerKey;
use rcgen::{CertificateParams, CustomExtension, KeyPair, PublicKeyData};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, ClientConfig, OtherError, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::binding::{statement, verify_certificate};
use super::*;

const ORIGIN: &str = "example.org/dyad/test";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn party(name: &str, seed: u8) -> SignerKey {
    SignerKey::from_seed(name, [seed; 32]).unwrap()
}

/// A party's node: its signer key and a TLS identity in its own directory.
struct Node {
    key: SignerKey,
    slot: Arc<CertSlot>,
    identity: TlsIdentity,
    _dir: tempfile::TempDir,
}

fn node(name: &str, seed: u8, origin: &str, at: u64) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let key = party(name, seed);
    let (identity, change) = TlsIdentity::load_or_create(dir.path(), &key, origin, at).unwrap();
    assert_eq!(change, IdentityChange::Created);
    let slot = CertSlot::new(identity.certified_key().unwrap());
    Node {
        key,
        slot,
        identity,
        _dir: dir,
    }
}

fn accepting(keys: &[&SignerKey]) -> PartyVerifier {
    PartyVerifier::new(ORIGIN, keys.iter().map(|k| k.public_key()).collect()).unwrap()
}

/// A certificate for `key` carrying the given binding extension values, with `not_after`.
fn certificate_with(key: &KeyPair, bindings: &[Vec<u8>], not_after: u64) -> Arc<CertifiedKey> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after as i64).unwrap();
    params.custom_extensions = bindings
        .iter()
        .map(|b| CustomExtension::from_oid_content(BINDING_OID, b.clone()))
        .collect();
    let der = params.self_signed(key).unwrap().der().clone();
    let signer = provider()
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            key.serialize_der(),
        )))
        .unwrap();
    Arc::new(CertifiedKey::new(vec![der], signer))
}

fn p256() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
}

/// What the server saw: the client's certificates, or why it refused.
type Accepted = io::Result<Option<Vec<CertificateDer<'static>>>>;

/// Runs one handshake over 127.0.0.1: the server's outcome and the client's.
async fn handshake(server: ServerConfig, client: ClientConfig) -> (Accepted, io::Result<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(server));
    let server_side = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let stream = acceptor.accept(tcp).await?;
        let presented = stream.get_ref().1.peer_certificates();
        Ok(presented.map(|c| c.iter().map(|c| c.clone().into_owned()).collect()))
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("dyad-peer").unwrap();
    let client_side = TlsConnector::from(Arc::new(client))
        .connect(name, tcp)
        .await
        .map(drop);
    let accepted = tokio::time::timeout(Duration::from_secs(10), server_side)
        .await
        .expect("the server finishes its handshake")
        .unwrap();
    (accepted, client_side)
}

fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// The verifier's own error a handshake failed with, if that is why.
fn verifier_error<T: std::error::Error + Clone + 'static>(e: &io::Error) -> Option<T> {
    match rustls_error(e)? {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            inner.downcast_ref::<T>().cloned()
        }
        _ => None,
    }
}

fn binding_error(e: &io::Error) -> Option<BindingError> {
    verifier_error(e)
}

fn server(n: &Node, peer: &SignerKey, auth: ClientAuth) -> ServerConfig {
    server_config(n.slot.clone(), accepting(&[peer]), auth).unwrap()
}

fn client(n: &Node, peer: &SignerKey) -> ClientConfig {
    peer_client_config(n.slot.clone(), accepting(&[peer])).unwrap()
}

#[tokio::test]
async fn the_two_parties_authenticate_each_other() {
    let alpha = node("alpha", 1, ORIGIN, now());
    let bravo = node("bravo", 2, ORIGIN, now());
    let verifier = accepting(&[&bravo.key]);
    let (accepted, connected) = handshake(
        server(&alpha, &bravo.key, ClientAuth::PeerOnly),
        client(&bravo, &alpha.key),
    )
    .await;
    connected.unwrap();
    let presented = accepted.unwrap().expect("bravo presented its certificate");
    assert_eq!(presented, [bravo.identity.certificate().clone()]);
    let who = identify(
        Some(&presented),
        &verifier,
        rustls::pki_types::UnixTime::now(),
    );
    assert_eq!(who, Peer::Party(bravo.key.public_key()));
}

#[tokio::test]
async fn a_stranger_with_a_valid_binding_is_refused_both_ways() {
    let alpha = node("alpha", 1, ORIGIN, now());
    let bravo = node("bravo", 2, ORIGIN, now());
    let stranger = node("stranger", 3, ORIGIN, now());
    // The stranger as a client of alpha, which expects bravo.
    let (accepted, _) = handshake(
        server(&alpha, &bravo.key, ClientAuth::PeerOrAnonymous),
        client(&stranger, &alpha.key),
    )
    .await;
    let e = accepted.unwrap_err();
    assert_eq!(
        binding_error(&e),
        Some(BindingError::UnknownPartyKey),
        "{e}"
    );
    // The stranger as the server bravo connects to, expecting alpha.
    let (_, connected) = handshake(
        server(&stranger, &bravo.key, ClientAuth::PeerOnly),
        client(&bravo, &alpha.key),
    )
    .await;
    let e = connected.unwrap_err();
    assert_eq!(
        binding_error(&e),
        Some(BindingError::UnknownPartyKey),
        "{e}"
    );
}

#[tokio::test]
async fn the_peers_key_with_a_forged_binding_is_refused() {
    let alpha = node("alpha", 1, ORIGIN, now());
    let bravo = node("bravo", 2, ORIGIN, now());
    let forger = party("forger", 3);
    let not_after = now() + 3600;

    // bravo's key named in the binding, the signature by the forger's key.
    let key = p256();
    let forged = Binding {
        party_key: bravo.key.public_key(),
        not_after,
        signature: forger
            .sign(&statement(ORIGIN, not_after, &key.subject_public_key_info()).unwrap()),
    };
    let by_another_key = certificate_with(&key, &[forged.encode()], not_after);

    // bravo's genuine binding (for bravo's own TLS key), copied into a certificate for
    // another key.
    let genuine = Binding::sign(&bravo.key, ORIGIN, not_after, b"bravo's real SPKI").unwrap();
    let mut genuine_for_bravo = genuine.clone();
    let bravo_spki = binding::certificate_spki(bravo.identity.certificate()).unwrap();
    genuine_for_bravo.signature = bravo
        .key
        .sign(&statement(ORIGIN, not_after, &bravo_spki).unwrap());
    let for_another_spki = certificate_with(&p256(), &[genuine_for_bravo.encode()], not_after);

    for certified in [by_another_key, for_another_spki] {
        let forged_slot = CertSlot::new(certified);
        let client = peer_client_config(forged_slot, accepting(&[&alpha.key])).unwrap();
        let (accepted, _) = handshake(
            server(&alpha, &bravo.key, ClientAuth::PeerOrAnonymous),
            client,
        )
        .await;
        let e = accepted.unwrap_err();
        assert_eq!(binding_error(&e), Some(BindingError::BadSignature), "{e}");
    }
}

#[tokio::test]
async fn a_binding_for_another_channel_or_an_expired_one_is_refused() {
    let alpha = node("alpha", 1, ORIGIN, now());
    let elsewhere = node("bravo", 2, "example.org/dyad/other", now());
    let (accepted, _) = handshake(
        server(&alpha, &elsewhere.key, ClientAuth::PeerOnly),
        client(&elsewhere, &alpha.key),
    )
    .await;
    let e = accepted.unwrap_err();
    assert_eq!(binding_error(&e), Some(BindingError::BadSignature), "{e}");

    let expired = node(
        "bravo",
        2,
        ORIGIN,
        now() - identity::BINDING_LIFETIME_S - 60,
    );
    let (accepted, _) = handshake(
        server(&alpha, &expired.key, ClientAuth::PeerOnly),
        client(&expired, &alpha.key),
    )
    .await;
    let e = accepted.unwrap_err();
    assert!(
        matches!(
            rustls_error(&e),
            Some(rustls::Error::InvalidCertificate(CertificateError::Expired))
        ),
        "{e}"
    );
}

#[tokio::test]
async fn a_tls12_only_client_is_refused() {
    let alpha = node("alpha", 1, ORIGIN, now());
    let bravo = node("bravo", 2, ORIGIN, now());
    let tls12 = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(accepting(&[&alpha.key])))
        .with_client_cert_resolver(bravo.slot.clone());
    let (accepted, connected) = handshake(
        server(&alpha, &bravo.key, ClientAuth::PeerOrAnonymous),
        tls12,
    )
    .await;
    let e = accepted.unwrap_err();
    assert!(
        matches!(rustls_error(&e), Some(rustls::Error::PeerIncompatible(_))),
        "{e}"
    );
    assert!(connected.is_err());
}

#[tokio::test]
async fn a_reader_without_a_certificate_gets_in_only_where_allowed_and_is_not_the_peer() {
    let alpha = node("alpha", 1, ORIGIN, now());
    let bravo = node("bravo", 2, ORIGIN, now());
    let pin = parse_pin(&alpha.identity.pin()).unwrap();
    assert_eq!(
        alpha.identity.pin(),
        fingerprint::pin(alpha.identity.certificate()).unwrap()
    );

    let (accepted, connected) = handshake(
        server(&alpha, &bravo.key, ClientAuth::PeerOrAnonymous),
        reader_client_config(pin).unwrap(),
    )
    .await;
    connected.unwrap();
    let presented = accepted.unwrap();
    assert_eq!(presented, None);
    let who = identify(
        None,
        &accepting(&[&bravo.key]),
        rustls::pki_types::UnixTime::now(),
    );
    assert_eq!(who, Peer::NotThePeer);

    let (accepted, _) = handshake(
        server(&alpha, &bravo.key, ClientAuth::PeerOnly),
        reader_client_config(pin).unwrap(),
    )
    .await;
    let e = accepted.unwrap_err();
    assert!(
        matches!(
            rustls_error(&e),
            Some(rustls::Error::NoCertificatesPresented)
        ),
        "{e}"
    );

    // The pin of another node's key: the reader refuses alpha.
    let wrong = parse_pin(&bravo.identity.pin()).unwrap();
    let (_, connected) = handshake(
        server(&alpha, &bravo.key, ClientAuth::PeerOrAnonymous),
        reader_client_config(wrong).unwrap(),
    )
    .await;
    let e = connected.unwrap_err();
    assert!(verifier_error::<verify::PinMismatch>(&e).is_some(), "{e}");
}

#[test]
fn one_binding_exactly_matching_the_certificates_not_after() {
    let bravo = party("bravo", 2);
    let key = p256();
    let spki = key.subject_public_key_info();
    let not_after = now() + 3600;
    let good = Binding::sign(&bravo, ORIGIN, not_after, &spki)
        .unwrap()
        .encode();
    let der = |bindings: &[Vec<u8>], not_after| {
        certificate_with(&key, bindings, not_after).cert[0].clone()
    };
    let accepted = [bravo.public_key()];
    let check = |d: &CertificateDer<'_>| verify_certificate(d, ORIGIN, &accepted, now());

    assert_eq!(
        check(&der(std::slice::from_ref(&good), not_after))
            .unwrap()
            .spki,
        spki
    );
    assert_eq!(check(&der(&[], not_after)), Err(BindingError::NoBinding));
    let twice = check(&der(&[good.clone(), good.clone()], not_after));
    assert!(
        matches!(
            twice,
            Err(BindingError::SeveralBindings | BindingError::CertificateMalformed(_))
        ),
        "{twice:?}"
    );
    assert!(matches!(
        check(&der(std::slice::from_ref(&good), not_after + 1)),
        Err(BindingError::NotAfterMismatch { .. })
    ));
    assert!(matches!(
        check(&der(&[b"\x04\x00".to_vec()], not_after)),
        Err(BindingError::BindingMalformed(_))
    ));
    let mut trailing = der(&[good], not_after).to_vec();
    trailing.push(0);
    assert_eq!(
        check(&CertificateDer::from(trailing)),
        Err(BindingError::TrailingBytes)
    );
    assert!(matches!(
        check(&CertificateDer::from(vec![0x30, 0x03, 1, 2, 3])),
        Err(BindingError::CertificateMalformed(_))
    ));
}

#[cfg(unix)]
#[test]
fn the_identity_is_kept_renewed_with_the_same_key_and_its_key_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let alpha = party("alpha", 1);
    let t0 = now();
    let (first, change) = TlsIdentity::load_or_create(dir.path(), &alpha, ORIGIN, t0).unwrap();
    assert_eq!(change, IdentityChange::Created);
    for file in [TLS_KEY_FILE, TLS_CERT_FILE] {
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    assert!(!format!("{first:?}").contains("PRIVATE"));

    let (again, change) = TlsIdentity::load_or_create(dir.path(), &alpha, ORIGIN, t0 + 10).unwrap();
    assert_eq!(change, IdentityChange::Loaded);
    assert_eq!(again.fingerprint_text(), first.fingerprint_text());

    // Close to the end of its binding: a new certificate for the same key.
    let late = t0 + identity::BINDING_LIFETIME_S - identity::RENEW_BEFORE_S + 1;
    assert!(again.needs_renewal(late));
    let (renewed, change) = TlsIdentity::load_or_create(dir.path(), &alpha, ORIGIN, late).unwrap();
    assert_eq!(change, IdentityChange::Renewed);
    assert_ne!(renewed.fingerprint_text(), first.fingerprint_text());
    assert_eq!(renewed.pin(), first.pin());
    assert!(renewed.not_after() > first.not_after());

    // Another channel, or another party key: renewed too, and the result verifies.
    let (other, change) =
        TlsIdentity::load_or_create(dir.path(), &alpha, "example.org/other", t0).unwrap();
    assert_eq!(change, IdentityChange::Renewed);
    verify_certificate(
        other.certificate(),
        "example.org/other",
        &[alpha.public_key()],
        t0,
    )
    .unwrap();

    // A key file that is not a P-256 key is never replaced silently.
    std::fs::write(dir.path().join(TLS_KEY_FILE), "not a key\n").unwrap();
    let e = TlsIdentity::load_or_create(dir.path(), &alpha, ORIGIN, t0).unwrap_err();
    assert!(matches!(e, IdentityError::BadKey { .. }), "{e}");
}

#[test]
fn an_ephemeral_identity_is_bound_to_its_party() {
    let alpha = party("alpha", 1);
    let identity = TlsIdentity::ephemeral(&alpha, ORIGIN, now()).unwrap();
    let bound =
        verify_certificate(identity.certificate(), ORIGIN, &[alpha.public_key()], now()).unwrap();
    assert_eq!(bound.not_after, identity.not_after());
    assert!(!identity.needs_renewal(now()));
    assert_ne!(
        TlsIdentity::ephemeral(&alpha, ORIGIN, now()).unwrap().pin(),
        identity.pin()
    );
}

/// The deferred check (`dyad restore --from-peer` after key changes): the handshake takes a
/// valid binding by any key and records it; a forged binding or one for another channel is
/// refused as by `PartyVerifier`; the key recorded passes only the keys given afterwards.
#[tokio::test]
async fn a_deferred_check_records_the_binding_key_and_passes_only_the_keys_given_later() {
    let alpha = node("alpha", 1, ORIGIN, now());
    let bravo = node("bravo", 2, ORIGIN, now());
    let stranger = node("stranger", 3, ORIGIN, now());
    let deferred = |client_node: &Node| {
        let verifier = DeferredPartyVerifier::new(ORIGIN).unwrap();
        let config = deferred_peer_client_config(client_node.slot.clone(), verifier.clone());
        (verifier, config.unwrap())
    };

    // bravo reaches the stranger: the handshake passes, the stranger's key is recorded,
    // and the check against alpha's key (what the log would say) fails.
    let (verifier, config) = deferred(&bravo);
    let (_, connected) =
        handshake(server(&stranger, &bravo.key, ClientAuth::PeerOnly), config).await;
    connected.unwrap();
    assert_eq!(verifier.presented(), [stranger.key.public_key()]);
    assert_eq!(
        verifier.check_presented(&[alpha.key.public_key()]),
        Err(NotThePartysKey {
            presented: stranger.key.public_key()
        })
    );
    assert_eq!(
        verifier.check_presented(&[stranger.key.public_key()]),
        Ok(())
    );

    // alpha's key with a forged binding, and a binding for another channel: refused in
    // the handshake, nothing recorded.
    let not_after = now() + 3600;
    let key = p256();
    let forged = Binding {
        party_key: alpha.key.public_key(),
        not_after,
        signature: stranger
            .key
            .sign(&statement(ORIGIN, not_after, &key.subject_public_key_info()).unwrap()),
    };
    let forged_slot = CertSlot::new(certificate_with(&key, &[forged.encode()], not_after));
    let elsewhere = node("alpha", 1, "example.org/dyad/other", now());
    for slot in [forged_slot, elsewhere.slot.clone()] {
        let (verifier, config) = deferred(&bravo);
        let forger = server_config(slot, accepting(&[&bravo.key]), ClientAuth::PeerOnly);
        let (_, connected) = handshake(forger.unwrap(), config).await;
        let e = connected.unwrap_err();
        assert_eq!(binding_error(&e), Some(BindingError::BadSignature), "{e}");
        assert!(verifier.presented().is_empty());
    }

    // Bindings by ever more keys, one per connection: the record stops at its bound and
    // the next new key fails the handshake.
    let (verifier, config) = deferred(&bravo);
    for seed in 0..=MAX_PRESENTED_KEYS as u8 {
        let other = node("stranger", 10 + seed, ORIGIN, now());
        let (_, connected) = handshake(
            server(&other, &bravo.key, ClientAuth::PeerOnly),
            config.clone(),
        )
        .await;
        if usize::from(seed) < MAX_PRESENTED_KEYS {
            connected.unwrap();
        } else {
            let e = connected.unwrap_err();
            assert_eq!(
                verifier_error::<TooManyKeys>(&e),
                Some(TooManyKeys(MAX_PRESENTED_KEYS)),
                "{e}"
            );
        }
    }
    assert_eq!(verifier.presented().len(), MAX_PRESENTED_KEYS);
}
