//! Who may use which route of a running node (spec/node.md 9.6), over real TLS: strangers
//! without a certificate, with a certificate bound by another key, over plain HTTP or TLS
//! 1.2; read-credential holders before and after a revoke; a public-read node.

mod node_support;

use std::sync::Arc;
use std::time::Duration;

use dyad_ledger::keys::SignerKey;
use dyad_node::tls::{peer_client_config, CertSlot, PartyVerifier, TlsIdentity};
use node_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Answer {
    status: u16,
    authenticate: Option<String>,
    body: String,
}

async fn send(client: &reqwest::Client, method: &str, url: &str) -> Answer {
    let request = match method {
        "GET" => client.get(url),
        _ => client.post(url).body(b"x".to_vec()),
    };
    let r = request.send().await.unwrap();
    Answer {
        status: r.status().as_u16(),
        authenticate: r
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned()),
        body: r.text().await.unwrap(),
    }
}

/// Nothing of the log in a refusal: not the origin, not a checkpoint's lines.
fn reveals_nothing(a: &Answer) -> bool {
    !a.body.contains(ORIGIN) && !a.body.contains('\u{2014}')
}

#[test]
fn without_a_credential_reads_get_401_and_party_routes_403_revealing_nothing() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        append(pair.seq(), "secret subject", "committed").await;
        let stranger = stranger();
        for base in [pair.seq().url(), pair.cos().url()] {
            for path in [
                "checkpoint",
                "tile/0/000.p/2",
                "tile/entries/000.p/2",
                "metrics",
            ] {
                let a = send(&stranger, "GET", &format!("{base}/{path}")).await;
                assert_eq!(a.status, 401, "{base}/{path}: {}", a.body);
                assert_eq!(a.authenticate.as_deref(), Some("Bearer realm=\"dyad\""));
                assert!(reveals_nothing(&a), "{path}: {}", a.body);
            }
        }
        let seq = pair.seq().url();
        let cos = pair.cos().url();
        for url in [
            format!("{seq}/submit"),
            format!("{seq}/submit-batch"),
            format!("{cos}/add-checkpoint"),
        ] {
            let a = send(&stranger, "POST", &url).await;
            assert_eq!(a.status, 403, "{url}");
        }
        // A bearer token that was never granted is no better.
        let bogus = reqwest::Client::builder()
            .tls_danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let r = bogus
            .get(format!("{seq}/checkpoint"))
            .bearer_auth("dyadr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        assert_eq!(pair.seq().status().await.unwrap().size, 2, "nothing stored");
        pair.stop().await;
    });
}

#[test]
fn a_credential_reads_until_it_is_revoked_and_never_writes() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        append(pair.seq(), "one", "committed").await;
        let seq = pair.seq().url();
        let reach = reader(pair.seq(), "auditor");
        let client = dyad_node::TileClient::with_reach(&seq, reach).unwrap();
        let http = client.http().clone();
        let a = send(&http, "GET", &format!("{seq}/checkpoint")).await;
        assert_eq!(a.status, 200);
        assert!(a.body.starts_with(ORIGIN));
        assert_eq!(
            send(&http, "GET", &format!("{seq}/metrics")).await.status,
            200
        );
        // A reader is not the peer.
        assert_eq!(
            send(&http, "POST", &format!("{seq}/submit")).await.status,
            403
        );
        assert_eq!(
            send(&http, "POST", &format!("{seq}/submit-batch"))
                .await
                .status,
            403
        );

        // Revoked in the store (as `dyad access revoke` does): refused at the next request,
        // with no restart.
        let mut store = dyad_node::access::CredentialStore::open(pair.seq().data_dir()).unwrap();
        store.revoke("auditor").unwrap();
        let a = send(&http, "GET", &format!("{seq}/checkpoint")).await;
        assert_eq!(a.status, 401);
        assert!(reveals_nothing(&a));
        // The credential of another grant still works.
        let other = dyad_node::TileClient::with_reach(&seq, reader(pair.seq(), "other")).unwrap();
        assert_eq!(
            send(other.http(), "GET", &format!("{seq}/checkpoint"))
                .await
                .status,
            200
        );
        pair.stop().await;
    });
}

#[test]
fn a_credential_pinned_to_another_certificate_does_not_connect() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        let mut credential = credential(pair.seq(), "pinned-wrong");
        credential.server_pin = [7; 32];
        let reach = dyad_node::Reach::credential(&credential).unwrap();
        let client = dyad_node::TileClient::with_reach(&pair.seq().url(), reach).unwrap();
        let e = client.checkpoint().await.unwrap_err();
        assert!(
            matches!(e, dyad_node::ClientError::Http { .. }),
            "the handshake fails: {e}"
        );
        pair.stop().await;
    });
}

/// A client presenting `key`'s certificate for this channel and accepting `server`.
fn presenting(key: &SignerKey, server: &SignerKey) -> Arc<rustls::ClientConfig> {
    let identity = TlsIdentity::ephemeral(key, ORIGIN, now_ms() / 1000).unwrap();
    let slot = CertSlot::new(identity.certified_key().unwrap());
    let verifier = PartyVerifier::new(ORIGIN, vec![server.public_key()]).unwrap();
    Arc::new(peer_client_config(slot, verifier).unwrap())
}

/// Connects with `config`, sends one GET and returns what came back (empty if the
/// handshake or the request failed).
async fn raw_get(addr: std::net::SocketAddr, config: Arc<rustls::ClientConfig>) -> String {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let connector = tokio_rustls::TlsConnector::from(config);
    let Ok(mut tls) = connector.connect(name, tcp).await else {
        return String::new();
    };
    let head = format!("GET /checkpoint HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if tls.write_all(head.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn a_stranger_bound_certificate_plain_http_and_tls12_are_refused_at_the_handshake() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        append(pair.seq(), "one", "committed").await;
        let addr = pair.seq_addr;
        // The co-signer's own certificate works (the control).
        let answer = raw_get(addr, presenting(&bravo(), &alpha())).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        // A well-formed binding, by a key that is not a party of the channel.
        let stranger = SignerKey::from_seed("stranger.example", [9; 32]).unwrap();
        let answer = raw_get(addr, presenting(&stranger, &alpha())).await;
        assert!(!answer.contains(ORIGIN), "{answer}");
        assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");

        // Plain HTTP to the TLS port: no HTTP answer, nothing of the log.
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET /checkpoint HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            !answer.contains("HTTP/1.1") && !answer.contains(ORIGIN),
            "{answer}"
        );

        // A client that offers TLS 1.2 only.
        let tls12 = rustls::ClientConfig::builder_with_provider(dyad_node::tls::provider())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny))
            .with_no_client_auth();
        let answer = raw_get(addr, Arc::new(tls12)).await;
        assert!(answer.is_empty(), "{answer}");
        assert!(
            pair.seq()
                .metrics()
                .listen
                .tls_handshakes_failed
                .load(std::sync::atomic::Ordering::Relaxed)
                >= 3,
            "the refused handshakes are counted"
        );
        pair.stop().await;
    });
}

/// Accepts any server certificate: the TLS 1.2 client must fail on the version alone.
#[derive(Debug)]
struct AcceptAny;

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        dyad_node::tls::SIGNATURE_SCHEMES.to_vec()
    }
}

#[test]
fn a_public_read_node_answers_anyone_but_keeps_party_routes_closed() {
    runtime().block_on(async {
        let pair = Pair::start_with(|c| c.public_read = true).await;
        append(pair.seq(), "public", "committed").await;
        let stranger = stranger();
        let seq = pair.seq().url();
        let a = send(&stranger, "GET", &format!("{seq}/checkpoint")).await;
        assert_eq!(a.status, 200);
        assert!(a.body.starts_with(ORIGIN));
        let r = stranger
            .get(format!("{seq}/tile/0/000.p/2"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["cache-control"], "public, max-age=5");
        assert_eq!(
            send(&stranger, "POST", &format!("{seq}/submit"))
                .await
                .status,
            403
        );
        pair.stop().await;
    });
}

#[test]
fn nodes_behind_tls_terminating_proxies_exchange_over_plain_http_and_say_so() {
    runtime().block_on(async {
        let pair = Pair::start_with(|c| c.insecure_http = true).await;
        assert!(pair.seq().url().starts_with("http://"));
        append(pair.seq(), "over plain http", "committed").await;
        assert_eq!(pair.wait_converged(Duration::from_secs(10)).await, 2);
        let status = pair.seq().status().await.unwrap();
        assert_eq!(status.transport, "plain-http");
        assert!(
            status
                .warnings
                .iter()
                .any(|w| w.contains("--insecure-http")),
            "{:?}",
            status.warnings
        );
        let tls = Pair::start().await;
        let status = tls.seq().status().await.unwrap();
        assert_eq!((status.transport, status.warnings.len()), ("tls", 0));
        assert_eq!(status.tls_pin, tls.seq().tls_pin());
        tls.stop().await;
        pair.stop().await;
    });
}
