//! `SignedReading::from_json` never panics; the canonical JSON it re-emits
//! parses to an equal value and is a fixed point of parse-then-serialise.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smartmeter_core::SignedReading;

fuzz_target!(|data: &[u8]| {
    if let Ok(signed) = SignedReading::from_json(data) {
        let json = signed.to_json();
        let again = SignedReading::from_json(json.as_bytes()).expect("canonical json parses");
        assert_eq!(again, signed);
        assert_eq!(again.to_json(), json);
    }
});
