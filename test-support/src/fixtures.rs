//! Fixed test data: keys made once with OpenSSL (`fixtures/`), the shared
//! vectors (`docs/vectors/`), and signed readings made from them.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use smartmeter_core::{MeterKey, Reading};

/// The path of a file of `fixtures/`.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures")).join(name)
}

/// The text of a file of `fixtures/`.
pub fn fixture(name: &str) -> String {
    let path = fixture_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text of a file of `docs/vectors/`, read where it is (never copied).
pub fn vectors(name: &str) -> String {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/vectors")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fixed 2048-bit RSA meter keys, `i` from 0 to 2.
pub fn meter_key(i: usize) -> &'static MeterKey {
    static KEYS: OnceLock<Vec<MeterKey>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        ["meter1.pem", "meter2.pem", "meter3.pem"]
            .iter()
            .map(|f| MeterKey::from_pkcs8_pem(&fixture(f)).expect(f))
            .collect()
    });
    keys.get(i)
        .unwrap_or_else(|| panic!("no fixed meter key {i}"))
}

/// The test's clock, in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970");
    u64::try_from(since.as_millis()).expect("a clock before the year 584 million")
}

/// An hour before the first call: the time of sequence 0 in [`signed`].
pub fn base_ms() -> u64 {
    static BASE: OnceLock<u64> = OnceLock::new();
    *BASE.get_or_init(|| now_ms() - 3_600_000)
}

/// A signed reading in wire form, one second per sequence number from
/// [`base_ms`].
pub fn signed(key: &MeterKey, sequence: u64, wh_imported: u64, wh_exported: u64) -> String {
    signed_at(
        key,
        sequence,
        base_ms() + sequence * 1000,
        wh_imported,
        wh_exported,
    )
}

/// A signed reading in wire form, at `timestamp_ms`.
pub fn signed_at(
    key: &MeterKey,
    sequence: u64,
    timestamp_ms: u64,
    wh_imported: u64,
    wh_exported: u64,
) -> String {
    key.sign(Reading {
        sequence,
        timestamp_ms,
        wh_imported,
        wh_exported,
    })
    .expect("sign a reading")
    .to_json()
}
