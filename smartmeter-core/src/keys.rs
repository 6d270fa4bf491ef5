//! Meter keys: the public key a server registers, the private key a meter
//! holds, and the key id that names a key in every message.

use core::fmt;
use core::str::FromStr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs1::RsaPublicKeyRef;
use rsa::pkcs8::SubjectPublicKeyInfoRef;
use rsa::pkcs8::der::asn1::{AnyRef, BitStringRef, UintRef};
use rsa::pkcs8::der::zeroize::Zeroizing;
use rsa::pkcs8::der::{Decode, Encode};
use rsa::pkcs8::spki::AlgorithmIdentifierRef;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use sha2::{Digest, Sha256};

use crate::backend::{self, Signer, TargetVerifyingKey};
use crate::error::KeyError;
use crate::key_text::{self, Forms};

/// Smallest accepted RSA modulus, in bits.
pub const MIN_KEY_BITS: usize = 2048;
/// Largest accepted RSA modulus, in bits. Bounds what one verification costs.
pub const MAX_KEY_BITS: usize = 4096;
/// The only accepted RSA public exponent.
pub const PUBLIC_EXPONENT: u32 = 65537;
/// No accepted public key has a longer SubjectPublicKeyInfo DER (a 4096-bit
/// key takes 550 bytes); longer input is rejected before any parsing.
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
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

/// A meter's RSA public key, checked against the specification's key policy.
///
/// Only keys of 2048 to 4096 bits with exponent 65537 and an odd modulus, in
/// canonical DER, can be constructed, so holding a `PublicKey` means holding
/// an acceptable one. It is prepared for verification once, when it is
/// parsed (`docs/security.md` describes the backends).
///
/// ```
/// use smartmeter_core::PublicKey;
///
/// let err = PublicKey::from_base64("AAAA").unwrap_err();
/// assert_eq!(err.code(), "malformed_key");
/// ```
#[derive(Clone)]
pub struct PublicKey {
    /// The canonical SubjectPublicKeyInfo DER; shared with every
    /// [`SignedReading`](crate::SignedReading) built from this key.
    der: Arc<[u8]>,
    key_id: KeyId,
    bits: usize,
    verifier: TargetVerifyingKey,
}

impl PublicKey {
    /// Parses a SubjectPublicKeyInfo in DER, applying the key policy's
    /// checks in the order of `docs/spec.md` section 6.2; the first that
    /// fails is reported.
    ///
    /// # Errors
    /// [`KeyError::Malformed`] when the input is not the canonical DER of an
    /// RSA public key or its modulus is even, [`KeyError::UnsupportedType`]
    /// for another algorithm, and [`KeyError::TooSmall`],
    /// [`KeyError::TooLarge`] or [`KeyError::UnsupportedExponent`] for a key
    /// outside the policy.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        // Checks 1 to 3: the one canonical SubjectPublicKeyInfo of an RSA key.
        let (modulus, exponent) = rsa_components(der)?;
        // Checks 4 to 6: size and exponent.
        check_policy(modulus, exponent)?;
        // Check 7, "otherwise a valid RSA public key": the modulus is odd.
        // A product of two odd primes is odd; nothing more about its factors
        // can be told from n alone, so nothing more is checked.
        if modulus.last().is_none_or(|low| low & 1 == 0) {
            return Err(KeyError::Malformed(EVEN_MODULUS));
        }
        let verifier =
            backend::target_verifying_key(modulus).ok_or(KeyError::Malformed(EVEN_MODULUS))?;
        Ok(Self {
            der: der.into(),
            key_id: KeyId::of_spki_der(der),
            bits: big_endian_bits(modulus),
            verifier,
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

    /// The modulus length in bits.
    pub const fn bits(&self) -> usize {
        self.bits
    }

    /// Length in bytes of every signature made with this key.
    pub const fn signature_len(&self) -> usize {
        self.bits.div_ceil(8)
    }

    /// The DER, shared with a signed reading that carries this key.
    pub(crate) fn shared_der(&self) -> Arc<[u8]> {
        Arc::clone(&self.der)
    }

    /// Whether `signature` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of
    /// `message` under this key, checked by the target's backend.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verifier.verify(message, signature)
    }

    /// The modulus, big-endian without leading zeros, for the backends of the
    /// differential tests (verification keeps its own prepared form).
    pub(crate) fn modulus(&self) -> Result<Vec<u8>, KeyError> {
        rsa_components(&self.der).map(|(modulus, _)| modulus.to_vec())
    }
}

/// Why an even modulus is refused (spec section 6.2, check 7).
const EVEN_MODULUS: &str = "the modulus is even, so it is not an RSA modulus";

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
            .field("bits", &self.bits)
            .finish()
    }
}

/// Checks 1 to 3 of spec section 6.2: `der` is the canonical
/// SubjectPublicKeyInfo of an RSA public key. Returns its modulus and
/// exponent, big-endian without leading zeros.
fn rsa_components(der: &[u8]) -> Result<(&[u8], &[u8]), KeyError> {
    if der.len() > MAX_PUBLIC_KEY_DER_LEN {
        return Err(KeyError::Malformed("longer than any accepted public key"));
    }
    let spki = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|_| KeyError::Malformed("not a SubjectPublicKeyInfo in DER"))?;
    if spki.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
        return Err(KeyError::UnsupportedType);
    }
    let key_bytes = spki
        .subject_public_key
        .as_bytes()
        .ok_or(KeyError::Malformed("public key bit string has unused bits"))?;
    let rsa_key = RsaPublicKeyRef::from_der(key_bytes)
        .map_err(|_| KeyError::Malformed("not an RSAPublicKey structure"))?;
    let modulus = rsa_key.modulus.as_bytes();
    let exponent = rsa_key.public_exponent.as_bytes();
    // The der crate already refuses non-minimal lengths and integers;
    // re-encoding also pins what DER leaves open (the NULL parameters), so
    // that one key has exactly one DER and one key id.
    if canonical_spki(modulus, exponent).as_deref() != Some(der) {
        return Err(KeyError::Malformed("not in canonical DER form"));
    }
    Ok((modulus, exponent))
}

/// The canonical SubjectPublicKeyInfo DER of an RSA key (spec section 4).
fn canonical_spki(modulus: &[u8], exponent: &[u8]) -> Option<Vec<u8>> {
    let rsa_key = RsaPublicKeyRef {
        modulus: UintRef::new(modulus).ok()?,
        public_exponent: UintRef::new(exponent).ok()?,
    }
    .to_der()
    .ok()?;
    SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifierRef {
            oid: rsa::pkcs1::ALGORITHM_OID,
            parameters: Some(AnyRef::NULL),
        },
        subject_public_key: BitStringRef::from_bytes(&rsa_key).ok()?,
    }
    .to_der()
    .ok()
}

/// Checks 4 to 6 of spec section 6.2 on big-endian modulus and exponent bytes.
fn check_policy(modulus: &[u8], exponent: &[u8]) -> Result<(), KeyError> {
    let bits = big_endian_bits(modulus);
    if bits < MIN_KEY_BITS {
        return Err(KeyError::TooSmall {
            bits,
            min: MIN_KEY_BITS,
        });
    }
    if bits > MAX_KEY_BITS {
        return Err(KeyError::TooLarge {
            bits,
            max: MAX_KEY_BITS,
        });
    }
    if exponent.trim_ascii_start_zeros() != PUBLIC_EXPONENT.to_be_bytes().trim_ascii_start_zeros() {
        return Err(KeyError::UnsupportedExponent);
    }
    Ok(())
}

/// Trims leading zero bytes, the way DER stores unsigned integers.
trait TrimZeros {
    fn trim_ascii_start_zeros(&self) -> &[u8];
}

impl TrimZeros for [u8] {
    fn trim_ascii_start_zeros(&self) -> &[u8] {
        let start = self.iter().position(|&b| b != 0).unwrap_or(self.len());
        self.get(start..).unwrap_or_default()
    }
}

/// Number of significant bits of a big-endian unsigned integer.
fn big_endian_bits(bytes: &[u8]) -> usize {
    let trimmed = bytes.trim_ascii_start_zeros();
    match trimmed.first() {
        Some(first) => (trimmed.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
        None => 0,
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

/// A meter's private key: signs readings.
///
/// In production this key lives in the meter's secure hardware; this type
/// serves simulators, test benches and vendor tooling (see `docs/security.md`).
///
/// ```
/// # #[cfg(feature = "keygen")] {
/// use smartmeter_core::{MeterKey, Reading};
///
/// let key = MeterKey::generate(2048).unwrap();
/// let reading = Reading { sequence: 1, timestamp_ms: 1_764_000_000_000, wh_imported: 5, wh_exported: 0 };
/// let signed = key.sign(reading).unwrap();
/// let verified = key.public_key().verify(&signed).unwrap();
/// assert_eq!(verified.reading(), &reading);
/// # }
/// ```
#[derive(Clone)]
pub struct MeterKey {
    key: rsa::PrivateKey,
    public: PublicKey,
    signer: Signer,
}

impl MeterKey {
    /// Generates a new key with the operating system's RNG.
    ///
    /// # Errors
    /// [`KeyError::UnsupportedSize`] outside 2048..=4096 bits, or
    /// [`KeyError::Generation`] when the RNG fails.
    #[cfg(feature = "keygen")]
    pub fn generate(bits: usize) -> Result<Self, KeyError> {
        Self::generate_with_rng(&mut getrandom::SysRng, bits)
    }

    /// Generates a new key from the given RNG. With a seeded RNG the same
    /// seed gives the same key, which the test-vector generator relies on.
    ///
    /// # Errors
    /// As [`MeterKey::generate`].
    pub fn generate_with_rng<R>(rng: &mut R, bits: usize) -> Result<Self, KeyError>
    where
        R: rsa::rand_core::TryCryptoRng + ?Sized,
    {
        if !(MIN_KEY_BITS..=MAX_KEY_BITS).contains(&bits) {
            return Err(KeyError::UnsupportedSize {
                bits,
                min: MIN_KEY_BITS,
                max: MAX_KEY_BITS,
            });
        }
        let key = rsa::PrivateKey::new(rng, bits).map_err(|_| KeyError::Generation)?;
        Self::from_rsa(key)
    }

    /// Parses a PKCS#8 `-----BEGIN PRIVATE KEY-----` PEM document.
    ///
    /// # Errors
    /// [`KeyError::Malformed`] for anything but an unencrypted PKCS#8 RSA key,
    /// or the policy errors of [`PublicKey::from_der`] for its public part.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        if pem.len() > MAX_KEY_TEXT_LEN {
            return Err(KeyError::Malformed("longer than any accepted private key"));
        }
        let (label, doc) = rsa::pkcs8::SecretDocument::from_pem(pem)
            .map_err(|_| KeyError::Malformed("not a PEM document"))?;
        if label != "PRIVATE KEY" {
            return Err(KeyError::Malformed(
                "PEM label is not PRIVATE KEY (PKCS#8, unencrypted)",
            ));
        }
        Self::from_pkcs8_der(doc.as_bytes())
    }

    /// Parses an unencrypted PKCS#8 PrivateKeyInfo in DER.
    ///
    /// # Errors
    /// As [`MeterKey::from_pkcs8_pem`].
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        if der.len() > MAX_KEY_TEXT_LEN {
            return Err(KeyError::Malformed("longer than any accepted private key"));
        }
        let info = rsa::pkcs8::PrivateKeyInfoRef::from_der(der)
            .map_err(|_| KeyError::Malformed("not a PKCS#8 PrivateKeyInfo in DER"))?;
        if info.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
            return Err(KeyError::UnsupportedType);
        }
        let key = rsa::PrivateKey::from_pkcs8_der(der)
            .map_err(|_| KeyError::Malformed("invalid rsa private key"))?;
        Self::from_rsa(key)
    }

    fn from_rsa(key: rsa::PrivateKey) -> Result<Self, KeyError> {
        let der = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|_| KeyError::Malformed("cannot encode public key"))?;
        let public = PublicKey::from_der(der.as_bytes())?;
        let pkcs8 = key
            .to_pkcs8_der()
            .map_err(|_| KeyError::Malformed("cannot encode private key"))?;
        let signer = Signer::new(pkcs8.as_bytes());
        Ok(Self {
            key,
            public,
            signer,
        })
    }

    /// The key as an unencrypted PKCS#8 PEM document, zeroed when dropped.
    ///
    /// # Errors
    /// [`KeyError::Malformed`] if the key cannot be encoded (not expected for
    /// a key this type accepted).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| KeyError::Malformed("cannot encode private key"))
    }

    /// The key as unencrypted PKCS#8 DER, zeroed when dropped.
    ///
    /// # Errors
    /// As [`MeterKey::to_pkcs8_pem`].
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let doc = self
            .key
            .to_pkcs8_der()
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

    pub(crate) const fn rsa(&self) -> &rsa::PrivateKey {
        &self.key
    }

    pub(crate) const fn signer(&self) -> &Signer {
        &self.signer
    }
}

impl fmt::Debug for MeterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print private material.
        f.debug_struct("MeterKey")
            .field("key_id", &self.public.key_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_length_of_big_endian_integers() {
        assert_eq!(big_endian_bits(&[]), 0);
        assert_eq!(big_endian_bits(&[0, 0]), 0);
        assert_eq!(big_endian_bits(&[1]), 1);
        assert_eq!(big_endian_bits(&[0, 0x80, 0]), 16);
        assert_eq!(big_endian_bits(&[0x01, 0, 1]), 17);
    }

    #[test]
    fn policy_exponent_must_be_65537() {
        let modulus = [0xffu8; 256];
        assert_eq!(check_policy(&modulus, &[1, 0, 1]), Ok(()));
        assert_eq!(
            check_policy(&modulus, &[3]),
            Err(KeyError::UnsupportedExponent)
        );
        assert_eq!(
            check_policy(&modulus, &[0, 1, 0, 1]),
            Ok(()),
            "leading zeros are insignificant"
        );
    }

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
