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
use smartmeter_core::{MeterKey, PublicKey, Reading, SignedReading, ecdsa};

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

/// The `sh` block of a subsection of docs/spec.md section 10.
fn recipe(heading: &str) -> String {
    let spec =
        std::fs::read_to_string(format!("{}/../docs/spec.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let section = spec
        .split("\n## 10. Signing with OpenSSL\n")
        .nth(1)
        .unwrap();
    let section = section.split("\n## 11.").next().unwrap();
    let sub = section
        .split(&format!("\n{heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("section 10 has no `{heading}`"));
    let sub = sub.split("\n### ").next().unwrap();
    sub.split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap()
        .to_string()
}

/// The valid vectors of one algorithm.
fn valid_cases(algorithm: u64) -> Vec<serde_json::Value> {
    let path = format!("{}/../docs/vectors/valid.json", env!("CARGO_MANIFEST_DIR"));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases: Vec<_> = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["algorithm"] == algorithm)
        .cloned()
        .collect();
    assert!(cases.len() >= 4, "algorithm {algorithm}");
    cases
}

/// Runs a recipe in a fresh directory holding the case's `meter.pem`, with
/// the case's reading as its inputs; returns its stdout, its directory and
/// the JSON it wrote.
fn run_recipe(recipe: &str, case: &serde_json::Value) -> (String, tempfile::TempDir, String) {
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
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
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
    (stdout, dir, json)
}

/// The RSA recipe of docs/spec.md section 10.1, run on every RSA vector:
/// the documented commands must reproduce each vector's wire form exactly.
#[test]
fn the_spec_openssl_recipe_reproduces_every_valid_rsa_vector() {
    let recipe = recipe("### 10.1 Algorithm 1: RSA");
    for case in valid_cases(1) {
        let (_, _dir, json) = run_recipe(&recipe, &case);
        assert_eq!(json, case["json"].as_str().unwrap(), "{}", case["name"]);
    }
}

/// The P-256 recipe of docs/spec.md section 10.2, run on every P-256
/// vector until OpenSSL's random nonces have given both a low and a high s
/// (each about half the time): its readings equal the vector's but for the
/// signature, which is the 64-byte, low-S form of OpenSSL's and verifies.
#[test]
fn the_spec_openssl_recipe_signs_every_valid_p256_vector_in_both_branches() {
    let recipe = recipe("### 10.2 Algorithm 2: P-256");
    let cases = valid_cases(2);
    let (mut low, mut high) = (0, 0);
    for round in 0..64 {
        let case = &cases[round % cases.len()];
        let name = case["name"].as_str().unwrap();
        let (stdout, dir, json) = run_recipe(&recipe, case);
        let registered = PublicKey::from_pem(case["public_key_pem"].as_str().unwrap()).unwrap();
        let signed = SignedReading::from_json(json.as_bytes()).unwrap();
        registered
            .verify(&signed)
            .unwrap_or_else(|e| panic!("{name}: {e}\n{stdout}"));
        let vector = SignedReading::from_json(case["json"].as_str().unwrap().as_bytes()).unwrap();
        assert_eq!(signed.canonical_bytes(), vector.canonical_bytes(), "{name}");
        assert_eq!(
            json.replace(&BASE64.encode(signed.signature()), "SIG"),
            case["json"]
                .as_str()
                .unwrap()
                .replace(&BASE64.encode(vector.signature()), "SIG"),
            "{name}: the same document but for the signature"
        );
        // Which branch of step 5 ran: OpenSSL's own s, low or high.
        let der = std::fs::read(dir.path().join("sig.der")).unwrap();
        let raw = ecdsa::raw_from_der(&der).unwrap();
        if ecdsa::is_low_s(&raw) {
            assert_eq!(signed.signature(), raw, "{name}: a low s is kept");
            low += 1;
        } else {
            assert_eq!(signed.signature(), ecdsa::negate_s(&raw), "{name}: n - s");
            high += 1;
        }
        if low >= 1 && high >= 1 && round + 1 >= cases.len() {
            return;
        }
    }
    panic!("64 runs of OpenSSL gave {low} low and {high} high s values");
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

/// A P-256 vector's private key.
fn p256_vector_key() -> MeterKey {
    let case = &valid_cases(2)[0];
    MeterKey::from_pkcs8_pem(case["private_key_pem"].as_str().unwrap()).unwrap()
}

fn genpkey_ec(d: &Path, curve: &str, out: &str, extra: &[&str]) {
    let mut args = vec![
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        curve,
        "-out",
        out,
    ];
    args.extend_from_slice(extra);
    openssl_ok(d, &args);
}

/// OpenSSL signs (DER, random nonce); the core refuses the DER form with
/// its code, accepts the 64-byte low-S form, and refuses OpenSSL's high s
/// with its code, until both kinds of s have been seen.
#[test]
fn a_p256_reading_signed_by_openssl_verifies_after_conversion() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    genpkey_ec(d, "ec_paramgen_curve:P-256", "meter.pem", &[]);
    let der = openssl_ok(
        d,
        &["pkey", "-in", "meter.pem", "-pubout", "-outform", "DER"],
    );
    let public = PublicKey::from_der(&der).unwrap();
    assert_eq!(
        public.algorithm(),
        smartmeter_core::Algorithm::EcdsaP256Sha256
    );
    std::fs::write(d.join("pub.der"), &der).unwrap();
    let digest = openssl_ok(d, &["dgst", "-sha256", "-binary", "pub.der"]);
    assert_eq!(digest.as_slice(), public.key_id().as_bytes());
    // OpenSSL's private key is ours too.
    let pem = std::fs::read_to_string(d.join("meter.pem")).unwrap();
    assert_eq!(
        MeterKey::from_pkcs8_pem(&pem).unwrap().key_id(),
        public.key_id()
    );

    let (mut low, mut high) = (0, 0);
    for sequence in 0..64u64 {
        let reading = Reading {
            sequence,
            timestamp_ms: 1_764_000_123_456,
            wh_imported: 4_321 + sequence,
            wh_exported: 1 << 60,
        };
        let mut message = spec_bytes(public.key_id().as_bytes(), &reading);
        message[17] = 2; // algorithm 2
        std::fs::write(d.join("msg.bin"), &message).unwrap();
        openssl_ok(
            d,
            &[
                "dgst",
                "-sha256",
                "-sign",
                "meter.pem",
                "-out",
                "sig.der",
                "msg.bin",
            ],
        );
        let der_signature = std::fs::read(d.join("sig.der")).unwrap();
        let signed = |signature: &[u8]| {
            let json = format!(
                r#"{{"version":1,"algorithm":2,"public_key":"{}","sequence":{sequence},"timestamp_ms":1764000123456,"wh_imported":{},"wh_exported":{},"signature":"{}"}}"#,
                BASE64.encode(&der),
                4_321 + sequence,
                1u64 << 60,
                BASE64.encode(signature)
            );
            SignedReading::from_json(json.as_bytes()).unwrap()
        };
        assert_eq!(
            public.verify(&signed(&der_signature)).unwrap_err().code(),
            "der_signature"
        );
        let raw = ecdsa::raw_from_der(&der_signature).unwrap();
        let normalised = ecdsa::normalize_s(&raw);
        let verified = public.verify(&signed(&normalised)).unwrap();
        assert_eq!(verified.reading(), &reading);
        if normalised == raw {
            low += 1;
        } else {
            assert_eq!(
                public.verify(&signed(&raw)).unwrap_err().code(),
                "high_s",
                "OpenSSL's own high s"
            );
            high += 1;
        }
        if low > 0 && high > 0 {
            return;
        }
    }
    panic!("64 OpenSSL signatures gave {low} low and {high} high s values");
}

/// Our P-256 signatures, written as DER, verify in OpenSSL; so does their
/// high-S twin, which is why the core refuses it itself.
#[test]
fn a_p256_reading_signed_by_smartmeter_core_verifies_in_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = p256_vector_key();
    std::fs::write(d.join("pub.pem"), key.public_key().to_pem()).unwrap();
    for sequence in [0, 1, u64::MAX] {
        let reading = Reading {
            sequence,
            timestamp_ms: 1_764_000_000_000,
            wh_imported: 77,
            wh_exported: 0,
        };
        let signed = key.sign(reading).unwrap();
        let mut expected = spec_bytes(key.key_id().as_bytes(), &reading);
        expected[17] = 2;
        assert_eq!(signed.canonical_bytes().as_slice(), expected.as_slice());
        let raw: [u8; 64] = signed.signature().try_into().unwrap();
        std::fs::write(d.join("msg.bin"), signed.canonical_bytes()).unwrap();
        let verify = |signature: &[u8]| {
            std::fs::write(d.join("sig.der"), signature).unwrap();
            openssl(
                d,
                &[
                    "dgst",
                    "-sha256",
                    "-verify",
                    "pub.pem",
                    "-signature",
                    "sig.der",
                    "msg.bin",
                ],
            )
        };
        let out = verify(&ecdsa::der_from_raw(&raw));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Verified OK");
        let twin = ecdsa::negate_s(&raw);
        assert!(
            verify(&ecdsa::der_from_raw(&twin)).status.success(),
            "OpenSSL accepts high s"
        );
        let mut other = raw;
        other[40] ^= 4;
        assert!(!verify(&ecdsa::der_from_raw(&other)).status.success());
    }
}

/// P-256 private keys as OpenSSL writes them are read, ours are written as
/// OpenSSL writes them, and SEC 1 "EC PRIVATE KEY" documents are refused.
#[test]
fn p256_private_and_public_keys_as_openssl_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = p256_vector_key();
    std::fs::write(d.join("ours.pem"), key.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    let rewritten = openssl_ok(d, &["pkey", "-in", "ours.pem"]);
    assert_eq!(
        std::str::from_utf8(&rewritten).unwrap(),
        key.to_pkcs8_pem().unwrap().as_str(),
        "OpenSSL re-encodes our PKCS#8 byte for byte"
    );
    let public_pem = openssl_ok(d, &["pkey", "-in", "ours.pem", "-pubout"]);
    assert_eq!(
        std::str::from_utf8(&public_pem).unwrap(),
        key.public_key().to_pem()
    );
    assert_eq!(
        PublicKey::from_text(std::str::from_utf8(&public_pem).unwrap()).unwrap(),
        *key.public_key()
    );

    let sec1 = openssl_ok(d, &["ec", "-in", "ours.pem"]);
    let sec1 = String::from_utf8(sec1).unwrap();
    assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"), "{sec1}");
    assert_eq!(
        MeterKey::from_pkcs8_pem(&sec1).unwrap_err().code(),
        "malformed_key"
    );
    std::fs::write(d.join("sec1.pem"), &sec1).unwrap();
    let converted = openssl_ok(d, &["pkey", "-in", "sec1.pem"]);
    let converted = MeterKey::from_pkcs8_pem(std::str::from_utf8(&converted).unwrap()).unwrap();
    assert_eq!(
        converted.key_id(),
        key.key_id(),
        "openssl pkey converts it (spec 7.2)"
    );
}

/// Keys outside the P-256 policy, made by OpenSSL, are refused with their
/// codes; a compressed point converted by OpenSSL is accepted.
#[test]
fn ec_keys_outside_the_policy_made_by_openssl_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let public_der =
        |private: &str| openssl_ok(d, &["pkey", "-in", private, "-pubout", "-outform", "DER"]);
    let private_pem = |private: &str| std::fs::read_to_string(d.join(private)).unwrap();
    for (curve, file) in [
        ("ec_paramgen_curve:P-384", "p384.pem"),
        ("ec_paramgen_curve:secp256k1", "k256.pem"),
        ("ec_paramgen_curve:P-521", "p521.pem"),
    ] {
        genpkey_ec(d, curve, file, &[]);
        assert_eq!(
            PublicKey::from_der(&public_der(file)).unwrap_err().code(),
            "unsupported_curve",
            "{curve}"
        );
        assert_eq!(
            MeterKey::from_pkcs8_pem(&private_pem(file))
                .unwrap_err()
                .code(),
            "unsupported_curve",
            "{curve}"
        );
    }
    genpkey_ec(
        d,
        "ec_paramgen_curve:P-256",
        "explicit.pem",
        &["-pkeyopt", "ec_param_enc:explicit"],
    );
    assert_eq!(
        PublicKey::from_der(&public_der("explicit.pem"))
            .unwrap_err()
            .code(),
        "unsupported_curve"
    );
    assert_eq!(
        MeterKey::from_pkcs8_pem(&private_pem("explicit.pem"))
            .unwrap_err()
            .code(),
        "unsupported_curve"
    );

    genpkey_ec(d, "ec_paramgen_curve:P-256", "meter.pem", &[]);
    let compressed = openssl_ok(
        d,
        &[
            "ec",
            "-in",
            "meter.pem",
            "-pubout",
            "-conv_form",
            "compressed",
            "-outform",
            "DER",
        ],
    );
    assert_eq!(compressed.len(), 59);
    assert_eq!(
        PublicKey::from_der(&compressed).unwrap_err().code(),
        "compressed_point"
    );
    std::fs::write(d.join("compressed.der"), &compressed).unwrap();
    let uncompressed = openssl_ok(
        d,
        &[
            "ec",
            "-pubin",
            "-inform",
            "DER",
            "-in",
            "compressed.der",
            "-pubout",
            "-conv_form",
            "uncompressed",
            "-outform",
            "DER",
        ],
    );
    assert_eq!(
        PublicKey::from_der(&uncompressed).unwrap().to_der(),
        public_der("meter.pem").as_slice()
    );

    openssl_ok(d, &["genpkey", "-algorithm", "ED25519", "-out", "ed.pem"]);
    assert_eq!(
        PublicKey::from_der(&public_der("ed.pem"))
            .unwrap_err()
            .code(),
        "unsupported_key_type"
    );
    assert_eq!(
        MeterKey::from_pkcs8_pem(&private_pem("ed.pem"))
            .unwrap_err()
            .code(),
        "unsupported_key_type"
    );
}
