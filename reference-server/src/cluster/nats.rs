//! The connection to NATS and the JetStream objects cluster mode uses: the
//! readings stream (one subject per partition) and the registry bucket.
//!
//! Both are created by whichever node starts first, with the settings of
//! that node; later nodes use them as they are. The registry bucket's
//! backing stream is created by hand rather than with
//! `Context::create_key_value`, which sends stream settings that
//! nats-server 2.9 refuses; the settings below are those of a key-value
//! bucket with a history of one.

use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};
use async_nats::{Client, ConnectOptions, ServerAddr};

use super::config::ClusterConfig;
use super::wire::{REGISTRY_BUCKET, STREAM, SUBJECT_PREFIX};

/// Longest pause between two reconnection attempts: a node that lost its
/// NATS server finds another one quickly.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Connects to the given servers (comma separated), retrying in the
/// background when none answers yet.
///
/// # Errors
/// A URL that does not parse, or a failed first connection.
pub async fn connect(urls: &str, name: &str) -> Result<Client, String> {
    let addrs = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            u.parse::<ServerAddr>()
                .map_err(|e| format!("NATS URL {u}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if addrs.is_empty() {
        return Err("--nats-url names no server".into());
    }
    ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(2))
        // A request to a server that just died fails soon and is retried.
        .request_timeout(Some(Duration::from_secs(2)))
        // A frozen server is noticed after two missed pings: seconds
        // rather than minutes with the default of 60 s.
        .ping_interval(Duration::from_secs(1))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| {
            let ms = u64::try_from(attempts)
                .unwrap_or(u64::MAX)
                .saturating_mul(100);
            Duration::from_millis(ms).min(MAX_RECONNECT_DELAY)
        })
        .connect(addrs)
        .await
        .map_err(|e| format!("cannot connect to NATS at {urls}: {e}"))
}

/// The readings stream's settings: a work queue (a reading leaves the
/// stream once its store worker has committed and acknowledged it), on
/// disk, replicated, with the de-duplication window of `--dedupe-window-secs`.
pub fn stream_config(c: &ClusterConfig) -> stream::Config {
    stream::Config {
        name: STREAM.into(),
        subjects: vec![format!("{SUBJECT_PREFIX}.*")],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        num_replicas: c.stream_replicas.max(1),
        duplicate_window: Duration::from_secs(c.dedupe_window_secs.max(1)),
        ..Default::default()
    }
}

/// The registry bucket's backing stream: one value per key (the latest),
/// roll-ups allowed, deletes and purges through the key-value API only.
pub fn registry_config(c: &ClusterConfig) -> stream::Config {
    stream::Config {
        name: format!("KV_{REGISTRY_BUCKET}"),
        subjects: vec![format!("$KV.{REGISTRY_BUCKET}.>")],
        max_messages_per_subject: 1,
        discard: stream::DiscardPolicy::New,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        storage: stream::StorageType::File,
        num_replicas: c.stream_replicas.max(1),
        ..Default::default()
    }
}

/// Creates (if missing) and opens the stream and the registry bucket;
/// retries until JetStream answers, so that nodes may start before their
/// NATS cluster has elected its leaders.
///
/// # Errors
/// Never, except when JetStream refuses the settings themselves.
pub async fn setup(js: &jetstream::Context, c: &ClusterConfig) -> Result<kv::Store, String> {
    let mut attempts = 0u32;
    loop {
        attempts = attempts.saturating_add(1);
        let made = async {
            js.get_or_create_stream(stream_config(c))
                .await
                .map_err(|e| format!("readings stream: {e}"))?;
            js.get_or_create_stream(registry_config(c))
                .await
                .map_err(|e| format!("registry stream: {e}"))?;
            js.get_key_value(REGISTRY_BUCKET)
                .await
                .map_err(|e| format!("registry bucket: {e}"))
        }
        .await;
        match made {
            Ok(store) => return Ok(store),
            Err(e) if attempts < 600 => {
                if attempts % 10 == 1 {
                    tracing::warn!(error = %e, "JetStream not ready, retrying");
                }
                rocket::tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e),
        }
    }
}
