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
use std::borrow::Cow;

use serde::de::{self, MapAccess, Visitor};
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

/// The JSON wire form of a signed reading, member by member, before any
/// check beyond its shape: what [`SignedReading::from_json`] reads and
/// [`SignedReading::to_json`] writes, and what bindings deserialise from
/// their own values (a JavaScript object, a Python dict) with any serde
/// deserializer.
///
/// Deserialising is strict in every format: the input must be a map (an
/// object), with each of the eight members exactly once and no other; the
/// integers must fit in `u64` and the two base64 members must be strings.
/// [`SignedReading::try_from`] then applies the remaining checks, with the
/// same codes as [`SignedReading::from_json`].
///
/// ```
/// use smartmeter_core::{SignedReading, WireReading};
///
/// # let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/vectors/valid.json")).unwrap()).unwrap();
/// # let json = doc["cases"][0]["json"].as_str().unwrap();
/// let wire: WireReading<'_> = serde_json::from_str(json)?;
/// assert_eq!(wire.version, 1);
/// let signed = SignedReading::try_from(wire)?;
/// assert_eq!(signed.to_json(), json);
///
/// // The wire form is an object; the array form serde would accept for a
/// // plain struct is refused, and so is any member the spec does not name.
/// assert!(serde_json::from_str::<WireReading<'_>>("[1,1,\"\",1,1,1,1,\"\"]").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WireReading<'a> {
    /// Format version; only 1 is supported.
    pub version: u64,
    /// Signature algorithm id; only 1 (RSASSA-PKCS1-v1_5 with SHA-256) is supported.
    pub algorithm: u64,
    /// Canonical padded base64 of the carried key's SubjectPublicKeyInfo DER.
    pub public_key: Cow<'a, str>,
    /// The meter's sequence number.
    pub sequence: u64,
    /// Milliseconds since the Unix epoch (UTC).
    pub timestamp_ms: u64,
    /// Cumulative energy imported from the grid, Wh.
    pub wh_imported: u64,
    /// Cumulative energy exported to the grid, Wh.
    pub wh_exported: u64,
    /// Canonical padded base64 of the signature.
    pub signature: Cow<'a, str>,
}

/// The members of the wire form, in specification order.
const WIRE_MEMBERS: &[&str] = &[
    "version",
    "algorithm",
    "public_key",
    "sequence",
    "timestamp_ms",
    "wh_imported",
    "wh_exported",
    "signature",
];

/// Deserialised by hand, as a map, rather than derived: a derived struct
/// also accepts serde's array form (`[1,1,"MIIB...",...]` in JSON), and
/// deserializers that look members up by name (serde-wasm-bindgen's struct
/// path) never see unknown ones, so `deny_unknown_fields` would not hold for
/// a JavaScript object. Asking for a map makes every format show every
/// member, and only an object is a map.
impl<'de: 'a, 'a> Deserialize<'de> for WireReading<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(WireVisitor(core::marker::PhantomData))
    }
}

struct WireVisitor<'a>(core::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for WireVisitor<'a> {
    type Value = WireReading<'a>;

    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a signed reading: an object with the eight members of the wire form")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let (mut version, mut algorithm, mut public_key, mut sequence) = (None, None, None, None);
        let (mut timestamp_ms, mut wh_imported, mut wh_exported, mut signature) =
            (None, None, None, None);
        while let Some(name) = map.next_key::<Text<'de>>()? {
            match &*name.0 {
                "version" => once(&mut version, "version", &mut map)?,
                "algorithm" => once(&mut algorithm, "algorithm", &mut map)?,
                "public_key" => once_text(&mut public_key, "public_key", &mut map)?,
                "sequence" => once(&mut sequence, "sequence", &mut map)?,
                "timestamp_ms" => once(&mut timestamp_ms, "timestamp_ms", &mut map)?,
                "wh_imported" => once(&mut wh_imported, "wh_imported", &mut map)?,
                "wh_exported" => once(&mut wh_exported, "wh_exported", &mut map)?,
                "signature" => once_text(&mut signature, "signature", &mut map)?,
                other => return Err(de::Error::unknown_field(other, WIRE_MEMBERS)),
            }
        }
        let missing = de::Error::missing_field;
        Ok(WireReading {
            version: version.ok_or_else(|| missing("version"))?,
            algorithm: algorithm.ok_or_else(|| missing("algorithm"))?,
            public_key: public_key.ok_or_else(|| missing("public_key"))?,
            sequence: sequence.ok_or_else(|| missing("sequence"))?,
            timestamp_ms: timestamp_ms.ok_or_else(|| missing("timestamp_ms"))?,
            wh_imported: wh_imported.ok_or_else(|| missing("wh_imported"))?,
            wh_exported: wh_exported.ok_or_else(|| missing("wh_exported"))?,
            signature: signature.ok_or_else(|| missing("signature"))?,
        })
    }
}

/// Reads the value of an integer member that must appear once.
fn once<'de, M: MapAccess<'de>>(
    slot: &mut Option<u64>,
    member: &'static str,
    map: &mut M,
) -> Result<(), M::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(member));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// Reads the value of a string member that must appear once.
fn once_text<'de, M: MapAccess<'de>>(
    slot: &mut Option<Cow<'de, str>>,
    member: &'static str,
    map: &mut M,
) -> Result<(), M::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(member));
    }
    *slot = Some(map.next_value::<Text<'de>>()?.0);
    Ok(())
}

/// A string, borrowed from the input where the format allows (JSON text
/// without escapes), else owned.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(core::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor(core::marker::PhantomData))
    }
}

/// The checks of the wire form beyond its shape (`docs/spec.md` section 9,
/// steps 3 to 8): version, algorithm, canonical base64; the carried key is
/// kept as DER with its key id, not parsed (see the module documentation).
/// The same checks, in the same order and with the same codes, as
/// [`SignedReading::from_json`], which is this after the size limit and
/// the JSON shape.
impl TryFrom<WireReading<'_>> for SignedReading {
    type Error = WireError;

    fn try_from(wire: WireReading<'_>) -> Result<Self, WireError> {
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
        let wire: WireReading<'_> =
            serde_json::from_slice(json).map_err(|e| WireError::Json(e.to_string()))?;
        Self::try_from(wire)
    }

    /// The JSON wire form, compact, fields in specification order.
    pub fn to_json(&self) -> String {
        // Serializing integers and strings into a String cannot fail.
        serde_json::to_string(&self.to_wire()).unwrap_or_default()
    }

    /// The wire form, member by member.
    pub fn to_wire(&self) -> WireReading<'static> {
        WireReading {
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

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail by panicking"
)]
mod tests {
    use super::*;

    const VALID: &str = include_str!("../../docs/vectors/valid.json");

    fn valid_json() -> String {
        let doc: serde_json::Value = serde_json::from_str(VALID).unwrap();
        doc["cases"][0]["json"].as_str().unwrap().to_owned()
    }

    fn code(json: &str) -> &'static str {
        match SignedReading::from_json(json.as_bytes()) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn only_an_object_is_a_wire_reading() {
        let json = valid_json();
        assert_eq!(code(&json), "ok");
        let wire: serde_json::Value = serde_json::from_str(&json).unwrap();
        let members: Vec<serde_json::Value> =
            WIRE_MEMBERS.iter().map(|m| wire[m].clone()).collect();
        let array = serde_json::to_string(&members).unwrap();
        assert!(array.starts_with('['));
        assert_eq!(
            code(&array),
            "malformed_json",
            "the array form is not the wire form"
        );
        assert_eq!(code("\"text\""), "malformed_json");
        assert_eq!(code("null"), "malformed_json");
    }

    #[test]
    fn every_member_once_and_no_other() {
        let json = valid_json();
        let extra = json.replacen('{', "{\"extra\":1,", 1);
        let err = SignedReading::from_json(extra.as_bytes()).err();
        assert!(
            matches!(&err, Some(WireError::Json(m)) if m.contains("unknown field `extra`")),
            "{err:?}"
        );
        let twice = json.replacen('{', "{\"sequence\":1,", 1);
        let err = SignedReading::from_json(twice.as_bytes()).err();
        assert!(
            matches!(&err, Some(WireError::Json(m)) if m.contains("duplicate field `sequence`")),
            "{err:?}"
        );
        for member in WIRE_MEMBERS {
            let mut wire: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&json).unwrap();
            wire.remove(*member);
            let text = serde_json::to_string(&wire).unwrap();
            let err = SignedReading::from_json(text.as_bytes()).err();
            assert!(
                matches!(&err, Some(WireError::Json(m)) if m.contains(&format!("missing field `{member}`"))),
                "{member}: {err:?}"
            );
        }
    }

    #[test]
    fn strings_with_escapes_are_read_and_the_round_trip_is_exact() {
        let json = valid_json();
        // `\/` is an escape JSON allows in any string: the member is owned, not borrowed.
        let escaped = json.replacen("\"public_key\":\"MII", "\"public_key\":\"\\u004dII", 1);
        assert_ne!(escaped, json);
        let signed = SignedReading::from_json(escaped.as_bytes());
        assert_eq!(signed.map(|s| s.to_json()).ok(), Some(json.clone()));
        let wire: WireReading<'_> = serde_json::from_str(&json).unwrap();
        assert!(
            matches!(wire.public_key, Cow::Borrowed(_)),
            "no copy without escapes"
        );
    }
}
