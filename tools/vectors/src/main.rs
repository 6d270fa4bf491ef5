//! Generates the shared test vectors in `docs/vectors/` from fixed seeds.
//!
//! ```text
//! cargo run --release -p smartmeter-vectors            # rewrite docs/vectors/
//! cargo run --release -p smartmeter-vectors -- --check # fail if they differ
//! ```
//!
//! Every key comes from a ChaCha20 RNG seeded with SHA-256 of a fixed label,
//! and RSASSA-PKCS1-v1_5 is deterministic, so the output is byte-identical on
//! every run and every machine. The test command runs `--check`, so the
//! committed vectors can never drift from what the code produces.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chacha20::ChaCha20Rng;
use rsa::pkcs8::EncodePublicKey;
use rsa::rand_core::SeedableRng;
use serde_json::{Value, json};
use smartmeter_core::{
    Algorithm, MESSAGE_LEN, Message, MeterKey, PublicKey, Reading, SignedReading,
};

mod policy;

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let check = std::env::args().any(|a| a == "--check");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/vectors");
    match run(&dir, check) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smartmeter-vectors: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(dir: &Path, check: bool) -> Result<()> {
    let keys = Keys::generate()?;
    let valid = valid_cases(&keys)?;
    let invalid = invalid_cases(&keys)?;
    let policy = policy::generate()?;
    let key_text = key_text_cases(&keys)?;
    let files = [
        ("valid.json", pretty(&valid)?),
        ("invalid.json", pretty(&invalid)?),
        ("key_text.json", pretty(&key_text)?),
        ("policy.json", pretty(&policy.json)?),
        (
            "README.md",
            readme(&valid, &invalid, &key_text)? + &policy.readme,
        ),
    ];
    let mut stale = Vec::new();
    for (name, content) in &files {
        let path: PathBuf = dir.join(name);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == *content {
            continue;
        }
        if check {
            stale.push(name.to_string());
        } else {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            std::fs::write(&path, content).map_err(|e| format!("{}: {e}", path.display()))?;
            println!("wrote {}", path.display());
        }
    }
    if stale.is_empty() {
        if check {
            println!("docs/vectors is up to date ({} files)", files.len());
        }
        Ok(())
    } else {
        Err(format!(
            "docs/vectors differs from the generator's output: {}. \
             Run `cargo run --release -p smartmeter-vectors` and commit the result.",
            stale.join(", ")
        ))
    }
}

fn pretty(value: &Value) -> Result<String> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    text.push('\n');
    Ok(text)
}

/// A ChaCha20 RNG seeded with SHA-256 of `label`.
fn seeded(label: &str) -> ChaCha20Rng {
    use sha2::Digest as _;
    ChaCha20Rng::from_seed(sha2::Sha256::digest(label.as_bytes()).into())
}

/// Every key the vectors use. Valid keys go through the core's policy;
/// the rejected ones are made with `rsa` directly or by hand.
struct Keys {
    a: MeterKey,
    b: MeterKey,
    c3072: MeterKey,
    d4096: MeterKey,
    /// A 2049-bit key: its modulus is not a whole number of bytes (k = 257),
    /// and ring refuses it for signing (its primes differ in length), so it
    /// is signed by the `rsa` crate: the same bytes either way.
    e2049: MeterKey,
    /// A real 1024-bit key pair, below the minimum.
    small_der: Vec<u8>,
    /// Its modulus, big-endian.
    small_modulus: Vec<u8>,
    /// A real 2048-bit key pair with public exponent 3.
    exponent3_der: Vec<u8>,
    /// A 4104-bit modulus: above the maximum (not a real key; the size check
    /// comes before any use of the modulus).
    large_der: Vec<u8>,
    /// Key `a` labelled RSASSA-PSS (1.2.840.113549.1.1.10) instead of rsaEncryption.
    pss_der: Vec<u8>,
    /// An odd 2048-bit modulus divisible by 3 (key `b`'s modulus moved to
    /// the nearest odd multiple of 3), exponent 65537: accepted, since a
    /// verifier cannot tell it from a product of two primes.
    divisible_by_3: PublicKey,
}

impl Keys {
    fn generate() -> Result<Self> {
        let meter = |label: &str, bits: usize| {
            MeterKey::generate_with_rng(&mut seeded(label), bits)
                .map_err(|e| format!("{label}: {e}"))
        };
        let raw = |label: &str, bits: usize, exponent: u32| -> Result<(Vec<u8>, Vec<u8>)> {
            use rsa::traits::PublicKeyParts as _;
            let key = rsa::PrivateKey::new_with_exp(&mut seeded(label), bits, exponent.into())
                .map_err(|e| format!("{label}: {e}"))?;
            let public = key.to_public_key();
            let der = public
                .to_public_key_der()
                .map_err(|e| e.to_string())?
                .into_vec();
            Ok((der, public.n().to_be_bytes().to_vec()))
        };
        let a = meter("smartmeters vector key a (2048)", 2048)?;
        let b = meter("smartmeters vector key b (2048)", 2048)?;
        let pss_der = relabel_as_pss(a.public_key().to_der())?;
        let (small_der, small_modulus) = raw("smartmeters vector key: 1024 bits", 1024, 65537)?;
        let n_b = modulus_of(b.public_key())?;
        // n_b is odd, so n_b mod 6 is 1, 3 or 5: adding 3 - r gives an odd multiple of 3.
        let to_multiple_of_3 = 3 - i16::try_from(mod_small(&n_b, 6)).map_err(|e| e.to_string())?;
        let divisible_by_3 =
            PublicKey::from_der(&spki_of_modulus(&add_small(&n_b, to_multiple_of_3)))
                .map_err(|e| format!("modulus divisible by 3: {e}"))?;
        Ok(Self {
            c3072: meter("smartmeters vector key c (3072)", 3072)?,
            d4096: meter("smartmeters vector key d (4096)", 4096)?,
            e2049: meter("smartmeters vector key e (2049)", 2049)?,
            small_der,
            small_modulus,
            exponent3_der: raw("smartmeters vector key: exponent 3", 2048, 3)?.0,
            large_der: oversized_spki(4104),
            pss_der,
            divisible_by_3,
            a,
            b,
        })
    }
}

fn relabel_as_pss(der: &[u8]) -> Result<Vec<u8>> {
    // DER of OID 1.2.840.113549.1.1.1; PSS differs only in its last arc.
    const RSA_ENCRYPTION: [u8; 11] = [6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 1];
    let at = der
        .windows(RSA_ENCRYPTION.len())
        .position(|w| w == RSA_ENCRYPTION)
        .ok_or("rsaEncryption OID not found")?;
    let mut out = der.to_vec();
    if let Some(last) = out.get_mut(at + RSA_ENCRYPTION.len() - 1) {
        *last = 10;
    }
    Ok(out)
}

/// A DER tag-length-value with the shortest definite length.
fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = body.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(body);
    out
}

/// The minimal content octets of a non-negative INTEGER given big-endian.
fn der_uint(be: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = be.iter().copied().skip_while(|&b| b == 0).collect();
    match trimmed.first() {
        Some(&top) if top & 0x80 != 0 => [&[0u8][..], &trimmed].concat(),
        Some(_) => trimmed,
        None => vec![0],
    }
}

/// A hand-built RSA SubjectPublicKeyInfo from the content octets of its two
/// INTEGERs, with or without the NULL parameters that RFC 3279 requires.
fn rsa_spki(modulus_content: &[u8], exponent_content: &[u8], null_parameters: bool) -> Vec<u8> {
    let rsa_key = tlv(
        0x30,
        &[tlv(2, modulus_content), tlv(2, exponent_content)].concat(),
    );
    let mut algorithm = vec![6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 1];
    if null_parameters {
        algorithm.extend([5, 0]);
    }
    let bit_string = tlv(3, &[&[0u8][..], &rsa_key].concat());
    tlv(0x30, &[tlv(0x30, &algorithm), bit_string].concat())
}

/// The canonical SPKI of a modulus (big-endian) with exponent 65537.
fn spki_of_modulus(modulus: &[u8]) -> Vec<u8> {
    rsa_spki(&der_uint(modulus), &[1, 0, 1], true)
}

/// A SubjectPublicKeyInfo whose modulus has `bits` bits and exponent 65537.
fn oversized_spki(bits: usize) -> Vec<u8> {
    // A top byte with its high bit set.
    let mut modulus = vec![0x80 | 0x55];
    modulus.extend(std::iter::repeat_n(0xa5, bits / 8 - 1));
    if let Some(last) = modulus.last_mut() {
        *last |= 1;
    }
    spki_of_modulus(&modulus)
}

/// The modulus (big-endian, no leading zeros) of a canonical RSA SPKI.
fn modulus_of(key: &PublicKey) -> Result<Vec<u8>> {
    smartmeter_core::backend::modulus(key).ok_or_else(|| "no modulus".to_string())
}

/// `n + delta` for a big-endian `n` and a small `delta`, keeping the length.
fn add_small(n: &[u8], delta: i16) -> Vec<u8> {
    let mut out = n.to_vec();
    let mut carry = i32::from(delta);
    for byte in out.iter_mut().rev() {
        let sum = i32::from(*byte) + carry;
        *byte = sum.rem_euclid(256) as u8;
        carry = sum.div_euclid(256);
        if carry == 0 {
            break;
        }
    }
    out
}

/// `n mod m` for a big-endian `n` and a small `m`.
fn mod_small(n: &[u8], m: u32) -> u32 {
    n.iter().fold(0, |r, &b| (r * 256 + u32::from(b)) % m)
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decimal strings, so that JavaScript's `JSON.parse` loses no precision.
fn reading_json(r: &Reading) -> Value {
    json!({
        "sequence": r.sequence.to_string(),
        "timestamp_ms": r.timestamp_ms.to_string(),
        "wh_imported": r.wh_imported.to_string(),
        "wh_exported": r.wh_exported.to_string(),
    })
}

fn reading(sequence: u64, timestamp_ms: u64, wh_imported: u64, wh_exported: u64) -> Reading {
    Reading {
        sequence,
        timestamp_ms,
        wh_imported,
        wh_exported,
    }
}

/// 2025-11-24T16:00:00Z, the timestamp most vectors use.
const T0: u64 = 1_764_000_000_000;

fn sign(key: &MeterKey, r: Reading) -> Result<SignedReading> {
    key.sign(r).map_err(|e| e.to_string())
}

fn private_pem(key: &MeterKey) -> Result<String> {
    Ok(key.to_pkcs8_pem().map_err(|e| e.to_string())?.to_string())
}

fn valid_cases(keys: &Keys) -> Result<Value> {
    let cases: [(&str, &str, &MeterKey, Reading); 7] = [
        (
            "rsa2048-basic",
            "A typical reading from a 2048-bit meter key.",
            &keys.a,
            reading(1, T0, 1200, 30),
        ),
        (
            "rsa2048-all-zero",
            "Every integer field at its minimum, 0.",
            &keys.a,
            reading(0, 0, 0, 0),
        ),
        (
            "rsa2048-all-max",
            "Every integer field at its maximum, 2^64-1: above 2^53, so JSON parsers must keep 64-bit integers exact.",
            &keys.a,
            reading(u64::MAX, u64::MAX, u64::MAX, u64::MAX),
        ),
        (
            "rsa2048-second-meter",
            "Another meter: another key id, same layout.",
            &keys.b,
            reading(42, T0 + 5_000, 987_654_321, 123_456),
        ),
        (
            "rsa3072",
            "A 3072-bit key: 384-byte signature.",
            &keys.c3072,
            reading(7, T0 + 35_000, 5_000_000, 2_500_000),
        ),
        (
            "rsa4096",
            "A 4096-bit key, the largest accepted: 512-byte signature.",
            &keys.d4096,
            reading(8, T0 + 40_000, 5_000_001, 2_500_000),
        ),
        (
            "rsa2049",
            "A 2049-bit key: the modulus is not a whole number of bytes, so k = ceil(2049 / 8) \
             = 257 and the signature is 257 bytes.",
            &keys.e2049,
            reading(9, T0 + 45_000, 5_000_002, 2_500_001),
        ),
    ];
    let mut out = Vec::new();
    for (name, description, key, r) in cases {
        let signed = sign(key, r)?;
        let public = key.public_key();
        out.push(json!({
            "name": name,
            "description": description,
            "private_key_pem": private_pem(key)?,
            "public_key_pem": public.to_pem(),
            "public_key_der_base64": public.to_base64(),
            "key_bits": public.bits(),
            "key_id": public.key_id().to_string(),
            "algorithm": Algorithm::RsaPkcs1v15Sha256.id(),
            "reading": reading_json(&r),
            "canonical_hex": hex::encode(signed.canonical_bytes()),
            "signature_hex": hex::encode(signed.signature()),
            "json": signed.to_json(),
        }));
    }
    Ok(json!({
        "description": "Valid signed readings (docs/spec.md). For each case: the public key's id \
            is SHA-256 of its DER; canonical_hex is the signed message; signing it with \
            private_key_pem gives signature_hex exactly; json parses and verifies against \
            public_key_pem. Reading fields are decimal strings so that no JSON parser rounds them.",
        "cases": out,
    }))
}

/// One invalid case. `kind` says which entry point it feeds:
/// `canonical` (hex bytes to the message decoder), `public_key` (base64 DER to
/// the key parser) or `json` (a wire document, parsed and then verified
/// against `registered_public_key_pem`).
fn case(name: &str, description: &str, kind: &str, input: String, expected: &str) -> Value {
    json!({
        "name": name,
        "description": description,
        "kind": kind,
        "input": input,
        "expected_error": expected,
    })
}

fn json_case(
    name: &str,
    description: &str,
    input: String,
    registered: &PublicKey,
    expected: &str,
) -> Value {
    let mut value = case(name, description, "json", input, expected);
    if let Some(object) = value.as_object_mut() {
        object.insert(
            "registered_public_key_pem".into(),
            registered.to_pem().into(),
        );
    }
    value
}

/// Replaces the first occurrence of `from`, failing loudly if it is absent so
/// that a vector can never silently stop testing what its name says.
fn edit(json: &str, from: &str, to: &str) -> Result<String> {
    if !json.contains(from) {
        return Err(format!("`{from}` not found in {json}"));
    }
    Ok(json.replacen(from, to, 1))
}

fn invalid_cases(keys: &Keys) -> Result<Value> {
    let base = reading(1, T0, 1200, 30);
    let signed = sign(&keys.a, base)?;
    let good = signed.to_json();
    let bytes = signed.canonical_bytes();
    let a = keys.a.public_key();
    let b = keys.b.public_key();
    let sig = signed.signature().to_vec();
    let sig_b64 = b64(&sig);
    let with_sig = |s: &[u8]| edit(&good, &sig_b64, &b64(s));
    let with_key = |der: &[u8]| edit(&good, &a.to_base64(), &b64(der));
    let canonical = |name: &str, description: &str, b: &[u8], expected: &str| {
        case(name, description, "canonical", hex::encode(b), expected)
    };
    let patched = |offset: usize, value: u8| {
        let mut b = bytes;
        if let Some(byte) = b.get_mut(offset) {
            *byte = value;
        }
        b
    };
    let mut flipped = sig.clone();
    if let Some(last) = flipped.last_mut() {
        *last ^= 1;
    }
    let signed_by_a_carrying_b =
        SignedReading::from_parts(Algorithm::RsaPkcs1v15Sha256, b.clone(), base, sig.clone());
    let mut padded = good.clone();
    padded.push_str(&" ".repeat(smartmeter_core::MAX_JSON_LEN + 1 - good.len()));

    let cases = vec![
        canonical(
            "canonical-truncated",
            "The message without its last byte.",
            bytes.get(..MESSAGE_LEN - 1).unwrap_or_default(),
            "wrong_length",
        ),
        canonical(
            "canonical-extended",
            "The message with one trailing zero byte.",
            &[bytes.as_slice(), &[0]].concat(),
            "wrong_length",
        ),
        canonical("canonical-empty", "No bytes at all.", &[], "wrong_length"),
        canonical(
            "canonical-wrong-tag",
            "The domain-separation tag with its first byte changed ('T').",
            &patched(0, b'T'),
            "unknown_tag",
        ),
        canonical(
            "canonical-version-0",
            "Format version 0.",
            &patched(16, 0),
            "unsupported_version",
        ),
        canonical(
            "canonical-version-2",
            "Format version 2, not defined yet.",
            &patched(16, 2),
            "unsupported_version",
        ),
        canonical(
            "canonical-algorithm-0",
            "Algorithm id 0.",
            &patched(17, 0),
            "unsupported_algorithm",
        ),
        canonical(
            "canonical-algorithm-2",
            "Algorithm id 2, reserved for a future algorithm.",
            &patched(17, 2),
            "unsupported_algorithm",
        ),
        case(
            "key-rsa1024",
            "A real 1024-bit RSA key: below the 2048-bit minimum.",
            "public_key",
            b64(&keys.small_der),
            "key_too_small",
        ),
        case(
            "key-exponent-3",
            "A real 2048-bit RSA key with public exponent 3.",
            "public_key",
            b64(&keys.exponent3_der),
            "unsupported_exponent",
        ),
        case(
            "key-rsa4104",
            "A 4104-bit modulus: above the 4096-bit maximum.",
            "public_key",
            b64(&keys.large_der),
            "key_too_large",
        ),
        case(
            "key-rsassa-pss-oid",
            "A valid key labelled id-RSASSA-PSS instead of rsaEncryption.",
            "public_key",
            b64(&keys.pss_der),
            "unsupported_key_type",
        ),
        case(
            "key-truncated-der",
            "A valid key's DER without its last byte.",
            "public_key",
            b64(a.to_der().get(..a.to_der().len() - 1).unwrap_or_default()),
            "malformed_key",
        ),
        case(
            "key-not-base64",
            "Text that is not base64: refused as text, before any DER is looked at.",
            "public_key",
            "not base64!".into(),
            "malformed_key_text",
        ),
        case(
            "key-rsa1024-leading-zero",
            "The 1024-bit key with a superfluous 0x00 before its modulus: not canonical DER \
             (section 6.2 check 3) and too small (check 4); check 3 comes first.",
            "public_key",
            b64(&rsa_spki(
                &[&[0u8][..], &der_uint(&keys.small_modulus)].concat(),
                &[1, 0, 1],
                true,
            )),
            "malformed_key",
        ),
        case(
            "key-rsa2048-leading-zero",
            "Key a with a superfluous 0x00 before its modulus: the same key, but not its one \
             canonical DER, which would give it a second key id.",
            "public_key",
            b64(&rsa_spki(
                &[&[0u8][..], &der_uint(&modulus_of(a)?)].concat(),
                &[1, 0, 1],
                true,
            )),
            "malformed_key",
        ),
        case(
            "key-parameters-absent",
            "Key a with the NULL parameters of its AlgorithmIdentifier left out (RFC 3279 \
             requires them): not canonical (section 6.2 check 3).",
            "public_key",
            b64(&rsa_spki(&der_uint(&modulus_of(a)?), &[1, 0, 1], false)),
            "malformed_key",
        ),
        case(
            "key-rsa1024-exponent-3",
            "A 1024-bit modulus with exponent 3: too small (check 4) comes before the \
             exponent (check 6).",
            "public_key",
            b64(&rsa_spki(&der_uint(&keys.small_modulus), &[3], true)),
            "key_too_small",
        ),
        case(
            "key-even-modulus",
            "Key b's modulus plus one: 2048 bits, exponent 65537, but even, so not an RSA \
             modulus (section 6.2 check 7).",
            "public_key",
            b64(&spki_of_modulus(&add_small(&modulus_of(b)?, 1))),
            "malformed_key",
        ),
        case(
            "key-rsa1024-even-modulus",
            "An even 1024-bit modulus: too small (check 4) comes before odd (check 7).",
            "public_key",
            b64(&spki_of_modulus(&add_small(&keys.small_modulus, 1))),
            "key_too_small",
        ),
        case(
            "key-exponent-3-even-modulus",
            "Key b's modulus plus one with exponent 3: the exponent (check 6) comes before \
             odd (check 7).",
            "public_key",
            b64(&rsa_spki(
                &der_uint(&add_small(&modulus_of(b)?, 1)),
                &[3],
                true,
            )),
            "unsupported_exponent",
        ),
        json_case(
            "json-tampered-wh-imported",
            "wh_imported raised by 1 after signing.",
            edit(&good, "\"wh_imported\":1200", "\"wh_imported\":1201")?,
            a,
            "invalid_signature",
        ),
        json_case(
            "json-tampered-wh-exported",
            "wh_exported lowered to 0 after signing.",
            edit(&good, "\"wh_exported\":30", "\"wh_exported\":0")?,
            a,
            "invalid_signature",
        ),
        json_case(
            "json-tampered-sequence",
            "sequence changed after signing (a replay under a new number).",
            edit(&good, "\"sequence\":1,", "\"sequence\":2,")?,
            a,
            "invalid_signature",
        ),
        json_case(
            "json-tampered-timestamp",
            "timestamp_ms moved by one millisecond after signing.",
            edit(
                &good,
                "\"timestamp_ms\":1764000000000",
                "\"timestamp_ms\":1764000000001",
            )?,
            a,
            "invalid_signature",
        ),
        json_case(
            "json-signature-bit-flip",
            "The last bit of the signature flipped.",
            with_sig(&flipped)?,
            a,
            "invalid_signature",
        ),
        json_case(
            "json-signature-truncated",
            "The signature without its last byte.",
            with_sig(sig.get(..sig.len() - 1).unwrap_or_default())?,
            a,
            "invalid_signature",
        ),
        json_case(
            "json-signature-empty",
            "An empty signature.",
            with_sig(&[])?,
            a,
            "invalid_signature",
        ),
        json_case(
            "json-wrong-registered-key",
            "A valid reading of meter A, checked against meter B's registered key.",
            good.clone(),
            b,
            "key_mismatch",
        ),
        json_case(
            "json-substituted-public-key",
            "Meter A's signature, but the reading carries meter B's public key (an attempt \
             to report for B): the key id in the signed bytes is B's, so A's signature fails.",
            signed_by_a_carrying_b.to_json(),
            b,
            "invalid_signature",
        ),
        json_case(
            "json-signature-not-base64",
            "The signature field is not base64.",
            edit(&good, &sig_b64, "not*base64")?,
            a,
            "malformed_base64",
        ),
        json_case(
            "json-signature-unpadded",
            "The signature without its '=' padding: base64 must be canonical.",
            edit(&good, &sig_b64, sig_b64.trim_end_matches('='))?,
            a,
            "malformed_base64",
        ),
        json_case(
            "json-public-key-rsa1024",
            "The reading carries a 1024-bit public key.",
            with_key(&keys.small_der)?,
            a,
            "key_too_small",
        ),
        json_case(
            "json-public-key-exponent-3",
            "The reading carries a public key with exponent 3.",
            with_key(&keys.exponent3_der)?,
            a,
            "unsupported_exponent",
        ),
        json_case(
            "json-public-key-malformed-der",
            "The reading carries \"AAAA\" as its key: canonical base64 of three zero bytes, \
             not a key. Checked against key a, whose id differs: the carried key's own error \
             (section 9 step 9) comes before key_mismatch (step 12).",
            edit(&good, &a.to_base64(), "AAAA")?,
            a,
            "malformed_key",
        ),
        json_case(
            "json-public-key-rsa1024-signature-not-base64",
            "A 1024-bit carried key and a signature that is not base64: the signature's \
             base64 (section 9 step 6) is checked before the carried key's policy (step 9).",
            edit(&with_key(&keys.small_der)?, &sig_b64, "not*base64")?,
            a,
            "malformed_base64",
        ),
        json_case(
            "json-public-key-modulus-divisible-by-3",
            "The reading carries, and is checked against, a key whose odd 2048-bit modulus is \
             divisible by 3. The key policy accepts it (no factoring checks, section 6.2); \
             the signature, key a's, does not verify.",
            edit(&good, &a.to_base64(), &keys.divisible_by_3.to_base64())?,
            &keys.divisible_by_3,
            "invalid_signature",
        ),
        json_case(
            "json-version-2",
            "Format version 2.",
            edit(&good, "\"version\":1", "\"version\":2")?,
            a,
            "unsupported_version",
        ),
        json_case(
            "json-algorithm-2",
            "Algorithm id 2.",
            edit(&good, "\"algorithm\":1", "\"algorithm\":2")?,
            a,
            "unsupported_algorithm",
        ),
        json_case(
            "json-missing-field",
            "No wh_exported field.",
            edit(&good, ",\"wh_exported\":30", "")?,
            a,
            "malformed_json",
        ),
        json_case(
            "json-unknown-field",
            "An extra field that no version defines.",
            edit(&good, "{", "{\"meter\":\"x\",")?,
            a,
            "malformed_json",
        ),
        json_case(
            "json-duplicate-field",
            "wh_imported given twice.",
            edit(
                &good,
                "\"wh_imported\":1200",
                "\"wh_imported\":1200,\"wh_imported\":1",
            )?,
            a,
            "malformed_json",
        ),
        json_case(
            "json-negative-integer",
            "A negative register.",
            edit(&good, "\"wh_exported\":30", "\"wh_exported\":-30")?,
            a,
            "malformed_json",
        ),
        json_case(
            "json-integer-overflow",
            "2^64, one more than the largest u64.",
            edit(
                &good,
                "\"wh_exported\":30",
                "\"wh_exported\":18446744073709551616",
            )?,
            a,
            "malformed_json",
        ),
        json_case(
            "json-fractional-number",
            "A register with a fraction.",
            edit(&good, "\"wh_exported\":30", "\"wh_exported\":30.5")?,
            a,
            "malformed_json",
        ),
        json_case(
            "json-number-as-string",
            "An integer sent as a string.",
            edit(&good, "\"wh_exported\":30", "\"wh_exported\":\"30\"")?,
            a,
            "malformed_json",
        ),
        json_case(
            "json-trailing-data",
            "A second value after the object.",
            format!("{good}{{}}"),
            a,
            "malformed_json",
        ),
        json_case(
            "json-not-json",
            "Not a JSON document.",
            "sequence=1&wh_imported=1200".into(),
            a,
            "malformed_json",
        ),
        json_case(
            "json-too-large",
            "A valid reading padded with spaces to one byte over the 4096-byte limit.",
            padded,
            a,
            "reading_too_large",
        ),
    ];
    Ok(json!({
        "description": "Invalid inputs and the error code each must produce (docs/spec.md, \
            section Errors). kind=canonical: input is hex, decode it as a canonical message. \
            kind=public_key: input is base64 of DER, parse it as a public key. kind=json: input \
            is a wire document; parse it, then verify it against registered_public_key_pem; the \
            first failing step gives the code.",
        "cases": cases,
    }))
}

/// Key text as OpenSSL and pyca/cryptography write it, and forms around it
/// that must be refused (`docs/spec.md` section 7.1).
fn key_text_cases(keys: &Keys) -> Result<Value> {
    let a = keys.a.public_key();
    let pem = a.to_pem();
    let b64 = a.to_base64();
    // `openssl base64` (without -A): 64 columns, every line ends with LF.
    let wrapped: String = b64
        .as_bytes()
        .chunks(64)
        .map(|line| format!("{}\n", String::from_utf8_lossy(line)))
        .collect();
    let wrapped_at = |width: usize| -> String {
        b64.as_bytes()
            .chunks(width)
            .map(|line| format!("{}\n", String::from_utf8_lossy(line)))
            .collect()
    };
    let crlf = |text: &str| text.replace('\n', "\r\n");
    let key_id = a.key_id().to_string();
    let accepted = |name: &str, description: &str, input: String| json!({"name": name, "description": description, "input": input, "key_id": key_id});
    let refused = |name: &str, description: &str, input: String, expected: &str| json!({"name": name, "description": description, "input": input, "expected_error": expected});
    let limit = smartmeter_core::MAX_KEY_TEXT_LEN;
    let pem_body: Vec<&str> = pem.lines().collect();
    let pem_76 = format!(
        "-----BEGIN PUBLIC KEY-----\n{}-----END PUBLIC KEY-----\n",
        wrapped_at(76)
    );
    let cases = vec![
        accepted(
            "pem-lf",
            "PEM as `openssl pkey -pubout` and pyca/cryptography write it: LF line endings, \
             64 columns, a final newline.",
            pem.clone(),
        ),
        accepted(
            "pem-lf-no-final-newline",
            "The same PEM without its final newline.",
            pem.trim_end_matches('\n').to_string(),
        ),
        accepted(
            "pem-crlf",
            "The same PEM with CRLF line endings (a file saved on Windows).",
            crlf(&pem),
        ),
        accepted(
            "pem-crlf-no-final-newline",
            "CRLF PEM without its final line ending.",
            crlf(pem.trim_end_matches('\n')),
        ),
        accepted(
            "base64-one-line",
            "Base64 of the DER on one line, as `openssl base64 -A` writes it and as the wire \
             form's public_key field carries it.",
            b64.clone(),
        ),
        accepted(
            "base64-one-line-newline",
            "The same line with a final newline.",
            format!("{b64}\n"),
        ),
        accepted(
            "base64-one-line-crlf",
            "The same line with a final CRLF.",
            format!("{b64}\r\n"),
        ),
        accepted(
            "base64-wrapped",
            "Base64 of the DER wrapped at 64 columns, as `openssl base64` writes it.",
            wrapped.clone(),
        ),
        accepted(
            "base64-wrapped-no-final-newline",
            "The same without the final newline.",
            wrapped.trim_end_matches('\n').to_string(),
        ),
        accepted(
            "base64-wrapped-crlf",
            "Wrapped base64 with CRLF line endings.",
            crlf(&wrapped),
        ),
        refused(
            "base64-unpadded",
            "Base64 of the 3072-bit key c without its '=' padding (key a's 294-byte DER \
             needs none).",
            unpadded(&keys.c3072.public_key().to_base64())?,
            "malformed_key_text",
        ),
        refused(
            "base64-leading-spaces",
            "Two spaces before the base64.",
            format!("  {b64}"),
            "malformed_key_text",
        ),
        refused(
            "base64-trailing-space",
            "A space after the base64.",
            format!("{b64} "),
            "malformed_key_text",
        ),
        refused(
            "base64-url-alphabet",
            "The URL-safe alphabet ('-' and '_' for '+' and '/').",
            b64.replace('+', "-").replace('/', "_"),
            "malformed_key_text",
        ),
        refused(
            "base64-wrapped-76",
            "Base64 wrapped at 76 columns (MIME): only 64 is accepted.",
            wrapped_at(76),
            "malformed_key_text",
        ),
        refused(
            "pem-leading-spaces",
            "PEM indented by two spaces.",
            pem.lines().map(|l| format!("  {l}\n")).collect(),
            "malformed_key_text",
        ),
        refused(
            "pem-text-before",
            "An explanatory line before the PEM document.",
            format!("meter 42\n{pem}"),
            "malformed_key_text",
        ),
        refused(
            "pem-two-final-newlines",
            "PEM followed by an empty line.",
            format!("{pem}\n"),
            "malformed_key_text",
        ),
        refused(
            "pem-mixed-line-endings",
            "PEM whose first line ends with CRLF and the others with LF.",
            pem.replacen('\n', "\r\n", 1),
            "malformed_key_text",
        ),
        refused(
            "pem-blank-line",
            "PEM with an empty line after the BEGIN line.",
            pem.replacen('\n', "\n\n", 1),
            "malformed_key_text",
        ),
        refused(
            "pem-76-columns",
            "PEM whose base64 lines are 76 characters wide.",
            pem_76,
            "malformed_key_text",
        ),
        refused(
            "pem-rsa-public-key-label",
            "The SubjectPublicKeyInfo under the PKCS#1 label RSA PUBLIC KEY.",
            pem.replace("PUBLIC KEY", "RSA PUBLIC KEY"),
            "malformed_key_text",
        ),
        refused(
            "pem-no-end-line",
            "PEM without its END line.",
            pem_body
                .get(..pem_body.len().saturating_sub(1))
                .unwrap_or_default()
                .iter()
                .map(|l| format!("{l}\n"))
                .collect(),
            "malformed_key_text",
        ),
        refused(
            "empty",
            "No text at all.",
            String::new(),
            "malformed_key_text",
        ),
        refused(
            "at-the-limit",
            "Base64 of the key followed by spaces up to exactly 8192 bytes: within the bound, \
             then refused for the spaces.",
            format!("{b64}{}", " ".repeat(limit - b64.len())),
            "malformed_key_text",
        ),
        refused(
            "over-the-limit",
            "Base64 of the key followed by spaces up to 8193 bytes: refused by length before \
             anything else.",
            format!("{b64}{}", " ".repeat(limit + 1 - b64.len())),
            "key_text_too_large",
        ),
        refused(
            "pem-8000-trailing-spaces",
            "PEM followed by 8,000 spaces.",
            format!("{pem}{}", " ".repeat(8000)),
            "key_text_too_large",
        ),
        refused(
            "pem-rsa1024",
            "Well-formed PEM of a 1024-bit key: the text is fine, the key policy refuses it.",
            pem_of(&keys.small_der),
            "key_too_small",
        ),
        refused(
            "base64-not-a-key",
            "Canonical base64 of three zero bytes: the text is fine, the DER is not a key.",
            "AAAA".into(),
            "malformed_key",
        ),
    ];
    Ok(json!({
        "description": "Public key text (docs/spec.md section 7.1): parse input with \
            PublicKey::from_text. A case with key_id must be accepted and give that key id; \
            a case with expected_error must be refused with that code.",
        "cases": cases,
    }))
}

/// Base64 without its padding, failing loudly if it had none.
fn unpadded(b64: &str) -> Result<String> {
    let trimmed = b64.trim_end_matches('=');
    if trimmed.len() == b64.len() {
        return Err(format!("{b64} has no padding to remove"));
    }
    Ok(trimmed.to_string())
}

/// PEM of any DER, with the PUBLIC KEY label, 64 columns and LF endings.
fn pem_of(der: &[u8]) -> String {
    let body: String = b64(der)
        .as_bytes()
        .chunks(64)
        .map(|line| format!("{}\n", String::from_utf8_lossy(line)))
        .collect();
    format!("-----BEGIN PUBLIC KEY-----\n{body}-----END PUBLIC KEY-----\n")
}

/// The cases of a generated document.
fn cases(doc: &Value) -> &[Value] {
    doc.get("cases")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A string field of a case, empty when absent.
fn text(case: &Value, key: &str) -> String {
    case.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The human-readable companion: each valid case decoded field by field.
fn readme(valid: &Value, invalid: &Value, key_text: &Value) -> Result<String> {
    use std::fmt::Write as _;
    let mut out = String::from(
        "# Test vectors\n\n\
         Generated by `tools/vectors` from fixed seeds; do not edit by hand. \
         Regenerate with `cargo run --release -p smartmeter-vectors`; the test command \
         runs it with `--check` and fails on any difference.\n\n\
         - `valid.json`: signed readings that every implementation must produce byte for \
         byte (signing is deterministic) and accept.\n\
         - `invalid.json`: inputs that every implementation must reject, each with the \
         expected error code.\n\
         - `policy.json`: series of signed readings of one meter, with the outcome of the \
         history rules at every step and the audit report of the whole series.\n\n\
         - `key_text.json`: public key text in the forms OpenSSL and pyca/cryptography \
         write, which must be accepted, and forms around them, which must be refused.\n\n\
         Reading fields in `valid.json` are decimal strings so that JavaScript's \
         `JSON.parse` keeps them exact; in the wire documents (`json`) they are JSON \
         integers, as the specification requires.\n\n\
         ## Valid cases, decoded\n",
    );
    let w = |out: &mut String, s: String| out.push_str(&s);
    for case in cases(valid) {
        let field = |k: &str| text(case, k);
        let bytes = hex::decode(field("canonical_hex")).map_err(|e| e.to_string())?;
        let message = Message::from_bytes(&bytes).map_err(|e| e.to_string())?;
        w(
            &mut out,
            format!("\n### `{}`\n\n{}\n\n", field("name"), field("description")),
        );
        w(
            &mut out,
            format!(
                "Key: {} bits, key id `{}`.\n\n| offset | length | field | bytes (hex) | value |\n|---|---|---|---|---|\n",
                case.get("key_bits")
                    .and_then(Value::as_u64)
                    .unwrap_or_default(),
                message.key_id
            ),
        );
        let rows: [(usize, usize, &str, String); 8] = [
            (0, 16, "tag", "`SMARTMETERS:READ`".into()),
            (16, 1, "version", "1".into()),
            (17, 1, "algorithm", "1 (RSASSA-PKCS1-v1_5, SHA-256)".into()),
            (18, 32, "key_id", "SHA-256 of the SPKI DER".into()),
            (50, 8, "sequence", message.reading.sequence.to_string()),
            (
                58,
                8,
                "timestamp_ms",
                message.reading.timestamp_ms.to_string(),
            ),
            (
                66,
                8,
                "wh_imported",
                message.reading.wh_imported.to_string(),
            ),
            (
                74,
                8,
                "wh_exported",
                message.reading.wh_exported.to_string(),
            ),
        ];
        for (offset, len, name, value) in rows {
            let slice = bytes.get(offset..offset + len).unwrap_or_default();
            writeln!(
                out,
                "| {offset} | {len} | {name} | `{}` | {value} |",
                hex::encode(slice)
            )
            .map_err(|e| e.to_string())?;
        }
        w(
            &mut out,
            format!(
                "\nSignature ({} bytes): `{}`\n",
                field("signature_hex").len() / 2,
                field("signature_hex")
            ),
        );
    }
    out.push_str("\n## Invalid cases\n\n| name | kind | expected error | what is wrong |\n|---|---|---|---|\n");
    for case in cases(invalid) {
        let field = |k: &str| text(case, k);
        writeln!(
            out,
            "| `{}` | {} | `{}` | {} |",
            field("name"),
            field("kind"),
            field("expected_error"),
            field("description")
        )
        .map_err(|e| e.to_string())?;
    }
    out.push_str("\n## Key text cases\n\n| name | result | what it is |\n|---|---|---|\n");
    for case in cases(key_text) {
        let field = |k: &str| text(case, k);
        let result = match case.get("expected_error").and_then(Value::as_str) {
            Some(code) => format!("refused: `{code}`"),
            None => "accepted".to_string(),
        };
        writeln!(
            out,
            "| `{}` | {result} | {} |",
            field("name"),
            field("description")
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(out)
}
