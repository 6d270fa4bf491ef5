//! The two set-based statements of ingest: one reads what judging needs
//! (meters' states and the stored neighbours of late readings), one stores
//! a whole commit group. Each is a single statement, so each is one round
//! trip and, in autocommit, its own transaction: the write is committed when
//! its answer arrives.
//!
//! The write is a compare-and-set per meter on `meters.version`, which every
//! accepted reading increments: it stores a meter's readings only if nothing
//! was stored for that meter since the version they were judged against.
//! This serialises all writers of one meter, in any number of processes,
//! late readings included (they do not move the last sequence, but they do
//! move the version). Rows are locked in meter id order, so concurrent
//! writers never deadlock.

use rocket_db_pools::deadpool_postgres::GenericClient;
use smartmeter_core::policy::Around;
use smartmeter_core::{Reading, VerifiedReading};

use super::DbError;
use super::bigint::{from_db, to_db};
use super::queries::reading_cols;
use crate::states::MeterState;

/// The read: for each `(meter, sequence)` pair, the meter's state and, when
/// the sequence is not NULL, the stored readings at, just below and just
/// above it. One statement, so one snapshot: the neighbours belong to the
/// version returned with them.
const REFRESH: &str = "
SELECT q.meter_id, m.version, m.revoked_at IS NOT NULL,
       m.last_sequence, m.last_timestamp_ms, m.last_wh_imported, m.last_wh_exported,
       q.seq,
       at.sequence, at.timestamp_ms, at.wh_imported, at.wh_exported,
       b.sequence, b.timestamp_ms, b.wh_imported, b.wh_exported,
       a.sequence, a.timestamp_ms, a.wh_imported, a.wh_exported
  FROM unnest($1::int8[], $2::int8[]) AS q(meter_id, seq)
  LEFT JOIN meters m ON m.id = q.meter_id
  LEFT JOIN LATERAL (
    SELECT sequence, timestamp_ms, wh_imported, wh_exported FROM readings r
     WHERE r.meter_id = q.meter_id AND r.sequence = q.seq LIMIT 1) at ON true
  LEFT JOIN LATERAL (
    SELECT sequence, timestamp_ms, wh_imported, wh_exported FROM readings r
     WHERE r.meter_id = q.meter_id AND r.sequence < q.seq ORDER BY r.sequence DESC LIMIT 1) b ON true
  LEFT JOIN LATERAL (
    SELECT sequence, timestamp_ms, wh_imported, wh_exported FROM readings r
     WHERE r.meter_id = q.meter_id AND r.sequence > q.seq ORDER BY r.sequence LIMIT 1) a ON true";

/// The write. `q` has one row per meter of the group: the version judged
/// against, the readings to store (`n`, possibly 0), the gaps and the new
/// last reading (NULLs when it did not move). Meters with readings to store
/// are locked in id order and moved to version + n if still at the
/// expected version and not revoked; the readings of exactly those meters
/// are inserted. Meters with nothing to store are only checked. The answer
/// lists the meters whose version matched.
const WRITE: &str = "
WITH q AS MATERIALIZED (
  SELECT * FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[],
                       $5::int8[], $6::int8[], $7::int8[], $8::int8[])
      AS q(id, expected, n, gaps, seq, ts, imp, exp)
), locked AS (
  SELECT m.id FROM meters m
   WHERE m.id IN (SELECT id FROM q WHERE n > 0)
   ORDER BY m.id FOR NO KEY UPDATE
), cas AS (
  UPDATE meters m
     SET version = m.version + q.n,
         readings_count = m.readings_count + q.n,
         gap_count = m.gap_count + q.gaps,
         last_sequence = COALESCE(q.seq, m.last_sequence),
         last_timestamp_ms = COALESCE(q.ts, m.last_timestamp_ms),
         last_wh_imported = COALESCE(q.imp, m.last_wh_imported),
         last_wh_exported = COALESCE(q.exp, m.last_wh_exported)
    FROM q
   WHERE m.id = q.id AND q.n > 0 AND m.id IN (SELECT id FROM locked)
     AND m.version = q.expected AND m.revoked_at IS NULL
  RETURNING m.id
), checked AS (
  SELECT m.id FROM meters m JOIN q ON m.id = q.id
   WHERE q.n = 0 AND m.version = q.expected AND m.revoked_at IS NULL
), stored AS (
  INSERT INTO readings (meter_id, sequence, timestamp_ms, wh_imported, wh_exported, algorithm, signature)
  SELECT r.* FROM unnest($9::int8[], $10::int8[], $11::int8[], $12::int8[], $13::int8[],
                         $14::int2[], $15::bytea[])
      AS r(meter_id, sequence, timestamp_ms, wh_imported, wh_exported, algorithm, signature)
   WHERE r.meter_id IN (SELECT id FROM cas)
)
SELECT id FROM cas UNION ALL SELECT id FROM checked";

/// Locks the rows of `meters` in id order until the end of the caller's
/// transaction: the retry of a failed compare-and-set then judges and
/// stores against a state nobody else can move.
///
/// # Errors
/// A [`DbError`].
pub async fn lock(client: &impl GenericClient, meters: &[i64]) -> Result<(), DbError> {
    let stmt = client
        .prepare_cached("SELECT id FROM meters WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
        .await?;
    client.query(&stmt, &[&meters]).await?;
    Ok(())
}

/// What to store for one meter (see [`write()`]).
#[derive(Debug, Clone, Copy)]
pub struct MeterWrite {
    /// The meter.
    pub meter_id: i64,
    /// The version its readings were judged against.
    pub expected: i64,
    /// How many readings to store.
    pub n: i64,
    /// Of those, how many (not late) skipped sequence numbers.
    pub gaps: i64,
    /// The new last accepted reading, when it moved.
    pub new_last: Option<Reading>,
}

/// A reading to store.
#[derive(Debug, Clone, Copy)]
pub struct RowWrite<'a> {
    /// Its meter.
    pub meter_id: i64,
    /// The verified reading, with its signature.
    pub reading: &'a VerifiedReading,
}

/// The states of `meters` and the neighbours of `around`'s sequences, from
/// one snapshot.
#[derive(Debug, Default)]
pub struct Refreshed {
    /// Each meter asked for, with its state (`None`: no such meter).
    pub states: Vec<(i64, Option<MeterState>)>,
    /// Each `(meter, sequence)` asked for, with its meter's version in that
    /// snapshot and the stored readings around it.
    pub around: Vec<((i64, u64), i64, Around)>,
}

/// Reads the states of `meters` and, with them, the stored neighbours of
/// each `(meter, sequence)` of `around`.
///
/// # Errors
/// A [`DbError`].
pub async fn refresh(
    client: &impl GenericClient,
    meters: &[i64],
    around: &[(i64, u64)],
) -> Result<Refreshed, DbError> {
    let mut ids: Vec<i64> = Vec::with_capacity(meters.len() + around.len());
    let mut seqs: Vec<Option<i64>> = Vec::with_capacity(ids.capacity());
    for &m in meters {
        ids.push(m);
        seqs.push(None);
    }
    for &(m, s) in around {
        ids.push(m);
        seqs.push(Some(to_db(s)));
    }
    let stmt = client.prepare_cached(REFRESH).await?;
    let rows = client.query(&stmt, &[&ids, &seqs]).await?;
    let mut out = Refreshed::default();
    for row in &rows {
        let meter_id: i64 = row.try_get(0)?;
        let version: Option<i64> = row.try_get(1)?;
        let state = match version {
            None => None,
            Some(version) => Some(MeterState {
                version,
                revoked: row.try_get(2)?,
                last: reading_cols(row, 3)?,
            }),
        };
        let seq: Option<i64> = row.try_get(7)?;
        match seq {
            None => out.states.push((meter_id, state)),
            Some(seq) => {
                let Some(state) = state else {
                    out.states.push((meter_id, None));
                    continue;
                };
                out.states.push((meter_id, Some(state)));
                out.around.push((
                    (meter_id, from_db(seq)),
                    state.version,
                    Around {
                        at: reading_cols(row, 8)?,
                        before: reading_cols(row, 12)?,
                        after: reading_cols(row, 16)?,
                    },
                ));
            }
        }
    }
    Ok(out)
}

/// Stores a commit group: for each meter of `meters`, compare-and-set its
/// version and, if it matched, store its readings of `rows`. Returns the
/// meters whose version matched (their readings are stored; for those with
/// nothing to store, their judgement stands).
///
/// # Errors
/// A [`DbError`]: then nothing is stored.
pub async fn write(
    client: &impl GenericClient,
    meters: &[MeterWrite],
    rows: &[RowWrite<'_>],
) -> Result<Vec<i64>, DbError> {
    let n = meters.len();
    let (mut id, mut expected, mut count, mut gaps) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut seq, mut ts, mut imp, mut exp): (Vec<Option<i64>>, Vec<_>, Vec<_>, Vec<_>) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for m in meters {
        id.push(m.meter_id);
        expected.push(m.expected);
        count.push(m.n);
        gaps.push(m.gaps);
        seq.push(m.new_last.map(|r| to_db(r.sequence)));
        ts.push(m.new_last.map(|r| to_db(r.timestamp_ms)));
        imp.push(m.new_last.map(|r| to_db(r.wh_imported)));
        exp.push(m.new_last.map(|r| to_db(r.wh_exported)));
    }
    let k = rows.len();
    let (mut r_meter, mut r_seq, mut r_ts, mut r_imp, mut r_exp) = (
        Vec::with_capacity(k),
        Vec::with_capacity(k),
        Vec::with_capacity(k),
        Vec::with_capacity(k),
        Vec::with_capacity(k),
    );
    let mut r_alg: Vec<i16> = Vec::with_capacity(k);
    let mut r_sig: Vec<&[u8]> = Vec::with_capacity(k);
    for r in rows {
        let v = r.reading.reading();
        r_meter.push(r.meter_id);
        r_seq.push(to_db(v.sequence));
        r_ts.push(to_db(v.timestamp_ms));
        r_imp.push(to_db(v.wh_imported));
        r_exp.push(to_db(v.wh_exported));
        r_alg.push(i16::from(r.reading.algorithm().id()));
        r_sig.push(r.reading.signed().signature());
    }
    let stmt = client.prepare_cached(WRITE).await?;
    let answer = client
        .query(
            &stmt,
            &[
                &id, &expected, &count, &gaps, &seq, &ts, &imp, &exp, &r_meter, &r_seq, &r_ts,
                &r_imp, &r_exp, &r_alg, &r_sig,
            ],
        )
        .await?;
    answer
        .iter()
        .map(|row| row.try_get(0).map_err(DbError::from))
        .collect()
}
