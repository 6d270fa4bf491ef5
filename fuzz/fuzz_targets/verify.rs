//! `PublicKey::verify` never panics, whatever key and reading it is given.
//!
//! Input: a 2-byte big-endian length, that many bytes of key DER, then the
//! JSON wire form of a reading.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smartmeter_core::{PublicKey, SignedReading, VerifyError};

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let (key, json) = rest.split_at(usize::from(u16::from_be_bytes(*len)).min(rest.len()));
    let Ok(signed) = SignedReading::from_json(json) else {
        return;
    };
    let carried = signed.carried_key();
    let own = carried.as_ref().map(|carried| carried.verify(&signed));
    if let Ok(key) = PublicKey::from_der(key) {
        let result = key.verify(&signed);
        // The key id is the hash of the DER: same id, same key, same verdict.
        assert_eq!(
            result.is_ok(),
            key.key_id() == signed.key_id() && matches!(own, Ok(Ok(_)))
        );
        // Another key's verdict: the carried key's own policy error first
        // (spec section 9, step 9), else key_mismatch.
        if key.key_id() != signed.key_id() {
            match (&carried, result) {
                (Err(policy), Err(VerifyError::Key(reported))) => assert_eq!(policy, &reported),
                (Ok(_), Err(VerifyError::KeyMismatch { .. })) => {}
                (carried, result) => panic!("{carried:?} then {result:?}"),
            }
        }
    }
});
