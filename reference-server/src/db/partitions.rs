//! Time partitions of `readings`: one per calendar month (UTC) of the
//! readings' own `timestamp_ms`, named `readings_YYYY_MM`, plus
//! `readings_default` for readings whose month has no partition.
//!
//! The server creates the partitions it needs ahead of time, by itself, at
//! start and then every [`CHECK_INTERVAL`]: the month before the current one
//! through the month after the one that `now + max clock skew` falls in, so
//! that every reading the policy can accept from now on (its timestamp is at
//! most `now + skew`) finds its month. Retention, when set, drops whole
//! partitions whose every reading is older than it; it never deletes rows.
//!
//! Creating a partition moves the rows of its month that wait in the default
//! partition (after a long outage of the server, or after the migration from
//! schema 1), in the same transaction, so that every reading stays stored
//! exactly once. Several processes on one database serialise this work with
//! an advisory lock.

use std::collections::BTreeSet;
use std::time::Duration;

use rocket_db_pools::deadpool_postgres::tokio_postgres;

use super::bigint::to_db;
use super::{Client, DbError};

/// How often the server checks its partitions (and applies retention).
pub const CHECK_INTERVAL: Duration = Duration::from_secs(3600);
/// The partitioned table.
pub const TABLE: &str = "readings";
/// Its default partition.
pub const DEFAULT_PARTITION: &str = "readings_default";
/// How long partition work waits for a lock before it gives up until the
/// next check, so that it never queues ingest behind a long read.
const LOCK_TIMEOUT: &str = "5s";
/// Names this server's advisory lock for partition work.
const PARTITION_LOCK: i64 = 0x736d_7061_7274_6974;
const MS_PER_DAY: u64 = 86_400_000;

/// A calendar month in UTC, counted from January 1970.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(i64);

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar
/// (H. Hinnant's `days_from_civil`).
const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year and month (1 to 12) of a day since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
const fn civil_from_days(days: i64) -> (i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month)
}

impl Month {
    /// The month that a timestamp (ms since the epoch) falls in.
    pub fn of_ms(ms: u64) -> Self {
        // u64::MAX ms is about 2^34 days: far inside i64.
        let days = i64::try_from(ms / MS_PER_DAY).unwrap_or(i64::MAX / 2);
        let (year, month) = civil_from_days(days);
        Self((year - 1970) * 12 + (month - 1))
    }

    /// The year and the month (1 to 12).
    pub const fn year_month(self) -> (i64, i64) {
        (1970 + self.0.div_euclid(12), self.0.rem_euclid(12) + 1)
    }

    /// The first millisecond of the month (0 for months before 1970).
    pub fn start_ms(self) -> u64 {
        let (year, month) = self.year_month();
        let days = days_from_civil(year, month, 1);
        u64::try_from(days).map_or(0, |d| d.saturating_mul(MS_PER_DAY))
    }

    /// The month after this one.
    pub const fn next(self) -> Self {
        Self(self.0 + 1)
    }

    /// The month before this one.
    pub const fn previous(self) -> Self {
        Self(self.0 - 1)
    }

    /// The name of this month's partition, `readings_YYYY_MM`.
    pub fn table(self) -> String {
        let (year, month) = self.year_month();
        format!("{TABLE}_{year:04}_{month:02}")
    }

    /// The month of a partition name written by [`table`](Self::table).
    pub fn of_table(name: &str) -> Option<Self> {
        let rest = name.strip_prefix(TABLE)?.strip_prefix('_')?;
        let (year, month) = rest.split_once('_')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let year: i64 = year.parse().ok()?;
        let month: i64 = month.parse().ok()?;
        (1..=12)
            .contains(&month)
            .then_some(Self((year - 1970) * 12 + (month - 1)))
    }
}

/// The most months ahead of the current one that the server creates,
/// whatever the clock skew says (readings beyond go to the default
/// partition): a skew of years must not create a partition per month.
pub const MAX_MONTHS_AHEAD: i64 = 13;

/// The months whose partitions must exist at `now_ms`: from the month
/// before `now` to the month after `now + skew` (at most
/// [`MAX_MONTHS_AHEAD`] months ahead).
pub fn window(now_ms: u64, skew_ms: u64) -> Vec<Month> {
    let current = Month::of_ms(now_ms);
    let first = current.previous();
    let last = Month::of_ms(now_ms.saturating_add(skew_ms))
        .next()
        .min(Month(current.0 + MAX_MONTHS_AHEAD));
    let mut months = Vec::new();
    let mut m = first;
    while m <= last {
        months.push(m);
        m = m.next();
    }
    months
}

/// The partitions that retention drops at `now_ms`: those whose every
/// reading is older than `retention` (the month ended at or before
/// `now - retention`).
pub fn expired(existing: &BTreeSet<Month>, now_ms: u64, retention: Duration) -> Vec<Month> {
    let retention_ms = u64::try_from(retention.as_millis()).unwrap_or(u64::MAX);
    let cutoff = now_ms.saturating_sub(retention_ms);
    existing
        .iter()
        .copied()
        .filter(|m| m.next().start_ms() <= cutoff)
        .collect()
}

/// What one check did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Partitions created, with the rows moved into each from the default
    /// partition.
    pub created: Vec<(String, u64)>,
    /// Partitions dropped by retention.
    pub dropped: Vec<String>,
}

/// The month partitions that exist now.
///
/// # Errors
/// A [`DbError`].
pub async fn existing(client: &Client) -> Result<BTreeSet<Month>, DbError> {
    let rows = client
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = $1::text::regclass",
            &[&TABLE],
        )
        .await?;
    let mut months = BTreeSet::new();
    for row in rows {
        let name: String = row.try_get(0)?;
        if let Some(m) = Month::of_table(&name) {
            months.insert(m);
        }
    }
    Ok(months)
}

/// Creates the missing partitions of the [`window`] and, when `retention`
/// is set, drops the expired ones.
///
/// # Errors
/// A [`DbError`]; what was done before it stays done.
pub async fn check(
    client: &mut Client,
    now_ms: u64,
    skew_ms: u64,
    retention: Option<Duration>,
) -> Result<Report, DbError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&PARTITION_LOCK])
        .await?;
    let result = check_locked(client, now_ms, skew_ms, retention).await;
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&PARTITION_LOCK])
        .await;
    let report = result?;
    unlock?;
    Ok(report)
}

async fn check_locked(
    client: &mut Client,
    now_ms: u64,
    skew_ms: u64,
    retention: Option<Duration>,
) -> Result<Report, DbError> {
    let mut report = Report::default();
    let mut have = existing(client).await?;
    for month in window(now_ms, skew_ms) {
        if !have.contains(&month) {
            let moved = create(client, month).await?;
            report.created.push((month.table(), moved));
            have.insert(month);
        }
    }
    if let Some(retention) = retention {
        for month in expired(&have, now_ms, retention) {
            drop_partition(client, month).await?;
            report.dropped.push(month.table());
        }
    }
    Ok(report)
}

/// Creates one month's partition with its unique index, moving the rows of
/// that month out of the default partition, in one transaction.
async fn create(client: &mut Client, month: Month) -> Result<u64, DbError> {
    let name = month.table();
    let (lo, hi) = (to_db(month.start_ms()), to_db(month.next().start_ms()));
    let tx = client.transaction().await?;
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';
         LOCK TABLE {DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE;
         CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
         ALTER TABLE {name} ADD CONSTRAINT {name}_bounds
             CHECK (timestamp_ms >= {lo} AND timestamp_ms < {hi});"
    ))
    .await?;
    let moved = tx
        .execute(
            &format!(
                "WITH moved AS (DELETE FROM {DEFAULT_PARTITION}
                     WHERE timestamp_ms >= {lo} AND timestamp_ms < {hi} RETURNING *)
                 INSERT INTO {name} SELECT * FROM moved"
            ),
            &[],
        )
        .await?;
    // The CHECK lets ATTACH skip its scan of the new table; dropped after.
    tx.batch_execute(&format!(
        "CREATE UNIQUE INDEX {name}_meter_sequence ON {name} (meter_id, sequence);
         ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM ({lo}) TO ({hi});
         ALTER TABLE {name} DROP CONSTRAINT {name}_bounds;"
    ))
    .await?;
    tx.commit().await?;
    tracing::info!(partition = %name, moved, "created partition");
    Ok(moved)
}

/// Drops one month's partition (retention): all its readings at once.
async fn drop_partition(client: &mut Client, month: Month) -> Result<(), DbError> {
    let name = month.table();
    let tx = client.transaction().await?;
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'; DROP TABLE {name};"
    ))
    .await?;
    tx.commit().await?;
    tracing::info!(partition = %name, "dropped partition (retention)");
    Ok(())
}

/// Whether an error is a lock timeout (partition work is retried at the
/// next check).
pub fn is_lock_timeout(e: &DbError) -> bool {
    match e {
        DbError::Unavailable(e) => e
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(tokio_postgres::Error::code)
            .is_some_and(|c| *c == tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE),
        DbError::Corrupt(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_of_timestamps() {
        // 2025-11-24T16:00:00Z
        let m = Month::of_ms(1_764_000_000_000);
        assert_eq!(m.year_month(), (2025, 11));
        assert_eq!(m.table(), "readings_2025_11");
        assert_eq!(m.start_ms(), 1_761_955_200_000); // 2025-11-01T00:00:00Z
        assert_eq!(m.next().start_ms(), 1_764_547_200_000); // 2025-12-01
        assert_eq!(m.next().next().table(), "readings_2026_01");
        assert_eq!(Month::of_ms(0).year_month(), (1970, 1));
        assert_eq!(Month::of_ms(0).start_ms(), 0);
        // The last millisecond of February 2024 (a leap year), and the first of March.
        assert_eq!(Month::of_ms(1_709_251_199_999).year_month(), (2024, 2));
        assert_eq!(Month::of_ms(1_709_251_200_000).year_month(), (2024, 3));
        // Far ahead: no overflow.
        assert!(Month::of_ms(u64::MAX).year_month().0 > 500_000_000);
    }

    #[test]
    fn names_round_trip() {
        for ms in [0, 1_709_251_200_000, 1_764_000_000_000, 4_102_444_800_000] {
            let m = Month::of_ms(ms);
            assert_eq!(Month::of_table(&m.table()), Some(m));
        }
        for name in [
            "readings_default",
            "readings",
            "readings_2025_13",
            "readings_25_11",
            "other_2025_11",
        ] {
            assert_eq!(Month::of_table(name), None, "{name}");
        }
    }

    #[test]
    fn the_window_covers_last_month_to_beyond_the_skew() {
        let now = 1_764_000_000_000; // 2025-11-24
        let names: Vec<String> = window(now, 300_000).iter().map(|m| m.table()).collect();
        assert_eq!(
            names,
            ["readings_2025_10", "readings_2025_11", "readings_2025_12"]
        );
        // A skew of 40 days reaches into January; one more month ahead.
        let names: Vec<String> = window(now, 40 * MS_PER_DAY)
            .iter()
            .map(|m| m.table())
            .collect();
        assert_eq!(
            names,
            [
                "readings_2025_10",
                "readings_2025_11",
                "readings_2025_12",
                "readings_2026_01",
                "readings_2026_02"
            ]
        );
        // Any skew, however large, creates at most 13 months ahead.
        let months = window(now, u64::MAX);
        assert_eq!(months.len(), 15);
        assert_eq!(
            months.last().map(|m| m.table()).as_deref(),
            Some("readings_2026_12")
        );
    }

    #[test]
    fn retention_drops_only_months_entirely_older() {
        let now = 1_764_000_000_000; // 2025-11-24
        let have: BTreeSet<Month> = [
            "readings_2025_08",
            "readings_2025_09",
            "readings_2025_10",
            "readings_2025_11",
        ]
        .iter()
        .filter_map(|n| Month::of_table(n))
        .collect();
        let names = |ms: Vec<Month>| ms.iter().map(|m| m.table()).collect::<Vec<_>>();
        // 60 days back is 2025-09-25: August ended before, September did not.
        assert_eq!(
            names(expired(&have, now, Duration::from_secs(60 * 86_400))),
            ["readings_2025_08"]
        );
        assert!(expired(&have, now, Duration::from_secs(400 * 86_400)).is_empty());
        assert_eq!(expired(&have, now, Duration::ZERO).len(), 3);
    }
}
