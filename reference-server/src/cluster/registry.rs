//! The registry of keys in cluster mode: a JetStream key-value bucket
//! (key: the key id in hex; value: [`RegistryEntry`]) mirrored into every
//! node's key cache.
//!
//! PostgreSQL stays the record: registration and revocation write the
//! meter's shard first and the bucket second. The bucket only spares
//! ingest nodes a query per unknown key and carries revocations to them
//! within a moment; should a bucket write be lost, an ingest node that
//! misses a key reads it from its shard (and repairs the bucket). A
//! revocation whose bucket write fails answers 503 (fail closed; retrying
//! repairs the bucket), and is enforced meanwhile by the store worker's
//! compare-and-set on the meter's row, as in single-node mode. Cache
//! entries carry the bucket revision they were read at, so that a slow
//! lookup cannot replace the watcher's newer entry.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv::Operation;
use bytes::Bytes;
use rocket::futures::StreamExt;
use smartmeter_core::{KeyId, PublicKey};

use super::wire::RegistryEntry;
use super::{ClusterError, Node};
use crate::cache::CachedMeter;
use crate::db::{self, MeterRow, RegisterError};
use crate::error::ApiError;
use crate::state::Shared;

/// How long a bucket read may take before the lookup fails.
const KV_TIMEOUT: Duration = Duration::from_secs(2);

fn entry_of(row: &MeterRow) -> RegistryEntry {
    RegistryEntry {
        meter_id: row.id,
        public_key: row.public_key.to_base64(),
        revoked: row.revoked_at.is_some() || row.state.revoked,
    }
}

/// The cache entry for a bucket entry read at `revision`.
fn cached(entry: &RegistryEntry, revision: u64) -> Option<CachedMeter> {
    let key = PublicKey::from_base64(&entry.public_key).ok()?;
    Some(CachedMeter {
        id: entry.meter_id,
        key,
        revoked: entry.revoked,
        revision,
    })
}

fn encode(entry: &RegistryEntry) -> Result<Bytes, ClusterError> {
    serde_json::to_vec(entry)
        .map(Bytes::from)
        .map_err(|e| ClusterError::Unavailable(format!("registry entry: {e}")))
}

/// Follows the bucket for the life of the process: every current entry
/// first, then every change, into the key cache. Restarts after an error
/// (a lost NATS server), replaying the current entries again.
pub async fn watch(node: Arc<Node>, shared: Arc<Shared>) {
    loop {
        match node.registry.watch_with_history(">").await {
            Ok(mut entries) => {
                while let Some(entry) = entries.next().await {
                    let Ok(entry) = entry else { break };
                    let Ok(key_id) = KeyId::from_str(&entry.key) else {
                        continue;
                    };
                    match entry.operation {
                        Operation::Put => {
                            let meter = serde_json::from_slice::<RegistryEntry>(&entry.value)
                                .ok()
                                .and_then(|e| cached(&e, entry.revision));
                            match meter {
                                Some(m) => {
                                    shared.cache.insert(m);
                                }
                                None => shared.cache.invalidate(&key_id),
                            }
                        }
                        Operation::Delete | Operation::Purge => shared.cache.invalidate(&key_id),
                    }
                }
                tracing::warn!("registry watch ended; watching again");
            }
            Err(e) => tracing::warn!(error = %e, "cannot watch the registry"),
        }
        rocket::tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

impl Node {
    /// A key the cache does not hold: from the bucket, else from the key's
    /// shard (and then written to the bucket, unless someone was quicker).
    /// `None`: not registered.
    ///
    /// # Errors
    /// [`ClusterError::Unavailable`] when neither can be read.
    pub async fn lookup(
        &self,
        shared: &Shared,
        key_id: &KeyId,
    ) -> Result<Option<Arc<CachedMeter>>, ClusterError> {
        let name = key_id.to_string();
        let got =
            rocket::tokio::time::timeout(KV_TIMEOUT, self.registry.entry(name.as_str())).await;
        if let Ok(Ok(Some(found))) = got
            && found.operation == Operation::Put
            && let Some(m) = serde_json::from_slice::<RegistryEntry>(&found.value)
                .ok()
                .and_then(|e| cached(&e, found.revision))
        {
            return Ok(Some(shared.cache.insert(m)));
        }
        let client = self
            .shard_client(key_id)
            .await
            .map_err(|e| ClusterError::Unavailable(format!("registry shard: {e}")))?;
        let row = db::meter_by_key(&client, key_id)
            .await
            .map_err(|e| ClusterError::Unavailable(format!("registry shard: {e}")))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let entry = entry_of(&row);
        // `create` only writes a missing key: a revocation written
        // meanwhile is never replaced by this older view. Without its
        // revision the view counts as older than any cached entry.
        let revision = match rocket::tokio::time::timeout(
            KV_TIMEOUT,
            self.registry.create(name.as_str(), encode(&entry)?),
        )
        .await
        {
            Ok(Ok(r)) => r,
            _ => 0,
        };
        Ok(cached(&entry, revision).map(|m| shared.cache.insert(m)))
    }

    /// Registers a meter in its shard, then publishes it to the registry.
    ///
    /// # Errors
    /// The shard's [`RegisterError`]. A failed bucket write is only logged:
    /// the shard has the meter, and lookups find it there.
    pub async fn register(
        &self,
        username: &str,
        key: &PublicKey,
    ) -> Result<MeterRow, RegisterError> {
        let client = self
            .shard_client(&key.key_id())
            .await
            .map_err(RegisterError::Db)?;
        let row = db::register(&client, username, key).await?;
        if let Err(e) = self.publish_entry(&row).await {
            tracing::warn!(error = %e, "registry bucket not updated; the shard has the meter");
        }
        Ok(row)
    }

    /// Revokes a meter in its shard, publishes the revocation, and caches
    /// it on this node at the bucket's revision.
    ///
    /// # Errors
    /// The shard's [`db::DbError`], or 503 `cluster_unavailable` when the
    /// bucket write fails: the revocation fails closed, since other ingest
    /// nodes would go on accepting the meter's readings from their caches
    /// until the store worker rejects them. The shard's revocation is
    /// idempotent, so a retry repairs the bucket.
    pub async fn revoke(
        &self,
        shared: &Shared,
        key_id: &KeyId,
    ) -> Result<Option<MeterRow>, ApiError> {
        let client = self.shard_client(key_id).await?;
        let row = db::revoke(&client, key_id).await?;
        if let Some(row) = &row {
            match self.publish_entry(row).await {
                Ok(revision) => {
                    if let Some(m) = cached(&entry_of(row), revision) {
                        shared.cache.insert(m);
                    }
                }
                Err(e) => {
                    shared.cache.invalidate(key_id);
                    return Err(e.into());
                }
            }
        }
        Ok(row)
    }

    /// Writes the row's entry to the bucket; its revision.
    async fn publish_entry(&self, row: &MeterRow) -> Result<u64, ClusterError> {
        let key_id = row.public_key.key_id().to_string();
        let value = encode(&entry_of(row))?;
        match rocket::tokio::time::timeout(KV_TIMEOUT, self.registry.put(key_id.as_str(), value))
            .await
        {
            Ok(Ok(revision)) => Ok(revision),
            Ok(Err(e)) => Err(ClusterError::Unavailable(format!(
                "registry bucket not updated (the shard has the change; retry): {e}"
            ))),
            Err(_) => Err(ClusterError::Unavailable(
                "registry bucket not updated in time (the shard has the change; retry)".into(),
            )),
        }
    }
}
