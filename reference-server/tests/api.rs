//! The HTTP API in-process against a real PostgreSQL database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use rocket::http::{ContentType, Method, Status};
use serde_json::{Value, json};
use smartmeter_core::{PublicKey, SignedReading};

// Registration, one case per test: the forms and conflicts, the key and
// username policies, the body, the tokens and the listener. The key text
// forms and the key policy as the vectors state them are
// `register_takes_the_key_text_forms_of_the_vectors` below.

/// The body of a valid registration of a key that is not registered.
fn fresh_registration() -> String {
    json!({"username": "eve", "public_key": meter_key(2).public_key().to_pem()}).to_string()
}

#[rocket::async_test]
async fn register_takes_pem_and_base64_der() {
    let h = Harness::new().await;
    let s = &h.server;
    let k0 = meter_key(0);
    let (st, v) = register(s, "alice", &k0.public_key().to_pem()).await;
    assert_eq!(st, Status::Created, "{v}");
    assert_eq!(v["key_id"], k0.key_id().to_string());
    assert_eq!(v["username"], "alice");
    assert!(v["id"].is_i64());
    let (st, v) = register(s, "bob", &meter_key(1).public_key().to_base64()).await;
    assert_eq!(st, Status::Created, "{v}");
}

#[rocket::async_test]
async fn a_taken_username_is_a_conflict() {
    let h = Harness::new().await;
    let s = &h.server;
    register_key(s, "alice", meter_key(0)).await;
    let (st, v) = register(s, "alice", &meter_key(2).public_key().to_pem()).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::Conflict, Some("username_taken"))
    );
}

#[rocket::async_test]
async fn a_registered_key_is_a_conflict() {
    let h = Harness::new().await;
    let s = &h.server;
    let k0 = meter_key(0);
    register_key(s, "alice", k0).await;
    let (st, v) = register(s, "carol", &k0.public_key().to_pem()).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::Conflict, Some("key_already_registered"))
    );
}

/// Keys outside the core's key policy (fixtures made with OpenSSL).
#[rocket::async_test]
async fn keys_outside_the_key_policy_are_unprocessable() {
    let h = Harness::new().await;
    let s = &h.server;
    for (file, code) in [
        ("small_1024.pub.pem", "key_too_small"),
        ("exponent3.pub.pem", "unsupported_exponent"),
        ("ed25519.pub.pem", "unsupported_key_type"),
        ("large_4104.pub.pem", "key_too_large"),
    ] {
        let (st, v) = register(s, "dave", &fixture(file)).await;
        assert_eq!(st, Status::UnprocessableEntity, "{file}: {v}");
        assert_eq!(v["error"], code, "{file}");
    }
}

#[rocket::async_test]
async fn key_text_that_is_no_key_is_unprocessable() {
    let h = Harness::new().await;
    let (st, v) = register(&h.server, "dave", "AAAA").await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::UnprocessableEntity, Some("malformed_key"))
    );
}

#[rocket::async_test]
async fn usernames_outside_the_form_are_unprocessable() {
    let h = Harness::new().await;
    let s = &h.server;
    let long = "x".repeat(65);
    for name in ["", "has space", "ümlaut", "semi;colon", long.as_str()] {
        let (st, v) = register(s, name, &meter_key(2).public_key().to_pem()).await;
        assert_eq!(st, Status::UnprocessableEntity, "{name:?}: {v}");
        assert_eq!(v["error"], "invalid_username");
    }
}

#[rocket::async_test]
async fn register_bodies_of_the_wrong_shape_are_malformed_json() {
    let h = Harness::new().await;
    for body in [
        "not json",
        "{\"username\":\"eve\"}",
        "{\"username\":1,\"public_key\":\"x\"}",
        "{\"username\":\"eve\",\"public_key\":\"x\",\"extra\":1}",
        "[]",
        "",
    ] {
        let (st, v) = register_raw(&h.server, body).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (Status::BadRequest, Some("malformed_json")),
            "{body:?}"
        );
    }
}

#[rocket::async_test]
async fn a_register_body_over_its_limit_is_too_large() {
    let h = Harness::new().await;
    let huge = json!({"username": "eve", "public_key": "A".repeat(20_000)}).to_string();
    let (st, v) = register_raw(&h.server, &huge).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::PayloadTooLarge, Some("body_too_large"))
    );
}

/// No token, a wrong one and the read token are refused; so is the
/// operator token in another scheme than `Bearer`.
#[rocket::async_test]
async fn register_needs_the_operator_token() {
    let h = Harness::new().await;
    let s = &h.server;
    let body = fresh_registration();
    for (token, status) in [
        (None, Status::Unauthorized),
        (Some("wrong"), Status::Unauthorized),
        (Some(READ_TOKEN), Status::Forbidden),
    ] {
        let mut req = s
            .operator
            .post("/register")
            .header(ContentType::JSON)
            .body(&body);
        if let Some(t) = token {
            req = req.header(bearer(t));
        }
        let (st, _) = json_of(req.dispatch().await).await;
        assert_eq!(st, status, "{token:?}");
    }
    let resp = s
        .operator
        .post("/register")
        .header(ContentType::JSON)
        .header(rocket::http::Header::new(
            "Authorization",
            format!("Basic {OPERATOR_TOKEN}"),
        ))
        .body(&body)
        .dispatch()
        .await;
    assert_eq!(resp.status(), Status::Unauthorized);
}

#[rocket::async_test]
async fn register_is_not_on_the_public_listener() {
    let h = Harness::new().await;
    let resp = h
        .server
        .public
        .post("/register")
        .header(ContentType::JSON)
        .header(bearer(OPERATOR_TOKEN))
        .body(fresh_registration())
        .dispatch()
        .await;
    let (st, v) = json_of(resp).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::NotFound, Some("not_found"))
    );
}

#[rocket::async_test]
async fn meters_are_listed_page_by_page() {
    let h = Harness::new().await;
    let s = &h.server;
    register_key(s, "alice", meter_key(0)).await;
    register_key(s, "bob", meter_key(1)).await;
    let (st, v) = get(&s.operator, "/meters", Some(OPERATOR_TOKEN)).await;
    assert_eq!(st, Status::Ok);
    assert_eq!(v["meters"].as_array().unwrap().len(), 2);
    let (st, v) = get(&s.operator, "/meters?limit=1", Some(OPERATOR_TOKEN)).await;
    assert_eq!(st, Status::Ok);
    assert_eq!(v["meters"][0]["username"], "alice");
    let next = v["next_after"].as_i64().unwrap();
    let (_, v) = get(
        &s.operator,
        &format!("/meters?limit=1&after={next}"),
        Some(OPERATOR_TOKEN),
    )
    .await;
    assert_eq!(v["meters"][0]["username"], "bob");
}

/// The read token lists meters on both listeners; no token lists nothing.
#[rocket::async_test]
async fn listing_meters_needs_a_token() {
    let h = Harness::new().await;
    let s = &h.server;
    register_key(s, "alice", meter_key(0)).await;
    register_key(s, "bob", meter_key(1)).await;
    let (st, v) = get(&s.public, "/meters", Some(READ_TOKEN)).await;
    assert_eq!(st, Status::Ok);
    assert_eq!(v["meters"].as_array().unwrap().len(), 2);
    let (st, _) = get(&s.operator, "/meters", Some(READ_TOKEN)).await;
    assert_eq!(st, Status::Ok);
    let (st, v) = get(&s.public, "/meters", None).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::Unauthorized, Some("unauthorized"))
    );
}

/// The key text forms of `docs/vectors/key_text.json`, through `/register`:
/// each accepted form registers its key (201, the vector's key id), each
/// refused one gets 422 with the vector's code and registers nothing.
#[rocket::async_test]
async fn register_takes_the_key_text_forms_of_the_vectors() {
    let h = Harness::new().await;
    let s = &h.server;
    let db = connect(&h.db.url).await;
    let doc: Value = serde_json::from_str(&vectors("key_text.json")).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 20, "{}", cases.len());
    for (i, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let (st, v) = register(s, &format!("meter-{i}"), case["input"].as_str().unwrap()).await;
        if let Some(key_id) = case["key_id"].as_str() {
            assert_eq!(st, Status::Created, "{name}: {v}");
            assert_eq!(v["key_id"], key_id, "{name}");
            // Free the key for the next form of it.
            db.execute(
                "DELETE FROM meters WHERE username = $1",
                &[&format!("meter-{i}")],
            )
            .await
            .unwrap();
        } else {
            let code = case["expected_error"].as_str().unwrap();
            assert_eq!(
                (st, v["error"].as_str()),
                (Status::UnprocessableEntity, Some(code)),
                "{name}: {v}"
            );
        }
    }
    let count: i64 = db
        .query_one("SELECT count(*) FROM meters", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0);
}

/// The forms the outside implementer of issue 11 tried: padding with
/// spaces is refused before parsing (over 8192 bytes) whichever end it is
/// on; what `openssl base64` and PEM writers produce is accepted.
#[rocket::async_test]
async fn register_bounds_key_text_and_takes_what_openssl_writes() {
    let h = Harness::new().await;
    let s = &h.server;
    let key = meter_key(0).public_key();
    let b64 = key.to_base64();
    for (what, text) in [
        (
            "base64 + 8,000 spaces",
            format!("{b64}{}", " ".repeat(8_000)),
        ),
        (
            "15,000 leading spaces",
            format!("{}{b64}", " ".repeat(15_000)),
        ),
    ] {
        let (st, v) = register(s, "alice", &text).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (Status::UnprocessableEntity, Some("key_text_too_large")),
            "{what}: {v}"
        );
    }
    let wrapped: String = b64
        .as_bytes()
        .chunks(64)
        .map(|line| format!("{}\n", std::str::from_utf8(line).unwrap()))
        .collect();
    let pem = key.to_pem();
    assert!(pem.ends_with('\n'));
    for (i, (what, text)) in [
        ("base64 wrapped at 64 columns", wrapped),
        ("PEM with CRLF", pem.replace('\n', "\r\n")),
        ("PEM with its trailing newline", pem.clone()),
    ]
    .into_iter()
    .enumerate()
    {
        let (st, v) = register(s, &format!("meter-{i}"), &text).await;
        if i == 0 {
            assert_eq!(st, Status::Created, "{what}: {v}");
            assert_eq!(v["key_id"], key.key_id().to_string(), "{what}");
        } else {
            // The same key, so registered already: the text was parsed to it.
            assert_eq!(
                (st, v["error"].as_str()),
                (Status::Conflict, Some("key_already_registered")),
                "{what}: {v}"
            );
        }
    }
}

// The history rules themselves (duplicates, conflicts, gaps, late
// readings, clock, time order, registers) are checked case by case with
// docs/vectors/policy.json in tests/policy_vectors.rs; the tests below cover
// what the vectors do not: the answer's form, the server's own clock
// setting, meters the server does not know, signatures, what is stored and
// counted.

#[rocket::async_test]
async fn an_accepted_reading_is_answered_with_its_key_sequence_and_gap() {
    let h = Harness::new().await;
    let s = &h.server;
    let k = meter_key(0);
    let key_id = register_key(s, "alice", k).await;
    let (st, v) = report(s, &signed(k, 1, 100, 10)).await;
    assert_eq!(st, Status::Created, "{v}");
    assert_eq!(
        v,
        json!({"key_id": key_id, "sequence": 1, "duplicate": false, "gap": 0, "late": false})
    );
    let (st, v) = report(s, &signed(k, 1, 100, 10)).await;
    assert_eq!(st, Status::Ok, "{v}");
    assert_eq!(
        v,
        json!({"key_id": key_id, "sequence": 1, "duplicate": true, "gap": 0, "late": false})
    );
}

#[rocket::async_test]
async fn the_clock_skew_setting_is_the_policys() {
    let db = TestDb::create();
    let mut c = config(&db);
    c.max_clock_skew_secs = 7200;
    let s = Server::start(c).await;
    let k = meter_key(0);
    register_key(&s, "alice", k).await;
    // One hour ahead is within two hours of skew; three hours is not.
    let (st, v) = report(&s, &signed_at(k, 1, now_ms() + 3_600_000, 1, 1)).await;
    assert_eq!(st, Status::Created, "{v}");
    let (st, v) = report(&s, &signed_at(k, 2, now_ms() + 3 * 3_600_000, 2, 2)).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::UnprocessableEntity, Some("timestamp_in_future")),
        "{v}"
    );
}

#[rocket::async_test]
async fn an_unknown_meters_readings_are_refused_until_it_is_registered() {
    let h = Harness::new().await;
    let s = &h.server;
    // Twice: the second answer comes from the cache of unknown key ids.
    for _ in 0..2 {
        let (st, v) = report(s, &signed(meter_key(1), 1, 1, 1)).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (Status::Forbidden, Some("unknown_meter")),
            "{v}"
        );
    }
    // Registering the key makes its readings welcome at once.
    register_key(s, "bob", meter_key(1)).await;
    let (st, v) = report(s, &signed(meter_key(1), 1, 1, 1)).await;
    assert_eq!(st, Status::Created, "{v}");
}

#[rocket::async_test]
async fn tampered_and_forged_readings_fail_verification() {
    let h = Harness::new().await;
    let s = &h.server;
    let k = meter_key(0);
    register_key(s, "alice", k).await;
    // Tampered values: the signature no longer verifies.
    let mut tampered: Value = serde_json::from_str(&signed(k, 8, 200, 12)).unwrap();
    tampered["wh_imported"] = json!(1);
    let (st, v) = report(s, &tampered.to_string()).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::UnprocessableEntity, Some("invalid_signature")),
        "{v}"
    );
    // A signature by another key, carrying this meter's public key.
    let mut forged: Value = serde_json::from_str(&signed(meter_key(1), 8, 200, 12)).unwrap();
    forged["public_key"] = json!(k.public_key().to_base64());
    let (st, v) = report(s, &forged.to_string()).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::UnprocessableEntity, Some("invalid_signature")),
        "{v}"
    );
    // Nothing was stored.
    let (_, v) = get(
        &s.public,
        &format!("/meters/{}", k.key_id()),
        Some(READ_TOKEN),
    )
    .await;
    assert_eq!(v["readings_count"], 0, "{v}");
}

#[rocket::async_test]
async fn what_is_stored_and_counted_is_what_was_answered() {
    let h = Harness::new().await;
    let s = &h.server;
    let k = meter_key(0);
    let key_id = register_key(s, "alice", k).await;
    // Accepted: 1, 2, 6 (a gap of 3), 4 (late, in that gap); a duplicate;
    // a conflict and a reading below the first (both stale_sequence); two
    // bad signatures.
    for (body, status) in [
        (signed(k, 1, 100, 10), Status::Created),
        (signed(k, 1, 100, 10), Status::Ok),
        (signed(k, 2, 110, 10), Status::Created),
        (signed(k, 2, 111, 10), Status::Conflict),
        (signed(k, 0, 90, 10), Status::Conflict),
        (signed(k, 6, 150, 12), Status::Created),
        (signed(k, 4, 130, 11), Status::Created),
    ] {
        let (st, v) = report(s, &body).await;
        assert_eq!(st, status, "{v}");
    }
    let mut tampered: Value = serde_json::from_str(&signed(k, 8, 200, 12)).unwrap();
    tampered["wh_imported"] = json!(1);
    for _ in 0..2 {
        let (st, _) = report(s, &tampered.to_string()).await;
        assert_eq!(st, Status::UnprocessableEntity);
    }

    // Exactly the accepted readings are stored, verifiable by anyone.
    let (st, v) = get(
        &s.public,
        &format!("/meters/{key_id}/readings"),
        Some(READ_TOKEN),
    )
    .await;
    assert_eq!(st, Status::Ok, "{v}");
    let key = PublicKey::from_base64(v["public_key"].as_str().unwrap()).unwrap();
    let readings = v["readings"].as_array().unwrap();
    let seqs: Vec<u64> = readings
        .iter()
        .map(|r| r["signed"]["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 4, 6]);
    for r in readings {
        let signed = SignedReading::from_json(r["signed"].to_string().as_bytes()).unwrap();
        key.verify(&signed).unwrap();
    }
    let (st, v) = get(&s.public, &format!("/meters/{key_id}"), Some(READ_TOKEN)).await;
    assert_eq!(st, Status::Ok);
    assert_eq!(v["readings_count"], 4);
    // A late reading fills a gap; it does not open one.
    assert_eq!(v["gap_count"], 1);
    assert_eq!(v["latest"]["signed"]["sequence"], 6);

    // Metrics count what happened.
    let resp = s
        .operator
        .get("/metrics")
        .header(bearer(OPERATOR_TOKEN))
        .dispatch()
        .await;
    let text = resp.into_string().await.unwrap();
    for line in [
        "smartmeter_readings_accepted_total 4",
        "smartmeter_readings_late_total 1",
        "smartmeter_readings_duplicate_total 1",
        "smartmeter_sequence_gaps_total 1",
        "smartmeter_sequence_gap_readings_total 3",
        "smartmeter_readings_rejected_total{code=\"stale_sequence\"} 2",
        "smartmeter_readings_rejected_total{code=\"invalid_signature\"} 2",
        "smartmeter_verify_seconds_count",
    ] {
        assert!(text.contains(line), "{line}:\n{text}");
    }
}

#[rocket::async_test]
async fn revoked_meters_are_rejected_and_history_stays() {
    let h = Harness::new().await;
    let s = &h.server;
    let k = meter_key(0);
    let key_id = register_key(s, "alice", k).await;
    let (st, _) = report(s, &signed(k, 1, 1, 0)).await;
    assert_eq!(st, Status::Created);

    let revoke = |token: &'static str, id: String| {
        let op = &s.operator;
        async move {
            json_of(
                op.post(format!("/meters/{id}/revoke"))
                    .header(bearer(token))
                    .dispatch()
                    .await,
            )
            .await
        }
    };
    let (st, _) = revoke(READ_TOKEN, key_id.clone()).await;
    assert_eq!(st, Status::Forbidden);
    let (st, v) = revoke(OPERATOR_TOKEN, key_id.clone()).await;
    assert_eq!(st, Status::Ok, "{v}");
    assert!(v["revoked_at"].is_string());
    let (st, v) = revoke(OPERATOR_TOKEN, key_id.clone()).await;
    assert_eq!(st, Status::Ok, "idempotent: {v}");
    let (st, v) = revoke(OPERATOR_TOKEN, "ab".repeat(32)).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::NotFound, Some("unknown_meter"))
    );
    let (st, v) = revoke(OPERATOR_TOKEN, "nothex".into()).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::BadRequest, Some("malformed_key_id"))
    );

    let (st, v) = report(s, &signed(k, 2, 2, 0)).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::Forbidden, Some("meter_revoked")),
        "{v}"
    );

    let (st, v) = get(
        &s.public,
        &format!("/meters/{key_id}/readings"),
        Some(READ_TOKEN),
    )
    .await;
    assert_eq!(st, Status::Ok);
    assert_eq!(v["readings"].as_array().unwrap().len(), 1);
}

#[rocket::async_test]
async fn batch_reports_one_result_per_reading() {
    let h = Harness::new().await;
    let s = &h.server;
    let k = meter_key(0);
    register_key(s, "alice", k).await;
    let mut tampered: Value = serde_json::from_str(&signed(k, 9, 1, 0)).unwrap();
    tampered["sequence"] = json!(10);
    let readings = [
        signed(k, 1, 10, 0),
        signed(k, 2, 20, 0),
        signed(k, 2, 20, 0),
        "{\"version\":1}".to_string(),
        signed(k, 3, 15, 0),
        tampered.to_string(),
        signed(meter_key(1), 1, 1, 1),
        signed(k, 5, 30, 1),
    ];
    let (st, v) = report_batch(s, &readings).await;
    assert_eq!(st, Status::Ok, "{v}");
    let got: Vec<(String, Option<String>)> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            assert_eq!(r["index"], i);
            (
                r["status"].as_str().unwrap().to_string(),
                r["error"].as_str().map(str::to_string),
            )
        })
        .collect();
    let want = [
        ("accepted", None),
        ("accepted", None),
        ("duplicate", None),
        ("rejected", Some("malformed_json")),
        ("rejected", Some("register_decreased")),
        ("rejected", Some("invalid_signature")),
        ("rejected", Some("unknown_meter")),
        ("accepted", None),
    ];
    let want: Vec<(String, Option<String>)> = want
        .iter()
        .map(|(s, e)| (s.to_string(), e.map(str::to_string)))
        .collect();
    assert_eq!(got, want);
    assert_eq!(v["results"][7]["gap"], 2);
    assert_eq!(
        (
            v["accepted"].as_u64(),
            v["duplicates"].as_u64(),
            v["rejected"].as_u64()
        ),
        (Some(3), Some(1), Some(4))
    );

    // Bounded size.
    let one = signed(k, 6, 40, 1);
    let body = format!("{{\"readings\":[{}]}}", vec![one.as_str(); 257].join(","));
    let (st, v) = report_batch_body(s, body).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::PayloadTooLarge, Some("batch_too_large")),
        "{v}"
    );
    // Envelope errors.
    for body in ["{\"readings\":[],\"x\":1}", "{}", "[]", "{\"readings\":{}}"] {
        let (st, v) = report_batch_body(s, body.to_string()).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (Status::BadRequest, Some("malformed_json")),
            "{body}"
        );
    }
    let big = "x".repeat(2 * 1024 * 1024);
    let (st, v) = report_batch_body(s, big).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::PayloadTooLarge, Some("body_too_large")),
        "{v}"
    );
}

/// A batch long enough to be verified in several shares (at least 8
/// readings each, on every core): each reading's result stays at its own
/// index, whichever share verified it, and refusals in any share do not
/// move the others.
#[rocket::async_test]
async fn a_long_batch_keeps_every_result_in_place() {
    let h = Harness::new().await;
    let s = &h.server;
    let k = meter_key(0);
    register_key(s, "alice", k).await;
    const LEN: u64 = 64;
    // Sequences whose signature is broken, in different shares.
    let tampered = [3, 21, 40, 63];
    let readings: Vec<String> = (1..=LEN)
        .map(|seq| {
            let reading = signed(k, seq, seq * 10, 0);
            if tampered.contains(&seq) {
                let mut v: Value = serde_json::from_str(&reading).unwrap();
                v["wh_exported"] = json!(1);
                v.to_string()
            } else {
                reading
            }
        })
        .collect();
    let (st, v) = report_batch(s, &readings).await;
    assert_eq!(st, Status::Ok, "{v}");
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len() as u64, LEN);
    for (i, r) in results.iter().enumerate() {
        let seq = i as u64 + 1;
        assert_eq!(r["index"], i, "{r}");
        if tampered.contains(&seq) {
            assert_eq!(r["status"], "rejected", "{r}");
            assert_eq!(r["error"], "invalid_signature", "{r}");
        } else {
            assert_eq!(r["status"], "accepted", "{r}");
            assert_eq!(r["sequence"], seq, "{r}");
            // The reading after a refused one reports the gap it left.
            let gap = u64::from(tampered.contains(&(seq - 1)));
            assert_eq!(r["gap"], gap, "{r}");
        }
    }
    assert_eq!(v["accepted"].as_u64(), Some(LEN - tampered.len() as u64));
    assert_eq!(v["rejected"].as_u64(), Some(tampered.len() as u64));
}

#[rocket::async_test]
async fn reads_need_a_token_and_return_verifiable_readings() {
    let h = Harness::new().await;
    let s = &h.server;
    let k = meter_key(0);
    let key_id = register_key(s, "alice", k).await;
    for seq in 1..=5 {
        let (st, v) = report(s, &signed(k, seq, seq * 10, 0)).await;
        assert_eq!(st, Status::Created, "{v}");
    }
    let uri = format!("/meters/{key_id}/readings");
    for client in [&s.public, &s.operator] {
        let (st, v) = get(client, &uri, None).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (Status::Unauthorized, Some("unauthorized"))
        );
        let (st, _) = get(client, &uri, Some("nope")).await;
        assert_eq!(st, Status::Unauthorized);
        let (st, _) = get(client, &format!("/meters/{key_id}"), None).await;
        assert_eq!(st, Status::Unauthorized);
    }

    // Whoever reads can verify without trusting the server.
    let (st, v) = get(&s.public, &uri, Some(READ_TOKEN)).await;
    assert_eq!(st, Status::Ok);
    let key = PublicKey::from_base64(v["public_key"].as_str().unwrap()).unwrap();
    assert_eq!(key.key_id().to_string(), key_id);
    let readings = v["readings"].as_array().unwrap();
    assert_eq!(readings.len(), 5);
    for r in readings {
        let wire = r["signed"].to_string();
        let signed = SignedReading::from_json(wire.as_bytes()).unwrap();
        key.verify(&signed).unwrap();
        assert!(r["received_at"].as_str().unwrap().ends_with('Z'));
    }
    assert!(v["next_after"].is_null());

    // Paging and filters.
    let (_, v) = get(&s.public, &format!("{uri}?limit=2"), Some(OPERATOR_TOKEN)).await;
    assert_eq!(v["readings"].as_array().unwrap().len(), 2);
    assert_eq!(v["next_after"], 2);
    let (_, v) = get(
        &s.public,
        &format!("{uri}?limit=2&after=2"),
        Some(READ_TOKEN),
    )
    .await;
    let seqs: Vec<u64> = v["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["signed"]["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 4]);
    let from = base_ms() + 2_000;
    let to = base_ms() + 4_000;
    let (_, v) = get(
        &s.public,
        &format!("{uri}?from={from}&to={to}"),
        Some(READ_TOKEN),
    )
    .await;
    let seqs: Vec<u64> = v["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["signed"]["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [2, 3]);

    for bad in [
        "?limit=0",
        "?limit=1001",
        "?limit=x",
        "?from=-1",
        "?after=1.5",
    ] {
        let (st, v) = get(&s.public, &format!("{uri}{bad}"), Some(READ_TOKEN)).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (Status::BadRequest, Some("invalid_parameter")),
            "{bad}"
        );
    }
    let (st, v) = get(&s.public, "/meters/zz/readings", Some(READ_TOKEN)).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::BadRequest, Some("malformed_key_id"))
    );
    let (st, v) = get(
        &s.public,
        &format!("/meters/{}", "0".repeat(64)),
        Some(READ_TOKEN),
    )
    .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::NotFound, Some("unknown_meter"))
    );

    let (st, v) = get(&s.public, &format!("/meters/{key_id}"), Some(READ_TOKEN)).await;
    assert_eq!(st, Status::Ok);
    assert_eq!(v["username"], "alice");
    assert_eq!(v["latest"]["signed"]["sequence"], 5);
    let latest = SignedReading::from_json(v["latest"]["signed"].to_string().as_bytes()).unwrap();
    key.verify(&latest).unwrap();
}

#[rocket::async_test]
async fn malformed_readings_get_4xx_json() {
    let h = Harness::new().await;
    let s = &h.server;
    let k = meter_key(0);
    register_key(s, "alice", k).await;
    let good: Value = serde_json::from_str(&signed(k, 1, 1, 0)).unwrap();
    let with = |field: &str, value: Value| {
        let mut v = good.clone();
        v[field] = value;
        v.to_string()
    };
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("signature");
    let cases: Vec<(String, Status, &str)> = vec![
        ("not json".into(), Status::BadRequest, "malformed_json"),
        ("".into(), Status::BadRequest, "malformed_json"),
        ("null".into(), Status::BadRequest, "malformed_json"),
        (
            with("sequence", json!("1")),
            Status::BadRequest,
            "malformed_json",
        ),
        (
            with("sequence", json!(-1)),
            Status::BadRequest,
            "malformed_json",
        ),
        (
            with("wh_imported", json!(1.5)),
            Status::BadRequest,
            "malformed_json",
        ),
        (
            with("extra", json!(1)),
            Status::BadRequest,
            "malformed_json",
        ),
        (missing.to_string(), Status::BadRequest, "malformed_json"),
        (
            with("signature", json!("!!!")),
            Status::BadRequest,
            "malformed_base64",
        ),
        (
            with("version", json!(2)),
            Status::BadRequest,
            "unsupported_version",
        ),
        (
            with("algorithm", json!(9)),
            Status::BadRequest,
            "unsupported_algorithm",
        ),
        (
            with("public_key", json!("AAAA")),
            Status::BadRequest,
            "malformed_key",
        ),
        (
            "x".repeat(5000),
            Status::PayloadTooLarge,
            "reading_too_large",
        ),
    ];
    for (body, status, code) in cases {
        let (st, v) = report(s, &body).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (status, Some(code)),
            "{}",
            &body[..body.len().min(80)]
        );
    }
    let resp = s
        .public
        .post("/reportReading")
        .header(ContentType::Plain)
        .body(good.to_string())
        .dispatch()
        .await;
    let (st, v) = json_of(resp).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::UnsupportedMediaType, Some("unsupported_media_type"))
    );
    // Without a content type the body is read as JSON.
    let resp = s
        .public
        .post("/reportReading")
        .body(good.to_string())
        .dispatch()
        .await;
    assert_eq!(resp.status(), Status::Created);
    // Unknown routes: JSON 404.
    let (st, v) = json_of(s.public.get("/nope").dispatch().await).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::NotFound, Some("not_found"))
    );
}

#[rocket::async_test]
async fn wrong_methods_get_405_with_allow() {
    let h = Harness::new().await;
    let s = &h.server;
    let key = "ab".repeat(32);
    let revoke = format!("/meters/{key}/revoke");
    let meter = format!("/meters/{key}");
    for (client, method, path, allow) in [
        (&s.public, Method::Get, "/reportReading", "POST"),
        (&s.public, Method::Put, "/reportReadings", "POST"),
        (&s.public, Method::Delete, "/meters", "GET, HEAD"),
        (&s.public, Method::Post, meter.as_str(), "GET, HEAD"),
        (&s.operator, Method::Get, "/register", "POST"),
        (&s.operator, Method::Get, revoke.as_str(), "POST"),
        (&s.operator, Method::Post, "/metrics", "GET, HEAD"),
    ] {
        let resp = client
            .req(method, path)
            .header(bearer(OPERATOR_TOKEN))
            .dispatch()
            .await;
        assert_eq!(
            resp.headers().get_one("Allow"),
            Some(allow),
            "{method} {path}"
        );
        let (st, v) = json_of(resp).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (Status::MethodNotAllowed, Some("method_not_allowed")),
            "{method} {path}"
        );
    }
    // A path that exists on the other listener only is still 404.
    let (st, v) = json_of(s.public.get("/register").dispatch().await).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::NotFound, Some("not_found"))
    );
}

#[rocket::async_test]
async fn health_and_metrics() {
    let h = Harness::new().await;
    let s = &h.server;
    for client in [&s.public, &s.operator] {
        let (st, v) = get(client, "/health", None).await;
        assert_eq!(st, Status::Ok);
        assert_eq!(v, json!({"status": "ok", "database": "ok"}));
    }
    let resp = s
        .public
        .get("/metrics")
        .header(bearer(OPERATOR_TOKEN))
        .dispatch()
        .await;
    assert_eq!(
        resp.status(),
        Status::NotFound,
        "metrics are on the operator listener only"
    );
    let resp = s.operator.get("/metrics").dispatch().await;
    assert_eq!(resp.headers().get_one("WWW-Authenticate"), Some("Bearer"));
    let (st, _) = json_of(resp).await;
    assert_eq!(st, Status::Unauthorized);
    let resp = s
        .operator
        .get("/metrics")
        .header(bearer(OPERATOR_TOKEN))
        .dispatch()
        .await;
    assert_eq!(resp.status(), Status::Ok);
    assert_eq!(
        resp.content_type().unwrap().to_string(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = resp.into_string().await.unwrap();
    for name in [
        "smartmeter_readings_accepted_total",
        "smartmeter_readings_rejected_total",
        "smartmeter_readings_duplicate_total",
        "smartmeter_sequence_gaps_total",
        "smartmeter_verify_seconds_bucket",
        "smartmeter_request_duration_seconds_bucket{listener=\"public\",le=\"+Inf\"}",
        "smartmeter_request_duration_seconds_count{listener=\"operator\"}",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    // The latency fairing records into the exported series: two answers on
    // each listener so far, and this request still in flight.
    for line in [
        "smartmeter_request_duration_seconds_count{listener=\"public\"} 2",
        "smartmeter_request_duration_seconds_count{listener=\"operator\"} 2",
        "smartmeter_requests_in_flight{listener=\"public\"} 0",
        "smartmeter_requests_in_flight{listener=\"operator\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing from:\n{text}"
        );
    }
    // Every sample line is `name{labels} value` with a numeric value.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
}

#[rocket::async_test]
async fn concurrent_meters_share_commits_and_all_get_stored() {
    let h = Harness::new().await;
    let s = &h.server;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(register_key(s, &format!("m{i}"), meter_key(i)).await);
    }
    let bodies: Vec<Vec<String>> = (0..3)
        .map(|i| {
            (1..=20)
                .map(|seq| signed(meter_key(i), seq, seq, 0))
                .collect()
        })
        .collect();
    // Meters report concurrently; each meter's readings go in order.
    let runs = bodies.iter().map(|readings| async move {
        let mut statuses = Vec::new();
        for body in readings {
            statuses.push(report(s, body).await.0);
        }
        statuses
    });
    let results = rocket::futures::future::join_all(runs).await;
    for statuses in &results {
        assert!(
            statuses.iter().all(|st| *st == Status::Created),
            "{statuses:?}"
        );
    }
    for id in &ids {
        let (_, v) = get(&s.public, &format!("/meters/{id}"), Some(READ_TOKEN)).await;
        assert_eq!(v["readings_count"], 20, "{v}");
        assert_eq!(v["gap_count"], 0, "{v}");
    }
}

#[rocket::async_test]
async fn serves_the_dashboard_when_configured() {
    let db = TestDb::create();
    let dir = std::env::temp_dir().join(format!("smartmeter-dashboard-{}", db.name));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>d</title>").unwrap();
    std::fs::write(dir.join("module.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let mut c = config(&db);
    c.dashboard_dir = Some(dir.clone());
    let server = Server::start(c).await;

    let res = server.public.get("/dashboard").dispatch().await;
    assert_eq!(res.status(), Status::PermanentRedirect);
    assert_eq!(res.headers().get_one("Location"), Some("/dashboard/"));

    let res = server.public.get("/dashboard/").dispatch().await;
    assert_eq!(res.status(), Status::Ok);
    let csp = res
        .headers()
        .get_one("Content-Security-Policy")
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert_eq!(res.content_type(), Some(ContentType::HTML));

    let res = server.public.get("/dashboard/module.wasm").dispatch().await;
    assert_eq!(res.status(), Status::Ok);
    assert_eq!(res.content_type(), Some(ContentType::WASM));

    // Never on the operator listener, and not at all without the setting.
    let res = server.operator.get("/dashboard/").dispatch().await;
    assert_eq!(res.status(), Status::NotFound);
    let plain = Harness::new().await;
    let res = plain.public().get("/dashboard/").dispatch().await;
    assert_eq!(res.status(), Status::NotFound);
    std::fs::remove_dir_all(dir).unwrap();
}

#[rocket::async_test]
async fn next_after_is_null_on_an_exactly_full_last_page() {
    let h = Harness::new().await;
    let s = &h.server;
    let k = meter_key(0);
    let key_id = register_key(s, "alice", k).await;
    register_key(s, "bob", meter_key(1)).await;
    for seq in 1..=4 {
        let (st, v) = report(s, &signed(k, seq, seq, 0)).await;
        assert_eq!(st, Status::Created, "{v}");
    }
    let uri = format!("/meters/{key_id}/readings");
    // 4 readings, limit 4: one full page and nothing after it.
    let (st, v) = get(&s.public, &format!("{uri}?limit=4"), Some(READ_TOKEN)).await;
    assert_eq!(st, Status::Ok, "{v}");
    assert_eq!(v["readings"].as_array().unwrap().len(), 4);
    assert!(v["next_after"].is_null(), "{v}");
    // limit 2: two full pages, the second the last.
    let (_, v) = get(&s.public, &format!("{uri}?limit=2"), Some(READ_TOKEN)).await;
    assert_eq!(v["next_after"], 2, "{v}");
    let (_, v) = get(
        &s.public,
        &format!("{uri}?limit=2&after=2"),
        Some(READ_TOKEN),
    )
    .await;
    assert_eq!(v["readings"].as_array().unwrap().len(), 2);
    assert!(v["next_after"].is_null(), "{v}");
    // The same for meters: 2 meters, limit 2.
    let (_, v) = get(&s.public, "/meters?limit=2", Some(READ_TOKEN)).await;
    assert_eq!(v["meters"].as_array().unwrap().len(), 2);
    assert!(v["next_after"].is_null(), "{v}");
    let (_, v) = get(&s.public, "/meters?limit=1", Some(READ_TOKEN)).await;
    let next = v["next_after"].as_i64().unwrap();
    let (_, v) = get(
        &s.public,
        &format!("/meters?limit=1&after={next}"),
        Some(READ_TOKEN),
    )
    .await;
    assert_eq!(v["meters"][0]["username"], "bob");
    assert!(v["next_after"].is_null(), "{v}");
}

#[rocket::async_test]
async fn query_parameters_are_strict() {
    let h = Harness::new().await;
    let s = &h.server;
    let key_id = register_key(s, "alice", meter_key(0)).await;
    let uri = format!("/meters/{key_id}/readings");
    for bad in [
        "?limit=null&limit=null",
        "?limit=5&limit=5",
        "?to=-268348253",
        "?after=18446744073709551616",
        "?from=1&from=2",
    ] {
        let (st, v) = get(&s.public, &format!("{uri}{bad}"), Some(READ_TOKEN)).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (Status::BadRequest, Some("invalid_parameter")),
            "{bad}"
        );
    }
    for bad in [
        "?after=-1",
        "?after=9223372036854775808",
        "?limit=2&limit=2",
    ] {
        let (st, v) = get(&s.public, &format!("/meters{bad}"), Some(READ_TOKEN)).await;
        assert_eq!(
            (st, v["error"].as_str()),
            (Status::BadRequest, Some("invalid_parameter")),
            "{bad}"
        );
    }
    // The extremes of the documented ranges are valid.
    let max = u64::MAX;
    let (st, v) = get(
        &s.public,
        &format!("{uri}?from=0&to={max}&after={max}&limit=1000"),
        Some(READ_TOKEN),
    )
    .await;
    assert_eq!(st, Status::Ok, "{v}");
    let (st, v) = get(
        &s.public,
        "/meters?after=9223372036854775807&limit=1",
        Some(READ_TOKEN),
    )
    .await;
    assert_eq!(st, Status::Ok, "{v}");
}
