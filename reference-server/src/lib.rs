//! # smartmeter-server
//!
//! The reference server for signed smart-meter readings: Rocket and
//! PostgreSQL. Every rule about a reading's bytes, keys and signature
//! belongs to `smartmeter-core`; this crate adds identity (registered
//! meters), storage and policy (sequence, time, registers).
//!
//! One process serves two listeners built here: [`build_public`] (readings
//! in, verifiable readings out) and [`build_operator`] (registration,
//! revocation, metrics). Both share one [`Shared`] state: configuration,
//! tokens, the cache of registered keys and the metrics.
//!
//! The API is described in `docs/api.md` and `docs/openapi.yaml`.

#![forbid(unsafe_code)]

pub mod auth;
pub mod cache;
pub mod clock;
pub mod cluster;
pub mod committer;
pub mod config;
pub mod dashboard;
pub mod db;
pub mod error;
pub mod http;
pub mod judge;
pub mod logging;
pub mod meters;
pub mod metrics;
pub mod ops;
pub mod ratelimit;
pub mod readings;
pub mod state;
pub mod states;
pub mod upkeep;

use std::sync::Arc;

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::{Build, Rocket};
use rocket_db_pools::Database;

pub use config::Config;
pub use state::Shared;

use metrics::{Listener, PoolName};

/// Rocket's configuration (`Rocket.toml`, `ROCKET_*`) with this server's
/// database settings and the given listen address on top.
fn figment(shared: &Shared, addr: std::net::SocketAddr) -> Figment {
    rocket::Config::figment()
        .merge(("address", addr.ip()))
        .merge(("port", addr.port()))
        .merge((
            "databases.smartmeter.url",
            shared.config.database_url.as_str(),
        ))
        .merge((
            "databases.smartmeter.max_connections",
            shared.config.db_pool_size.max(1),
        ))
        .merge(("databases.smartmeter.connect_timeout", 5))
}

/// The common base of both listeners: pool, migrations, catchers, metrics, log.
fn base(shared: &Arc<Shared>, figment: Figment, listener: Listener) -> Rocket<Build> {
    let metrics = Arc::clone(&shared.metrics);
    rocket::custom(figment)
        .attach(db::Db::init())
        .attach(AdHoc::try_on_ignite(
            "migrations",
            move |rocket| async move {
                let Some(db) = db::Db::fetch(&rocket) else {
                    return Err(rocket);
                };
                db.observe_wait(metrics.pool_wait(match listener {
                    Listener::public => PoolName::public,
                    Listener::operator => PoolName::operator,
                }));
                let migrated = match db.get().await {
                    Ok(mut client) => db::migrate::run(&mut client)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(format!("cannot connect: {e}")),
                };
                match migrated {
                    Ok(_) => Ok(rocket),
                    Err(e) => {
                        tracing::error!(
                            listener = listener.as_str(),
                            error = %e,
                            "cannot apply database migrations"
                        );
                        Err(rocket)
                    }
                }
            },
        ))
        .attach(metrics::Latency::new(&shared.metrics, listener))
        .attach(logging::RequestLog { listener })
        .manage(Arc::clone(shared))
        .register("/", error::catchers())
}

/// The public listener, on `config.public_addr`.
pub fn build_public(shared: &Arc<Shared>) -> Rocket<Build> {
    let figment = figment(shared, shared.config.public_addr);
    let rocket = base(shared, figment, Listener::public)
        .attach(committer::fairing(shared))
        .attach(upkeep::fairing(shared))
        .mount("/", readings::public_routes())
        .mount("/", meters::read_routes())
        .mount("/", ops::public_routes());
    match &shared.config.dashboard_dir {
        Some(dir) => dashboard::mount(rocket, dir),
        None => rocket,
    }
}

/// The operator listener, on `config.operator_addr`.
pub fn build_operator(shared: &Arc<Shared>) -> Rocket<Build> {
    let figment = figment(shared, shared.config.operator_addr);
    base(shared, figment, Listener::operator)
        .mount("/", meters::operator_routes())
        .mount("/", meters::read_routes())
        .mount("/", ops::operator_routes())
}
