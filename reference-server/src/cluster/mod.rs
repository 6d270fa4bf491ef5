//! Cluster mode: ingest nodes and store workers on NATS JetStream.
//!
//! Without `--nats-url` nothing here runs and the server is the single
//! node it always was. With it, one process plays one role or both
//! (`--role`):
//!
//! - an **ingest node** ([`ingest`]) serves the unchanged public API. It
//!   finds keys through the registry ([`registry`]: a JetStream key-value
//!   bucket mirrored into the process's key cache), parses and verifies each
//!   reading with the core, publishes it to its partition of the readings
//!   stream (partition = key id, [`wire::partition`]; message id
//!   `<key_id>:<sequence>`), and waits for the store worker's verdict, so
//!   that it answers 201, 200 or 409 exactly as a single node does, and a
//!   2xx still means "committed to PostgreSQL";
//! - a **store worker** ([`store`]) owns partitions (a PostgreSQL advisory
//!   lock per partition, held by a session), judges their readings with the
//!   core's policy through the committer's set-based path, commits, and only
//!   then acknowledges them to the stream and sends the verdicts.
//!
//! PostgreSQL stays the fence: a meter's `version` compare-and-set and the
//! `(meter_id, sequence)` key make a reading stored at most once whatever
//! the stream redelivers. `docs/api.md` (cluster answers) and
//! `docs/scale.md` (design, figures, sizing) describe it for operators.

pub mod config;
pub mod ingest;
pub mod nats;
pub mod registry;
pub mod store;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use smartmeter_core::KeyId;
use smartmeter_core::policy::Policy;

use crate::db::{self, Client, DbError, PgPool};
use crate::state::Shared;

pub use config::{ClusterConfig, Role};

/// Why cluster mode could not take a reading (or a registry update).
#[derive(Debug, Clone)]
pub enum ClusterError {
    /// NATS or JetStream did not answer in time, refused, or has no
    /// quorum; or no store worker answered in time. Nothing was promised.
    Unavailable(String),
    /// This node does not serve readings (`--role store`).
    NotIngest,
}

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable(why) => f.write_str(why),
            Self::NotIngest => f.write_str("this node is a store worker and takes no readings"),
        }
    }
}

impl std::error::Error for ClusterError {}

/// A running cluster node: its NATS connection, the JetStream objects and
/// the PostgreSQL shards.
pub struct Node {
    /// The settings.
    pub config: ClusterConfig,
    js: jetstream::Context,
    registry: kv::Store,
    shards: Vec<PgPool>,
    policy: Policy,
    ingest: Option<ingest::Ingest>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("role", &self.config.role)
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

/// How long a shard connection may take before the request fails.
const SHARD_TIMEOUT: Duration = Duration::from_secs(5);

impl Node {
    /// The partition of a key.
    pub fn partition(&self, key_id: &KeyId) -> u32 {
        wire::partition(key_id, self.config.partition_count())
    }

    /// The index of the shard that stores partition `p`: p mod K.
    pub fn shard_index(&self, p: u32) -> usize {
        usize::try_from(p).unwrap_or(0) % self.shards.len().max(1)
    }

    /// The shard that stores partition `p`.
    fn shard_of_partition(&self, p: u32) -> Result<&PgPool, DbError> {
        self.shards
            .get(self.shard_index(p))
            .ok_or_else(|| DbError::Corrupt("no PostgreSQL shard is configured".into()))
    }

    /// The shard that stores a key's meter and readings.
    ///
    /// # Errors
    /// [`DbError::Unavailable`] when no connection is to be had.
    pub async fn shard_client(&self, key_id: &KeyId) -> Result<Client, DbError> {
        self.shard_of_partition(self.partition(key_id))?.get().await
    }

    /// The registry bucket.
    pub fn registry(&self) -> &kv::Store {
        &self.registry
    }

    /// Hands verified readings to the cluster and waits for their verdicts
    /// (see [`ingest::Ingest::store`]).
    ///
    /// # Errors
    /// [`ClusterError`]: nothing promised about these readings.
    pub async fn store(
        &self,
        items: Vec<crate::committer::NewReading>,
    ) -> Result<Vec<crate::judge::Outcome>, ClusterError> {
        match &self.ingest {
            Some(i) => i.store(self, items).await,
            None => Err(ClusterError::NotIngest),
        }
    }
}

/// Connects to NATS, creates or opens the stream and the registry bucket,
/// opens the shards, starts the registry watcher, the verdict listener
/// (ingest) and the partition owner (store), and records the node in
/// [`Shared::cluster`]. Does nothing without `--nats-url`.
///
/// # Errors
/// A message when NATS, JetStream or a shard setting is unusable.
pub async fn start(shared: &Arc<Shared>) -> Result<(), String> {
    let c = shared.config.cluster.clone();
    let Some(url) = c.nats_url.clone() else {
        return Ok(());
    };
    let client = nats::connect(&url, "smartmeter-server").await?;
    let js = jetstream::ContextBuilder::new()
        .timeout(c.publish_timeout())
        .build(client.clone());
    let registry = nats::setup(&js, &c).await?;
    let urls = if c.shard_database_urls.is_empty() {
        vec![shared.config.database_url.clone()]
    } else {
        c.shard_database_urls.clone()
    };
    let mut shards = Vec::with_capacity(urls.len());
    for u in &urls {
        let pool = PgPool::new(u, shared.config.db_pool_size.max(2), SHARD_TIMEOUT)
            .map_err(|e| format!("shard {u}: {}", e.0))?;
        shards.push(pool);
    }
    if c.role.stores() {
        // Store workers keep every shard's schema current, as a single
        // node keeps its one database.
        for (i, pool) in shards.iter().enumerate() {
            migrate(pool)
                .await
                .map_err(|e| format!("shard {i}: migrations: {e}"))?;
        }
        // And their time partitions and retention, as `upkeep` does for the
        // database of `--database-url`.
        for pool in &shards {
            rocket::tokio::spawn(upkeep(pool.clone(), Arc::clone(shared)));
        }
    }
    let ingest = if c.role.ingests() {
        Some(ingest::Ingest::start(&client).await?)
    } else {
        None
    };
    let node = Arc::new(Node {
        config: c.clone(),
        js,
        registry,
        shards,
        policy: shared.config.policy(),
        ingest,
    });
    rocket::tokio::spawn(registry::watch(Arc::clone(&node), Arc::clone(shared)));
    if c.role.stores() {
        rocket::tokio::spawn(store::run(Arc::clone(&node), Arc::clone(&shared.metrics)));
    }
    tracing::info!(role = ?c.role, partitions = c.partition_count(), shards = urls.len(), "cluster mode");
    shared
        .cluster
        .set(node)
        .map_err(|_| "the cluster node was started twice".to_string())
}

/// Creates a shard's month partitions ahead of time and drops expired ones,
/// now and every [`db::partitions::CHECK_INTERVAL`]; failures are logged and
/// retried (readings wait in the default partition meanwhile).
async fn upkeep(pool: PgPool, shared: Arc<Shared>) {
    let mut ticks = rocket::tokio::time::interval(db::partitions::CHECK_INTERVAL);
    loop {
        ticks.tick().await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let checked = match pool.get().await {
            Ok(mut client) => db::partitions::check(
                &mut client,
                now,
                shared.config.policy().max_clock_skew_ms,
                shared.config.retention(),
            )
            .await
            .map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = checked {
            tracing::warn!(error = %e, "shard partition check failed; trying again later");
        }
    }
}

async fn migrate(pool: &PgPool) -> Result<(), String> {
    let mut client = pool.get().await.map_err(|e| e.to_string())?;
    db::migrate::run(&mut client)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
