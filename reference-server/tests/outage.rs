//! While PostgreSQL is unreachable the server answers 503 (JSON), and it
//! recovers by itself when the database is back. The outage is made with a
//! TCP proxy between the server and the real PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use rocket::http::Status;
use rocket::tokio::io::copy_bidirectional;
use rocket::tokio::net::{TcpListener, TcpStream};
use rocket::tokio::task::{JoinHandle, JoinSet};

struct Proxy {
    addr: SocketAddr,
    target: String,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut p = Self {
            addr,
            target,
            task: None,
        };
        p.serve(listener);
        p
    }

    fn serve(&mut self, listener: TcpListener) {
        let target = self.target.clone();
        self.task = Some(rocket::tokio::spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                conns.spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(target).await {
                        let _ = copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        }));
    }

    /// Closes the listener and every proxied connection.
    async fn down(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    async fn up(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}

#[rocket::async_test]
async fn database_outage_gives_503_and_recovers() {
    let db = TestDb::create();
    let mut proxy = Proxy::start(host_port(&admin_url())).await;
    let mut cfg = config(&db);
    cfg.database_url = through(&db.url, proxy.addr);
    let s = Server::start(cfg).await;
    let k = meter_key(0);
    register_key(&s, "alice", k).await;
    let (st, _) = report(&s, &signed(k, 1, 1, 0)).await;
    assert_eq!(st, Status::Created);

    proxy.down().await;
    let (st, v) = report(&s, &signed(k, 2, 2, 0)).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::ServiceUnavailable, Some("database_unavailable")),
        "{v}"
    );
    let (st, v) = get(&s.public, "/health", None).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::ServiceUnavailable, Some("database_unavailable"))
    );
    let (st, _) = get(
        &s.operator,
        &format!("/meters/{}", k.key_id()),
        Some(READ_TOKEN),
    )
    .await;
    assert_eq!(st, Status::ServiceUnavailable);

    proxy.up().await;
    // Recovery needs no restart; allow a few attempts for broken pooled
    // connections to be discarded (bounded, not timing-sensitive).
    let mut last = None;
    for _ in 0..100 {
        let (st, v) = report(&s, &signed(k, 2, 2, 0)).await;
        if st == Status::Created || (st == Status::Ok && v["duplicate"] == true) {
            last = None;
            break;
        }
        last = Some((st, v));
        rocket::tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(last.is_none(), "did not recover: {last:?}");
    let (st, _) = get(&s.public, "/health", None).await;
    assert_eq!(st, Status::Ok);
    proxy.down().await;
}
