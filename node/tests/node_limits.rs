//! Held and slow connections: the listeners' timeouts, connection table and body budget
//! keep the peer's traffic flowing (spec/node.md 1.1).

mod node_support;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use node_support::*;
use tokio::net::TcpStream;

const IDLE: usize = 300;
const SLOW: usize = 50;
const MAX_CONNECTIONS: usize = 256;
const BODY_BUDGET: usize = 16 << 20;
const TIMEOUT: Duration = Duration::from_secs(3);

/// Opens a connection and sends nothing.
async fn idle(addr: SocketAddr) -> Option<TcpStream> {
    TcpStream::connect(addr).await.ok()
}

/// Opens a connection and sends a `/submit-batch` request declaring 4 MiB, all but its
/// last byte (as far as the server takes it within a second), then holds it.
async fn slow_body(addr: SocketAddr) -> Option<TcpStream> {
    let conn = TcpStream::connect(addr).await.ok()?;
    let len = dyad_node::submit::MAX_SUBMIT_BATCH_BYTES;
    let head =
        format!("POST /submit-batch HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {len}\r\n\r\n");
    write_all(&conn, head.as_bytes()).await.ok()?;
    let body = vec![b'b'; len - 1];
    let _ = tokio::time::timeout(Duration::from_secs(1), write_all(&conn, &body)).await;
    Some(conn)
}

async fn write_all(conn: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        conn.writable().await?;
        match conn.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Waits until the server closes `conn` (EOF or reset), up to `limit`.
async fn closed_within(conn: TcpStream, limit: Duration) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    tokio::time::timeout(limit, async {
        loop {
            if conn.readable().await.is_err() {
                return;
            }
            match conn.try_read(&mut buf) {
                Ok(0) => return,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
                Ok(_) => {} // an answer (408, 503): the close follows
            }
        }
    })
    .await
    .is_ok()
}

#[test]
fn held_and_slow_connections_do_not_keep_the_peer_out_and_are_closed() {
    runtime().block_on(async {
        let pair = Pair::start_with(|c| {
            c.max_connections = MAX_CONNECTIONS;
            c.header_timeout = TIMEOUT;
            c.idle_timeout = TIMEOUT;
            c.body_timeout = TIMEOUT * 2;
            c.max_body_bytes = BODY_BUDGET;
        })
        .await;
        append(pair.seq(), "before", "committed").await;

        // Strangers: idle connections to both nodes, and slow 4 MiB bodies to the sequencer.
        let opened = tokio::time::Instant::now();
        let mut held = Vec::new();
        for addr in [pair.seq_addr, pair.cos_addr] {
            for _ in 0..IDLE {
                held.extend(idle(addr).await);
            }
        }
        let slow: Vec<_> = (0..SLOW)
            .map(|_| tokio::spawn(slow_body(pair.seq_addr)))
            .collect();
        for s in slow {
            held.extend(s.await.unwrap());
        }
        let held_count = held.len();
        eprintln!(
            "opened {held_count} hostile connections in {:?}",
            opened.elapsed()
        );
        assert_eq!(held_count, 2 * IDLE + SLOW, "every hostile connection was accepted");

        // The peer's traffic: the co-signer's checkpoint, a sequencer append co-signed over
        // add-checkpoint, a co-signer message carried by /submit-batch, while held.
        let started = tokio::time::Instant::now();
        let r = pair
            .as_seq()
            .get(format!("{}/checkpoint", pair.cos().url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let checkpoint_wait = started.elapsed();
        let started = tokio::time::Instant::now();
        let (status, resp) = append(pair.seq(), "during-seq", "committed").await;
        assert_eq!((status, resp.state.as_str()), (200, "committed"));
        let seq_wait = started.elapsed();
        let started = tokio::time::Instant::now();
        let (status, resp) = append(pair.cos(), "during-cos", "committed").await;
        assert_eq!((status, resp.state.as_str()), (200, "committed"));
        let cos_wait = started.elapsed();
        eprintln!(
            "peer served while held: GET /checkpoint {checkpoint_wait:?}, sequencer append committed {seq_wait:?}, co-signer append committed {cos_wait:?}"
        );
        for w in [checkpoint_wait, seq_wait, cos_wait] {
            assert!(w < Duration::from_secs(8), "the peer waited {w:?}");
        }

        // Every hostile connection is closed by the server after the timeouts.
        let closing = tokio::time::Instant::now();
        let limit = TIMEOUT * 2 + Duration::from_secs(5);
        let waits: Vec<_> = held
            .into_iter()
            .map(|c| tokio::spawn(closed_within(c, limit)))
            .collect();
        let mut closed = 0;
        for w in waits {
            closed += usize::from(w.await.unwrap());
        }
        eprintln!(
            "{closed} of {held_count} hostile connections closed by the nodes within {:?} of the peer's requests ({:?} after they were opened)",
            closing.elapsed(),
            opened.elapsed()
        );
        assert_eq!(closed, held_count, "every held connection is closed");

        // The body budget bounded the memory of the slow bodies.
        let seq_listen = &pair.seq().metrics().listen;
        let peak = seq_listen.body_bytes_peak.load(Ordering::SeqCst);
        let shed = seq_listen.connections_shed.load(Ordering::SeqCst)
            + pair.cos().metrics().listen.connections_shed.load(Ordering::SeqCst);
        eprintln!(
            "body bytes buffered at most {peak} (budget {BODY_BUDGET}); {shed} connections shed to make room"
        );
        assert!(peak > 0, "the slow bodies were buffered");
        assert!(shed > 0, "connections beyond the table's size took the quietest one's place");
        assert!(peak <= BODY_BUDGET as u64, "{peak} > {BODY_BUDGET}");
        assert!(
            seq_listen.connections_open.load(Ordering::SeqCst) <= MAX_CONNECTIONS as u64 + 2,
            "the connection table bounds the open connections"
        );
        assert!(
            wait_until(Duration::from_secs(5), || async {
                seq_listen.body_bytes_buffered.load(Ordering::SeqCst) == 0
            })
            .await,
            "the budget is given back"
        );
        pair.stop().await;
    });
}
