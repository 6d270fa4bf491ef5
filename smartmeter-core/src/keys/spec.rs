//! [`KeySpec`]: which kind of meter key to make, by name.

use core::fmt;
use core::str::FromStr;

use super::{MAX_KEY_BITS, MIN_KEY_BITS};
use crate::encoding::Algorithm;
use crate::error::KeyError;

/// A kind of meter key: RSA of a size, or P-256. It names what a tool
/// generates ([`MeterKey::generate_spec`](crate::MeterKey::generate_spec))
/// and what a key is ([`PublicKey::spec`](crate::PublicKey::spec)).
///
/// Written as `rsa` followed by the size in bits (`rsa2048`, `rsa3072`,
/// `rsa4096`) or `p256`; [`FromStr`] reads exactly what [`Display`](fmt::Display)
/// writes, so it serves command lines as it is.
///
/// ```
/// use smartmeter_core::{Algorithm, KeySpec};
///
/// let spec: KeySpec = "p256".parse()?;
/// assert_eq!(spec, KeySpec::P256);
/// assert_eq!(spec.algorithm(), Algorithm::EcdsaP256Sha256);
/// assert_eq!(spec.signature_len(), 64);
/// assert_eq!("rsa3072".parse::<KeySpec>()?, KeySpec::Rsa(3072));
/// assert_eq!(KeySpec::Rsa(3072).to_string(), "rsa3072");
/// assert_eq!("rsa1024".parse::<KeySpec>().unwrap_err().code(), "unsupported_key_size");
/// assert_eq!("p384".parse::<KeySpec>().unwrap_err().code(), "unsupported_key_spec");
/// # Ok::<(), smartmeter_core::KeyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeySpec {
    /// An RSA key with a modulus of this many bits (2048 to 4096),
    /// exponent 65537; signs with algorithm 1.
    Rsa(usize),
    /// A P-256 key; signs with algorithm 2.
    P256,
}

impl KeySpec {
    /// The usual RSA key, 2048 bits.
    pub const RSA2048: Self = Self::Rsa(2048);

    /// The algorithm a key of this kind signs with.
    pub const fn algorithm(self) -> Algorithm {
        match self {
            Self::Rsa(_) => Algorithm::RsaPkcs1v15Sha256,
            Self::P256 => Algorithm::EcdsaP256Sha256,
        }
    }

    /// The key size in bits: the modulus length, or 256 for P-256.
    pub const fn bits(self) -> usize {
        match self {
            Self::Rsa(bits) => bits,
            Self::P256 => 256,
        }
    }

    /// Length in bytes of every signature made with a key of this kind:
    /// the modulus length in whole bytes, or 64 for P-256.
    pub const fn signature_len(self) -> usize {
        match self {
            Self::Rsa(bits) => bits.div_ceil(8),
            Self::P256 => crate::ecdsa::SIGNATURE_LEN,
        }
    }

    /// The spec itself when the key policy accepts keys of this kind.
    ///
    /// # Errors
    /// [`KeyError::UnsupportedSize`] for RSA outside 2048..=4096 bits.
    pub const fn check(self) -> Result<Self, KeyError> {
        match self {
            Self::Rsa(bits) if bits < MIN_KEY_BITS || bits > MAX_KEY_BITS => {
                Err(KeyError::UnsupportedSize {
                    bits,
                    min: MIN_KEY_BITS,
                    max: MAX_KEY_BITS,
                })
            }
            _ => Ok(self),
        }
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa(bits) => write!(f, "rsa{bits}"),
            Self::P256 => f.write_str("p256"),
        }
    }
}

impl FromStr for KeySpec {
    type Err = KeyError;

    /// Reads `p256` or `rsa` followed by a size in decimal without leading
    /// zeros, exactly as [`Display`](fmt::Display) writes them.
    ///
    /// # Errors
    /// [`KeyError::UnsupportedSpec`] for any other text,
    /// [`KeyError::UnsupportedSize`] for an RSA size outside 2048..=4096.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "p256" {
            return Ok(Self::P256);
        }
        let digits = s.strip_prefix("rsa").ok_or(KeyError::UnsupportedSpec)?;
        // Decimal digits as Display writes them: no sign, no leading zero.
        let canonical = !digits.is_empty()
            && (digits == "0" || !digits.starts_with('0'))
            && digits.bytes().all(|b| b.is_ascii_digit());
        if !canonical {
            return Err(KeyError::UnsupportedSpec);
        }
        // All digits, so parsing fails only for a number beyond usize.
        let bits = digits.parse().map_err(|_| KeyError::UnsupportedSpec)?;
        Self::Rsa(bits).check()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn display_and_from_str_agree() {
        for spec in [
            KeySpec::P256,
            KeySpec::RSA2048,
            KeySpec::Rsa(3072),
            KeySpec::Rsa(4096),
            KeySpec::Rsa(2049),
        ] {
            assert_eq!(spec.to_string().parse::<KeySpec>(), Ok(spec));
        }
        for bad in [
            "", "rsa", "RSA2048", "rsa02048", "rsa+2048", "rsa 2048", "p-256", "P256", "p256 ",
            "ed25519",
        ] {
            assert_eq!(
                bad.parse::<KeySpec>(),
                Err(KeyError::UnsupportedSpec),
                "{bad:?}"
            );
        }
        assert_eq!(
            "rsa99999999999999999999999".parse::<KeySpec>(),
            Err(KeyError::UnsupportedSpec)
        );
        for (text, bits) in [("rsa1024", 1024), ("rsa4097", 4097), ("rsa0", 0)] {
            assert_eq!(
                text.parse::<KeySpec>().map_err(|e| e.code()),
                Err("unsupported_key_size"),
                "{text}"
            );
            assert!(KeySpec::Rsa(bits).check().is_err());
        }
    }

    #[test]
    fn sizes_of_signatures() {
        assert_eq!(KeySpec::RSA2048.signature_len(), 256);
        assert_eq!(KeySpec::Rsa(2049).signature_len(), 257);
        assert_eq!(KeySpec::P256.signature_len(), 64);
        assert_eq!(KeySpec::P256.bits(), 256);
    }
}
