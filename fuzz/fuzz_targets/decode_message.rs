//! `Message::from_bytes` never panics; decode then encode is the identity.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smartmeter_core::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::from_bytes(data) {
        assert_eq!(message.to_bytes().as_slice(), data);
    }
});
