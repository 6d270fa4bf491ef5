//! Criterion benchmarks of the core's hot paths: sign, verify, encode,
//! decode and wire parsing. `scripts/bench-core.sh` runs them next to
//! `openssl speed` and records the ratios in `docs/performance.md`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use smartmeter_core::{Message, MeterKey, Reading, SignedReading};

fn vector_key(index: usize) -> MeterKey {
    let path = format!("{}/../docs/vectors/valid.json", env!("CARGO_MANIFEST_DIR"));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    MeterKey::from_pkcs8_pem(doc["cases"][index]["private_key_pem"].as_str().unwrap()).unwrap()
}

fn benches(c: &mut Criterion) {
    let reading = Reading {
        sequence: 42,
        timestamp_ms: 1_764_000_000_000,
        wh_imported: 123_456,
        wh_exported: 7_890,
    };
    // Vector keys: index 0 is RSA-2048, index 5 is RSA-4096.
    for (bits, index) in [(2048, 0), (4096, 5)] {
        let key = vector_key(index);
        let signed = key.sign(reading).unwrap();
        let public = key.public_key().clone();
        c.bench_function(&format!("sign/rsa{bits}"), |b| {
            b.iter(|| key.sign(black_box(reading)).unwrap())
        });
        c.bench_function(&format!("verify/rsa{bits}"), |b| {
            b.iter(|| public.verify(black_box(&signed)).unwrap())
        });
    }

    let key = vector_key(0);
    let signed = key.sign(reading).unwrap();
    let message = signed.message();
    let bytes = message.to_bytes();
    let json = signed.to_json();
    c.bench_function("encode/message", |b| {
        b.iter(|| black_box(&message).to_bytes())
    });
    c.bench_function("decode/message", |b| {
        b.iter(|| Message::from_bytes(black_box(&bytes)).unwrap())
    });
    c.bench_function("parse/wire_json_rsa2048", |b| {
        b.iter(|| SignedReading::from_json(black_box(json.as_bytes())).unwrap())
    });
    c.bench_function("serialize/wire_json_rsa2048", |b| {
        b.iter(|| black_box(&signed).to_json())
    });
}

criterion_group!(core, benches);
criterion_main!(core);
