//! Meter keys: the public key a server registers, the private key a meter
//! holds, and the key id that names a key in every message.
//!
//! Two kinds of key exist, one per algorithm: RSA (algorithm 1, policy in
//! [`rsa`]) and P-256 (algorithm 2, policy in [`ec`]). The types here hold
//! either; the kind decides the algorithm.

mod ec;
mod rsa;
mod spec;

use core::fmt;
use core::str::FromStr;
use std::sync::Arc;

use ::rsa::pkcs8::der::Decode;
use ::rsa::pkcs8::der::zeroize::Zeroizing;
use ::rsa::pkcs8::{
    DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding, PrivateKeyInfoRef,
    SubjectPublicKeyInfoRef,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

pub use self::ec::{P256_SPKI_LEN, P256_SPKI_PREFIX};
pub use self::spec::KeySpec;
use crate::backend::{self, RsaSigner};
use crate::encoding::Algorithm;
use crate::error::{KeyError, VerifyError};
use crate::key_text::{self, Forms};

/// Smallest accepted RSA modulus, in bits.
pub const MIN_KEY_BITS: usize = 2048;
/// Largest accepted RSA modulus, in bits. Bounds what one verification costs.
pub const MAX_KEY_BITS: usize = 4096;
/// The only accepted RSA public exponent.
pub const PUBLIC_EXPONENT: u32 = 65537;
/// No accepted public key has a longer SubjectPublicKeyInfo DER (a 4096-bit
/// RSA key takes 550 bytes, a P-256 key 91); longer input is rejected
/// before any parsing.
pub const MAX_PUBLIC_KEY_DER_LEN: usize = 1024;
pub use crate::key_text::MAX_KEY_TEXT_LEN;

/// The id of a meter key: SHA-256 of its SubjectPublicKeyInfo DER.
///
/// Shown as 64 lowercase hex digits.
///
/// ```
/// use smartmeter_core::KeyId;
///
/// let id: KeyId = "00".repeat(32).parse().unwrap();
/// assert_eq!(id.to_string(), "00".repeat(32));
/// assert!("not hex".parse::<KeyId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 32]);

impl KeyId {
    /// Wraps 32 raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Computes the id of a public key from its SubjectPublicKeyInfo DER.
    pub fn of_spki_der(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }
}

impl fmt::Display for KeyId {
    /// 64 lowercase hex digits, written at once: the server writes a key id
    /// into every answer, and one `write!` per byte cost it a microsecond.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digit = |nibble: u8| match nibble {
            0..=9 => b'0' + nibble,
            _ => b'a' + (nibble - 10),
        };
        let mut hex = [0u8; 64];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(self.0) {
            if let [high, low] = pair {
                *high = digit(byte >> 4);
                *low = digit(byte & 0x0f);
            }
        }
        // Only ASCII digits were written, so this never falls back.
        f.write_str(core::str::from_utf8(&hex).unwrap_or_default())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Parsing a [`KeyId`] from text failed: it is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a key id is 64 hexadecimal digits")]
pub struct KeyIdParseError;

impl KeyIdParseError {
    /// The catalogue entry of this error.
    pub const fn error_code(&self) -> crate::ErrorCode {
        crate::ErrorCode::MalformedKeyId
    }

    /// The stable machine-readable code of this error.
    pub const fn code(&self) -> &'static str {
        self.error_code().as_str()
    }
}

impl FromStr for KeyId {
    type Err = KeyIdParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.as_bytes();
        if digits.len() != 64 {
            return Err(KeyIdParseError);
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
            let text = core::str::from_utf8(pair).map_err(|_| KeyIdParseError)?;
            // from_str_radix accepts a leading '+'; only hex digits are valid here.
            if !pair.iter().all(u8::is_ascii_hexdigit) {
                return Err(KeyIdParseError);
            }
            *byte = u8::from_str_radix(text, 16).map_err(|_| KeyIdParseError)?;
        }
        Ok(Self(out))
    }
}

/// A meter's public key, RSA or P-256, checked against the specification's
/// key policy.
///
/// Only keys that the policy accepts can be constructed, so holding a
/// `PublicKey` means holding an acceptable one: RSA keys of 2048 to 4096
/// bits with exponent 65537 and an odd modulus (`docs/spec.md` section
/// 6.2), or P-256 keys with the named curve and an uncompressed point on
/// the curve (section 6.4.2), each in its one canonical DER. The kind of
/// key decides the algorithm ([`PublicKey::algorithm`]). It is prepared for
/// verification once, when it is parsed (`docs/security.md` describes the
/// backends).
///
/// ```
/// use smartmeter_core::{Algorithm, KeySpec, PublicKey};
///
/// let err = PublicKey::from_base64("AAAA").unwrap_err();
/// assert_eq!(err.code(), "malformed_key");
///
/// # let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/vectors/valid.json")).unwrap()).unwrap();
/// # let case = doc["cases"].as_array().unwrap().iter().find(|c| c["algorithm"] == 2).unwrap();
/// # let p256_pem = case["public_key_pem"].as_str().unwrap();
/// let key = PublicKey::from_text(p256_pem)?;
/// assert_eq!(key.spec(), KeySpec::P256);
/// assert_eq!(key.algorithm(), Algorithm::EcdsaP256Sha256);
/// assert_eq!((key.to_der().len(), key.signature_len()), (91, 64));
/// # Ok::<(), smartmeter_core::KeyError>(())
/// ```
#[derive(Clone)]
pub struct PublicKey {
    /// The canonical SubjectPublicKeyInfo DER; shared with every
    /// [`SignedReading`](crate::SignedReading) built from this key.
    der: Arc<[u8]>,
    key_id: KeyId,
    kind: Kind,
}

/// What a public key is, prepared for its algorithm's backend.
#[derive(Clone)]
enum Kind {
    Rsa(rsa::RsaKey),
    P256(ec::P256Key),
}

impl PublicKey {
    /// Parses a SubjectPublicKeyInfo in DER, applying the key policy's
    /// checks in the order of `docs/spec.md` sections 6.2 (RSA) and 6.4.2
    /// (P-256); the first that fails is reported.
    ///
    /// A P-256 key in its canonical 91-byte form is recognised by its fixed
    /// 26-byte prefix and only its point is checked.
    ///
    /// # Errors
    /// [`KeyError::Malformed`] when the input is not the canonical DER of an
    /// accepted key, its RSA modulus is even or its P-256 point is not on
    /// the curve; [`KeyError::UnsupportedType`] for another algorithm;
    /// [`KeyError::TooSmall`], [`KeyError::TooLarge`] or
    /// [`KeyError::UnsupportedExponent`] for an RSA key outside the policy;
    /// [`KeyError::UnsupportedCurve`] or [`KeyError::CompressedPoint`] for an
    /// elliptic-curve key outside it.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let kind = match ec::canonical_point(der) {
            // The fast path: checks 1 to 5 of section 6.4.2 hold by layout.
            Some(point) => Kind::P256(ec::key(point)?),
            None => {
                // Check 1 of sections 6.2 and 6.4.2.
                if der.len() > MAX_PUBLIC_KEY_DER_LEN {
                    return Err(KeyError::Malformed("longer than any accepted public key"));
                }
                let spki = SubjectPublicKeyInfoRef::from_der(der)
                    .map_err(|_| KeyError::Malformed("not a SubjectPublicKeyInfo in DER"))?;
                // Check 2, then the algorithm's own checks.
                match spki.algorithm.oid {
                    ::rsa::pkcs1::ALGORITHM_OID => Kind::Rsa(rsa::key(der, &spki)?),
                    ec::EC_PUBLIC_KEY => return Err(ec::refusal(&spki)),
                    _ => return Err(KeyError::UnsupportedType),
                }
            }
        };
        Ok(Self {
            der: der.into(),
            key_id: KeyId::of_spki_der(der),
            kind,
        })
    }

    /// Parses key text in any form that OpenSSL and pyca/cryptography
    /// write (`docs/spec.md` section 7.1): a `-----BEGIN PUBLIC KEY-----`
    /// PEM document, or canonical padded base64 of the DER on one line or
    /// wrapped at 64 columns. Lines end with LF or CRLF and the last line
    /// ending is optional. Text longer than [`MAX_KEY_TEXT_LEN`] bytes is
    /// refused before it is looked at.
    ///
    /// This is the one entry point for key text from people, files and
    /// forms.
    ///
    /// ```
    /// use smartmeter_core::PublicKey;
    ///
    /// # let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/vectors/valid.json")).unwrap()).unwrap();
    /// # let pem = doc["cases"][0]["public_key_pem"].as_str().unwrap();
    /// let key = PublicKey::from_text(pem)?;
    /// assert_eq!(PublicKey::from_text(&pem.replace('\n', "\r\n"))?, key);
    /// assert_eq!(PublicKey::from_text(&key.to_base64())?, key);
    ///
    /// let err = PublicKey::from_text(&format!(" {}", key.to_base64())).unwrap_err();
    /// assert_eq!(err.code(), "malformed_key_text");
    /// # Ok::<(), smartmeter_core::KeyError>(())
    /// ```
    ///
    /// # Errors
    /// [`KeyError::TextTooLarge`] (`key_text_too_large`) for text over the
    /// bound, [`KeyError::MalformedText`] (`malformed_key_text`) for text in
    /// no accepted form, else the errors of [`PublicKey::from_der`].
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        Self::from_der(&key_text::decode(text, Forms::Any)?)
    }

    /// Parses a `-----BEGIN PUBLIC KEY-----` PEM document (SubjectPublicKeyInfo)
    /// in the PEM form that [`PublicKey::from_text`] accepts.
    ///
    /// # Errors
    /// As [`PublicKey::from_text`]; text that is not PEM is
    /// [`KeyError::MalformedText`].
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        Self::from_der(&key_text::decode(pem, Forms::Pem)?)
    }

    /// Parses standard padded base64 of the SubjectPublicKeyInfo DER on one
    /// line, without a line ending: the form of the wire form's `public_key`
    /// field, and one of the forms [`PublicKey::from_text`] accepts.
    ///
    /// # Errors
    /// As [`PublicKey::from_text`]; text that is not canonical base64 on one
    /// line is [`KeyError::MalformedText`].
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        Self::from_der(&key_text::decode(text, Forms::Base64Line)?)
    }

    /// The SubjectPublicKeyInfo DER, exactly as the key id hashes it.
    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    /// The key as a `PUBLIC KEY` PEM document with `\n` line endings.
    pub fn to_pem(&self) -> String {
        pem_encode("PUBLIC KEY", &self.der)
    }

    /// The DER in standard padded base64, as carried in JSON.
    pub fn to_base64(&self) -> String {
        BASE64.encode(&*self.der)
    }

    /// The key id: SHA-256 of [`to_der`](Self::to_der).
    pub const fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The kind of key: [`KeySpec::Rsa`] with the modulus length, or
    /// [`KeySpec::P256`].
    pub const fn spec(&self) -> KeySpec {
        match &self.kind {
            Kind::Rsa(key) => KeySpec::Rsa(key.bits),
            Kind::P256(_) => KeySpec::P256,
        }
    }

    /// The algorithm this key signs and verifies with: 1 for RSA, 2 for
    /// P-256. A reading that names another algorithm fails verification
    /// with `algorithm_mismatch`.
    pub const fn algorithm(&self) -> Algorithm {
        self.spec().algorithm()
    }

    /// The key size in bits: the RSA modulus length, or 256 for P-256.
    pub const fn bits(&self) -> usize {
        self.spec().bits()
    }

    /// Length in bytes of every signature made with this key: the modulus
    /// length in whole bytes for RSA, 64 for P-256.
    pub const fn signature_len(&self) -> usize {
        self.spec().signature_len()
    }

    /// The DER, shared with a signed reading that carries this key.
    pub(crate) fn shared_der(&self) -> Arc<[u8]> {
        Arc::clone(&self.der)
    }

    /// Step 14 of `docs/spec.md` section 9 for this key's algorithm: the
    /// signature has the form the algorithm requires. What is left after it
    /// (step 15, [`verifies`](Self::verifies)) is the arithmetic, which the
    /// `ffi` module may hand to WebCrypto.
    pub(crate) fn check_signature_form(&self, signature: &[u8]) -> Result<(), VerifyError> {
        match &self.kind {
            // A signature is exactly as long as the modulus (RFC 8017
            // 8.2.2 step 1). Every backend checks it too.
            Kind::Rsa(_) if signature.len() != self.signature_len() => {
                Err(VerifyError::InvalidSignature)
            }
            Kind::Rsa(_) => Ok(()),
            Kind::P256(_) => crate::ecdsa::check_signature(signature),
        }
    }

    /// Step 15: the target's backend checks a signature of the right form.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.kind {
            Kind::Rsa(key) => key.verifier.verify(message, signature),
            Kind::P256(key) => key.verifier.verify(message, signature),
        }
    }

    /// The RSA modulus, big-endian without leading zeros, for the backends
    /// of the differential tests (verification keeps its own prepared form).
    pub(crate) fn modulus(&self) -> Result<Vec<u8>, KeyError> {
        match self.kind {
            Kind::Rsa(_) => rsa::components(&self.der).map(|(modulus, _)| modulus.to_vec()),
            Kind::P256(_) => Err(KeyError::UnsupportedType),
        }
    }

    /// The uncompressed point of a P-256 key, for the backends of the
    /// differential tests.
    pub(crate) fn p256_point(&self) -> Option<[u8; 65]> {
        match self.kind {
            Kind::Rsa(_) => None,
            Kind::P256(_) => ec::canonical_point(&self.der).copied(),
        }
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("key_id", &self.key_id)
            .field("spec", &self.spec())
            .finish()
    }
}

/// RFC 7468 PEM with 64-column lines and `\n` endings.
fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = BASE64.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        pem.push_str(core::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// A meter's private key, RSA or P-256: signs readings.
///
/// In production this key lives in the meter's secure hardware; this type
/// serves simulators, test benches and vendor tooling (see `docs/security.md`).
///
/// ```
/// # #[cfg(feature = "keygen")] {
/// use smartmeter_core::{Algorithm, KeySpec, MeterKey, Reading};
///
/// let reading = Reading { sequence: 1, timestamp_ms: 1_764_000_000_000, wh_imported: 5, wh_exported: 0 };
/// for key in [MeterKey::generate(2048).unwrap(), MeterKey::generate_p256().unwrap()] {
///     let signed = key.sign(reading).unwrap();
///     let verified = key.public_key().verify(&signed).unwrap();
///     assert_eq!(verified.reading(), &reading);
///     assert_eq!(signed.algorithm(), key.public_key().algorithm());
/// }
/// let key = MeterKey::generate_spec("p256".parse().unwrap()).unwrap();
/// assert_eq!(key.public_key().spec(), KeySpec::P256);
/// # }
/// ```
#[derive(Clone)]
pub struct MeterKey {
    public: PublicKey,
    private: Private,
}

/// The private half of a [`MeterKey`], prepared for its signer.
#[derive(Clone)]
enum Private {
    Rsa {
        key: ::rsa::PrivateKey,
        signer: RsaSigner,
    },
    P256(backend::p256::SigningKey),
}

impl MeterKey {
    /// Generates a new RSA key with the operating system's RNG.
    ///
    /// # Errors
    /// [`KeyError::UnsupportedSize`] outside 2048..=4096 bits, or
    /// [`KeyError::Generation`] when the RNG fails.
    #[cfg(feature = "keygen")]
    pub fn generate(bits: usize) -> Result<Self, KeyError> {
        Self::generate_with_rng(&mut getrandom::SysRng, bits)
    }

    /// Generates a new P-256 key with the operating system's RNG.
    ///
    /// # Errors
    /// [`KeyError::Generation`] when the RNG fails.
    #[cfg(feature = "keygen")]
    pub fn generate_p256() -> Result<Self, KeyError> {
        Self::generate_spec(KeySpec::P256)
    }

    /// Generates a new key of the given kind with the operating system's
    /// RNG: what a simulator uses for `--algorithm rsa2048|p256`.
    ///
    /// # Errors
    /// As [`MeterKey::generate`].
    #[cfg(feature = "keygen")]
    pub fn generate_spec(spec: KeySpec) -> Result<Self, KeyError> {
        Self::generate_spec_with_rng(&mut getrandom::SysRng, spec)
    }

    /// Generates a new RSA key from the given RNG. With a seeded RNG the
    /// same seed gives the same key, which the test-vector generator
    /// relies on.
    ///
    /// # Errors
    /// As [`MeterKey::generate`].
    pub fn generate_with_rng<R>(rng: &mut R, bits: usize) -> Result<Self, KeyError>
    where
        R: ::rsa::rand_core::TryCryptoRng + ?Sized,
    {
        Self::generate_spec_with_rng(rng, KeySpec::Rsa(bits))
    }

    /// Generates a new key of the given kind from the given RNG; the same
    /// seed gives the same key.
    ///
    /// # Errors
    /// As [`MeterKey::generate`].
    pub fn generate_spec_with_rng<R>(rng: &mut R, spec: KeySpec) -> Result<Self, KeyError>
    where
        R: ::rsa::rand_core::TryCryptoRng + ?Sized,
    {
        match spec.check()? {
            KeySpec::Rsa(bits) => {
                let key = ::rsa::PrivateKey::new(rng, bits).map_err(|_| KeyError::Generation)?;
                Self::from_rsa(key)
            }
            KeySpec::P256 => {
                use p256::elliptic_curve::Generate as _;
                let key = p256::ecdsa::SigningKey::try_generate_from_rng(rng)
                    .map_err(|_| KeyError::Generation)?;
                Self::from_p256(key)
            }
        }
    }

    /// Parses a PKCS#8 `-----BEGIN PRIVATE KEY-----` PEM document, RSA or
    /// P-256, as `openssl genpkey` and pyca/cryptography write it.
    ///
    /// # Errors
    /// [`KeyError::Malformed`] for anything but an unencrypted PKCS#8 RSA or
    /// P-256 key, [`KeyError::UnsupportedType`] for another algorithm,
    /// [`KeyError::UnsupportedCurve`] for an elliptic-curve key on another
    /// curve, or the policy errors of [`PublicKey::from_der`] for its
    /// public part.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        if pem.len() > MAX_KEY_TEXT_LEN {
            return Err(KeyError::Malformed("longer than any accepted private key"));
        }
        let (label, doc) = ::rsa::pkcs8::SecretDocument::from_pem(pem)
            .map_err(|_| KeyError::Malformed("not a PEM document"))?;
        if label != "PRIVATE KEY" {
            return Err(KeyError::Malformed(
                "PEM label is not PRIVATE KEY (PKCS#8, unencrypted)",
            ));
        }
        Self::from_pkcs8_der(doc.as_bytes())
    }

    /// Parses an unencrypted PKCS#8 PrivateKeyInfo in DER, RSA or P-256.
    /// A P-256 key must name the curve `prime256v1`; its `ECPrivateKey`
    /// may carry the public key (OpenSSL and pyca/cryptography write it),
    /// which must then be the private key's.
    ///
    /// # Errors
    /// As [`MeterKey::from_pkcs8_pem`].
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        if der.len() > MAX_KEY_TEXT_LEN {
            return Err(KeyError::Malformed("longer than any accepted private key"));
        }
        let info = PrivateKeyInfoRef::from_der(der)
            .map_err(|_| KeyError::Malformed("not a PKCS#8 PrivateKeyInfo in DER"))?;
        match info.algorithm.oid {
            ::rsa::pkcs1::ALGORITHM_OID => {
                let key = ::rsa::PrivateKey::from_pkcs8_der(der)
                    .map_err(|_| KeyError::Malformed("invalid rsa private key"))?;
                Self::from_rsa(key)
            }
            ec::EC_PUBLIC_KEY => Self::from_p256(ec::signing_key(info)?),
            _ => Err(KeyError::UnsupportedType),
        }
    }

    fn from_rsa(key: ::rsa::PrivateKey) -> Result<Self, KeyError> {
        let der = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|_| KeyError::Malformed("cannot encode public key"))?;
        let public = PublicKey::from_der(der.as_bytes())?;
        let pkcs8 = key
            .to_pkcs8_der()
            .map_err(|_| KeyError::Malformed("cannot encode private key"))?;
        let signer = RsaSigner::new(pkcs8.as_bytes());
        Ok(Self {
            public,
            private: Private::Rsa { key, signer },
        })
    }

    fn from_p256(key: p256::ecdsa::SigningKey) -> Result<Self, KeyError> {
        let point = key.verifying_key().to_sec1_point(false);
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(point.as_bytes());
        let public = PublicKey::from_der(&der)?;
        Ok(Self {
            public,
            private: Private::P256(backend::p256::SigningKey::new(key)),
        })
    }

    /// The key as an unencrypted PKCS#8 PEM document, zeroed when dropped.
    /// A P-256 key is written as OpenSSL writes it: the named curve in the
    /// algorithm identifier, the public key inside the `ECPrivateKey`.
    ///
    /// # Errors
    /// [`KeyError::Malformed`] if the key cannot be encoded (not expected for
    /// a key this type accepted).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        match &self.private {
            Private::Rsa { key, .. } => key.to_pkcs8_pem(LineEnding::LF),
            Private::P256(key) => key.key().to_pkcs8_pem(LineEnding::LF),
        }
        .map_err(|_| KeyError::Malformed("cannot encode private key"))
    }

    /// The key as unencrypted PKCS#8 DER, zeroed when dropped.
    ///
    /// # Errors
    /// As [`MeterKey::to_pkcs8_pem`].
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let doc = match &self.private {
            Private::Rsa { key, .. } => key.to_pkcs8_der(),
            Private::P256(key) => key.key().to_pkcs8_der(),
        }
        .map_err(|_| KeyError::Malformed("cannot encode private key"))?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The matching public key.
    pub const fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The id of the matching public key.
    pub const fn key_id(&self) -> KeyId {
        self.public.key_id
    }

    /// The RSA private key and its signer; `None` for a P-256 key.
    pub(crate) const fn rsa(&self) -> Option<(&::rsa::PrivateKey, &RsaSigner)> {
        match &self.private {
            Private::Rsa { key, signer } => Some((key, signer)),
            Private::P256(_) => None,
        }
    }

    /// The P-256 signer; `None` for an RSA key.
    pub(crate) const fn p256(&self) -> Option<&backend::p256::SigningKey> {
        match &self.private {
            Private::Rsa { .. } => None,
            Private::P256(key) => Some(key),
        }
    }

    /// Signs `message` with this key's algorithm and target's signer:
    /// RSASSA-PKCS1-v1_5 or ECDSA P-256 (RFC 6979, low S), both with
    /// SHA-256. `None` when the private-key operation fails.
    pub(crate) fn sign_bytes(&self, message: &[u8]) -> Option<Vec<u8>> {
        match &self.private {
            Private::Rsa { key, signer } => signer.sign(key, message),
            Private::P256(key) => key.sign(message).map(Vec::from),
        }
    }
}

impl fmt::Debug for MeterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print private material.
        f.debug_struct("MeterKey")
            .field("key_id", &self.public.key_id)
            .field("spec", &self.public.spec())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_hex_round_trip_and_rejections() {
        let id = KeyId::from_bytes(core::array::from_fn(|i| i as u8));
        let text = id.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<KeyId>(), Ok(id));
        assert_eq!(text.to_uppercase().parse::<KeyId>(), Ok(id));
        assert!(text[..62].parse::<KeyId>().is_err());
        assert!(format!("+{}", &text[1..]).parse::<KeyId>().is_err());
        assert!("é".repeat(32).parse::<KeyId>().is_err());
    }
}
