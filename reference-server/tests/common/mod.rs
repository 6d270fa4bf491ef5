//! Test harness: a fresh PostgreSQL database per test, both listeners as
//! in-process Rocket clients, fixed meter keys, signing helpers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)]

use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket_db_pools::deadpool_postgres::tokio_postgres::{self, NoTls};
use serde_json::Value;
use smartmeter_core::{MeterKey, PublicKey, Reading};
use smartmeter_server::{Config, Shared, build_operator, build_public};

pub const OPERATOR_TOKEN: &str = "test-operator-token";
pub const READ_TOKEN: &str = "test-read-token";

/// The admin URL: env `SMARTMETER_TEST_DATABASE_URL` or the local default.
pub fn admin_url() -> String {
    std::env::var("SMARTMETER_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Replaces the database name (the path) of a postgres URL.
pub fn url_with_db(admin: &str, db: &str) -> String {
    let (base, _) = match admin.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| i + scheme_end);
    let query = admin
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{}/{db}{query}", &base[..path_start])
}

/// Runs SQL on the admin database from a separate thread and runtime, so it
/// works from sync code (Drop) and from inside async tests alike.
fn admin_sql(sql: String) -> Result<(), String> {
    std::thread::spawn(move || {
        let rt = rocket::tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let (client, conn) = tokio_postgres::connect(&admin_url(), NoTls)
                .await
                .map_err(|e| format!("cannot connect to {}: {e}", admin_url()))?;
            let task = rocket::tokio::spawn(conn);
            let r = client.batch_execute(&sql).await.map_err(|e| e.to_string());
            drop(client);
            let _ = task.await;
            r
        })
    })
    .join()
    .map_err(|_| "admin thread panicked".to_string())?
}

/// Runs SQL on the admin database; panics on failure.
pub fn admin_sql_pub(sql: &str) {
    admin_sql(sql.to_string()).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A database of its own, dropped (with its connections) when this is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub fn create() -> Self {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).unwrap();
        let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("smartmeter_test_{suffix}");
        admin_sql(format!("CREATE DATABASE {name}")).expect("create test database");
        let url = url_with_db(&admin_url(), &name);
        Self { name, url }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Err(e) = admin_sql(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )) {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// Fixed 2048-bit meter keys (generated once with openssl; see fixtures/).
pub fn meter_key(i: usize) -> &'static MeterKey {
    static KEYS: OnceLock<Vec<MeterKey>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        ["meter1.pem", "meter2.pem", "meter3.pem"]
            .iter()
            .map(|f| MeterKey::from_pkcs8_pem(&fixture(f)).unwrap())
            .collect()
    });
    &keys[i]
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A file of `docs/vectors/`.
pub fn vectors(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../docs/vectors/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A signed reading in wire form; timestamps count from an hour ago.
pub fn signed(key: &MeterKey, sequence: u64, wh_imported: u64, wh_exported: u64) -> String {
    signed_at(
        key,
        sequence,
        base_ms() + sequence * 1000,
        wh_imported,
        wh_exported,
    )
}

pub fn signed_at(key: &MeterKey, sequence: u64, ts: u64, imp: u64, exp: u64) -> String {
    key.sign(Reading {
        sequence,
        timestamp_ms: ts,
        wh_imported: imp,
        wh_exported: exp,
    })
    .unwrap()
    .to_json()
}

pub fn base_ms() -> u64 {
    static BASE: OnceLock<u64> = OnceLock::new();
    *BASE.get_or_init(|| now_ms() - 3_600_000)
}

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

pub async fn report(server: &Server, body: &str) -> (Status, Value) {
    let resp = server
        .public
        .post("/reportReading")
        .header(ContentType::JSON)
        .body(body)
        .dispatch()
        .await;
    json_of(resp).await
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

/// A plain connection (no TLS) for checks from inside async tests.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    rocket::tokio::spawn(conn);
    client
}

/// The URL with one more query parameter (`key=value`).
pub fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}
