//! Key parsing (DER, PEM, base64, key text) never panics; an accepted key is
//! exactly its canonical encoding and keeps its key id through a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smartmeter_core::PublicKey;

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
