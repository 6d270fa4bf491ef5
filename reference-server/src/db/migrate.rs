//! Schema migrations with `refinery`: the SQL files of
//! `reference-server/migrations/` (`V<n>__<name>.sql`) are embedded in the
//! binary and applied at start, in order, each once, each in a transaction,
//! with their history in the table `smartmeter_schema_history`.
//!
//! refinery takes no lock of its own, so the whole run holds a PostgreSQL
//! advisory lock: several processes starting together on one database
//! apply each migration once, and the others wait and find nothing to do.
//!
//! Databases made by the server's first, hand-rolled runner (table
//! `smartmeter_schema_migrations`) are taken over: their applied versions
//! are recorded in refinery's history without being run again, then the old
//! table is dropped.

use rocket_db_pools::deadpool_postgres::tokio_postgres;

use super::{Client, DbError};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// refinery's history table.
pub const HISTORY_TABLE: &str = "smartmeter_schema_history";
/// The history table of the first, hand-rolled runner.
const LEGACY_TABLE: &str = "smartmeter_schema_migrations";

/// An arbitrary constant naming this server's advisory lock, so that several
/// processes starting together apply the migrations once.
const MIGRATION_LOCK: i64 = 0x736d_6172_746d_7472;

/// A migration failure.
#[derive(Debug)]
pub enum MigrateError {
    /// The database failed.
    Db(DbError),
    /// refinery refused or a migration failed.
    Migration(refinery::Error),
}

impl std::fmt::Display for MigrateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Db(e) => write!(f, "{e}"),
            Self::Migration(e) => f.write_str(&super::with_causes(e)),
        }
    }
}

impl std::error::Error for MigrateError {}

impl From<tokio_postgres::Error> for MigrateError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(e.into())
    }
}

/// Applies the migrations that are not yet applied; returns the versions
/// applied now.
///
/// # Errors
/// A database or migration error; a failed migration is rolled back.
pub async fn run(client: &mut Client) -> Result<Vec<i32>, MigrateError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = run_locked(client).await;
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    let applied = result?;
    unlock?;
    Ok(applied)
}

async fn table_exists(client: &Client, name: &str) -> Result<bool, tokio_postgres::Error> {
    client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .await?
        .try_get(0)
}

/// The tokio-postgres client under the pool's wrapper (refinery's driver
/// is implemented for it).
fn pg(client: &mut Client) -> &mut tokio_postgres::Client {
    client
}

async fn run_locked(client: &mut Client) -> Result<Vec<i32>, MigrateError> {
    let mut runner = embedded::migrations::runner();
    runner.set_migration_table_name(HISTORY_TABLE);
    if table_exists(client, LEGACY_TABLE).await? {
        if !table_exists(client, HISTORY_TABLE).await? {
            let legacy: Option<i32> = client
                .query_one(&format!("SELECT max(version) FROM {LEGACY_TABLE}"), &[])
                .await?
                .try_get(0)?;
            if let Some(version) = legacy {
                let mut fake = embedded::migrations::runner()
                    .set_target(refinery::Target::FakeVersion(version));
                fake.set_migration_table_name(HISTORY_TABLE);
                fake.run_async(pg(client))
                    .await
                    .map_err(MigrateError::Migration)?;
                tracing::info!(version, "took over the migration history");
            }
        }
        client
            .batch_execute(&format!("DROP TABLE {LEGACY_TABLE}"))
            .await?;
    }
    let report = runner
        .run_async(pg(client))
        .await
        .map_err(MigrateError::Migration)?;
    let applied: Vec<i32> = report
        .applied_migrations()
        .iter()
        .map(|m| m.version())
        .collect();
    for m in report.applied_migrations() {
        tracing::info!(version = m.version(), name = m.name(), "applied migration");
    }
    Ok(applied)
}
