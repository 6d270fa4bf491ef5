//! The canonical byte encoding of a reading: the exact bytes that are signed.
//!
//! The layout is fixed-width and specified in `docs/spec.md` (section
//! "Canonical message"). Nothing here depends on serde: the signed bytes are
//! defined field by field, never as "whatever a serializer emits".

use crate::error::DecodeError;
use crate::keys::KeyId;

/// The domain-separation tag that starts every canonical message.
///
/// It keeps a reading signature from ever being valid for another protocol
/// that happens to use the same key, and vice versa.
pub const DOMAIN_TAG: [u8; 16] = *b"SMARTMETERS:READ";

/// The only format version this library reads and writes.
pub const FORMAT_VERSION: u8 = 1;

/// Length in bytes of a version-1 canonical message.
pub const MESSAGE_LEN: usize = 82;

/// What a meter measured at one instant: the part of a reading chosen by the meter.
///
/// Every `u64` value is valid here; ordering rules (sequence numbers that grow,
/// registers that never decrease) are the server's policy, not the encoding's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Reading {
    /// Per-meter counter, one higher for every reading the meter produces.
    pub sequence: u64,
    /// When the reading was taken, in milliseconds since the Unix epoch (UTC).
    pub timestamp_ms: u64,
    /// Cumulative energy imported from the grid, in watt-hours.
    pub wh_imported: u64,
    /// Cumulative energy exported to the grid, in watt-hours.
    pub wh_exported: u64,
}

/// A signature algorithm, as identified by the algorithm byte of the message.
///
/// The key decides the algorithm: an RSA key signs with algorithm 1, a
/// P-256 key with algorithm 2 (`docs/spec.md` section 6).
///
/// ```
/// use smartmeter_core::Algorithm;
///
/// assert_eq!(Algorithm::from_id(2)?, Algorithm::EcdsaP256Sha256);
/// assert_eq!(Algorithm::EcdsaP256Sha256.id(), 2);
/// assert_eq!(Algorithm::from_id(3).unwrap_err().code(), "unsupported_algorithm");
/// # Ok::<(), smartmeter_core::DecodeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 section 8.2), id `1`.
    RsaPkcs1v15Sha256,
    /// ECDSA with the NIST P-256 curve and SHA-256 (FIPS 186-5), signatures
    /// as 64 bytes of r || s with low S, id `2`.
    EcdsaP256Sha256,
}

impl Algorithm {
    /// Every algorithm, in the order of their ids.
    pub const ALL: &'static [Self] = &[Self::RsaPkcs1v15Sha256, Self::EcdsaP256Sha256];

    /// The algorithm id as it appears in the canonical bytes and the JSON form.
    pub const fn id(self) -> u8 {
        match self {
            Self::RsaPkcs1v15Sha256 => 1,
            Self::EcdsaP256Sha256 => 2,
        }
    }

    /// Looks an algorithm up by its id.
    ///
    /// # Errors
    /// [`DecodeError::UnsupportedAlgorithm`] for an id this library does not implement.
    pub const fn from_id(id: u64) -> Result<Self, DecodeError> {
        match id {
            1 => Ok(Self::RsaPkcs1v15Sha256),
            2 => Ok(Self::EcdsaP256Sha256),
            other => Err(DecodeError::UnsupportedAlgorithm(other)),
        }
    }
}

/// Checks a format version number.
///
/// # Errors
/// [`DecodeError::UnsupportedVersion`] for anything but [`FORMAT_VERSION`].
pub(crate) const fn check_version(version: u64) -> Result<(), DecodeError> {
    if version == FORMAT_VERSION as u64 {
        Ok(())
    } else {
        Err(DecodeError::UnsupportedVersion(version))
    }
}

/// The decoded canonical message: everything a signature covers.
///
/// ```
/// use smartmeter_core::{Algorithm, KeyId, Message, Reading};
///
/// let message = Message {
///     algorithm: Algorithm::RsaPkcs1v15Sha256,
///     key_id: KeyId::from_bytes([7; 32]),
///     reading: Reading { sequence: 1, timestamp_ms: 1_764_000_000_000, wh_imported: 1200, wh_exported: 30 },
/// };
/// let bytes = message.to_bytes();
/// assert_eq!(&bytes[..16], b"SMARTMETERS:READ");
/// assert_eq!(Message::from_bytes(&bytes), Ok(message));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Message {
    /// The signature algorithm the signer used.
    pub algorithm: Algorithm,
    /// The id of the key that signs this message.
    pub key_id: KeyId,
    /// The measured values.
    pub reading: Reading,
}

impl Message {
    /// Encodes the message into its canonical bytes.
    pub fn to_bytes(&self) -> [u8; MESSAGE_LEN] {
        let mut out = Vec::with_capacity(MESSAGE_LEN);
        self.encode(&mut out);
        let mut bytes = [0u8; MESSAGE_LEN];
        // Both sides are exactly MESSAGE_LEN long by construction of `encode`.
        bytes.copy_from_slice(&out);
        bytes
    }

    /// Appends the canonical bytes of the message to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&DOMAIN_TAG);
        out.push(FORMAT_VERSION);
        out.push(self.algorithm.id());
        out.extend_from_slice(self.key_id.as_bytes());
        for value in [
            self.reading.sequence,
            self.reading.timestamp_ms,
            self.reading.wh_imported,
            self.reading.wh_exported,
        ] {
            out.extend_from_slice(&value.to_be_bytes());
        }
    }

    /// Decodes canonical bytes; the input must be exactly one message.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the first check that failed, in the order
    /// length, tag, version, algorithm.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let wrong_length = DecodeError::WrongLength {
            expected: MESSAGE_LEN,
            actual: bytes.len(),
        };
        let bytes: &[u8; MESSAGE_LEN] = bytes.try_into().map_err(|_| wrong_length)?;
        let mut reader = Reader(bytes);
        if reader.take::<16>() != DOMAIN_TAG {
            return Err(DecodeError::UnknownTag);
        }
        let [version] = reader.take::<1>();
        check_version(u64::from(version))?;
        let [algorithm] = reader.take::<1>();
        let algorithm = Algorithm::from_id(u64::from(algorithm))?;
        let key_id = KeyId::from_bytes(reader.take::<32>());
        let reading = Reading {
            sequence: u64::from_be_bytes(reader.take::<8>()),
            timestamp_ms: u64::from_be_bytes(reader.take::<8>()),
            wh_imported: u64::from_be_bytes(reader.take::<8>()),
            wh_exported: u64::from_be_bytes(reader.take::<8>()),
        };
        Ok(Self {
            algorithm,
            key_id,
            reading,
        })
    }
}

/// Reads fixed-size fields off the front of a message whose length was
/// already checked, so no read can run past the end.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        match self.0.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.0 = rest;
                *head
            }
            // Unreachable for callers in this module: the length check in
            // `from_bytes` makes the field reads sum to MESSAGE_LEN exactly.
            None => [0; N],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        Message {
            algorithm: Algorithm::RsaPkcs1v15Sha256,
            key_id: KeyId::from_bytes([0xab; 32]),
            reading: Reading {
                sequence: 0x0102_0304_0506_0708,
                timestamp_ms: 1,
                wh_imported: u64::MAX,
                wh_exported: 0,
            },
        }
    }

    #[test]
    fn layout_matches_the_spec_table() {
        let bytes = sample().to_bytes();
        assert_eq!(bytes.len(), MESSAGE_LEN);
        assert_eq!(bytes.get(0..16), Some(&b"SMARTMETERS:READ"[..]));
        assert_eq!(bytes.get(16), Some(&1));
        assert_eq!(bytes.get(17), Some(&1));
        assert_eq!(bytes.get(18..50), Some(&[0xab; 32][..]));
        assert_eq!(bytes.get(50..58), Some(&[1, 2, 3, 4, 5, 6, 7, 8][..]));
        assert_eq!(bytes.get(58..66), Some(&[0, 0, 0, 0, 0, 0, 0, 1][..]));
        assert_eq!(bytes.get(66..74), Some(&[0xff; 8][..]));
        assert_eq!(bytes.get(74..82), Some(&[0; 8][..]));
    }

    #[test]
    fn round_trips() {
        let m = sample();
        assert_eq!(Message::from_bytes(&m.to_bytes()), Ok(m));
    }

    #[test]
    fn rejects_each_malformation_with_its_code() {
        let good = sample().to_bytes();
        let code = |b: &[u8]| Message::from_bytes(b).map(|_| ()).map_err(|e| e.code());
        assert_eq!(code(&good[..81]), Err("wrong_length"));
        let mut long = good.to_vec();
        long.push(0);
        assert_eq!(code(&long), Err("wrong_length"));
        assert_eq!(code(&[]), Err("wrong_length"));
        let mut b = good;
        b[0] ^= 1;
        assert_eq!(code(&b), Err("unknown_tag"));
        let mut b = good;
        b[16] = 2;
        assert_eq!(code(&b), Err("unsupported_version"));
        let mut b = good;
        b[17] = 0;
        assert_eq!(code(&b), Err("unsupported_algorithm"));
        b[17] = 3;
        assert_eq!(code(&b), Err("unsupported_algorithm"));
        b[17] = 2;
        assert_eq!(
            Message::from_bytes(&b).map(|m| m.algorithm),
            Ok(Algorithm::EcdsaP256Sha256)
        );
    }
}
