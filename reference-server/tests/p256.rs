//! Algorithm 2 (ECDSA P-256) through the HTTP API, in-process against a real
//! PostgreSQL database: a P-256 meter registers next to an RSA meter, its
//! 64-byte signatures are stored and read back byte for byte, an exact
//! re-send is a duplicate, and its high-S twin (the same reading, the other
//! valid ECDSA signature) and a DER signature are refused with their codes,
//! storing nothing. Everything about keys and signatures is the core's; this
//! checks that the server passes it through.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use rocket::http::Status;
use serde_json::Value;
use smartmeter_core::{KeySpec, MeterKey, PublicKey, SignedReading, ecdsa};

/// `wire` with its signature replaced.
fn with_signature(wire: &str, signature: &[u8]) -> String {
    let signed = SignedReading::from_json(wire.as_bytes()).unwrap();
    SignedReading::from_parts(
        signed.algorithm(),
        signed.carried_key().unwrap(),
        *signed.reading(),
        signature.to_vec(),
    )
    .to_json()
}

fn signature_of(wire: &str) -> [u8; 64] {
    let signed = SignedReading::from_json(wire.as_bytes()).unwrap();
    signed.signature().try_into().unwrap()
}

async fn readings_of(s: &Server, key_id: &str) -> Value {
    let (st, v) = get(
        &s.public,
        &format!("/meters/{key_id}/readings"),
        Some(READ_TOKEN),
    )
    .await;
    assert_eq!(st, Status::Ok, "{v}");
    v
}

#[rocket::async_test]
async fn a_p256_meter_reports_next_to_an_rsa_meter_and_reads_back_its_signatures() {
    let h = Harness::new().await;
    let s = &h.server;
    let p256 = MeterKey::generate_p256().unwrap();
    let rsa = meter_key(0);
    // Registration through the core's key text: PEM for one, base64 DER for
    // the other.
    let p256_id = register_key(s, "ecc-meter", &p256).await;
    let (st, v) = register(s, "rsa-meter", &rsa.public_key().to_base64()).await;
    assert_eq!(st, Status::Created, "{v}");
    assert_eq!(p256_id, p256.key_id().to_string());

    let mut stored = Vec::new();
    for seq in 1..=5 {
        let wire = signed(&p256, seq, seq * 10, seq);
        let (st, v) = report(s, &wire).await;
        assert_eq!(st, Status::Created, "{v}");
        assert_eq!(
            (v["duplicate"].as_bool(), v["gap"].as_u64()),
            (Some(false), Some(0))
        );
        stored.push(wire);
        let (st, v) = report(s, &signed(rsa, seq, seq * 10, seq)).await;
        assert_eq!(st, Status::Created, "{v}");
    }

    // An exact re-send is a duplicate (RFC 6979: the same bytes).
    let again = signed(&p256, 5, 50, 5);
    assert_eq!(again, stored[4]);
    let (st, v) = report(s, &again).await;
    assert_eq!(
        (st, v["duplicate"].as_bool()),
        (Status::Ok, Some(true)),
        "{v}"
    );

    // The high-S re-send of a stored reading: refused, not a second reading.
    let low = signature_of(&stored[2]);
    let high = with_signature(&stored[2], &ecdsa::negate_s(&low));
    let (st, v) = report(s, &high).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::UnprocessableEntity, Some("high_s")),
        "{v}"
    );
    // DER, as OpenSSL would send it.
    let der = with_signature(&stored[2], &ecdsa::der_from_raw(&low));
    let (st, v) = report(s, &der).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::UnprocessableEntity, Some("der_signature")),
        "{v}"
    );
    // A new sequence number with a high S or DER is refused just the same.
    let next = signed(&p256, 6, 60, 6);
    for (signature, code) in [
        (ecdsa::negate_s(&signature_of(&next)).to_vec(), "high_s"),
        (ecdsa::der_from_raw(&signature_of(&next)), "der_signature"),
    ] {
        let (st, v) = report(s, &with_signature(&next, &signature)).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (Status::UnprocessableEntity, Some(code)),
            "{v}"
        );
    }
    // The P-256 reading labelled algorithm 1.
    let relabelled = stored[0].replace("\"algorithm\":2", "\"algorithm\":1");
    let (st, v) = report(s, &relabelled).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::UnprocessableEntity, Some("algorithm_mismatch")),
        "{v}"
    );

    // Read back: five readings, each the stored 64 bytes, verifiable by
    // anyone with the registered key.
    let v = readings_of(s, &p256_id).await;
    let key = PublicKey::from_base64(v["public_key"].as_str().unwrap()).unwrap();
    assert_eq!((key.spec(), key.to_der().len()), (KeySpec::P256, 91));
    let readings = v["readings"].as_array().unwrap();
    assert_eq!(readings.len(), 5);
    for (r, wire) in readings.iter().zip(&stored) {
        assert_eq!(r["signed"]["algorithm"], 2);
        let back = SignedReading::from_json(r["signed"].to_string().as_bytes()).unwrap();
        assert_eq!(back.signature().len(), 64);
        assert_eq!(back, SignedReading::from_json(wire.as_bytes()).unwrap());
        assert_eq!(back.to_json(), *wire, "returned byte for byte");
        key.verify(&back).unwrap();
    }
    let (st, v) = get(&s.public, &format!("/meters/{p256_id}"), Some(READ_TOKEN)).await;
    assert_eq!(st, Status::Ok);
    assert_eq!(v["readings_count"], 5, "nothing refused was stored: {v}");
    assert_eq!(
        signature_of(&v["latest"]["signed"].to_string()),
        signature_of(&stored[4])
    );

    // The next genuine reading is still accepted: the refusals changed nothing.
    let (st, v) = report(s, &next).await;
    assert_eq!(st, Status::Created, "{v}");

    // The RSA meter's readings are untouched by all this.
    let v = readings_of(s, &rsa.key_id().to_string()).await;
    assert_eq!(v["readings"].as_array().unwrap().len(), 5);
    assert_eq!(v["readings"][0]["signed"]["algorithm"], 1);
}

#[rocket::async_test]
async fn p256_readings_in_a_batch_get_one_result_each() {
    let h = Harness::new().await;
    let s = &h.server;
    let p256 = MeterKey::generate_p256().unwrap();
    register_key(s, "ecc-meter", &p256).await;
    let first = signed(&p256, 1, 10, 0);
    let readings = [
        first.clone(),
        with_signature(&first, &ecdsa::negate_s(&signature_of(&first))),
        first.clone(),
        with_signature(
            &signed(&p256, 2, 20, 0),
            &ecdsa::der_from_raw(&signature_of(&signed(&p256, 2, 20, 0))),
        ),
        signed(&p256, 3, 30, 0),
    ];
    let (st, v) = report_batch(s, &readings).await;
    assert_eq!(st, Status::Ok, "{v}");
    let got: Vec<(&str, Option<&str>)> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["status"].as_str().unwrap(), r["error"].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("accepted", None),
            ("rejected", Some("high_s")),
            ("duplicate", None),
            ("rejected", Some("der_signature")),
            ("accepted", None),
        ]
    );
}

#[rocket::async_test]
async fn ec_keys_outside_the_policy_are_refused_at_registration() {
    let h = Harness::new().await;
    let s = &h.server;
    let path = format!(
        "{}/../docs/vectors/invalid.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut seen = Vec::new();
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        if case["kind"] != "public_key"
            || !(name.contains("p256") || name.contains("p384") || name.contains("secp256k1"))
        {
            continue;
        }
        let (st, v) = register(s, "meter", case["input"].as_str().unwrap()).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (Status::UnprocessableEntity, case["expected_error"].as_str()),
            "{name}: {v}"
        );
        seen.push(v["error"].as_str().unwrap().to_string());
    }
    for code in ["unsupported_curve", "compressed_point", "malformed_key"] {
        assert!(
            seen.iter().any(|c| c == code),
            "no vector refused with {code}"
        );
    }
    // The P-256 key among the fixtures, once refused as an unsupported key
    // type, registers now.
    let (st, v) = register(s, "fixture-p256", &fixture("ec_p256.pub.pem")).await;
    assert_eq!(st, Status::Created, "{v}");
    let fixture_key = PublicKey::from_base64(v["public_key"].as_str().unwrap()).unwrap();
    assert_eq!(fixture_key.spec(), KeySpec::P256);
    // And a carried key outside the policy on a reading: its own code.
    let p256 = MeterKey::generate_p256().unwrap();
    let wire = signed(&p256, 1, 1, 1);
    let compressed = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "key-p256-compressed")
        .unwrap()["input"]
        .as_str()
        .unwrap()
        .to_string();
    let carried = wire.replace(&p256.public_key().to_base64(), &compressed);
    let (st, v) = report(s, &carried).await;
    assert_eq!(v["error"].as_str(), Some("compressed_point"), "{st}: {v}");
    assert!(st.class().is_client_error());
}
