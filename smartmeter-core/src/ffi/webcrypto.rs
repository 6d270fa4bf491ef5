//! The signature algorithms in WebCrypto's terms, for a binding that hands
//! the signature arithmetic of a [`Prepared`](super::Prepared) to
//! `crypto.subtle`: how to import the registered key (`importKey("spki",
//! der, import, false, ["verify"])`) and how to call `verify(verify, key,
//! signature, message)`.
//!
//! The signature bytes go to WebCrypto as they are in the reading: for
//! RSASSA-PKCS1-v1_5 the `k`-byte signature, and for ECDSA WebCrypto's own
//! format is the fixed-size `r || s` that the wire form carries.
//!
//! The match in [`for_algorithm`] is exhaustive, so adding an [`Algorithm`]
//! fails to compile until it says how WebCrypto checks it, or that WebCrypto
//! cannot (`None`: the core checks those signatures itself). Every check
//! that is not the signature equation (an RSA signature's length; a P-256
//! signature's 64 bytes, its DER form refused, its low S) stays in the
//! core's `check_before_signature`, which
//! [`ReadingsVerifier::prepare`](super::ReadingsVerifier::prepare) applies
//! before anything reaches WebCrypto (WebCrypto itself accepts a high S).

use serde::Serialize;

use crate::{Algorithm, PublicKey};

/// A WebCrypto algorithm dictionary (`RsaHashedImportParams`,
/// `EcKeyImportParams`, `EcdsaParams`, ...): only the members it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Params {
    /// The algorithm name, e.g. `"RSASSA-PKCS1-v1_5"`.
    pub name: &'static str,
    /// The hash, e.g. `"SHA-256"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<&'static str>,
    /// The curve, e.g. `"P-256"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub named_curve: Option<&'static str>,
}

/// How WebCrypto imports a key of an algorithm and verifies its signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WebCrypto {
    /// For `crypto.subtle.importKey("spki", der, import, false, ["verify"])`.
    pub import: Params,
    /// For `crypto.subtle.verify(verify, key, signature, message)`.
    pub verify: Params,
}

/// WebCrypto's terms for `algorithm`, or `None` when WebCrypto cannot check
/// it (the core then does).
///
/// ```
/// use smartmeter_core::Algorithm;
/// use smartmeter_core::ffi::webcrypto::for_algorithm;
///
/// let rsa = for_algorithm(Algorithm::RsaPkcs1v15Sha256).unwrap();
/// assert_eq!(rsa.import.name, "RSASSA-PKCS1-v1_5");
/// assert_eq!(rsa.import.hash, Some("SHA-256"));
/// ```
pub const fn for_algorithm(algorithm: Algorithm) -> Option<WebCrypto> {
    match algorithm {
        Algorithm::RsaPkcs1v15Sha256 => Some(WebCrypto {
            import: Params {
                name: "RSASSA-PKCS1-v1_5",
                hash: Some("SHA-256"),
                named_curve: None,
            },
            // The hash is the imported key's.
            verify: Params {
                name: "RSASSA-PKCS1-v1_5",
                hash: None,
                named_curve: None,
            },
        }),
        Algorithm::EcdsaP256Sha256 => Some(WebCrypto {
            import: Params {
                name: "ECDSA",
                hash: None,
                named_curve: Some("P-256"),
            },
            verify: Params {
                name: "ECDSA",
                hash: Some("SHA-256"),
                named_curve: None,
            },
        }),
    }
}

/// WebCrypto's terms for the signatures of `key`, to import it once before
/// any reading is prepared.
pub const fn for_key(key: &PublicKey) -> Option<WebCrypto> {
    for_algorithm(key.algorithm())
}
