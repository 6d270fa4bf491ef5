//! The upkeep of `readings`' time partitions, by the server itself: at
//! ignition (before the public listener serves) and then every
//! [`CHECK_INTERVAL`], it creates the month partitions ahead of time and,
//! when `--retention-days` is set, drops those whose every reading is older
//! ([`db::partitions`]).
//!
//! A failure at ignition stops the server (a database that cannot take
//! partitions cannot take readings where they belong), except a lock that
//! stays busy: readings then wait in the default partition and the next
//! check tries again. Later failures are logged and retried.

use std::sync::Arc;

use rocket::fairing::AdHoc;
use rocket_db_pools::Database;

use crate::clock::now_ms;
use crate::db::partitions::{CHECK_INTERVAL, Report};
use crate::db::{self, Db, DbError, PgPool};
use crate::state::Shared;

/// One check with the handlers' pool.
async fn check(shared: &Shared, pool: &PgPool) -> Result<Report, DbError> {
    let mut client = pool.get().await?;
    db::partitions::check(
        &mut client,
        // A clock before 1970 reads as 0 here: no partition is old enough
        // to drop then, and the months ahead come at the next check.
        now_ms().unwrap_or(0),
        shared.config.policy().max_clock_skew_ms,
        shared.config.retention(),
    )
    .await
}

/// Checks the partitions at ignition, then every [`CHECK_INTERVAL`].
pub fn fairing(shared: &Arc<Shared>) -> AdHoc {
    let shared = Arc::clone(shared);
    AdHoc::try_on_ignite("partitions", move |rocket| async move {
        let Some(pool) = Db::fetch(&rocket) else {
            return Err(rocket);
        };
        match check(&shared, pool).await {
            Ok(_) => {}
            Err(e) if db::partitions::is_lock_timeout(&e) => {
                tracing::warn!(error = %e, "partitions busy; trying again at the next check");
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot create the partitions of readings");
                return Err(rocket);
            }
        }
        let pool: PgPool = PgPool::clone(pool);
        rocket::tokio::spawn(async move {
            let mut ticks = rocket::tokio::time::interval(CHECK_INTERVAL);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                if let Err(e) = check(&shared, &pool).await {
                    tracing::warn!(error = %e, "partition check failed; trying again later");
                }
            }
        });
        Ok(rocket)
    })
}
