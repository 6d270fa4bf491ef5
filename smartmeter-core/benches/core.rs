//! Criterion benchmarks of the core's hot paths: sign, verify, encode,
//! decode and wire parsing. `scripts/bench-core.sh` runs them next to
//! `openssl speed` and records the ratios in `docs/performance.md`.
//!
//! `sign/*` and `verify/*` are what users get (`MeterKey::sign`,
//! `PublicKey::verify`: ring on x86_64 and aarch64). The backends are also
//! measured one by one on the same inputs: `verify_pure/*` (the portable
//! verifier that wasm32 uses), `verify_rsa_crate/*` (the `rsa` crate's
//! verify, the core's verifier before ring) and `sign_rsa_crate/*`.
//!
//! Every figure is CPU time of the benchmark thread, not wall time: the
//! machine is shared, and `openssl speed`, the reference, also divides by
//! CPU (user) time. So the ratios are per core, whatever else runs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use smartmeter_core::{Message, MeterKey, PublicKey, Reading, SignedReading, backend};

/// CPU time consumed by the calling thread, in nanoseconds (the kernel's
/// per-thread accounting, as `/proc/thread-self/schedstat` reports it, read
/// exactly through `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`).
struct ThreadCpuTime;

fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, started: u64) -> u64 {
        thread_cpu_ns().saturating_sub(started)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Shows CPU nanoseconds as criterion shows durations.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (divisor, unit) = match typical {
            t if t < 1e3 => (1.0, "ns cpu"),
            t if t < 1e6 => (1e3, "µs cpu"),
            t if t < 1e9 => (1e6, "ms cpu"),
            _ => (1e9, "s cpu"),
        };
        values.iter_mut().for_each(|v| *v /= divisor);
        unit
    }
    fn scale_throughputs(&self, _: f64, _: &Throughput, values: &mut [f64]) -> &'static str {
        values.iter_mut().for_each(|v| *v = 1e9 / *v);
        "ops/s cpu"
    }
    fn scale_for_machines(&self, _: &mut [f64]) -> &'static str {
        "ns cpu"
    }
}

fn vector_key(index: usize) -> MeterKey {
    let path = format!("{}/../docs/vectors/valid.json", env!("CARGO_MANIFEST_DIR"));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    MeterKey::from_pkcs8_pem(doc["cases"][index]["private_key_pem"].as_str().unwrap()).unwrap()
}

fn benches(c: &mut Criterion<ThreadCpuTime>) {
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

        let message = signed.canonical_bytes();
        let signature = signed.signature();
        let pure = backend::pure_verifier(&public).unwrap();
        let rsa_crate = backend::rsa_crate_verifier(&public).unwrap();
        c.bench_function(&format!("verify_pure/rsa{bits}"), |b| {
            b.iter(|| assert!(pure.verify(black_box(&message), black_box(signature))))
        });
        c.bench_function(&format!("verify_rsa_crate/rsa{bits}"), |b| {
            b.iter(|| assert!(rsa_crate.verify(black_box(&message), black_box(signature))))
        });
        c.bench_function(&format!("sign_rsa_crate/rsa{bits}"), |b| {
            b.iter(|| backend::sign_with_rsa_crate(&key, black_box(&message)).unwrap())
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
    let der = key.public_key().to_der().to_vec();
    c.bench_function("parse/public_key_der_rsa2048", |b| {
        b.iter(|| PublicKey::from_der(black_box(&der)).unwrap())
    });
    c.bench_function("serialize/wire_json_rsa2048", |b| {
        b.iter(|| black_box(&signed).to_json())
    });
}

criterion_group! {
    name = core;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = benches
}
criterion_main!(core);
