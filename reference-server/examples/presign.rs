//! Pre-signed readings for load tools and API fuzzers: `scripts/bench-server.sh`
//! (wrk replays them) and `scripts/test-schemathesis.sh` (seeds a database).
//!
//! Usage: `presign METERS READINGS OUT_DIR [BATCH]`
//!
//! Writes into `OUT_DIR`:
//! - `meters.jsonl`: one `/register` body per meter (RSA-2048 keys made now);
//! - `single.txt`: one signed reading per line, round by round (every
//!   meter's sequence 1, then every meter's 2, ...), so that a meter's
//!   readings are far apart in the file and arrive in order;
//! - `batch.txt`: one `/reportReadings` body per line, `BATCH` (default 64)
//!   consecutive readings of one meter each, in the same round order.
//!
//! Timestamps end a minute before now, one second apart per meter.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use smartmeter_core::{MeterKey, Reading};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: presign METERS READINGS OUT_DIR [BATCH]");
        std::process::exit(2);
    }
    let meters: usize = args[1].parse().unwrap();
    let per_meter: u64 = args[2].parse().unwrap();
    let out = std::path::PathBuf::from(&args[3]);
    let batch: usize = args.get(4).map_or(64, |b| b.parse().unwrap());
    std::fs::create_dir_all(&out).unwrap();

    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let base = now_ms - per_meter * 1000 - 60_000;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    // Each thread makes the keys of every `threads`-th meter and signs their readings.
    let mut made: Vec<(usize, MeterKey, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (t..meters)
                        .step_by(threads)
                        .map(|i| {
                            let key = MeterKey::generate(2048).unwrap();
                            let readings = (1..=per_meter)
                                .map(|seq| {
                                    key.sign(Reading {
                                        sequence: seq,
                                        timestamp_ms: base + seq * 1000,
                                        wh_imported: seq * 3,
                                        wh_exported: seq,
                                    })
                                    .unwrap()
                                    .to_json()
                                })
                                .collect();
                            (i, key, readings)
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
    made.sort_by_key(|(i, ..)| *i);

    let file = |name: &str| std::io::BufWriter::new(std::fs::File::create(out.join(name)).unwrap());
    let mut f = file("meters.jsonl");
    for (i, key, _) in &made {
        let body = serde_json::json!({
            "username": format!("presigned-{now_ms}-{i}"),
            "public_key": key.public_key().to_base64(),
        });
        writeln!(f, "{body}").unwrap();
    }
    f.flush().unwrap();
    let mut f = file("single.txt");
    for seq in 0..per_meter as usize {
        for (_, _, readings) in &made {
            writeln!(f, "{}", readings[seq]).unwrap();
        }
    }
    f.flush().unwrap();
    let mut f = file("batch.txt");
    let rounds = (per_meter as usize).div_ceil(batch);
    for round in 0..rounds {
        for (_, _, readings) in &made {
            let end = ((round + 1) * batch).min(readings.len());
            let chunk = &readings[round * batch..end];
            writeln!(f, "{{\"readings\":[{}]}}", chunk.join(",")).unwrap();
        }
    }
    f.flush().unwrap();
    eprintln!(
        "presign: {meters} meters x {per_meter} readings in {}",
        out.display()
    );
}
