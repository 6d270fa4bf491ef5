//! Settings of the server: command-line flags, each with an environment
//! variable and a default (`smartmeter-server --help` lists them all).
//!
//! Rocket's own settings (`Rocket.toml`, `ROCKET_*`: workers, log level,
//! keep-alive, TLS, shutdown grace...) apply to both listeners; the listen
//! addresses and the database URL given here take precedence over them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// Largest body of `POST /register`, in bytes.
pub const REGISTER_BODY_LIMIT: u64 = 16 * 1024;
/// Largest body of `POST /reportReading`: the core's limit for one signed reading.
pub const READING_BODY_LIMIT: u64 = smartmeter_core::MAX_JSON_LEN as u64;
/// Largest number of readings in one `POST /reportReadings` batch.
pub const MAX_BATCH_LEN: usize = 256;
/// Largest body of `POST /reportReadings`: a full batch of the largest readings.
pub const BATCH_BODY_LIMIT: u64 = (MAX_BATCH_LEN as u64) * (READING_BODY_LIMIT + 8) + 64;
/// Largest `limit` of a page of readings.
pub const MAX_PAGE_LEN: u32 = 1000;

/// Reference server for signed smart-meter readings.
///
/// Serves the public API (readings in, verifiable readings out) and the
/// operator API (registration, revocation, metrics) on two listeners.
#[derive(Debug, Clone, Parser)]
#[command(name = "smartmeter-server", version, about, long_about = None)]
pub struct Config {
    /// PostgreSQL connection URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/smartmeters"
    )]
    pub database_url: String,

    /// Bearer token of the operator API (register, revoke, list, metrics,
    /// reads). Required unless --dev-mode is given.
    #[arg(long, env = "SMARTMETER_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,

    /// Bearer token that grants reads of meters and readings and nothing else.
    /// Unset: only the operator token can read.
    #[arg(long, env = "SMARTMETER_READ_TOKEN", hide_env_values = true)]
    pub read_token: Option<String>,

    /// Listen address of the public API.
    #[arg(long, env = "SMARTMETER_PUBLIC_ADDR", default_value = "0.0.0.0:8000")]
    pub public_addr: SocketAddr,

    /// Listen address of the operator API (keep it on a private network).
    #[arg(
        long,
        env = "SMARTMETER_OPERATOR_ADDR",
        default_value = "127.0.0.1:8001"
    )]
    pub operator_addr: SocketAddr,

    /// How far in the future (by this server's clock) a reading's timestamp may be, in seconds.
    #[arg(long, env = "SMARTMETER_MAX_CLOCK_SKEW_SECS", default_value_t = 300)]
    pub max_clock_skew_secs: u64,

    /// Connections in each listener's PostgreSQL pool.
    #[arg(long, env = "SMARTMETER_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,

    /// Most readings that the commit workers store in one transaction when
    /// they merge concurrent requests (1: one request per transaction).
    #[arg(long, env = "SMARTMETER_COMMIT_GROUP_MAX", default_value_t = 512)]
    pub commit_group_max: usize,

    /// Directory of the built browser dashboard (`examples/dashboard/dist`),
    /// served at `/dashboard/` on the public listener. Unset: no dashboard.
    #[arg(long, env = "SMARTMETER_DASHBOARD_DIR")]
    pub dashboard_dir: Option<PathBuf>,

    /// Development mode: without an operator token, generate one and print it
    /// on standard error. Never use in production.
    #[arg(long, env = "SMARTMETER_DEV_MODE", default_value_t = false)]
    pub dev_mode: bool,
}

impl Config {
    /// A configuration with every default, for the given database and
    /// operator token (tests and embedding).
    pub fn new(database_url: impl Into<String>, operator_token: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            operator_token: Some(operator_token.into()),
            read_token: None,
            public_addr: SocketAddr::from(([0, 0, 0, 0], 8000)),
            operator_addr: SocketAddr::from(([127, 0, 0, 1], 8001)),
            max_clock_skew_secs: 300,
            db_pool_size: 16,
            commit_group_max: 512,
            dashboard_dir: None,
            dev_mode: false,
        }
    }
}
