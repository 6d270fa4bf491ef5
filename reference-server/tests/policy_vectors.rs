//! `docs/vectors/policy.json` through HTTP: each case's key is registered,
//! each step is sent to `POST /reportReading` in order, and the answer is
//! the step's expected outcome: 201 with its `gap` and `late`, 200
//! `duplicate`, or the status the server gives the expected error code.
//!
//! The vectors' accepted timestamps lie in November 2025 and their refused
//! future ones after 2200, so the server's real clock (with the default
//! skew, the vectors' `max_clock_skew_ms`) gives the same outcomes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use rocket::futures::future::join_all;
use rocket::http::Status;
use serde_json::Value;
use smartmeter_core::ErrorCode;
use smartmeter_server::error::policy_status;

#[rocket::async_test]
async fn every_case_of_policy_json_gets_its_outcomes_through_http() {
    let doc: Value = serde_json::from_str(&vectors("policy.json")).unwrap();
    assert_eq!(
        doc["max_clock_skew_ms"].as_u64(),
        Some(
            smartmeter_server::Config::new("x", "t")
                .unwrap()
                .policy()
                .max_clock_skew_ms
        ),
        "the vectors assume the server's default skew"
    );
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 18, "{}", cases.len());
    let h = Harness::new().await;
    let s = &h.server;
    for (i, case) in cases.iter().enumerate() {
        let (st, v) = register(
            s,
            &format!("case-{i}"),
            case["public_key_pem"].as_str().unwrap(),
        )
        .await;
        assert_eq!(st, Status::Created, "{}: {v}", case["name"]);
        assert_eq!(v["key_id"], case["key_id"]);
    }
    // The cases are independent meters: run them side by side, each one's
    // steps in order.
    let runs = cases.iter().map(|case| async move {
        let name = case["name"].as_str().unwrap();
        let mut accepted = 0u64;
        for (n, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let (st, v) = report(s, step["json"].as_str().unwrap()).await;
            let e = &step["expected"];
            let at = format!("{name} step {n} ({}): {v}", step["note"]);
            match e["outcome"].as_str().unwrap() {
                "accept" => {
                    assert_eq!(st, Status::Created, "{at}");
                    assert_eq!(v["duplicate"], false, "{at}");
                    assert_eq!(v["gap"], e["gap"], "{at}");
                    assert_eq!(v["late"], e["late"], "{at}");
                    accepted += 1;
                }
                "duplicate" => {
                    assert_eq!(st, Status::Ok, "{at}");
                    assert_eq!(v["duplicate"], true, "{at}");
                }
                "reject" => {
                    let code: ErrorCode = e["error"].as_str().unwrap().parse().unwrap();
                    assert_eq!(
                        (st.code, v["error"].as_str()),
                        (policy_status(code).code, Some(code.as_str())),
                        "{at}"
                    );
                }
                other => panic!("{at}: unknown outcome {other}"),
            }
        }
        (case, accepted)
    });
    for (case, accepted) in join_all(runs).await {
        // What was accepted is what is stored, and each verifies.
        let (st, v) = get(
            &s.public,
            &format!("/meters/{}", case["key_id"].as_str().unwrap()),
            Some(READ_TOKEN),
        )
        .await;
        assert_eq!(st, Status::Ok, "{v}");
        assert_eq!(v["readings_count"], accepted, "{}", case["name"]);
        let (_, page) = get(
            &s.public,
            &format!(
                "/meters/{}/readings?limit=1000",
                case["key_id"].as_str().unwrap()
            ),
            Some(READ_TOKEN),
        )
        .await;
        let stored: Vec<u64> = page["readings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["signed"]["sequence"].as_u64().unwrap())
            .collect();
        let mut want: Vec<u64> = case["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["expected"]["outcome"] == "accept")
            .map(|s| {
                let wire: Value = serde_json::from_str(s["json"].as_str().unwrap()).unwrap();
                wire["sequence"].as_u64().unwrap()
            })
            .collect();
        want.sort_unstable();
        assert_eq!(stored, want, "{}", case["name"]);
        assert_eq!(stored.len() as u64, accepted);
    }
}
