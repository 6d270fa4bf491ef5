//! PostgreSQL: the pool, the embedded migrations and every query.
//!
//! The u64 values of a reading are stored as `NUMERIC(20,0)` (PostgreSQL
//! has no unsigned 64-bit type) and cross the wire as decimal text, so the
//! whole `u64` range is stored exactly.

use rocket_db_pools::Database;
use rocket_db_pools::deadpool_postgres::{self, GenericClient, tokio_postgres};
use smartmeter_core::{Algorithm, KeyId, PublicKey, Reading, SignedReading};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

/// The connection pool, configured from Rocket's `databases.smartmeter`.
#[derive(Database)]
#[database("smartmeter")]
pub struct Db(deadpool_postgres::Pool);

/// The pool type.
pub type Pool = deadpool_postgres::Pool;

/// A database error.
pub type DbError = tokio_postgres::Error;

/// Ordered migrations: version, name, SQL. Applied once each, in order.
pub const MIGRATIONS: &[(i32, &str, &str)] =
    &[(1, "init", include_str!("../migrations/0001_init.sql"))];

/// An arbitrary constant naming this server's advisory lock, so that several
/// processes starting together apply the migrations once.
const MIGRATION_LOCK: i64 = 0x736d_6172_746d_7472;

/// Applies the migrations that are not yet applied, idempotently.
///
/// # Errors
/// A database error; nothing is half-applied (each migration is one transaction).
pub async fn migrate(client: &mut deadpool_postgres::Object) -> Result<Vec<i32>, DbError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = migrate_locked(client).await;
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    let applied = result?;
    unlock?;
    Ok(applied)
}

async fn migrate_locked(client: &mut deadpool_postgres::Object) -> Result<Vec<i32>, DbError> {
    // Under the advisory lock, so checking first cannot race (and avoids
    // the NOTICE of CREATE TABLE IF NOT EXISTS on every start).
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('smartmeter_schema_migrations') IS NOT NULL",
            &[],
        )
        .await?
        .try_get(0)?;
    if !exists {
        client
            .batch_execute(
                "CREATE TABLE smartmeter_schema_migrations (
                    version INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .await?;
    }
    let mut applied = Vec::new();
    for &(version, name, sql) in MIGRATIONS {
        let done = client
            .query_opt(
                "SELECT 1 FROM smartmeter_schema_migrations WHERE version = $1",
                &[&version],
            )
            .await?;
        if done.is_some() {
            continue;
        }
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO smartmeter_schema_migrations (version, name) VALUES ($1, $2)",
            &[&version, &name],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version, name, "applied migration");
        applied.push(version);
    }
    Ok(applied)
}

/// A registered meter as stored.
#[derive(Debug, Clone)]
pub struct MeterRow {
    /// Database id.
    pub id: i64,
    /// Username given at registration.
    pub username: String,
    /// The registered public key.
    pub public_key: PublicKey,
    /// RFC 3339, UTC.
    pub registered_at: String,
    /// RFC 3339, UTC, when revoked.
    pub revoked_at: Option<String>,
    /// Stored readings.
    pub readings_count: i64,
    /// Accepted readings whose sequence skipped ahead.
    pub gap_count: i64,
}

/// A stored reading with its signature, ready for re-verification.
#[derive(Debug, Clone)]
pub struct StoredReading {
    /// The wire form, exactly as the meter signed it.
    pub signed: SignedReading,
    /// When the server stored it, RFC 3339, UTC.
    pub received_at: String,
}

/// Formats a `timestamptz` column as RFC 3339 UTC text in SQL.
macro_rules! rfc3339 {
    ($col:literal) => {
        concat!(
            "to_char(",
            $col,
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        )
    };
}

const METER_COLUMNS: &str = concat!(
    "id, username, public_key_der, ",
    rfc3339!("registered_at"),
    ", ",
    rfc3339!("revoked_at"),
    ", readings_count, gap_count"
);

fn corrupt(what: &str) -> std::io::Error {
    std::io::Error::other(format!("stored data does not parse: {what}"))
}

/// An error reading rows back: the database failed, or a stored value does
/// not parse (which only a hand-edited database can cause).
#[derive(Debug)]
pub enum ReadError {
    /// PostgreSQL failed or is unreachable.
    Db(DbError),
    /// A stored value is not what this server writes.
    Corrupt(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Db(e) => write!(f, "{e}"),
            Self::Corrupt(e) => write!(f, "{e}"),
        }
    }
}

impl From<DbError> for ReadError {
    fn from(e: DbError) -> Self {
        Self::Db(e)
    }
}

impl From<ReadError> for crate::error::ApiError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Db(e) => Self::database(&e),
            ReadError::Corrupt(e) => Self::internal(&e),
        }
    }
}

fn meter_from_row(row: &Row) -> Result<MeterRow, ReadError> {
    let der: Vec<u8> = row.try_get(2)?;
    let public_key =
        PublicKey::from_der(&der).map_err(|_| ReadError::Corrupt(corrupt("public key")))?;
    Ok(MeterRow {
        id: row.try_get(0)?,
        username: row.try_get(1)?,
        public_key,
        registered_at: row.try_get(3)?,
        revoked_at: row.try_get(4)?,
        readings_count: row.try_get(5)?,
        gap_count: row.try_get(6)?,
    })
}

/// Why a registration was refused by the database.
#[derive(Debug)]
pub enum RegisterError {
    /// The username is taken.
    Username,
    /// The key is registered already.
    Key,
    /// Another database failure.
    Db(DbError),
}

/// Registers a meter.
///
/// # Errors
/// [`RegisterError`]: a unique constraint, or the database.
pub async fn register(
    client: &impl GenericClient,
    username: &str,
    key: &PublicKey,
) -> Result<MeterRow, RegisterError> {
    let sql = format!(
        "INSERT INTO meters (username, key_id, public_key_der) VALUES ($1, $2, $3) RETURNING {METER_COLUMNS}"
    );
    let key_id = key.key_id();
    let row = client
        .query_one(
            sql.as_str(),
            &[&username, &key_id.as_bytes().as_slice(), &key.to_der()],
        )
        .await
        .map_err(|e| {
            let constraint = e.as_db_error().and_then(|d| {
                (d.code() == &SqlState::UNIQUE_VIOLATION).then(|| d.constraint().map(str::to_owned))
            });
            match constraint {
                Some(Some(c)) if c.contains("username") => RegisterError::Username,
                Some(_) => RegisterError::Key,
                None => RegisterError::Db(e),
            }
        })?;
    meter_from_row(&row).map_err(|e| match e {
        ReadError::Db(e) => RegisterError::Db(e),
        ReadError::Corrupt(_) => RegisterError::Key,
    })
}

/// Looks a meter up by key id.
///
/// # Errors
/// A [`ReadError`].
pub async fn meter_by_key(
    client: &impl GenericClient,
    key_id: &KeyId,
) -> Result<Option<MeterRow>, ReadError> {
    let sql = format!("SELECT {METER_COLUMNS} FROM meters WHERE key_id = $1");
    let stmt = client.prepare_cached(&sql).await?;
    let row = client
        .query_opt(&stmt, &[&key_id.as_bytes().as_slice()])
        .await?;
    row.as_ref().map(meter_from_row).transpose()
}

/// Revokes a meter (idempotent); `None` when no meter has this key.
///
/// # Errors
/// A [`ReadError`].
pub async fn revoke(
    client: &impl GenericClient,
    key_id: &KeyId,
) -> Result<Option<MeterRow>, ReadError> {
    let sql = format!(
        "UPDATE meters SET revoked_at = COALESCE(revoked_at, now()) WHERE key_id = $1 RETURNING {METER_COLUMNS}"
    );
    let row = client
        .query_opt(sql.as_str(), &[&key_id.as_bytes().as_slice()])
        .await?;
    row.as_ref().map(meter_from_row).transpose()
}

/// Lists meters by id, after `after`, at most `limit`.
///
/// # Errors
/// A [`ReadError`].
pub async fn list_meters(
    client: &impl GenericClient,
    after: i64,
    limit: i64,
) -> Result<Vec<MeterRow>, ReadError> {
    let sql = format!("SELECT {METER_COLUMNS} FROM meters WHERE id > $1 ORDER BY id LIMIT $2");
    let rows = client.query(sql.as_str(), &[&after, &limit]).await?;
    rows.iter().map(meter_from_row).collect()
}

const READING_COLUMNS: &str = concat!(
    "sequence::text, timestamp_ms::text, wh_imported::text, wh_exported::text, algorithm, signature, ",
    rfc3339!("received_at")
);

fn u64_col(row: &Row, i: usize) -> Result<u64, ReadError> {
    let text: String = row.try_get(i)?;
    text.parse()
        .map_err(|_| ReadError::Corrupt(corrupt("u64 column")))
}

fn reading_from_row(row: &Row, key: &PublicKey) -> Result<StoredReading, ReadError> {
    let reading = Reading {
        sequence: u64_col(row, 0)?,
        timestamp_ms: u64_col(row, 1)?,
        wh_imported: u64_col(row, 2)?,
        wh_exported: u64_col(row, 3)?,
    };
    let algorithm: i16 = row.try_get(4)?;
    let algorithm = u64::try_from(algorithm)
        .ok()
        .and_then(|a| Algorithm::from_id(a).ok())
        .ok_or_else(|| ReadError::Corrupt(corrupt("algorithm")))?;
    let signature: Vec<u8> = row.try_get(5)?;
    Ok(StoredReading {
        signed: SignedReading::from_parts(algorithm, key.clone(), reading, signature),
        received_at: row.try_get(6)?,
    })
}

/// Which readings of a meter to return.
#[derive(Debug, Clone, Copy)]
pub struct ReadingQuery {
    /// Only readings with `timestamp_ms >= from`.
    pub from: Option<u64>,
    /// Only readings with `timestamp_ms < to`.
    pub to: Option<u64>,
    /// Only readings with `sequence > after` (the paging cursor).
    pub after: Option<u64>,
    /// At most this many.
    pub limit: u32,
}

/// Readings of a meter in sequence order.
///
/// # Errors
/// A [`ReadError`].
pub async fn readings(
    client: &impl GenericClient,
    meter: &MeterRow,
    q: ReadingQuery,
) -> Result<Vec<StoredReading>, ReadError> {
    let sql = format!(
        "SELECT {READING_COLUMNS} FROM readings WHERE meter_id = $1
           AND ($2::text IS NULL OR timestamp_ms >= $2::text::numeric)
           AND ($3::text IS NULL OR timestamp_ms < $3::text::numeric)
           AND ($4::text IS NULL OR sequence > $4::text::numeric)
         ORDER BY readings.sequence LIMIT $5"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let text = |v: Option<u64>| v.map(|v| v.to_string());
    let rows = client
        .query(
            &stmt,
            &[
                &meter.id,
                &text(q.from),
                &text(q.to),
                &text(q.after),
                &i64::from(q.limit),
            ],
        )
        .await?;
    rows.iter()
        .map(|r| reading_from_row(r, &meter.public_key))
        .collect()
}

/// The reading with the highest sequence of a meter.
///
/// # Errors
/// A [`ReadError`].
pub async fn latest_reading(
    client: &impl GenericClient,
    meter: &MeterRow,
) -> Result<Option<StoredReading>, ReadError> {
    let sql = format!(
        "SELECT {READING_COLUMNS} FROM readings WHERE meter_id = $1 ORDER BY readings.sequence DESC LIMIT 1"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let row = client.query_opt(&stmt, &[&meter.id]).await?;
    row.as_ref()
        .map(|r| reading_from_row(r, &meter.public_key))
        .transpose()
}

/// A verified reading on its way into the database.
#[derive(Debug, Clone)]
pub struct NewReading {
    /// Database id of the meter whose key verified it.
    pub meter_id: i64,
    /// Key id of that meter.
    pub key_id: KeyId,
    /// The verified values.
    pub reading: Reading,
    /// The algorithm id.
    pub algorithm: u8,
    /// The verified signature.
    pub signature: Vec<u8>,
}

/// What the database did with one reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored; `gap` sequence numbers were skipped since the previous one.
    Accepted {
        /// Skipped sequence numbers.
        gap: u64,
    },
    /// An exact re-send of a stored reading; nothing stored.
    Duplicate,
    /// Refused by the policy, with this code.
    Rejected(&'static str),
}

fn outcome_of(code: &str, sequence: u64, previous: Option<&str>) -> Outcome {
    match code {
        "accepted" => {
            let gap = previous
                .and_then(|p| p.parse::<u64>().ok())
                .map_or(0, |p| sequence.saturating_sub(p).saturating_sub(1));
            Outcome::Accepted { gap }
        }
        "duplicate" => Outcome::Duplicate,
        "meter_revoked" => Outcome::Rejected("meter_revoked"),
        "stale_sequence" => Outcome::Rejected("stale_sequence"),
        "timestamp_backwards" => Outcome::Rejected("timestamp_backwards"),
        "register_decreased" => Outcome::Rejected("register_decreased"),
        _ => Outcome::Rejected("unknown_meter"),
    }
}

/// Stores readings in one transaction, in the given order, and commits.
///
/// The rows of every meter involved are locked first, in id order, so that
/// concurrent transactions (of this process or another) never deadlock; the
/// per-reading policy runs in `smartmeter_store_reading` under that lock.
///
/// # Errors
/// A database error: then nothing is committed.
pub async fn store(
    client: &mut deadpool_postgres::Object,
    items: &[NewReading],
) -> Result<Vec<Outcome>, DbError> {
    let mut ids: Vec<i64> = items.iter().map(|i| i.meter_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let tx = client.transaction().await?;
    let lock = tx
        .prepare_cached("SELECT id FROM meters WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .await?;
    let call = tx
        .prepare_cached(
            "SELECT outcome, previous_sequence::text FROM smartmeter_store_reading(
               $1, $2::text::numeric, $3::text::numeric, $4::text::numeric, $5::text::numeric, $6, $7)",
        )
        .await?;
    tx.execute(&lock, &[&ids]).await?;
    let params: Vec<_> = items
        .iter()
        .map(|i| {
            (
                i.reading.sequence.to_string(),
                i.reading.timestamp_ms.to_string(),
                i.reading.wh_imported.to_string(),
                i.reading.wh_exported.to_string(),
                i16::from(i.algorithm),
            )
        })
        .collect();
    // Pipelined: tokio-postgres sends every call before the first answer comes
    // back, and PostgreSQL runs them in order.
    let calls = items.iter().zip(&params).map(|(i, p)| {
        let tx = &tx;
        let call = &call;
        async move {
            let row = tx
                .query_one(
                    call,
                    &[&i.meter_id, &p.0, &p.1, &p.2, &p.3, &p.4, &i.signature],
                )
                .await?;
            let code: String = row.try_get(0)?;
            let previous: Option<String> = row.try_get(1)?;
            Ok::<_, DbError>(outcome_of(&code, i.reading.sequence, previous.as_deref()))
        }
    });
    let outcomes = rocket::futures::future::try_join_all(calls).await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// `SELECT 1`, for `/health`.
///
/// # Errors
/// A database error.
pub async fn ping(client: &impl GenericClient) -> Result<(), DbError> {
    client.query_one("SELECT 1", &[]).await.map(|_| ())
}
