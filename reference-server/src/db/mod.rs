//! PostgreSQL: the pool (with TLS), the migrations, the time partitions,
//! the queries of the routes and the two set-based statements of ingest.
//!
//! This layer knows nothing of HTTP: it returns [`DbError`] (and
//! [`RegisterError`] for a registration), which the routes map to API errors.

pub mod bigint;
pub mod migrate;
pub mod partitions;
pub mod pool;
pub mod queries;
pub mod store;

use std::error::Error as StdError;
use std::fmt;

use rocket_db_pools::Database;
use rocket_db_pools::deadpool_postgres::{self, tokio_postgres};

pub use pool::PgPool;
pub use queries::{
    MeterRow, ReadingQuery, StoredReading, latest_reading, list_meters, meter_by_key, ping,
    readings, register, revoke,
};

/// The handlers' connection pool, configured from Rocket's `databases.smartmeter`.
#[derive(Database)]
#[database("smartmeter")]
pub struct Db(PgPool);

/// A pooled connection.
pub type Client = deadpool_postgres::Object;

/// A database failure.
#[derive(Debug)]
pub enum DbError {
    /// PostgreSQL failed, refused or cannot be reached (also: no pooled
    /// connection in time). Retrying later may succeed.
    Unavailable(Box<dyn StdError + Send + Sync>),
    /// A stored value is not what this server writes (a hand-edited
    /// database, or a bug): a fault, not the client's.
    Corrupt(String),
}

impl DbError {
    /// A stored value that does not parse back.
    pub fn corrupt(what: &str) -> Self {
        Self::Corrupt(format!("stored data does not parse: {what}"))
    }
}

/// An error with its whole chain of causes, `outer: inner: innermost`:
/// tokio-postgres says only "db error" at the top and keeps PostgreSQL's
/// own message (for example "sorry, too many clients already") as the source.
pub fn with_causes(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(e) => f.write_str(&with_causes(e.as_ref())),
            Self::Corrupt(what) => f.write_str(what),
        }
    }
}

impl StdError for DbError {}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Unavailable(Box::new(e))
    }
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Unavailable(Box::new(e))
    }
}

/// Why a registration was refused.
#[derive(Debug)]
pub enum RegisterError {
    /// The username is taken.
    Username,
    /// The key is registered already.
    Key,
    /// The database failed, or the new row does not read back.
    Db(DbError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("db error")
        }
    }
    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn the_cause_is_in_the_message() {
        let e = DbError::Unavailable(Box::new(Outer(std::io::Error::other(
            "sorry, too many clients already",
        ))));
        assert_eq!(e.to_string(), "db error: sorry, too many clients already");
    }
}
