//! Interoperability with an independent implementation: the `openssl`
//! command line. The canonical bytes are built here from the specification's
//! table, not with this crate's encoder, so these tests check the spec too.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use smartmeter_core::{MeterKey, PublicKey, Reading, SignedReading};

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command line is required for the interop tests")
}

fn openssl_ok(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = openssl(dir, args);
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The 82 canonical bytes, written out field by field from docs/spec.md.
fn spec_bytes(key_id: &[u8; 32], r: &Reading) -> Vec<u8> {
    let mut out = b"SMARTMETERS:READ".to_vec();
    out.push(1); // format version
    out.push(1); // algorithm: RSASSA-PKCS1-v1_5 with SHA-256
    out.extend_from_slice(key_id);
    for v in [r.sequence, r.timestamp_ms, r.wh_imported, r.wh_exported] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}

fn vector_key() -> MeterKey {
    let path = format!("{}/../docs/vectors/valid.json", env!("CARGO_MANIFEST_DIR"));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    MeterKey::from_pkcs8_pem(doc["cases"][0]["private_key_pem"].as_str().unwrap()).unwrap()
}

#[test]
fn a_reading_signed_by_openssl_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl_ok(
        d,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "meter.pem",
        ],
    );
    let der = openssl_ok(
        d,
        &["pkey", "-in", "meter.pem", "-pubout", "-outform", "DER"],
    );
    let public = PublicKey::from_der(&der).unwrap();

    // The key id is SHA-256 of the SPKI DER, as openssl computes it.
    std::fs::write(d.join("pub.der"), &der).unwrap();
    let digest = openssl_ok(d, &["dgst", "-sha256", "-binary", "pub.der"]);
    assert_eq!(digest.as_slice(), public.key_id().as_bytes());

    let reading = Reading {
        sequence: 9,
        timestamp_ms: 1_764_000_123_456,
        wh_imported: 4_321,
        wh_exported: 1 << 60,
    };
    std::fs::write(
        d.join("msg.bin"),
        spec_bytes(public.key_id().as_bytes(), &reading),
    )
    .unwrap();
    openssl_ok(
        d,
        &[
            "dgst",
            "-sha256",
            "-sign",
            "meter.pem",
            "-out",
            "sig.bin",
            "msg.bin",
        ],
    );
    let signature = std::fs::read(d.join("sig.bin")).unwrap();

    let json = format!(
        r#"{{"version":1,"algorithm":1,"public_key":"{}","sequence":9,"timestamp_ms":1764000123456,"wh_imported":4321,"wh_exported":{},"signature":"{}"}}"#,
        BASE64.encode(&der),
        1u64 << 60,
        BASE64.encode(&signature)
    );
    let signed = SignedReading::from_json(json.as_bytes()).unwrap();
    let verified = public.verify(&signed).unwrap();
    assert_eq!(verified.reading(), &reading);

    // The same signature over a changed register must not verify.
    let tampered = json.replace("\"wh_imported\":4321", "\"wh_imported\":4322");
    let tampered = SignedReading::from_json(tampered.as_bytes()).unwrap();
    assert_eq!(
        public.verify(&tampered).unwrap_err().code(),
        "invalid_signature"
    );
}

#[test]
fn a_reading_signed_by_smartmeter_core_verifies_in_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = vector_key();
    let reading = Reading {
        sequence: u64::MAX - 1,
        timestamp_ms: 1_764_000_000_000,
        wh_imported: 77,
        wh_exported: 0,
    };
    let signed = key.sign(reading).unwrap();
    assert_eq!(
        signed.canonical_bytes().as_slice(),
        spec_bytes(key.key_id().as_bytes(), &reading).as_slice()
    );
    std::fs::write(d.join("pub.pem"), key.public_key().to_pem()).unwrap();
    std::fs::write(d.join("msg.bin"), signed.canonical_bytes()).unwrap();
    std::fs::write(d.join("sig.bin"), signed.signature()).unwrap();
    let out = openssl_ok(
        d,
        &[
            "dgst",
            "-sha256",
            "-verify",
            "pub.pem",
            "-signature",
            "sig.bin",
            "msg.bin",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out).trim(), "Verified OK");

    // OpenSSL rejects the signature over any other message.
    let mut other = signed.canonical_bytes();
    other[81] ^= 1;
    std::fs::write(d.join("other.bin"), other).unwrap();
    let out = openssl(
        d,
        &[
            "dgst",
            "-sha256",
            "-verify",
            "pub.pem",
            "-signature",
            "sig.bin",
            "other.bin",
        ],
    );
    assert!(!out.status.success());
}

#[test]
fn exported_keys_are_read_by_openssl_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = vector_key();
    std::fs::write(d.join("meter.pem"), key.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    // OpenSSL derives the public key from our PKCS#8 export ...
    let der = openssl_ok(
        d,
        &["pkey", "-in", "meter.pem", "-pubout", "-outform", "DER"],
    );
    assert_eq!(der.as_slice(), key.public_key().to_der());
    // ... and re-encodes the private key in a form we read back to the same key.
    let pem = openssl_ok(d, &["pkey", "-in", "meter.pem"]);
    let again = MeterKey::from_pkcs8_pem(std::str::from_utf8(&pem).unwrap()).unwrap();
    assert_eq!(again.key_id(), key.key_id());
}

/// The shell recipe of docs/spec.md section 10, run on every valid vector:
/// the documented commands must reproduce each vector's wire form exactly.
#[test]
fn the_spec_openssl_recipe_reproduces_every_valid_vector() {
    let spec =
        std::fs::read_to_string(format!("{}/../docs/spec.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let section = spec.split("## 10. Signing with OpenSSL").nth(1).unwrap();
    let recipe = section
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let path = format!("{}/../docs/vectors/valid.json", env!("CARGO_MANIFEST_DIR"));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for case in doc["cases"].as_array().unwrap() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("meter.pem"),
            case["private_key_pem"].as_str().unwrap(),
        )
        .unwrap();
        let r = &case["reading"];
        let mut script = recipe.to_string();
        for (var, field) in [
            ("SEQUENCE", "sequence"),
            ("TIMESTAMP_MS", "timestamp_ms"),
            ("WH_IMPORTED", "wh_imported"),
            ("WH_EXPORTED", "wh_exported"),
        ] {
            let line = script
                .lines()
                .find(|l| l.starts_with(&format!("{var}=")))
                .unwrap_or_else(|| panic!("the recipe no longer sets {var}"))
                .to_string();
            script = script.replace(&line, &format!("{var}={}", r[field].as_str().unwrap()));
        }
        let out = Command::new("sh")
            .args(["-c", &script])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {stdout}{}",
            case["name"],
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("Verified OK"), "{}", case["name"]);
        assert!(
            stdout.contains(case["canonical_hex"].as_str().unwrap()),
            "{}",
            case["name"]
        );
        let json = std::fs::read_to_string(dir.path().join("reading.json")).unwrap();
        assert_eq!(json, case["json"].as_str().unwrap(), "{}", case["name"]);
    }
}

/// Key text exactly as the `openssl` command line writes it is accepted by
/// `PublicKey::from_text` (spec section 7.1); PKCS#1 text is refused.
#[test]
fn public_key_text_written_by_openssl_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = vector_key();
    std::fs::write(d.join("meter.pem"), key.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    let pem = openssl_ok(d, &["pkey", "-in", "meter.pem", "-pubout"]);
    let der = openssl_ok(
        d,
        &["pkey", "-in", "meter.pem", "-pubout", "-outform", "DER"],
    );
    std::fs::write(d.join("pub.der"), &der).unwrap();
    let wrapped = openssl_ok(d, &["base64", "-in", "pub.der"]);
    let one_line = openssl_ok(d, &["base64", "-A", "-in", "pub.der"]);
    let pem = String::from_utf8(pem).unwrap();
    let wrapped = String::from_utf8(wrapped).unwrap();
    assert!(wrapped.lines().count() > 1 && wrapped.ends_with('\n'));
    for (what, text) in [
        ("pkey -pubout", pem.clone()),
        ("pkey -pubout, CRLF", pem.replace('\n', "\r\n")),
        ("pkey -pubout, no final newline", pem.trim_end().to_string()),
        ("base64", wrapped.clone()),
        ("base64, CRLF", wrapped.replace('\n', "\r\n")),
        ("base64 -A", String::from_utf8(one_line).unwrap()),
    ] {
        let parsed = PublicKey::from_text(&text).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(parsed.key_id(), key.key_id(), "{what}");
    }
    assert_eq!(
        key.public_key().to_pem(),
        pem,
        "we write what openssl writes"
    );

    let pkcs1 = openssl_ok(d, &["rsa", "-in", "meter.pem", "-RSAPublicKey_out"]);
    let refused = PublicKey::from_text(std::str::from_utf8(&pkcs1).unwrap()).unwrap_err();
    assert_eq!(refused.code(), "malformed_key_text");
}
