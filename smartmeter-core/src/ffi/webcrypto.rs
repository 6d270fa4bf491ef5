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
//! This is the seam for new algorithms: the match in [`for_algorithm`] is
//! exhaustive, so adding an [`Algorithm`] fails to compile until it says how
//! WebCrypto checks it, or that WebCrypto cannot (`None`: the core checks
//! those signatures itself). For ECDSA P-256 with SHA-256 (algorithm 2):
//! import `{name: "ECDSA", namedCurve: "P-256"}`, verify `{name: "ECDSA",
//! hash: "SHA-256"}`; every check that is not the signature equation (the
//! 64-byte length, the low-S rule) stays in the core's
//! `check_before_signature`, which [`ReadingsVerifier::prepare`](super::ReadingsVerifier::prepare)
//! applies before anything reaches WebCrypto.

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
    }
}

/// WebCrypto's terms for the signatures of `key`, to import it once before
/// any reading is prepared.
///
/// Every key is an RSA key until ECDSA P-256 (issue 12) adds algorithm 2;
/// then this is `for_algorithm(key.algorithm())`.
pub const fn for_key(key: &PublicKey) -> Option<WebCrypto> {
    let _ = key;
    for_algorithm(Algorithm::RsaPkcs1v15Sha256)
}
