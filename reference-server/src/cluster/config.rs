//! Settings of cluster mode, flattened into [`crate::Config`]. Without
//! `--nats-url` none of them is used and the server runs as a single node.

use std::time::Duration;

use clap::{Args, ValueEnum};

/// Default of `--role`.
pub const DEFAULT_ROLE: Role = Role::All;
/// Default of `--partitions`: fixed when the stream is created.
pub const DEFAULT_PARTITIONS: u32 = 8;
/// Default of `--stream-replicas`.
pub const DEFAULT_STREAM_REPLICAS: usize = 1;
/// Default of `--verdict-timeout-ms`.
pub const DEFAULT_VERDICT_TIMEOUT_MS: u64 = 10_000;
/// Default of `--publish-timeout-ms`.
pub const DEFAULT_PUBLISH_TIMEOUT_MS: u64 = 2_000;
/// Default of `--dedupe-window-secs`.
pub const DEFAULT_DEDUPE_WINDOW_SECS: u64 = 120;
/// Default of `--ack-wait-ms`.
pub const DEFAULT_ACK_WAIT_MS: u64 = 3_000;
/// Default of `--store-index`.
pub const DEFAULT_STORE_INDEX: u32 = 0;
/// Default of `--store-count`.
pub const DEFAULT_STORE_COUNT: u32 = 1;

/// What a cluster node does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Serves the public API: verifies readings and publishes them to the
    /// stream, then answers with the store worker's verdict.
    Ingest,
    /// Consumes the stream partitions it owns and commits them to PostgreSQL.
    Store,
    /// Both.
    All,
}

impl Role {
    /// True when this node serves readings.
    pub fn ingests(self) -> bool {
        matches!(self, Self::Ingest | Self::All)
    }

    /// True when this node consumes partitions.
    pub fn stores(self) -> bool {
        matches!(self, Self::Store | Self::All)
    }
}

/// Cluster settings (all unused without `--nats-url`).
#[derive(Debug, Clone, Args)]
pub struct ClusterConfig {
    /// NATS server URL(s), comma separated: turns cluster mode on. Unset:
    /// single-node mode (readings committed by this process directly).
    #[arg(long, env = "SMARTMETER_NATS_URL")]
    pub nats_url: Option<String>,

    /// What this cluster node does.
    #[arg(long, env = "SMARTMETER_ROLE", value_enum, default_value_t = DEFAULT_ROLE)]
    pub role: Role,

    /// Partitions of the readings stream (fixed when the stream is created;
    /// every node must give the same number).
    #[arg(long, env = "SMARTMETER_PARTITIONS", default_value_t = DEFAULT_PARTITIONS)]
    pub partitions: u32,

    /// Replicas of the stream and of the registry bucket, when this node
    /// creates them (3 in production).
    #[arg(long, env = "SMARTMETER_STREAM_REPLICAS", default_value_t = DEFAULT_STREAM_REPLICAS)]
    pub stream_replicas: usize,

    /// PostgreSQL shards, repeated: partition p is stored in shard
    /// p mod K. Unset: the one database of `--database-url`.
    #[arg(
        long = "shard-database-url",
        env = "SMARTMETER_SHARD_DATABASE_URLS",
        value_delimiter = ' '
    )]
    pub shard_database_urls: Vec<String>,

    /// How long an ingest node waits for the store worker's verdict before
    /// it answers 503 `cluster_unavailable`, in milliseconds.
    #[arg(long, env = "SMARTMETER_VERDICT_TIMEOUT_MS", default_value_t = DEFAULT_VERDICT_TIMEOUT_MS)]
    pub verdict_timeout_ms: u64,

    /// How long an ingest node waits for the stream to hold a reading
    /// (JetStream's publish acknowledgement), in milliseconds.
    #[arg(long, env = "SMARTMETER_PUBLISH_TIMEOUT_MS", default_value_t = DEFAULT_PUBLISH_TIMEOUT_MS)]
    pub publish_timeout_ms: u64,

    /// The stream's de-duplication window, when this node creates it.
    #[arg(long, env = "SMARTMETER_DEDUPE_WINDOW_SECS", default_value_t = DEFAULT_DEDUPE_WINDOW_SECS)]
    pub dedupe_window_secs: u64,

    /// How long a store worker may hold a reading unacknowledged before
    /// the stream delivers it again, in milliseconds; also how long a
    /// worker waits after taking a partition over before it consumes it.
    #[arg(long, env = "SMARTMETER_ACK_WAIT_MS", default_value_t = DEFAULT_ACK_WAIT_MS)]
    pub ack_wait_ms: u64,

    /// This store worker's index: it prefers partitions p with
    /// p mod store-count = store-index, and takes the others over when
    /// their owner is gone.
    #[arg(long, env = "SMARTMETER_STORE_INDEX", default_value_t = DEFAULT_STORE_INDEX)]
    pub store_index: u32,

    /// How many store workers are meant to run.
    #[arg(long, env = "SMARTMETER_STORE_COUNT", default_value_t = DEFAULT_STORE_COUNT)]
    pub store_count: u32,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            nats_url: None,
            role: DEFAULT_ROLE,
            partitions: DEFAULT_PARTITIONS,
            stream_replicas: DEFAULT_STREAM_REPLICAS,
            shard_database_urls: Vec::new(),
            verdict_timeout_ms: DEFAULT_VERDICT_TIMEOUT_MS,
            publish_timeout_ms: DEFAULT_PUBLISH_TIMEOUT_MS,
            dedupe_window_secs: DEFAULT_DEDUPE_WINDOW_SECS,
            ack_wait_ms: DEFAULT_ACK_WAIT_MS,
            store_index: DEFAULT_STORE_INDEX,
            store_count: DEFAULT_STORE_COUNT,
        }
    }
}

impl ClusterConfig {
    /// The verdict deadline.
    pub fn verdict_timeout(&self) -> Duration {
        Duration::from_millis(self.verdict_timeout_ms)
    }

    /// The publish deadline.
    pub fn publish_timeout(&self) -> Duration {
        Duration::from_millis(self.publish_timeout_ms)
    }

    /// The redelivery delay of unacknowledged readings.
    pub fn ack_wait(&self) -> Duration {
        Duration::from_millis(self.ack_wait_ms)
    }

    /// Partitions, at least one.
    pub fn partition_count(&self) -> u32 {
        self.partitions.max(1)
    }
}
