//! Logs: `tracing` events on standard error, as text (coloured only on a
//! terminal) or as JSON, one object per line (`--log-format json`).
//!
//! Rocket's own log lines (it logs through the `log` crate) are routed into
//! the same subscriber, so they come out in the same format; its launch
//! banner and per-request chatter are filtered out by default, its warnings
//! and errors are kept. Each request gets one line of its own from
//! [`RequestLog`]: listener, method, route, status, error code, latency and
//! the meter's key id.

use std::io::IsTerminal;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Orbit, Request, Response, Rocket};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::http::{Started, Trace};
use crate::metrics::Listener;

/// The target of the per-request lines (filter with `RUST_LOG`, e.g.
/// `info,smartmeter_server::request=off`).
pub const REQUEST_TARGET: &str = "smartmeter_server::request";

/// The filter when `RUST_LOG` is not set: this server's events from `info`;
/// Rocket's from `warn`, without its launch banner and without its
/// per-request details (`rocket::server::_`, e.g. an ERROR line "No
/// matching routes" for every 404, which the request line already says);
/// PostgreSQL's notices from `warn`.
pub const DEFAULT_FILTER: &str =
    "info,rocket=warn,rocket::launch=off,rocket::server::_=off,tokio_postgres=warn";

/// The format of the log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event (coloured when standard error is a terminal).
    Text,
    /// One JSON object per line, the event's fields at the top level.
    Json,
}

/// Installs the subscriber for the process (the binary calls it once).
///
/// # Errors
/// A message when a subscriber is installed already or `RUST_LOG` is invalid.
pub fn init(format: LogFormat) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        // Rocket's launch banner stays off unless RUST_LOG names it.
        Ok(spec) if spec.contains("rocket::launch") => {
            EnvFilter::try_new(&spec).map_err(|e| format!("RUST_LOG={spec:?}: {e}"))?
        }
        Ok(spec) => EnvFilter::try_new(format!("{spec},rocket::launch=off"))
            .map_err(|e| format!("RUST_LOG={spec:?}: {e}"))?,
        Err(_) => EnvFilter::new(DEFAULT_FILTER),
    };
    // Rocket logs the details of a message as separate, indented lines
    // under a target ending in `::_` (also from the code its macros
    // generate in this crate, e.g. "request guard failed" for every 401).
    // Alone they are noise; keep them only for errors.
    let continuation = filter_fn(|meta| {
        !(meta.target().ends_with("::_") || meta.target() == "_")
            || *meta.level() == tracing::Level::ERROR
    });
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(continuation);
    let result = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    result.map_err(|e| format!("cannot install the logger: {e}"))
}

/// Logs one line per request, and the listener's start and shutdown.
pub struct RequestLog {
    /// The listener it is attached to.
    pub listener: Listener,
}

#[rocket::async_trait]
impl Fairing for RequestLog {
    fn info(&self) -> Info {
        Info {
            name: "request log",
            kind: Kind::Response | Kind::Liftoff | Kind::Shutdown,
        }
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        let config = rocket.config();
        tracing::info!(
            listener = self.listener.as_str(),
            address = %std::net::SocketAddr::new(config.address, config.port),
            "listening"
        );
    }

    async fn on_shutdown(&self, _rocket: &Rocket<Orbit>) {
        tracing::info!(listener = self.listener.as_str(), "shutdown requested");
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        if !tracing::enabled!(target: REQUEST_TARGET, tracing::Level::INFO) {
            return;
        }
        let started = req.local_cache(|| Started(std::time::Instant::now()));
        let latency_us = u64::try_from(started.0.elapsed().as_micros()).unwrap_or(u64::MAX);
        let trace = req.local_cache(Trace::default);
        tracing::info!(
            target: REQUEST_TARGET,
            listener = self.listener.as_str(),
            method = req.method().as_str(),
            // No route for an unknown path: the field is left out.
            route = req.route().map(|r| r.uri.path()),
            status = res.status().code,
            code = trace.code(),
            latency_us,
            key_id = trace.key_id().map(tracing::field::display),
            "request"
        );
    }
}
