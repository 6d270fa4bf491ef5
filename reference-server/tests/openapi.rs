//! `docs/openapi.yaml` describes exactly the routes each listener mounts,
//! and `docs/api.md` documents every error code.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;

use smartmeter_server::{Config, Shared, build_operator, build_public};

fn docs(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../docs/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Rocket's `/meters/<key_id>` as OpenAPI's `/meters/{key_id}`.
fn openapi_path(rocket_path: &str) -> String {
    rocket_path.replace('<', "{").replace('>', "}")
}

#[test]
fn openapi_matches_mounted_routes() {
    // Building needs no database: nothing connects before ignition.
    let shared = Shared::new(Config::new("postgres://unused/x", "token")).unwrap();
    let mut mounted = BTreeSet::new();
    for (listener, rocket) in [
        ("public", build_public(&shared)),
        ("operator", build_operator(&shared)),
    ] {
        for route in rocket.routes() {
            mounted.insert((
                listener.to_string(),
                route.method.as_str().to_lowercase(),
                openapi_path(route.uri.path()),
            ));
        }
    }

    let doc: serde_json::Value = serde_yaml_ng::from_str(&docs("openapi.yaml")).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let listeners = op["x-listeners"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} has no x-listeners"));
            for l in listeners {
                documented.insert((
                    l.as_str().unwrap().to_string(),
                    method.clone(),
                    path.clone(),
                ));
            }
            for (status, _) in op["responses"].as_object().unwrap() {
                assert!(status.parse::<u16>().is_ok(), "{method} {path}: {status}");
            }
        }
    }
    let missing: Vec<_> = mounted.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&mounted).collect();
    assert!(
        missing.is_empty(),
        "mounted but not documented: {missing:?}"
    );
    assert!(extra.is_empty(), "documented but not mounted: {extra:?}");
}

#[test]
fn api_md_documents_every_error_code() {
    let api = docs("api.md");
    for code in smartmeter_server::error::SERVER_ERROR_CODES {
        assert!(
            api.contains(&format!("`{code}`")),
            "docs/api.md lacks `{code}`"
        );
    }
    // The core's codes that the server can send.
    for code in [
        "malformed_json",
        "malformed_base64",
        "reading_too_large",
        "unsupported_version",
        "unsupported_algorithm",
        "malformed_key",
        "unsupported_key_type",
        "key_too_small",
        "key_too_large",
        "unsupported_exponent",
        "invalid_signature",
        "key_mismatch",
        "malformed_key_id",
    ] {
        // Each is a code of the core's catalogue (malformed_key_id included:
        // it is the core's, not the server's).
        assert!(
            code.parse::<smartmeter_core::ErrorCode>().is_ok(),
            "{code} is not a core code"
        );
        assert!(!smartmeter_server::error::SERVER_ERROR_CODES.contains(&code));
        assert!(
            api.contains(&format!("`{code}`")),
            "docs/api.md lacks `{code}`"
        );
    }
}
