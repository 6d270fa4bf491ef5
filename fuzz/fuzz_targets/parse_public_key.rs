//! Key parsing (DER, PEM, base64, key text) never panics, for RSA and P-256
//! keys alike; an accepted key is exactly its canonical encoding and keeps
//! its key id through a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smartmeter_core::{KeySpec, P256_SPKI_LEN, P256_SPKI_PREFIX, PublicKey};

fn round_trips(key: &PublicKey) {
    let again = PublicKey::from_der(key.to_der()).expect("canonical der parses");
    assert_eq!(again.key_id(), key.key_id());
    let again = PublicKey::from_pem(&key.to_pem()).expect("own pem parses");
    assert_eq!(again.to_der(), key.to_der());
    let again = PublicKey::from_text(&key.to_base64()).expect("own base64 is key text");
    assert_eq!(again.to_der(), key.to_der());
}

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = PublicKey::from_der(data) {
        assert_eq!(key.to_der(), data);
        // An accepted P-256 key is the one 91-byte form with its fixed prefix.
        if key.spec() == KeySpec::P256 {
            assert_eq!(data.len(), P256_SPKI_LEN);
            assert!(data.starts_with(&P256_SPKI_PREFIX));
        }
        assert_eq!(key.signature_len(), key.spec().signature_len());
        round_trips(&key);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let pem = PublicKey::from_pem(text);
        if let Ok(key) = &pem {
            round_trips(key);
        }
        let base64 = PublicKey::from_base64(text);
        if let Ok(key) = &base64 {
            assert_eq!(key.to_base64(), text);
            round_trips(key);
        }
        // from_text accepts every PEM and one-line base64 that the narrower
        // parsers accept, with the same key.
        let any = PublicKey::from_text(text);
        if let Ok(key) = &any {
            round_trips(key);
        }
        for narrow in [pem, base64].into_iter().flatten() {
            assert_eq!(any.as_ref().ok(), Some(&narrow));
        }
    }
});
