//! The store of verified readings: one transaction for a whole commit
//! group, which the committer hands over as borrowed readings (no copy).

use rocket_db_pools::deadpool_postgres;
use smartmeter_core::{KeyId, Reading};

use super::DbError;

/// A verified reading on its way into the database.
#[derive(Debug)]
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

/// A policy refusal by the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The sequence is not after the last stored one and the reading is not
    /// an exact re-send.
    StaleSequence,
    /// The timestamp is before the last stored one.
    TimestampBackwards,
    /// A register is lower than in the last stored reading.
    RegisterDecreased,
    /// The meter is revoked (seen by the database even where this process's
    /// cache is stale).
    Revoked,
    /// The meter is gone from the database.
    UnknownMeter,
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
    /// Refused by the policy.
    Rejected(Refusal),
}

fn outcome_of(code: &str, sequence: u64, previous: Option<&str>) -> Result<Outcome, DbError> {
    Ok(match code {
        "accepted" => {
            let gap = match previous {
                None => 0,
                Some(p) => {
                    let p: u64 = p
                        .parse()
                        .map_err(|_| DbError::corrupt("previous sequence"))?;
                    sequence.saturating_sub(p).saturating_sub(1)
                }
            };
            Outcome::Accepted { gap }
        }
        "duplicate" => Outcome::Duplicate,
        "meter_revoked" => Outcome::Rejected(Refusal::Revoked),
        "stale_sequence" => Outcome::Rejected(Refusal::StaleSequence),
        "timestamp_backwards" => Outcome::Rejected(Refusal::TimestampBackwards),
        "register_decreased" => Outcome::Rejected(Refusal::RegisterDecreased),
        "unknown_meter" => Outcome::Rejected(Refusal::UnknownMeter),
        _ => return Err(DbError::corrupt("store outcome")),
    })
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
    items: &[&NewReading],
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
            outcome_of(&code, i.reading.sequence, previous.as_deref())
        }
    });
    let outcomes = rocket::futures::future::try_join_all(calls).await?;
    tx.commit().await?;
    Ok(outcomes)
}
