//! The store worker: owns partitions of the readings stream and commits
//! their readings to PostgreSQL.
//!
//! **Ownership.** A partition belongs to the worker that holds the session
//! advisory lock `(LOCK_CLASS, p)` in the partition's shard. A worker that
//! dies (or loses its database session) loses its locks with it; another
//! worker then takes the partition over within a second. A worker first
//! takes only its home partitions (p mod `--store-count` =
//! `--store-index`), and every free partition once its start-up grace has
//! passed, as long as their home worker is gone: each worker holds a
//! presence lock, and a worker gives a partition it took over back as soon
//! as the partition's home worker runs again. After taking a partition, it
//! waits `--ack-wait-ms` before consuming, so that the readings the previous
//! owner left unacknowledged are due for redelivery and come first:
//! per-meter order holds across a takeover (PostgreSQL's compare-and-set
//! keeps every history consistent even when it does not). Its per-meter
//! states start empty and are read from PostgreSQL.
//!
//! **Consuming.** One durable pull consumer per partition (`store-<p>`),
//! explicit acknowledgement. Whatever has arrived is taken as one group
//! (up to [`GROUP_MAX`] readings), each reading is verified again (the
//! stream is not trusted with signatures), judged and stored through the
//! committer's set-based path ([`Direct`]), then acknowledged, then the
//! verdicts are sent. A crash between commit and acknowledgement makes the
//! stream deliver the readings again; they are then judged duplicates, so
//! a reading is stored exactly once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::{AckKind, Message};
use bytes::Bytes;
use rocket::futures::{FutureExt, StreamExt};
use rocket_db_pools::deadpool_postgres;
use smartmeter_core::{KeyId, PublicKey, SignedReading};

use super::Node;
use super::wire::{self, REPLY_HEADER, REQUEST_HEADER, STREAM, Verdict, WireOutcome};
use crate::committer::{Direct, NewReading};
use crate::db::{self, PgPool};
use crate::judge::Outcome;
use crate::metrics::Metrics;
use crate::states::MeterStates;

/// First key of the partition locks (`pg_try_advisory_lock(int, int)`):
/// "SM" in ASCII, apart from the migrations' single-key lock.
pub const LOCK_CLASS: i32 = 0x534d;
/// First key of the store workers' presence locks, held in shard 0 by
/// worker `--store-index` i as `(PRESENCE_CLASS, i)`: how a worker that
/// took a partition over learns that its home worker runs again.
pub const PRESENCE_CLASS: i32 = LOCK_CLASS + 1;
/// Most readings judged and stored as one group.
pub const GROUP_MAX: usize = 512;
/// How often ownership is checked and free partitions are tried.
const TICK: Duration = Duration::from_secs(1);
/// PostgreSQL ends a lock session idle this long, so that the locks of a
/// worker that hangs or is cut off are free within seconds rather than when
/// TCP keepalive gives up (hours). The live worker uses each session at
/// least once per [`TICK`] (its `SELECT 1` check).
const LOCK_SESSION_IDLE: &str = "SET idle_session_timeout = '5s'";
/// Longest wait for one statement on a lock session: a session that does
/// not answer counts as lost rather than stalling the worker's loop.
const LOCK_CALL_LIMIT: Duration = Duration::from_secs(2);

/// One owned partition: the flag its task watches.
struct Owned {
    shard: usize,
    running: Arc<AtomicBool>,
}

/// Runs the worker for the life of the process.
pub async fn run(node: Arc<Node>, metrics: Arc<Metrics>) {
    let started = Instant::now();
    let grace = node.config.ack_wait() + TICK * 2;
    // One session per shard holds that shard's partition locks; it is a
    // connection of its own, never handed back to a pool (dropping it
    // closes it, and its locks go with it). Shard 0's session also holds
    // this worker's presence lock.
    let mut sessions: Vec<Option<LockSession>> = node.shards.iter().map(|_| None).collect();
    let mut present = false;
    let mut owned: HashMap<u32, Owned> = HashMap::new();
    let n = node.config.partition_count();
    let count = node.config.store_count.max(1);
    let index = node.config.store_index % count;
    let home = |p: u32| p % count;
    loop {
        // Sessions: make missing ones, drop dead ones (their locks died
        // with them, so their partitions stop).
        for (s, session) in sessions.iter_mut().enumerate() {
            let alive = match session {
                Some(c) => matches!(
                    rocket::tokio::time::timeout(LOCK_CALL_LIMIT, c.simple_query("SELECT 1")).await,
                    Ok(Ok(_))
                ),
                None => false,
            };
            if !alive {
                if session.take().is_some() {
                    tracing::warn!(shard = s, "lost the lock session: releasing its partitions");
                    release_shard(&mut owned, s);
                    if s == 0 {
                        present = false;
                    }
                }
                if let Some(pool) = node.shards.get(s) {
                    *session = lock_session(pool).await;
                }
            }
        }
        let Some(Some(first)) = sessions.first() else {
            rocket::tokio::time::sleep(TICK).await;
            continue;
        };
        if !present {
            present = try_lock(first, PRESENCE_CLASS, index).await;
        }
        // Whether the home worker of a partition runs: its presence lock
        // is held (probing takes it for a moment when it is free).
        let mut home_alive: HashMap<u32, bool> = HashMap::new();
        for h in (0..count).filter(|&h| h != index) {
            let free = try_lock(first, PRESENCE_CLASS, h).await;
            if free {
                unlock(first, PRESENCE_CLASS, h).await;
            }
            home_alive.insert(h, !free);
        }
        let alive = |p: u32| home_alive.get(&home(p)).copied().unwrap_or(false);
        // Give partitions back to their home worker once it runs again.
        let give_back: Vec<u32> = owned
            .keys()
            .copied()
            .filter(|&p| home(p) != index && alive(p))
            .collect();
        for p in give_back {
            if let Some(o) = owned.remove(&p) {
                o.running.store(false, Ordering::SeqCst);
                let Some(slot) = sessions.get_mut(o.shard) else {
                    continue;
                };
                let released = match slot {
                    Some(session) => unlock(session, LOCK_CLASS, p).await,
                    None => true,
                };
                if !released {
                    // The lock may still be held: closing the session is
                    // the only sure way to free it (and the shard's others).
                    tracing::warn!(shard = o.shard, "closing the lock session to free a lock");
                    *slot = None;
                    release_shard(&mut owned, o.shard);
                    if o.shard == 0 {
                        present = false;
                    }
                }
                tracing::info!(partition = p, "gave the partition back to its home worker");
            }
        }
        // Take free partitions: home ones at once, the others once the
        // start-up grace has passed and only while their home worker is gone.
        let late = started.elapsed() >= grace;
        for p in 0..n {
            let mine = home(p) == index;
            if owned.contains_key(&p) || !(mine || (late && !alive(p))) {
                continue;
            }
            let s = node.shard_index(p);
            let Some(pool) = node.shards.get(s) else {
                continue;
            };
            let Some(Some(session)) = sessions.get(s) else {
                continue;
            };
            if try_lock(session, LOCK_CLASS, p).await {
                tracing::info!(partition = p, shard = s, "took partition");
                let running = Arc::new(AtomicBool::new(true));
                owned.insert(
                    p,
                    Owned {
                        shard: s,
                        running: Arc::clone(&running),
                    },
                );
                rocket::tokio::spawn(partition(
                    Arc::clone(&node),
                    pool.clone(),
                    Arc::clone(&metrics),
                    p,
                    running,
                ));
            }
        }
        rocket::tokio::time::sleep(TICK).await;
    }
}

/// Stops every partition owned through shard `s`'s lock session (which is
/// gone, and its locks with it).
fn release_shard(owned: &mut HashMap<u32, Owned>, s: usize) {
    owned.retain(|_, o| {
        if o.shard == s {
            o.running.store(false, Ordering::SeqCst);
            false
        } else {
            true
        }
    });
}

fn key(k: u32) -> i32 {
    i32::try_from(k).unwrap_or(i32::MAX)
}

/// `pg_try_advisory_lock(class, k)` on a session; false on any failure,
/// including no answer within [`LOCK_CALL_LIMIT`].
async fn try_lock(session: &LockSession, class: i32, k: u32) -> bool {
    let k = key(k);
    let params: [&(dyn rocket_db_pools::deadpool_postgres::tokio_postgres::types::ToSql + Sync);
        2] = [&class, &k];
    let query = session.query_one("SELECT pg_try_advisory_lock($1, $2)", &params);
    match rocket::tokio::time::timeout(LOCK_CALL_LIMIT, query).await {
        Ok(Ok(row)) => row.try_get::<_, bool>(0).unwrap_or(false),
        _ => false,
    }
}

/// `pg_advisory_unlock(class, k)` on a session; false when it may still be
/// held (no answer, or an error).
async fn unlock(session: &LockSession, class: i32, k: u32) -> bool {
    let k = key(k);
    let params: [&(dyn rocket_db_pools::deadpool_postgres::tokio_postgres::types::ToSql + Sync);
        2] = [&class, &k];
    let query = session.query_one("SELECT pg_advisory_unlock($1, $2)", &params);
    match rocket::tokio::time::timeout(LOCK_CALL_LIMIT, query).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot release an advisory lock");
            false
        }
        Err(_) => {
            tracing::warn!("cannot release an advisory lock: timed out");
            false
        }
    }
}

/// A connection taken out of its pool for good: dropping it closes it.
type LockSession = deadpool_postgres::ClientWrapper;

/// A session for advisory locks, with [`LOCK_SESSION_IDLE`] set, taken out
/// of the pool so that it never goes back holding locks (the pool makes a
/// new connection in its place).
async fn lock_session(pool: &PgPool) -> Option<LockSession> {
    let client = match pool.get().await {
        Ok(c) => deadpool_postgres::Object::take(c),
        Err(e) => {
            tracing::warn!(error = %e, "no lock session");
            return None;
        }
    };
    match rocket::tokio::time::timeout(LOCK_CALL_LIMIT, client.simple_query(LOCK_SESSION_IDLE))
        .await
    {
        Ok(Ok(_)) => Some(client),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot set the lock session's idle timeout");
            None
        }
        Err(_) => {
            tracing::warn!("cannot set the lock session's idle timeout: timed out");
            None
        }
    }
}

/// Consumes partition `p` while `running` holds.
async fn partition(
    node: Arc<Node>,
    pool: PgPool,
    metrics: Arc<Metrics>,
    p: u32,
    running: Arc<AtomicBool>,
) {
    // Readings the previous owner left unacknowledged become due first.
    rocket::tokio::time::sleep(node.config.ack_wait()).await;
    let direct = Direct::new(
        pool.clone(),
        Arc::new(MeterStates::default()),
        node.policy,
        metrics,
    );
    let mut meters: HashMap<KeyId, Registered> = HashMap::new();
    let name = format!("store-{p}");
    while running.load(Ordering::SeqCst) {
        let consumer = consumer(&node, &name, p).await;
        let consumer = match consumer {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(partition = p, error = %e, "no consumer; retrying");
                rocket::tokio::time::sleep(TICK).await;
                continue;
            }
        };
        let messages = consumer
            .stream()
            .max_messages_per_batch(GROUP_MAX)
            .heartbeat(Duration::from_secs(1))
            .expires(Duration::from_secs(5))
            .messages()
            .await;
        let mut messages = match messages {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(partition = p, error = %e, "cannot consume; retrying");
                rocket::tokio::time::sleep(TICK).await;
                continue;
            }
        };
        while running.load(Ordering::SeqCst) {
            // A short wait, so that a partition given up stops soon.
            let first = match rocket::tokio::time::timeout(TICK / 4, messages.next()).await {
                Err(_) => continue,
                Ok(Some(Ok(m))) => m,
                Ok(Some(Err(e))) => {
                    tracing::warn!(partition = p, error = %e, "consumer failed; consuming again");
                    break;
                }
                Ok(None) => break,
            };
            let mut group = vec![first];
            while group.len() < GROUP_MAX {
                match messages.next().now_or_never() {
                    Some(Some(Ok(m))) => group.push(m),
                    _ => break,
                }
            }
            commit(&node, &pool, &direct, &mut meters, group, &running).await;
        }
    }
    tracing::info!(partition = p, "released partition");
}

/// The partition's durable consumer: looked up first (its own leader
/// answers, even while the cluster elects a new meta leader after losing a
/// node), created when missing. Each step gives up after [`TICK`] * 2 so
/// that a request sent to a dead server is retried soon.
async fn consumer(node: &Node, name: &str, p: u32) -> Result<PullConsumer, String> {
    let limit = TICK * 2;
    let found = rocket::tokio::time::timeout(
        limit,
        node.js
            .get_consumer_from_stream::<pull::Config, _, _>(name, STREAM),
    )
    .await;
    if let Ok(Ok(c)) = found {
        return Ok(c);
    }
    let config = pull::Config {
        durable_name: Some(name.to_string()),
        filter_subject: wire::subject(p),
        ack_policy: AckPolicy::Explicit,
        ack_wait: node.config.ack_wait(),
        max_deliver: -1,
        max_ack_pending: 20_000,
        ..Default::default()
    };
    match rocket::tokio::time::timeout(limit, node.js.create_consumer_on_stream(config, STREAM))
        .await
    {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// A registered meter as a store worker keeps it: its id and its parsed
/// key, so that a reading is verified without parsing the key it carries
/// (about 8 us for RSA-2048).
struct Registered {
    id: i64,
    key: PublicKey,
}

/// Judges, stores, acknowledges and answers one group; retries the store
/// until it succeeds or the partition is lost.
async fn commit(
    node: &Node,
    pool: &PgPool,
    direct: &Direct,
    meters: &mut HashMap<KeyId, Registered>,
    group: Vec<Message>,
    running: &AtomicBool,
) {
    let mut attempt = 0u32;
    loop {
        attempt = attempt.saturating_add(1);
        match judge_and_store(pool, direct, meters, &group).await {
            Ok(outcomes) => {
                finish(node, &group, &outcomes).await;
                return;
            }
            Err(e) => {
                if attempt % 10 == 1 {
                    tracing::warn!(error = %e, "cannot store a group; retrying");
                }
                if !running.load(Ordering::SeqCst) {
                    return;
                }
                // Keeps the readings ours while the database is away.
                for m in &group {
                    let _ = m.ack_with(AckKind::Progress).await;
                }
                rocket::tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// One outcome per message; `None` for a message that is not a verifiable
/// reading (it is terminated, never stored).
async fn judge_and_store(
    pool: &PgPool,
    direct: &Direct,
    meters: &mut HashMap<KeyId, Registered>,
    group: &[Message],
) -> Result<Vec<Option<Outcome>>, String> {
    let mut outcomes: Vec<Option<Outcome>> = vec![None; group.len()];
    let mut items = Vec::with_capacity(group.len());
    let mut positions = Vec::with_capacity(group.len());
    for (i, msg) in group.iter().enumerate() {
        // The stream is not trusted with signatures: each reading is
        // verified again, with the registered key when the meter is known
        // (equal key ids: the carried key is the registered one).
        let Ok(signed) = SignedReading::from_json(&msg.payload) else {
            tracing::error!("a stream message that is not a reading");
            continue;
        };
        let key_id = signed.key_id();
        let verified = match meters.get(&key_id) {
            Some(known) => known.key.verify(&signed).ok().map(|r| (r, Some(known.id))),
            // Not known yet: the carried key first, as for any reading, so
            // that a message nobody signed costs no query.
            None => {
                let carried = signed.carried_key().ok();
                match carried.and_then(|key| Some((key.verify(&signed).ok()?, key))) {
                    Some((reading, key)) => {
                        let client = pool.get().await.map_err(|e| e.to_string())?;
                        let row = db::meter_by_key(&client, &key_id)
                            .await
                            .map_err(|e| e.to_string())?;
                        // Only registered meters are remembered: a meter
                        // registered later is then found.
                        let id = row.map(|row| row.id);
                        if let Some(id) = id {
                            meters.insert(key_id, Registered { id, key });
                        }
                        Some((reading, id))
                    }
                    None => None,
                }
            }
        };
        match verified {
            Some((reading, Some(meter_id))) => {
                items.push(NewReading { meter_id, reading });
                positions.push(i);
            }
            Some((_, None)) => {
                if let Some(slot) = outcomes.get_mut(i) {
                    *slot = Some(Outcome::UnknownMeter);
                }
            }
            None => tracing::error!("a stream message that is not a verifiable reading"),
        }
    }
    let stored = direct.commit(&items).await.map_err(|e| e.to_string())?;
    for (i, o) in positions.into_iter().zip(stored) {
        if let Some(slot) = outcomes.get_mut(i) {
            *slot = Some(o);
        }
    }
    Ok(outcomes)
}

/// Acknowledges the committed group, then sends the verdicts, one message
/// per waiting ingest node.
async fn finish(node: &Node, group: &[Message], outcomes: &[Option<Outcome>]) {
    let mut replies: HashMap<String, Vec<Verdict>> = HashMap::new();
    for (msg, outcome) in group.iter().zip(outcomes) {
        let ack = match outcome {
            Some(_) => msg.ack().await,
            None => msg.ack_with(AckKind::Term).await,
        };
        if let Err(e) = ack {
            // The reading is committed; a redelivery is judged a duplicate.
            tracing::warn!(error = %e, "acknowledgement not sent");
        }
        let (Some(outcome), Some(headers)) = (outcome, msg.headers.as_ref()) else {
            continue;
        };
        let (Some(reply), Some(req)) = (headers.get(REPLY_HEADER), headers.get(REQUEST_HEADER))
        else {
            continue;
        };
        let Ok(req) = req.as_str().parse::<u64>() else {
            continue;
        };
        replies
            .entry(reply.as_str().to_string())
            .or_default()
            .push(Verdict {
                req,
                outcome: WireOutcome::from(*outcome),
            });
    }
    let client = node.js.client();
    for (reply, verdicts) in replies {
        if let Ok(body) = serde_json::to_vec(&verdicts)
            && let Err(e) = client.publish(reply, Bytes::from(body)).await
        {
            tracing::warn!(error = %e, "verdicts not sent");
        }
    }
}
