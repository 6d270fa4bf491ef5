//! Test harness: both listeners as in-process Rocket clients on a fresh
//! database, and requests to them. Databases, fixtures and the server as
//! a process come from `smartmeter-test-support`, shared with the
//! simulator's tests.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    // Each test file uses a part of the harness.
    dead_code,
    unused_imports
)]

use std::sync::Arc;

use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use serde_json::Value;
use smartmeter_core::{MeterKey, PublicKey};
use smartmeter_server::{Config, Shared, build_operator, build_public};
pub use smartmeter_test_support::db::{
    TestDb, admin_sql, admin_url, connect, host_port, through, with_param,
};
pub use smartmeter_test_support::fixtures::{
    base_ms, fixture, fixture_path, meter_key, now_ms, signed, signed_at, vectors,
};
pub use smartmeter_test_support::process::{ServerProcess, free_addr, http, wait_healthy};
pub use smartmeter_test_support::{OPERATOR_TOKEN, READ_TOKEN};

/// The server binary of this crate, built by cargo for its tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_smartmeter-server");

/// Both listeners of one server process, on a fresh database.
pub struct Server {
    pub public: Client,
    pub operator: Client,
    pub shared: Arc<Shared>,
}

pub struct Harness {
    pub server: Server,
    pub db: TestDb,
}

pub fn config(db: &TestDb) -> Config {
    let mut c = Config::new(db.url.clone(), OPERATOR_TOKEN).unwrap();
    c.read_token = Some(READ_TOKEN.into());
    c.db_pool_size = 4;
    c
}

impl Server {
    pub async fn start(config: Config) -> Self {
        let shared = Shared::new(config).unwrap();
        let public = Client::tracked(build_public(&shared)).await.unwrap();
        let operator = Client::tracked(build_operator(&shared)).await.unwrap();
        Self {
            public,
            operator,
            shared,
        }
    }
}

impl Harness {
    pub async fn new() -> Self {
        let db = TestDb::create();
        let server = Server::start(config(&db)).await;
        Self { server, db }
    }

    pub fn public(&self) -> &Client {
        &self.server.public
    }

    pub fn operator(&self) -> &Client {
        &self.server.operator
    }
}

pub fn bearer(token: &str) -> Header<'static> {
    Header::new("Authorization", format!("Bearer {token}"))
}

pub async fn json_of(resp: LocalResponse<'_>) -> (Status, Value) {
    let status = resp.status();
    let ct = resp.content_type();
    let body = resp.into_string().await.unwrap_or_default();
    let value: Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {body:?}"));
    if !status.class().is_success() {
        assert_eq!(ct, Some(ContentType::JSON), "error content type");
        assert!(value["error"].is_string(), "error body {value}");
        assert!(value["message"].is_string(), "error body {value}");
    }
    (status, value)
}

pub async fn register(server: &Server, username: &str, public_key: &str) -> (Status, Value) {
    let body = serde_json::json!({"username": username, "public_key": public_key}).to_string();
    register_raw(server, &body).await
}

/// `POST /register` on the operator listener with a raw body.
pub async fn register_raw(server: &Server, body: &str) -> (Status, Value) {
    let resp = server
        .operator
        .post("/register")
        .header(ContentType::JSON)
        .header(bearer(OPERATOR_TOKEN))
        .body(body)
        .dispatch()
        .await;
    json_of(resp).await
}

pub async fn register_key(server: &Server, username: &str, key: &MeterKey) -> String {
    let (status, v) = register(server, username, &key.public_key().to_pem()).await;
    assert_eq!(status, Status::Created, "{v}");
    v["key_id"].as_str().unwrap().to_string()
}

/// `POST path` on the public listener with a JSON body; the whole
/// response, for a test that reads its headers.
pub async fn post_json<'c>(
    server: &'c Server,
    path: &'static str,
    body: &str,
) -> LocalResponse<'c> {
    server
        .public
        .post(path)
        .header(ContentType::JSON)
        .body(body)
        .dispatch()
        .await
}

pub async fn report(server: &Server, body: &str) -> (Status, Value) {
    json_of(post_json(server, "/reportReading", body).await).await
}

/// `POST /reportReadings` with these readings (wire JSON) as the batch.
pub async fn report_batch(server: &Server, readings: &[String]) -> (Status, Value) {
    report_batch_body(server, format!("{{\"readings\":[{}]}}", readings.join(","))).await
}

/// `POST /reportReadings` with this body, well-formed or not.
pub async fn report_batch_body(server: &Server, body: String) -> (Status, Value) {
    json_of(post_json(server, "/reportReadings", &body).await).await
}

pub async fn get(client: &Client, uri: &str, token: Option<&str>) -> (Status, Value) {
    let mut req = client.get(uri.to_string());
    if let Some(t) = token {
        req = req.header(bearer(t));
    }
    json_of(req.dispatch().await).await
}

pub fn public_key_text(key: &PublicKey) -> String {
    key.to_base64()
}
