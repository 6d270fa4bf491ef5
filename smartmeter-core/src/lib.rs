//! # smartmeter-core
//!
//! The one source of truth for signed smart-meter readings: the canonical
//! byte encoding that a meter signs, the key policy, and sign and verify.
//! The reference server, the simulator and the Python and WASM bindings all
//! call this crate and never re-implement its rules. The normative
//! specification is `docs/spec.md`; `docs/vectors/` holds test vectors that
//! every language checks.
//!
//! The flow of a reading:
//!
//! 1. a meter builds a [`Reading`] and signs it with its [`MeterKey`], getting
//!    a [`SignedReading`] (serialised with [`SignedReading::to_json`]);
//! 2. whoever receives it parses it with [`SignedReading::from_json`]: the
//!    result is still unverified, and the public key it carries is kept as
//!    bytes (its key id names the meter; it is parsed only if needed);
//! 3. [`PublicKey::verify`] with the key the receiver trusts for that meter
//!    is the only way to obtain a [`VerifiedReading`];
//! 4. a receiver that records readings decides with [`Policy`] (module
//!    [`policy`]) whether the verified reading fits the meter's history:
//!    accepted (possibly late, filling a gap), a duplicate, or rejected;
//! 5. anyone holding a meter's verified readings can check the whole history
//!    with [`audit()`], without trusting whoever stored them.
//!
//! Every error has a stable code from one catalogue, [`ErrorCode`]
//! ([`ERROR_CODES`] lists the strings).
//!
//! ```
//! # #[cfg(feature = "keygen")] {
//! use smartmeter_core::{MeterKey, Reading, SignedReading};
//!
//! // On the meter.
//! let meter = MeterKey::generate(2048)?;
//! let reading = Reading { sequence: 1, timestamp_ms: 1_764_000_000_000, wh_imported: 1200, wh_exported: 30 };
//! let json = meter.sign(reading)?.to_json();
//!
//! // On the server, with the public key registered for this meter.
//! let registered = meter.public_key().clone();
//! let received = SignedReading::from_json(json.as_bytes())?;
//! let verified = registered.verify(&received)?;
//! assert_eq!(verified.reading().wh_imported, 1200);
//! # }
//! # Ok::<(), smartmeter_core::Error>(())
//! ```
//!
//! No function of this crate does I/O, reads a clock or panics on any input.
//! Key generation and blinded signing need an RNG and live behind the
//! default `keygen` feature; the verify-only build (for wasm32) leaves it out.

#![forbid(unsafe_code)]

pub mod audit;
#[doc(hidden)]
pub mod backend;
mod encoding;
mod error;
mod key_text;
mod keys;
pub mod policy;
mod sign;
mod verify;
mod wire;

pub use audit::{AuditError, AuditReport, audit};
pub use encoding::{Algorithm, DOMAIN_TAG, FORMAT_VERSION, MESSAGE_LEN, Message, Reading};
pub use error::{
    DecodeError, ERROR_CODES, Error, ErrorCode, Family, KeyError, SignError, UnknownErrorCode,
    VerifyError, WireError,
};
pub use keys::{
    KeyId, KeyIdParseError, MAX_KEY_BITS, MAX_KEY_TEXT_LEN, MAX_PUBLIC_KEY_DER_LEN, MIN_KEY_BITS,
    MeterKey, PUBLIC_EXPONENT, PublicKey,
};
pub use policy::{Policy, PolicyError, Verdict};
pub use verify::VerifiedReading;
pub use wire::{MAX_JSON_LEN, SignedReading};
