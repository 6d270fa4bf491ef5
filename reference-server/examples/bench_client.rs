//! Load generator for `scripts/bench-server.sh`: registers many meters on a
//! running server, pre-signs their readings, then reports them with one
//! keep-alive connection per meter and prints the accepted readings/s.
//!
//! Usage: bench_client PUBLIC_ADDR OPERATOR_ADDR TOKEN METERS READINGS [single|batch]

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rocket::tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use rocket::tokio::net::TcpStream;
use smartmeter_core::{MeterKey, Reading};

struct Conn {
    stream: BufReader<TcpStream>,
}

impl Conn {
    async fn open(addr: &str) -> Self {
        let s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        Self {
            stream: BufReader::new(s),
        }
    }

    /// One HTTP/1.1 request on a kept-alive connection: (status, body).
    async fn request(
        &mut self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: &str,
    ) -> (u16, String) {
        let auth = auth
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream
            .get_mut()
            .write_all(req.as_bytes())
            .await
            .unwrap();
        let mut line = String::new();
        self.stream.read_line(&mut line).await.unwrap();
        let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut len = 0usize;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap();
            }
        }
        let mut buf = vec![0; len];
        self.stream.read_exact(&mut buf).await.unwrap();
        (status, String::from_utf8(buf).unwrap())
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let public = args[1].clone();
    let operator = args[2].clone();
    let token = args[3].clone();
    let meters: usize = args[4].parse().unwrap();
    let per_meter: u64 = args[5].parse().unwrap();
    let mode = args.get(6).cloned().unwrap_or_else(|| "single".into());

    let started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let keys: Vec<MeterKey> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (t..meters)
                        .step_by(threads)
                        .map(|_| MeterKey::generate(2048).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let base = now_ms - per_meter * 1000 - 60_000;
    let bodies: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = keys
            .chunks(meters.div_ceil(threads).max(1))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|k| {
                            (1..=per_meter)
                                .map(|seq| {
                                    k.sign(Reading {
                                        sequence: seq,
                                        timestamp_ms: base + seq * 1000,
                                        wh_imported: seq * 3,
                                        wh_exported: seq,
                                    })
                                    .unwrap()
                                    .to_json()
                                })
                                .collect::<Vec<_>>()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    eprintln!(
        "prepared {meters} meters x {per_meter} readings in {:?}",
        started.elapsed()
    );

    let rt = rocket::tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut op = Conn::open(&operator).await;
        for (i, k) in keys.iter().enumerate() {
            let body = serde_json::json!({"username": format!("bench-{now_ms}-{i}"), "public_key": k.public_key().to_base64()}).to_string();
            let (st, b) = op.request("POST", "/register", Some(&token), &body).await;
            assert_eq!(st, 201, "{b}");
        }
        let started = Instant::now();
        let tasks: Vec<_> = bodies
            .into_iter()
            .map(|readings| {
                let public = public.clone();
                let mode = mode.clone();
                rocket::tokio::spawn(async move {
                    let mut c = Conn::open(&public).await;
                    let mut ok = 0u64;
                    let mut lat = Vec::new();
                    if mode == "batch" {
                        for chunk in readings.chunks(64) {
                            let body = format!("{{\"readings\":[{}]}}", chunk.join(","));
                            let t = Instant::now();
                            let (st, b) = c.request("POST", "/reportReadings", None, &body).await;
                            lat.push(t.elapsed());
                            assert_eq!(st, 200, "{b}");
                            let v: serde_json::Value = serde_json::from_str(&b).unwrap();
                            ok += v["accepted"].as_u64().unwrap();
                        }
                    } else {
                        for body in &readings {
                            let t = Instant::now();
                            let (st, b) = c.request("POST", "/reportReading", None, body).await;
                            lat.push(t.elapsed());
                            assert_eq!(st, 201, "{b}");
                            ok += 1;
                        }
                    }
                    (ok, lat)
                })
            })
            .collect();
        let mut accepted = 0;
        let mut lat: Vec<Duration> = Vec::new();
        for t in tasks {
            let (ok, l) = t.await.unwrap();
            accepted += ok;
            lat.extend(l);
        }
        let elapsed = started.elapsed();
        lat.sort();
        let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
        println!(
            "mode={mode} meters={meters} readings={accepted} seconds={:.2} readings_per_second={:.0} p50_ms={:.1} p99_ms={:.1}",
            elapsed.as_secs_f64(),
            accepted as f64 / elapsed.as_secs_f64(),
            pct(0.5).as_secs_f64() * 1000.0,
            pct(0.99).as_secs_f64() * 1000.0
        );
    });
}
