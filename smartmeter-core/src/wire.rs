//! The JSON wire form of a signed reading, as meters send it and the
//! reference server returns it.
//!
//! ```json
//! {"version":1,"algorithm":1,"public_key":"MIIB...","sequence":42,
//!  "timestamp_ms":1764000000000,"wh_imported":1200,"wh_exported":30,
//!  "signature":"q83v..."}
//! ```
//!
//! Parsing is strict: every field is required, unknown and duplicate fields
//! are rejected, integers must fit in `u64`, and base64 must be canonical.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::encoding::{Algorithm, FORMAT_VERSION, Message, Reading, check_version};
use crate::error::WireError;
use crate::keys::{KeyId, PublicKey};

/// No valid signed reading is longer: a 4096-bit key and signature take
/// about 1,500 bytes of base64, the rest is a few hundred bytes.
pub const MAX_JSON_LEN: usize = 4096;

/// A reading with its signature and public key, not yet verified.
///
/// Having one says nothing about who made it; only
/// [`PublicKey::verify`] turns it into a [`VerifiedReading`](crate::VerifiedReading).
///
/// ```
/// use smartmeter_core::SignedReading;
///
/// let err = SignedReading::from_json(b"{\"version\":1}").unwrap_err();
/// assert_eq!(err.code(), "malformed_json");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedReading {
    pub(crate) algorithm: Algorithm,
    pub(crate) public_key: PublicKey,
    pub(crate) reading: Reading,
    pub(crate) signature: Vec<u8>,
}

/// Field names and order of the wire form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<'a> {
    version: u64,
    algorithm: u64,
    #[serde(borrow)]
    public_key: std::borrow::Cow<'a, str>,
    sequence: u64,
    timestamp_ms: u64,
    wh_imported: u64,
    wh_exported: u64,
    #[serde(borrow)]
    signature: std::borrow::Cow<'a, str>,
}

impl SignedReading {
    /// Assembles a signed reading from its parts, for example from a database
    /// row. It is still unverified.
    pub fn from_parts(
        algorithm: Algorithm,
        public_key: PublicKey,
        reading: Reading,
        signature: Vec<u8>,
    ) -> Self {
        Self {
            algorithm,
            public_key,
            reading,
            signature,
        }
    }

    /// Parses the JSON wire form.
    ///
    /// # Errors
    /// A [`WireError`]: the document is too long, not valid JSON of the right
    /// shape, has non-canonical base64, an unsupported version or algorithm,
    /// or a public key outside the key policy.
    pub fn from_json(json: &[u8]) -> Result<Self, WireError> {
        if json.len() > MAX_JSON_LEN {
            return Err(WireError::TooLarge {
                len: json.len(),
                max: MAX_JSON_LEN,
            });
        }
        let wire: Wire<'_> =
            serde_json::from_slice(json).map_err(|e| WireError::Json(e.to_string()))?;
        check_version(wire.version)?;
        let algorithm = Algorithm::from_id(wire.algorithm)?;
        let der = BASE64
            .decode(wire.public_key.as_bytes())
            .map_err(|_| WireError::Base64("public_key"))?;
        let public_key = PublicKey::from_der(&der)?;
        let signature = BASE64
            .decode(wire.signature.as_bytes())
            .map_err(|_| WireError::Base64("signature"))?;
        Ok(Self {
            algorithm,
            public_key,
            reading: Reading {
                sequence: wire.sequence,
                timestamp_ms: wire.timestamp_ms,
                wh_imported: wire.wh_imported,
                wh_exported: wire.wh_exported,
            },
            signature,
        })
    }

    /// The JSON wire form, compact, fields in specification order.
    pub fn to_json(&self) -> String {
        // Serializing integers and strings into a String cannot fail.
        serde_json::to_string(&self.to_wire()).unwrap_or_default()
    }

    fn to_wire(&self) -> Wire<'static> {
        Wire {
            version: u64::from(FORMAT_VERSION),
            algorithm: u64::from(self.algorithm.id()),
            public_key: self.public_key.to_base64().into(),
            sequence: self.reading.sequence,
            timestamp_ms: self.reading.timestamp_ms,
            wh_imported: self.reading.wh_imported,
            wh_exported: self.reading.wh_exported,
            signature: BASE64.encode(&self.signature).into(),
        }
    }

    /// The canonical message this reading claims to be a signature over.
    pub fn message(&self) -> Message {
        Message {
            algorithm: self.algorithm,
            key_id: self.public_key.key_id(),
            reading: self.reading,
        }
    }

    /// The canonical bytes of [`message`](Self::message): what the signature covers.
    pub fn canonical_bytes(&self) -> [u8; crate::MESSAGE_LEN] {
        self.message().to_bytes()
    }

    /// The signature algorithm.
    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public key the reading carries. Whether that key belongs to a
    /// registered meter is for the verifier to decide.
    pub const fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The id of the carried public key.
    pub const fn key_id(&self) -> KeyId {
        self.public_key.key_id()
    }

    /// The measured values, unverified.
    pub const fn reading(&self) -> &Reading {
        &self.reading
    }

    /// The signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
}

/// Serializes to the JSON wire form, so that a `SignedReading` can be a
/// field of a larger serde document (the reference server's responses).
impl Serialize for SignedReading {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_wire().serialize(serializer)
    }
}
