//! `docs/openapi.yaml` describes exactly the routes each listener mounts,
//! and `docs/api.md` documents every error code.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;

use smartmeter_core::{ErrorCode, Family};
use smartmeter_server::error::{ServerCode, policy_status};
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
    let shared = Shared::new(Config::new("postgres://unused/x", "token").unwrap()).unwrap();
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
            // The listeners of an operation are its own `servers`.
            let servers = op["servers"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} has no servers"));
            for server in servers {
                let listener = match server["description"].as_str() {
                    Some("public listener") => "public",
                    Some("operator listener") => "operator",
                    other => panic!("{method} {path}: unknown server {other:?}"),
                };
                documented.insert((listener.to_string(), method.clone(), path.clone()));
            }
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.contains_key("405"),
                "{method} {path} does not document 405"
            );
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

/// The rows of the table under `## Errors` in `docs/api.md`: the status
/// and the backticked codes of each row.
fn error_table(api: &str) -> Vec<(u16, Vec<String>)> {
    let section = api.split("\n## Errors").nth(1).expect("an Errors section");
    let section = section.split("\n## ").next().unwrap();
    let mut rows = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Ok(status) = cells[1].parse::<u16>() else {
            continue; // the header
        };
        let codes = cells[2]
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        rows.push((status, codes));
    }
    rows
}

#[test]
fn api_md_error_table_matches_the_declarations() {
    let rows = error_table(&docs("api.md"));
    assert!(!rows.is_empty());
    // Every code the server declares is in a row of its status.
    for code in ServerCode::ALL {
        assert!(
            rows.iter().any(|(status, codes)| *status == code.status()
                && codes.iter().any(|c| c == code.as_str())),
            "docs/api.md has no row {} `{}`",
            code.status(),
            code.as_str()
        );
    }
    // Every code in the table is the server's or the core's; none is stale.
    for (status, codes) in &rows {
        assert!(!codes.is_empty(), "a row of status {status} names no code");
        for code in codes {
            let server = ServerCode::ALL
                .iter()
                .any(|c| c.as_str() == code && c.status() == *status);
            let core = ErrorCode::ALL.iter().any(|c| c.as_str() == code);
            assert!(
                server || core,
                "docs/api.md: {status} `{code}` is neither declared by the server nor a core code"
            );
            // The server declares no code of the core's (malformed_key_id
            // and the policy codes included: they are the core's).
            assert!(
                !(server && core),
                "`{code}` is declared by both the server and the core"
            );
        }
    }
    // Every core code of the areas the server meets has a row: the wire
    // form, keys (in readings and at registration), key ids in paths,
    // verification, and the history rules at the status the server gives
    // them.
    for code in ErrorCode::ALL {
        let has = |status: Option<u16>| {
            rows.iter().any(|(s, codes)| {
                status.is_none_or(|want| want == *s) && codes.iter().any(|c| c == code.as_str())
            })
        };
        match code.family() {
            Family::Policy => assert!(
                has(Some(policy_status(*code).code)),
                "docs/api.md has no row {} `{code}`",
                policy_status(*code).code
            ),
            Family::Wire | Family::Key | Family::KeyId | Family::Verify => {
                assert!(has(None), "docs/api.md has no row for `{code}`");
            }
            _ => {}
        }
    }
}

/// `docs/api.md`'s configuration table says what the flags declare: every
/// flag has its row, with its environment variable and default.
#[test]
fn api_md_configuration_matches_the_flags() {
    use clap::CommandFactory;
    let api = docs("api.md");
    let section = api.split("\n## Configuration").nth(1).unwrap();
    let section = section.split("\n#").next().unwrap();
    let rows: Vec<Vec<String>> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            l.split('|')
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect()
        })
        .collect();
    let command = Config::command();
    let mut flags = 0;
    for arg in command.get_arguments() {
        let Some(env) = arg.get_env() else { continue };
        let env = env.to_str().unwrap();
        let flag = format!("--{}", arg.get_long().unwrap());
        let row = rows
            .iter()
            .find(|r| r[1] == env)
            .unwrap_or_else(|| panic!("docs/api.md has no row for {env}"));
        assert_eq!(row[2], flag, "{env}");
        let default: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        match default.as_slice() {
            [d] => assert_eq!(&row[3], d, "default of {env}"),
            [] => assert!(row[3].starts_with("none"), "{env}: {}", row[3]),
            more => panic!("{env}: several defaults {more:?}"),
        }
        flags += 1;
    }
    assert!(flags >= 14, "{flags}");
    let rust_log = rows.iter().find(|r| r[1] == "RUST_LOG").unwrap();
    assert_eq!(rust_log[3], smartmeter_server::logging::DEFAULT_FILTER);
    // And no row for a variable that is not a flag.
    for r in &rows {
        assert!(
            r[1] == "RUST_LOG"
                || command
                    .get_arguments()
                    .any(|a| a.get_env().is_some_and(|e| e == r[1].as_str())),
            "docs/api.md documents {} which is no setting",
            r[1]
        );
    }
}
