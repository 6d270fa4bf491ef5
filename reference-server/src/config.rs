//! Settings of the server: command-line flags, each with an environment
//! variable and a default (`smartmeter-server --help` lists them all).
//!
//! Rocket's own settings (`Rocket.toml`, `ROCKET_*`: workers, log level,
//! keep-alive, TLS, shutdown grace...) apply to both listeners; the listen
//! addresses and the database URL given here take precedence over them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser};

use crate::logging::LogFormat;
use crate::ratelimit::Limits;

/// Default of `--database-url`.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/smartmeters";
/// Default of `--public-addr`.
pub const DEFAULT_PUBLIC_ADDR: &str = "0.0.0.0:8000";
/// Default of `--operator-addr`.
pub const DEFAULT_OPERATOR_ADDR: &str = "127.0.0.1:8001";
/// Default of `--max-clock-skew-secs`.
pub const DEFAULT_MAX_CLOCK_SKEW_SECS: u64 = 300;
/// Default of `--db-pool-size`.
pub const DEFAULT_DB_POOL_SIZE: usize = 16;
/// Default of `--commit-group-max`.
pub const DEFAULT_COMMIT_GROUP_MAX: usize = 512;
/// Default of `--commit-workers`: one worker makes the largest groups,
/// which costs PostgreSQL the least per reading (docs/performance.md), and
/// already stores up to `--commit-group-max` readings per WAL flush.
pub const DEFAULT_COMMIT_WORKERS: usize = 1;
/// Default of `--retention-days`: off.
pub const DEFAULT_RETENTION_DAYS: u32 = 0;
/// Default of `--rate-limit-burst`: far above a real meter (one reading
/// every few seconds at most), enough for a backlog batch of 256.
pub const DEFAULT_RATE_LIMIT_BURST: u32 = 300;
/// Default of `--rate-limit-per-sec`.
pub const DEFAULT_RATE_LIMIT_PER_SEC: f64 = 10.0;
/// Default of `--rate-limit-meters`.
pub const DEFAULT_RATE_LIMIT_METERS: usize = 100_000;

/// Reference server for signed smart-meter readings.
///
/// Serves the public API (readings in, verifiable readings out) and the
/// operator API (registration, revocation, metrics) on two listeners.
#[derive(Debug, Clone, Parser)]
#[command(name = "smartmeter-server", version, about, long_about = None)]
pub struct Config {
    /// PostgreSQL connection URL. TLS: `?sslmode=disable|prefer|require|verify-full`
    /// (default prefer) and, for verify-full, `&sslrootcert=<PEM file>|system`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = DEFAULT_DATABASE_URL
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
    #[arg(long, env = "SMARTMETER_PUBLIC_ADDR", default_value = DEFAULT_PUBLIC_ADDR)]
    pub public_addr: SocketAddr,

    /// Listen address of the operator API (keep it on a private network).
    #[arg(
        long,
        env = "SMARTMETER_OPERATOR_ADDR",
        default_value = DEFAULT_OPERATOR_ADDR
    )]
    pub operator_addr: SocketAddr,

    /// How far in the future (by this server's clock) a reading's timestamp may be, in seconds.
    #[arg(long, env = "SMARTMETER_MAX_CLOCK_SKEW_SECS", default_value_t = DEFAULT_MAX_CLOCK_SKEW_SECS)]
    pub max_clock_skew_secs: u64,

    /// Connections in each listener's PostgreSQL pool.
    #[arg(long, env = "SMARTMETER_DB_POOL_SIZE", default_value_t = DEFAULT_DB_POOL_SIZE)]
    pub db_pool_size: usize,

    /// Most readings that the commit workers store in one transaction when
    /// they merge concurrent requests (1: one request per transaction).
    #[arg(long, env = "SMARTMETER_COMMIT_GROUP_MAX", default_value_t = DEFAULT_COMMIT_GROUP_MAX)]
    pub commit_group_max: usize,

    /// Commit workers, each with its own database connection: how many
    /// groups are judged and stored at once. Fewer workers make larger
    /// groups (fewer statements and WAL flushes per reading).
    #[arg(long, env = "SMARTMETER_COMMIT_WORKERS", default_value_t = DEFAULT_COMMIT_WORKERS)]
    pub commit_workers: usize,

    /// Keep readings whose timestamp is at most this many days old: older
    /// month partitions are dropped whole (never row by row). 0 keeps
    /// everything.
    #[arg(long, env = "SMARTMETER_RETENTION_DAYS", default_value_t = DEFAULT_RETENTION_DAYS)]
    pub retention_days: u32,

    /// Readings a meter may send at once after a quiet period (per-meter
    /// token bucket); over the limit a reading gets 429 `rate_limited`.
    /// 0 turns the limit off.
    #[arg(long, env = "SMARTMETER_RATE_LIMIT_BURST", default_value_t = DEFAULT_RATE_LIMIT_BURST)]
    pub rate_limit_burst: u32,

    /// Sustained readings per second that a meter's bucket refills.
    #[arg(long, env = "SMARTMETER_RATE_LIMIT_PER_SEC", default_value_t = DEFAULT_RATE_LIMIT_PER_SEC)]
    pub rate_limit_per_sec: f64,

    /// Most meters whose rate-limit bucket is kept in memory.
    #[arg(long, env = "SMARTMETER_RATE_LIMIT_METERS", default_value_t = DEFAULT_RATE_LIMIT_METERS)]
    pub rate_limit_meters: usize,

    /// Format of the log lines on standard error: `text` (coloured only on a
    /// terminal) or `json` (one object per line).
    #[arg(long, env = "SMARTMETER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Directory of the built browser dashboard (`examples/dashboard/dist`),
    /// served at `/dashboard/` on the public listener. Unset: no dashboard.
    #[arg(long, env = "SMARTMETER_DASHBOARD_DIR")]
    pub dashboard_dir: Option<PathBuf>,

    /// Development mode: without an operator token, generate one and print it
    /// on standard error. Never use in production.
    #[arg(long, env = "SMARTMETER_DEV_MODE", default_value_t = false)]
    pub dev_mode: bool,

    /// Cluster mode (NATS JetStream); off without `--nats-url`.
    #[command(flatten)]
    pub cluster: crate::cluster::ClusterConfig,
}

impl Config {
    /// A configuration with every default, for the given database and
    /// operator token (tests and embedding).
    ///
    /// # Errors
    /// Only if a default above does not parse, which a unit test rules out.
    pub fn new(
        database_url: impl Into<String>,
        operator_token: impl Into<String>,
    ) -> Result<Self, String> {
        // clap itself fills in the defaults of the declarations above, so
        // they are written once. The flags' environment variables are
        // cleared first: tests are not affected by the caller's variables.
        let matches = Self::command()
            .mut_args(|arg| arg.env(None::<&str>))
            .try_get_matches_from(["smartmeter-server"])
            .map_err(|e| e.to_string())?;
        let mut config = Self::from_arg_matches(&matches).map_err(|e| e.to_string())?;
        config.database_url = database_url.into();
        config.operator_token = Some(operator_token.into());
        Ok(config)
    }

    /// The core's history rules with this server's clock skew.
    pub fn policy(&self) -> smartmeter_core::policy::Policy {
        smartmeter_core::policy::Policy {
            max_clock_skew_ms: self.max_clock_skew_secs.saturating_mul(1000),
        }
    }

    /// How long readings are kept, when retention is on.
    pub fn retention(&self) -> Option<std::time::Duration> {
        (self.retention_days > 0)
            .then(|| std::time::Duration::from_secs(u64::from(self.retention_days) * 86_400))
    }

    /// The rate limiter's settings.
    pub fn rate_limits(&self) -> Limits {
        Limits {
            burst: self.rate_limit_burst,
            per_second: self.rate_limit_per_sec,
            max_meters: self.rate_limit_meters,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compared with the constants, not with a parse of no flags: that
    /// parse would read the caller's environment.
    #[test]
    fn new_has_the_flags_defaults() {
        let new = Config::new("postgres://elsewhere/db", "t");
        assert!(new.is_ok(), "{new:?}");
        if let Ok(n) = new {
            assert_eq!(n.database_url, "postgres://elsewhere/db");
            assert_eq!(n.operator_token.as_deref(), Some("t"));
            assert_eq!(n.read_token, None);
            assert_eq!(n.public_addr.to_string(), DEFAULT_PUBLIC_ADDR);
            assert_eq!(n.operator_addr.to_string(), DEFAULT_OPERATOR_ADDR);
            assert_eq!(n.max_clock_skew_secs, DEFAULT_MAX_CLOCK_SKEW_SECS);
            assert_eq!(n.db_pool_size, DEFAULT_DB_POOL_SIZE);
            assert_eq!(n.commit_group_max, DEFAULT_COMMIT_GROUP_MAX);
            assert_eq!(n.commit_workers, DEFAULT_COMMIT_WORKERS);
            assert_eq!(n.retention_days, DEFAULT_RETENTION_DAYS);
            assert_eq!(n.rate_limit_burst, DEFAULT_RATE_LIMIT_BURST);
            assert_eq!(n.rate_limit_meters, DEFAULT_RATE_LIMIT_METERS);
            assert!(!n.dev_mode && n.dashboard_dir.is_none());
        }
    }
}
