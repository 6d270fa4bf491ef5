//! PostgreSQL for tests: the URLs, built one way (as [`url::Url`]s from
//! the admin URL), and a database of its own per test.

use std::net::SocketAddr;

use tokio_postgres::{NoTls, Row};
use url::Url;

/// The variable that names the admin database of the tests.
pub const ADMIN_URL_VAR: &str = "SMARTMETER_TEST_DATABASE_URL";

/// The admin URL: [`ADMIN_URL_VAR`], or the local default.
pub fn admin_url() -> String {
    std::env::var(ADMIN_URL_VAR)
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn parse(url: &str) -> Url {
    Url::parse(url).unwrap_or_else(|e| panic!("not a database URL: {url}: {e}"))
}

/// `url` naming database `db` instead; user, host and parameters kept.
pub fn with_database(url: &str, db: &str) -> String {
    let mut u = parse(url);
    u.set_path(&format!("/{db}"));
    u.into()
}

/// `url` with one more query parameter (`key=value`).
pub fn with_param(url: &str, param: &str) -> String {
    let mut u = parse(url);
    let query = match u.query() {
        Some(q) if !q.is_empty() => format!("{q}&{param}"),
        _ => param.to_string(),
    };
    u.set_query(Some(&query));
    u.into()
}

/// `host:port` of `url` (PostgreSQL's port 5432 when it names none).
pub fn host_port(url: &str) -> String {
    let u = parse(url);
    let host = u.host_str().unwrap_or_else(|| panic!("no host in {url}"));
    format!("{host}:{}", u.port().unwrap_or(5432))
}

/// `url` reaching the server at `addr` instead (a proxy in between); user,
/// database and parameters kept.
pub fn through(url: &str, addr: SocketAddr) -> String {
    let mut u = parse(url);
    u.set_host(Some(&addr.ip().to_string()))
        .unwrap_or_else(|e| panic!("{addr}: {e}"));
    u.set_port(Some(addr.port()))
        .unwrap_or_else(|()| panic!("{url} cannot have a port"));
    u.into()
}

/// What to run: statements, or one query whose rows are wanted.
enum Sql {
    Batch(String),
    Query(String),
}

/// Runs SQL on the database at `url` from a thread with its own runtime,
/// so that it works from `Drop` and from inside async tests alike.
fn run_sql(url: String, sql: Sql) -> Result<Vec<Row>, String> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let (client, conn) = tokio_postgres::connect(&url, NoTls)
                .await
                .map_err(|e| format!("cannot connect to {url}: {e}"))?;
            let task = tokio::spawn(conn);
            let rows = match &sql {
                Sql::Batch(s) => client.batch_execute(s).await.map(|()| Vec::new()),
                Sql::Query(s) => client.query(s, &[]).await,
            };
            drop(client);
            let _ = task.await;
            rows.map_err(|e| e.to_string())
        })
    })
    .join()
    .map_err(|_| "the SQL thread panicked".to_string())?
}

/// Runs SQL (one or more statements) on the admin database.
///
/// # Panics
/// When it fails.
pub fn admin_sql(sql: &str) {
    run_sql(admin_url(), Sql::Batch(sql.to_string())).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The rows of one query on the database at `url`, for tests that manage
/// databases of their own (a cluster's shards).
///
/// # Errors
/// The connection's or the query's error, as text.
pub fn query_at(url: &str, sql: &str) -> Result<Vec<Row>, String> {
    run_sql(url.to_string(), Sql::Query(sql.to_string()))
}

/// A plain connection (no TLS) for checks from inside async tests; its
/// connection task runs on the caller's runtime.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    tokio::spawn(conn);
    client
}

/// A database of its own, dropped (with its connections) when this is
/// dropped.
pub struct TestDb {
    /// Its name.
    pub name: String,
    /// Its URL: the admin URL with this database.
    pub url: String,
}

impl TestDb {
    /// Creates a database with a random name.
    ///
    /// # Panics
    /// When PostgreSQL cannot be reached.
    pub fn create() -> Self {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).expect("random bytes");
        let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("smartmeter_test_{suffix}");
        admin_sql(&format!("CREATE DATABASE {name}"));
        let url = with_database(&admin_url(), &name);
        Self { name, url }
    }

    /// The rows of one query on this database.
    ///
    /// # Panics
    /// When it fails.
    pub fn query(&self, sql: &str) -> Vec<Row> {
        run_sql(self.url.clone(), Sql::Query(sql.to_string()))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = run_sql(admin_url(), Sql::Batch(sql)) {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_built_from_their_parts() {
        let admin = "postgres://u:p@db.example:6543/postgres?sslmode=disable";
        assert_eq!(
            with_database(admin, "t1"),
            "postgres://u:p@db.example:6543/t1?sslmode=disable"
        );
        assert_eq!(
            with_param(admin, "a=b"),
            "postgres://u:p@db.example:6543/postgres?sslmode=disable&a=b"
        );
        assert_eq!(
            with_param("postgres://u@h/d", "a=b"),
            "postgres://u@h/d?a=b"
        );
        assert_eq!(host_port(admin), "db.example:6543");
        assert_eq!(host_port("postgres://u@h/d"), "h:5432");
        let proxy: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        assert_eq!(
            through(admin, proxy),
            "postgres://u:p@127.0.0.1:7000/postgres?sslmode=disable"
        );
    }
}
