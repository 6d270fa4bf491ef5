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
//!
//! Parsing does not parse the carried public key: it keeps the key's DER
//! and key id (SHA-256 of the DER), which is all a verifier needs to find
//! the registered key. A verifier that finds one never needs the carried
//! copy, since equal key ids mean equal DER; [`SignedReading::carried_key`]
//! parses it, with the key policy, when it is needed (`docs/spec.md`
//! section 9, step 9).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::encoding::{Algorithm, FORMAT_VERSION, Message, Reading, check_version};
use crate::error::{KeyError, WireError};
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
#[derive(Clone, PartialEq, Eq)]
pub struct SignedReading {
    algorithm: Algorithm,
    /// The DER of the carried public key, unparsed; shared with the
    /// `PublicKey` it came from when built by [`SignedReading::from_parts`].
    carried_key: Arc<[u8]>,
    /// SHA-256 of `carried_key`.
    key_id: KeyId,
    reading: Reading,
    signature: Vec<u8>,
}

/// Names the carried key by its id, as `PublicKey`'s `Debug` does, rather
/// than printing its DER byte by byte.
impl core::fmt::Debug for SignedReading {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SignedReading")
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .field("reading", &self.reading)
            .field("signature_len", &self.signature.len())
            .finish_non_exhaustive()
    }
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
            carried_key: public_key.shared_der(),
            key_id: public_key.key_id(),
            reading,
            signature,
        }
    }

    /// Parses the JSON wire form: steps 1 to 8 of `docs/spec.md` section 9.
    ///
    /// The carried public key is kept as DER with its key id and is not
    /// parsed here; [`PublicKey::verify`] or [`SignedReading::carried_key`]
    /// apply the key policy to it when it matters.
    ///
    /// # Errors
    /// A [`WireError`]: the document is too long, not valid JSON of the right
    /// shape, has non-canonical base64, or an unsupported version or
    /// algorithm.
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
        let signature = BASE64
            .decode(wire.signature.as_bytes())
            .map_err(|_| WireError::Base64("signature"))?;
        Ok(Self {
            algorithm,
            key_id: KeyId::of_spki_der(&der),
            carried_key: der.into(),
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
            public_key: BASE64.encode(&*self.carried_key).into(),
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
            key_id: self.key_id,
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

    /// Parses the public key the reading carries, with the key policy
    /// (`docs/spec.md` section 6.2). Whether that key belongs to a
    /// registered meter is for the verifier to decide: a carried key proves
    /// nothing on its own (section 8.3).
    ///
    /// ```
    /// use smartmeter_core::SignedReading;
    ///
    /// # let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/vectors/valid.json")).unwrap()).unwrap();
    /// # let wire = doc["cases"][0]["json"].as_str().unwrap();
    /// let signed = SignedReading::from_json(wire.as_bytes())?;
    /// let carried = signed.carried_key()?;
    /// assert_eq!(carried.key_id(), signed.key_id());
    /// # Ok::<(), smartmeter_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// The [`KeyError`] of [`PublicKey::from_der`] when the carried key is
    /// outside the key policy.
    pub fn carried_key(&self) -> Result<PublicKey, KeyError> {
        PublicKey::from_der(&self.carried_key)
    }

    /// The DER of the carried public key, as the reading carries it (not
    /// checked against the key policy; see [`carried_key`](Self::carried_key)).
    pub fn carried_key_der(&self) -> &[u8] {
        &self.carried_key
    }

    /// The id of the carried public key: SHA-256 of its DER.
    pub const fn key_id(&self) -> KeyId {
        self.key_id
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
