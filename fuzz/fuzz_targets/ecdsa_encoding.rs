//! The algorithm 2 signature encoding (`smartmeter_core::ecdsa`) never
//! panics and its conversions are exact: DER to r || s and back is the
//! identity, taking the twin (r, n - s) twice is the identity, and what
//! `check_signature` accepts is 64 bytes with a low s.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smartmeter_core::ecdsa;

fuzz_target!(|data: &[u8]| {
    let checked = ecdsa::check_signature(data);
    if checked.is_ok() {
        assert!(data.len() == ecdsa::SIGNATURE_LEN && ecdsa::is_low_s(data));
    }
    if let Some(raw) = ecdsa::raw_from_der(data) {
        // Only minimal DER is read, so writing it back gives the input.
        assert_eq!(ecdsa::der_from_raw(&raw), data);
        assert!(ecdsa::check_signature(data).is_err());
    }
    if let Ok(raw) = <[u8; 64]>::try_from(data) {
        let der = ecdsa::der_from_raw(&raw);
        assert_eq!(ecdsa::raw_from_der(&der), Some(raw));
        let twin = ecdsa::negate_s(&raw);
        assert_eq!(ecdsa::negate_s(&twin), raw);
        let normalised = ecdsa::normalize_s(&raw);
        assert_eq!(normalised[..32], raw[..32]);
        if checked.is_ok() {
            assert_eq!(normalised, raw);
            // The twin of an accepted signature is refused, for its s.
            assert_eq!(
                ecdsa::check_signature(&twin).map_err(|e| e.code()),
                Err("high_s")
            );
        }
    }
});
