//! The state shared by both listeners of one process.

use std::sync::Arc;

use crate::auth::Tokens;
use crate::cache::KeyCache;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::states::MeterStates;

/// State shared by both listeners of one process: configuration, tokens,
/// the caches of registered keys and of meters' states, the rate limiter
/// and the metrics.
#[derive(Debug)]
pub struct Shared {
    /// The configuration.
    pub config: Config,
    /// Digests of the bearer tokens.
    pub tokens: Tokens,
    /// Registered keys by key id.
    pub cache: KeyCache,
    /// Each meter's last accepted state, by meter id.
    pub states: Arc<MeterStates>,
    /// Per-meter token buckets.
    pub limiter: RateLimiter,
    /// Counters and histograms.
    pub metrics: Arc<Metrics>,
    /// The cluster node, in cluster mode (set once at start).
    pub cluster: std::sync::OnceLock<Arc<crate::cluster::Node>>,
    /// Threads a batch's verification may use: the cores this process may
    /// run on, read once (the lookup reads cgroup files).
    pub verify_threads: usize,
}

impl Shared {
    /// Builds the shared state. The operator token must be set (see
    /// [`Config::operator_token`]); an empty one is refused.
    ///
    /// # Errors
    /// A message when no usable operator token is configured.
    pub fn new(config: Config) -> Result<Arc<Self>, String> {
        let operator = config
            .operator_token
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .ok_or("no operator token: set SMARTMETER_OPERATOR_TOKEN (or use --dev-mode)")?;
        let read = config
            .read_token
            .as_deref()
            .filter(|t| !t.trim().is_empty());
        if read == Some(operator) {
            return Err("the read token must differ from the operator token".into());
        }
        if !(config.rate_limit_per_sec.is_finite() && config.rate_limit_per_sec >= 0.0) {
            return Err("the rate limit per second must be a number >= 0".into());
        }
        let tokens = Tokens::new(operator, read);
        Ok(Arc::new(Self {
            tokens,
            limiter: RateLimiter::new(config.rate_limits()),
            config,
            cache: KeyCache::default(),
            states: Arc::default(),
            metrics: Arc::default(),
            cluster: std::sync::OnceLock::new(),
            verify_threads: std::thread::available_parallelism().map_or(1, usize::from),
        }))
    }
}
