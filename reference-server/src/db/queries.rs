//! The queries of the routes: registration, revocation, and the reads.
//!
//! The u64 values of a reading are stored as BIGINT offset by 2^63
//! ([`super::bigint`]), so the whole `u64` range is stored exactly and
//! compared as plain integers.

use rocket_db_pools::deadpool_postgres::{GenericClient, tokio_postgres};
use smartmeter_core::{Algorithm, KeyId, PublicKey, Reading, SignedReading};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use super::bigint::{from_db, to_db};
use super::{DbError, RegisterError};
use crate::states::MeterState;

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
    /// Accepted readings whose sequence skipped ahead (late readings that
    /// fill a gap are not counted).
    pub gap_count: i64,
    /// The history state: version, last accepted reading, revoked.
    pub state: MeterState,
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
    ", readings_count, gap_count, version, revoked_at IS NOT NULL, ",
    "last_sequence, last_timestamp_ms, last_wh_imported, last_wh_exported"
);

/// The reading stored in four BIGINT columns from `first` on, all NULL
/// before a meter's first reading.
pub(super) fn reading_cols(row: &Row, first: usize) -> Result<Option<Reading>, DbError> {
    let col = |i: usize| -> Result<Option<i64>, DbError> { Ok(row.try_get(first + i)?) };
    Ok(match (col(0)?, col(1)?, col(2)?, col(3)?) {
        (Some(s), Some(t), Some(i), Some(e)) => Some(Reading {
            sequence: from_db(s),
            timestamp_ms: from_db(t),
            wh_imported: from_db(i),
            wh_exported: from_db(e),
        }),
        (None, None, None, None) => None,
        _ => return Err(DbError::corrupt("a last reading with NULL values")),
    })
}

fn meter_from_row(row: &Row) -> Result<MeterRow, DbError> {
    let der: Vec<u8> = row.try_get(2)?;
    let public_key = PublicKey::from_der(&der).map_err(|_| DbError::corrupt("public key"))?;
    Ok(MeterRow {
        id: row.try_get(0)?,
        username: row.try_get(1)?,
        public_key,
        registered_at: row.try_get(3)?,
        revoked_at: row.try_get(4)?,
        readings_count: row.try_get(5)?,
        gap_count: row.try_get(6)?,
        state: MeterState {
            version: row.try_get(7)?,
            revoked: row.try_get(8)?,
            last: reading_cols(row, 9)?,
        },
    })
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
                None => RegisterError::Db(e.into()),
            }
        })?;
    // A row just inserted that does not read back is this server's fault,
    // never a conflict: the caller answers 500.
    meter_from_row(&row).map_err(RegisterError::Db)
}

/// Looks a meter up by key id.
///
/// # Errors
/// A [`DbError`].
pub async fn meter_by_key(
    client: &impl GenericClient,
    key_id: &KeyId,
) -> Result<Option<MeterRow>, DbError> {
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
/// A [`DbError`].
pub async fn revoke(
    client: &impl GenericClient,
    key_id: &KeyId,
) -> Result<Option<MeterRow>, DbError> {
    let sql = format!(
        "UPDATE meters SET revoked_at = COALESCE(revoked_at, now()) WHERE key_id = $1 RETURNING {METER_COLUMNS}"
    );
    let row = client
        .query_opt(sql.as_str(), &[&key_id.as_bytes().as_slice()])
        .await?;
    row.as_ref().map(meter_from_row).transpose()
}

/// One page of a listing, and whether anything follows it.
#[derive(Debug)]
pub struct Page<T> {
    /// The rows of this page, at most the limit asked for.
    pub items: Vec<T>,
    /// True when at least one row follows the last of `items`.
    pub more: bool,
}

impl<T> Page<T> {
    /// Splits `limit + 1` fetched rows into a page of `limit` and whether
    /// there is more: a last page that is exactly full has nothing after it.
    fn of(mut items: Vec<T>, limit: u32) -> Self {
        let limit = limit as usize;
        let more = items.len() > limit;
        items.truncate(limit);
        Self { items, more }
    }
}

/// Lists meters by id, after `after`, at most `limit`.
///
/// # Errors
/// A [`DbError`].
pub async fn list_meters(
    client: &impl GenericClient,
    after: i64,
    limit: u32,
) -> Result<Page<MeterRow>, DbError> {
    let sql = format!("SELECT {METER_COLUMNS} FROM meters WHERE id > $1 ORDER BY id LIMIT $2");
    let rows = client
        .query(sql.as_str(), &[&after, &(i64::from(limit) + 1)])
        .await?;
    let rows = rows.iter().map(meter_from_row).collect::<Result<_, _>>()?;
    Ok(Page::of(rows, limit))
}

const READING_COLUMNS: &str = concat!(
    "sequence, timestamp_ms, wh_imported, wh_exported, algorithm, signature, ",
    rfc3339!("received_at")
);

fn reading_from_row(row: &Row, key: &PublicKey) -> Result<StoredReading, DbError> {
    let reading =
        reading_cols(row, 0)?.ok_or_else(|| DbError::corrupt("a reading with NULL values"))?;
    let algorithm: i16 = row.try_get(4)?;
    let algorithm = u64::try_from(algorithm)
        .ok()
        .and_then(|a| Algorithm::from_id(a).ok())
        .ok_or_else(|| DbError::corrupt("algorithm"))?;
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

/// The SQL of [`readings`]: every bound inclusive, so that "no bound" is
/// the end of the BIGINT range and one plan serves every query. The time
/// bounds prune the month partitions (at run time too, with a generic
/// plan); each remaining partition is read through its unique index on
/// `(meter_id, sequence)`, in sequence order.
pub const READINGS_SQL: &str = "FROM readings WHERE meter_id = $1
   AND timestamp_ms BETWEEN $2 AND $3 AND sequence >= $4
 ORDER BY sequence LIMIT $5";

/// Readings of a meter in sequence order.
///
/// # Errors
/// A [`DbError`].
pub async fn readings(
    client: &impl GenericClient,
    meter: &MeterRow,
    q: ReadingQuery,
) -> Result<Page<StoredReading>, DbError> {
    // Inclusive bounds; an empty range needs no query.
    let from = to_db(q.from.unwrap_or(0));
    let to = match q.to {
        None => i64::MAX,
        Some(0) => return Ok(Page::of(Vec::new(), q.limit)),
        Some(t) => to_db(t - 1),
    };
    let first = match q.after {
        None => i64::MIN,
        Some(u64::MAX) => return Ok(Page::of(Vec::new(), q.limit)),
        Some(a) => to_db(a + 1),
    };
    let sql = format!("SELECT {READING_COLUMNS} {READINGS_SQL}");
    let stmt = client.prepare_cached(&sql).await?;
    let rows = client
        .query(
            &stmt,
            &[&meter.id, &from, &to, &first, &(i64::from(q.limit) + 1)],
        )
        .await?;
    let rows = rows
        .iter()
        .map(|r| reading_from_row(r, &meter.public_key))
        .collect::<Result<_, _>>()?;
    Ok(Page::of(rows, q.limit))
}

/// The reading with the highest sequence of a meter: its last accepted
/// reading (late readings lie below it), found by its sequence and, for the
/// partition, its timestamp. `None` before the first reading, or when
/// retention has dropped it.
///
/// # Errors
/// A [`DbError`].
pub async fn latest_reading(
    client: &impl GenericClient,
    meter: &MeterRow,
) -> Result<Option<StoredReading>, DbError> {
    let Some(last) = meter.state.last else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {READING_COLUMNS} FROM readings WHERE meter_id = $1 AND sequence = $2 AND timestamp_ms = $3"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let row = client
        .query_opt(
            &stmt,
            &[&meter.id, &to_db(last.sequence), &to_db(last.timestamp_ms)],
        )
        .await?;
    row.as_ref()
        .map(|r| reading_from_row(r, &meter.public_key))
        .transpose()
}

/// `SELECT 1`, for `/health`.
///
/// # Errors
/// A database error.
pub async fn ping(client: &impl GenericClient) -> Result<(), DbError> {
    client.query_one("SELECT 1", &[]).await?;
    Ok(())
}
