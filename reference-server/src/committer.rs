//! Group commit: concurrent report requests are merged into one commit.
//!
//! Each request hands its verified readings to a queue and waits. A few
//! workers each take whatever has queued up (up to `--commit-group-max`
//! readings), judge it with the core's history rules against each meter's
//! cached state ([`crate::judge`], [`crate::states`]), store it with one
//! set-based statement ([`db::store::write`]), and only then answer every
//! waiting request. So under load many readings share one statement and
//! one WAL flush, and a 2xx still means "committed".
//!
//! A meter whose state is not cached, or whose compare-and-set fails
//! because another process (or worker) stored readings for it meanwhile,
//! is read again ([`db::store::refresh`], one statement for all such meters
//! of the group, with the stored neighbours of its late readings) and its
//! readings are judged again against the fresh state: never a blind
//! rejection, and an exact re-send is still a duplicate.
//!
//! The committer knows the database layer and nothing of HTTP: it answers
//! with [`Outcome`]s or a [`CommitError`], which the routes map to answers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket::tokio::sync::{Mutex, mpsc, oneshot};
use rocket_db_pools::deadpool_postgres::GenericClient;
use smartmeter_core::VerifiedReading;
use smartmeter_core::policy::Policy;

use crate::clock::now_ms;
use crate::db::store::{MeterWrite, RowWrite};
use crate::db::{self, DbError, PgPool};
use crate::judge::{self, Fetched, Item, Known};
use crate::metrics::{Metrics, PoolName, Refresh};
use crate::state::Shared;
use crate::states::MeterStates;

pub use crate::judge::Outcome;

/// Requests that may wait in the queue before new ones wait to enqueue.
const QUEUE_LEN: usize = 4096;

/// How many times one attempt plans before it gives up (it never needs
/// more than three: cached state, then fresh state, then neighbours read
/// at that state's version).
const MAX_ROUNDS: usize = 4;

/// A verified reading on its way into the database.
#[derive(Debug)]
pub struct NewReading {
    /// Database id of the meter whose key verified it.
    pub meter_id: i64,
    /// The verified reading, with its signature.
    pub reading: VerifiedReading,
}

/// Why readings handed to the committer were not committed. Nothing of
/// them is stored.
#[derive(Debug, Clone)]
pub enum CommitError {
    /// The database failed; the statement was rolled back. Shared by every
    /// request of the group.
    Database(Arc<DbError>),
    /// The commit workers have stopped (the process is shutting down).
    Stopped,
    /// The clock is before 1970.
    Clock,
    /// Cluster mode could not take the readings (no quorum, no verdict in
    /// time); nothing was promised about them.
    Cluster(crate::cluster::ClusterError),
}

impl std::fmt::Display for CommitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Database(e) => write!(f, "{e}"),
            Self::Stopped => f.write_str("the commit workers have stopped"),
            Self::Clock => f.write_str("the clock is before 1970"),
            Self::Cluster(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CommitError {}

struct Pending {
    items: Vec<NewReading>,
    reply: oneshot::Sender<Result<Vec<Outcome>, CommitError>>,
}

/// The handle the report routes use (managed state of the public listener).
pub struct Committer {
    queue: mpsc::Sender<Pending>,
    metrics: Arc<Metrics>,
    /// In cluster mode: the node that hands readings to the store workers
    /// instead of the queue.
    cluster: Option<Arc<crate::cluster::Node>>,
}

impl Committer {
    /// Judges and stores the readings (in order, with whatever else is
    /// waiting) and returns one outcome per reading once committed.
    ///
    /// # Errors
    /// [`CommitError`]: nothing of these readings was committed.
    pub async fn store(&self, items: Vec<NewReading>) -> Result<Vec<Outcome>, CommitError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(node) = &self.cluster {
            // Boxed: the cluster's future is kilobytes that the single-node
            // path would otherwise carry and copy with every request.
            return Box::pin(node.store(items))
                .await
                .map_err(CommitError::Cluster);
        }
        let (reply, answer) = oneshot::channel();
        let n = items.len();
        self.metrics.queued(n, true);
        if self.queue.send(Pending { items, reply }).await.is_err() {
            self.metrics.queued(n, false);
            return Err(CommitError::Stopped);
        }
        answer.await.map_err(|_| CommitError::Stopped)?
    }
}

/// Judges and stores readings without the queue, for a caller that makes
/// its own groups: a cluster store worker, which owns the meters of its
/// partitions and has its own per-meter states and shard.
#[derive(Clone)]
pub struct Direct(Arc<Context>);

impl Direct {
    /// A committer on `pool` with these states.
    pub fn new(
        pool: PgPool,
        states: Arc<MeterStates>,
        policy: Policy,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self(Arc::new(Context {
            pool,
            states,
            policy,
            metrics,
        }))
    }

    /// Judges and stores `readings` as one group, in order; one outcome
    /// per reading once committed.
    ///
    /// # Errors
    /// [`CommitError`]: nothing of these readings was committed.
    pub async fn commit(&self, readings: &[NewReading]) -> Result<Vec<Outcome>, CommitError> {
        if readings.is_empty() {
            return Ok(Vec::new());
        }
        self.0.metrics.commit_group(readings.len());
        let outcomes = commit_items(&self.0, readings.iter()).await?;
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Outcome::Contended))
            .collect())
    }
}

/// What a worker needs besides its connection.
struct Context {
    pool: PgPool,
    states: Arc<MeterStates>,
    policy: Policy,
    metrics: Arc<Metrics>,
}

/// Starts the commit workers with a pool of their own at ignite and
/// manages the [`Committer`].
pub fn fairing(shared: &Arc<Shared>) -> AdHoc {
    let shared = Arc::clone(shared);
    AdHoc::try_on_ignite("group commit", move |rocket| async move {
        let workers = shared.config.commit_workers.max(1);
        let group_max = shared.config.commit_group_max.max(1);
        let metrics = Arc::clone(&shared.metrics);
        // A pool of its own, configured like `Db` but not closed by Rocket's
        // shutdown fairing, which runs as soon as shutdown is requested: the
        // workers must be able to commit what in-flight requests hand them
        // during the grace period.
        let config: rocket_db_pools::Config =
            match rocket.figment().focus("databases.smartmeter").extract() {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "no database configuration for the commit pool");
                    return Err(rocket);
                }
            };
        let pool = match PgPool::new(
            &config.url,
            workers,
            Duration::from_secs(config.connect_timeout),
        ) {
            Ok(pool) => pool,
            Err(e) => {
                tracing::error!(error = %e, "cannot create the commit pool");
                return Err(rocket);
            }
        };
        pool.observe_wait(metrics.pool_wait(PoolName::commit));
        let context = Arc::new(Context {
            pool,
            states: Arc::clone(&shared.states),
            policy: shared.config.policy(),
            metrics: Arc::clone(&metrics),
        });
        let (queue, rx) = mpsc::channel(QUEUE_LEN);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..workers {
            rocket::tokio::spawn(worker(Arc::clone(&rx), Arc::clone(&context), group_max));
        }
        Ok(rocket.manage(Committer {
            queue,
            metrics,
            cluster: shared.cluster.get().cloned(),
        }))
    })
}

async fn worker(rx: Arc<Mutex<mpsc::Receiver<Pending>>>, cx: Arc<Context>, group_max: usize) {
    loop {
        let group = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut n = first.items.len();
            let mut group = vec![first];
            while n < group_max {
                match rx.try_recv() {
                    Ok(p) => {
                        n += p.items.len();
                        group.push(p);
                    }
                    Err(_) => break,
                }
            }
            cx.metrics.queued(n, false);
            cx.metrics.commit_group(n);
            group
        };
        let result = commit_group(&cx, &group).await;
        match result {
            Ok(outcomes) => {
                let mut rest = outcomes.into_iter();
                for p in group {
                    let mine: Vec<Outcome> = rest
                        .by_ref()
                        .take(p.items.len())
                        .map(|o| o.unwrap_or(Outcome::Contended))
                        .collect();
                    let _ = p.reply.send(Ok(mine));
                }
            }
            Err(e) => {
                for p in group {
                    let _ = p.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

fn database(e: DbError) -> CommitError {
    CommitError::Database(Arc::new(e))
}

/// Judges and stores one group; one outcome per reading, in group order.
///
/// First optimistically: judged against the cached states, stored with a
/// compare-and-set, no transaction, one round trip when nothing is missing.
/// The readings of meters whose compare-and-set failed are then judged
/// again in a transaction that first locks those meters' rows (in id
/// order), so that nobody can move them on meanwhile: a failed attempt is
/// retried once, and that retry always succeeds.
async fn commit_group(
    cx: &Context,
    group: &[Pending],
) -> Result<Vec<Option<Outcome>>, CommitError> {
    commit_items(cx, group.iter().flat_map(|p| p.items.iter())).await
}

/// [`commit_group`] on the readings themselves.
async fn commit_items<'a>(
    cx: &Context,
    readings: impl Iterator<Item = &'a NewReading>,
) -> Result<Vec<Option<Outcome>>, CommitError> {
    // Borrowed, not copied: the readings stay with their requests.
    let items: Vec<Item<'_>> = readings
        .map(|r| Item {
            meter_id: r.meter_id,
            reading: &r.reading,
        })
        .collect();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; items.len()];
    let mut client = cx.pool.get().await.map_err(database)?;
    let all: Vec<usize> = (0..items.len()).collect();
    let lost = attempt(cx, &client, &items, &all, &mut outcomes, false).await?;
    if lost.is_empty() {
        return Ok(outcomes);
    }
    let mut meters: Vec<i64> = lost
        .iter()
        .filter_map(|&i| items.get(i).map(|it| it.meter_id))
        .collect();
    meters.sort_unstable();
    meters.dedup();
    cx.metrics.refreshed(Refresh::conflict, meters.len());
    let tx = client.transaction().await.map_err(|e| database(e.into()))?;
    db::store::lock(&tx, &meters).await.map_err(database)?;
    let left = attempt(cx, &tx, &items, &lost, &mut outcomes, true).await?;
    tx.commit().await.map_err(|e| database(e.into()))?;
    if !left.is_empty() {
        // Cannot happen with the rows locked; answered as contended.
        tracing::error!(readings = left.len(), "compare-and-set failed under lock");
    }
    Ok(outcomes)
}

/// Judges the readings `todo` and stores them; returns those whose meter's
/// compare-and-set failed (their outcomes stay `None`). `locked`: the
/// meters' rows are locked by the caller's transaction, so states come from
/// the database, not the cache.
async fn attempt(
    cx: &Context,
    client: &impl GenericClient,
    items: &[Item<'_>],
    todo: &[usize],
    outcomes: &mut [Option<Outcome>],
    locked: bool,
) -> Result<Vec<usize>, CommitError> {
    let mut states: HashMap<i64, Known> = HashMap::new();
    let mut fetched: HashMap<(i64, u64), Fetched> = HashMap::new();
    if !locked {
        let mut cached = HashMap::new();
        cx.states.get_many(
            todo.iter()
                .filter_map(|&i| items.get(i))
                .map(|it| it.meter_id),
            &mut cached,
        );
        states.extend(cached.into_iter().map(|(m, s)| (m, Some(s))));
    }
    for _ in 0..MAX_ROUNDS {
        let plan = judge::plan(
            &cx.policy,
            now_ms().ok_or(CommitError::Clock)?,
            items,
            todo,
            &states,
            &fetched,
        );
        if !plan.complete() {
            let reason = if plan.need_around.is_empty() {
                Refresh::miss
            } else {
                Refresh::neighbours
            };
            cx.metrics
                .refreshed(reason, plan.need_state.len() + plan.need_around.len());
            let mut meters = plan.need_state.clone();
            meters.extend(plan.need_around.iter().map(|(m, _)| *m));
            meters.sort_unstable();
            meters.dedup();
            let fresh = db::store::refresh(client, &meters, &plan.need_around)
                .await
                .map_err(database)?;
            for (m, state) in fresh.states {
                if let Some(s) = state {
                    cx.states.update(m, s);
                }
                states.insert(m, state);
            }
            for (key, version, around) in fresh.around {
                fetched.insert(key, Fetched { version, around });
            }
            continue;
        }
        return store(cx, client, items, todo, outcomes, &plan).await;
    }
    // Planning kept lacking something (cannot happen: one read brings a
    // meter's state and its neighbours at one version).
    Ok(todo.to_vec())
}

/// Stores a complete plan; returns the readings of the meters whose
/// compare-and-set failed.
async fn store(
    cx: &Context,
    client: &impl GenericClient,
    items: &[Item<'_>],
    todo: &[usize],
    outcomes: &mut [Option<Outcome>],
    plan: &judge::Plan,
) -> Result<Vec<usize>, CommitError> {
    let mut items_of: HashMap<i64, Vec<usize>> = HashMap::new();
    for &i in todo {
        if let Some(it) = items.get(i) {
            items_of.entry(it.meter_id).or_default().push(i);
        }
    }
    // Readings decided without a write (revoked, unknown meter) are final.
    for (m, idx) in &items_of {
        if !plan.meters.iter().any(|p| p.meter_id == *m) {
            settle(outcomes, &plan.outcomes, idx);
        }
    }
    if plan.meters.is_empty() {
        return Ok(Vec::new());
    }
    let writes: Vec<MeterWrite> = plan
        .meters
        .iter()
        .map(|m| MeterWrite {
            meter_id: m.meter_id,
            expected: m.expected,
            n: i64::try_from(m.accepted.len()).unwrap_or(i64::MAX),
            gaps: m.gaps,
            new_last: m.new_last,
        })
        .collect();
    let rows: Vec<RowWrite<'_>> = plan
        .meters
        .iter()
        .flat_map(|m| m.accepted.iter())
        .filter_map(|&i| items.get(i))
        .map(|it| RowWrite {
            meter_id: it.meter_id,
            reading: it.reading,
        })
        .collect();
    let ok = db::store::write(client, &writes, &rows)
        .await
        .map_err(database)?;
    let mut lost = Vec::new();
    for m in &plan.meters {
        let Some(idx) = items_of.get(&m.meter_id) else {
            continue;
        };
        if ok.contains(&m.meter_id) {
            cx.states.update(m.meter_id, m.after);
            settle(outcomes, &plan.outcomes, idx);
        } else {
            // Another writer moved the meter on: its cached state is stale.
            cx.states.invalidate(m.meter_id);
            lost.extend_from_slice(idx);
        }
    }
    lost.sort_unstable();
    Ok(lost)
}

/// Copies the planned outcomes of `indices` into the final ones.
fn settle(outcomes: &mut [Option<Outcome>], planned: &[Option<Outcome>], indices: &[usize]) {
    for &i in indices {
        if let (Some(slot), Some(o)) = (outcomes.get_mut(i), planned.get(i)) {
            *slot = *o;
        }
    }
}
