//! Judging a commit group with the core's history rules
//! (`smartmeter_core::policy`), before anything is stored.
//!
//! This is pure: it takes the readings of a group, each meter's state (its
//! version and last accepted reading) and the stored neighbours fetched for
//! readings below a meter's last sequence, and plans what to store. The
//! readings of one meter are judged in group order, each against the state
//! left by those before it, so that two copies of one reading in a group
//! give one acceptance and one duplicate, and a late reading sees the
//! readings accepted just before it in the same group.
//!
//! Whatever it needs and lacks (a meter's state, the stored neighbours of a
//! late reading) it asks for; the committer fetches that in one set-based
//! query and plans again. Neighbours count only when read at the version
//! the meter is judged at: the store's compare-and-set on that version
//! then guarantees that nothing was stored for the meter in between.

use std::collections::HashMap;

use smartmeter_core::policy::{Around, Judgement, Policy, PolicyError, Verdict};
use smartmeter_core::{Reading, VerifiedReading};

use crate::states::MeterState;

/// What became of one reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored. `gap`: sequence numbers missing just before it; `late`: it
    /// filled a recorded gap below the meter's last sequence.
    Accepted {
        /// Missing sequence numbers just before it.
        gap: u64,
        /// It arrived below the last accepted sequence, in a recorded gap.
        late: bool,
    },
    /// An exact re-send of a stored reading; nothing stored.
    Duplicate,
    /// Refused by the history rules; nothing stored.
    Rejected(PolicyError),
    /// The meter is revoked (seen by the database even where this process's
    /// key cache is stale).
    Revoked,
    /// The meter's row is gone from the database.
    UnknownMeter,
    /// Not judged (cannot happen: a failed compare-and-set is retried with
    /// the meter's row locked). Nothing stored; retry later.
    Contended,
}

impl From<Verdict> for Outcome {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Accept { gap, late } => Self::Accepted { gap, late },
            Verdict::Duplicate => Self::Duplicate,
            Verdict::Reject(e) => Self::Rejected(e),
        }
    }
}

/// One reading of a group: its meter and the verified reading.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// Database id of the meter whose key verified it.
    pub meter_id: i64,
    /// The verified reading.
    pub reading: &'a VerifiedReading,
}

/// A meter's state as the database has it: `None` when its row is gone.
pub type Known = Option<MeterState>;

/// Stored readings around one sequence number of a meter, read at the
/// meter's version `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fetched {
    /// The meter's version in the snapshot they were read in.
    pub version: i64,
    /// The stored readings at, just below and just above the sequence.
    pub around: Around,
}

/// What to store for one meter, judged against version `expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterPlan {
    /// The meter.
    pub meter_id: i64,
    /// The version the readings were judged against: the compare-and-set
    /// value.
    pub expected: i64,
    /// The items to store, in group order.
    pub accepted: Vec<usize>,
    /// Accepted readings (not late) that skipped sequence numbers.
    pub gaps: i64,
    /// The new last accepted reading, when it moved.
    pub new_last: Option<Reading>,
    /// The meter's state once this is stored.
    pub after: MeterState,
}

/// The plan for the undecided readings of a group.
#[derive(Debug, Default)]
pub struct Plan {
    /// Outcomes by item index; `None` where the plan still lacks something.
    pub outcomes: Vec<Option<Outcome>>,
    /// Meters judged in full: store their accepted readings if their
    /// version is still `expected`, and check it even when nothing is to be
    /// stored (a duplicate or a rejection judged against a stale state is
    /// judged again).
    pub meters: Vec<MeterPlan>,
    /// Meters whose state is not known.
    pub need_state: Vec<i64>,
    /// Sequence numbers whose stored neighbours are needed (with the
    /// meter's state, read together).
    pub need_around: Vec<(i64, u64)>,
}

impl Plan {
    /// True when nothing is lacking: every undecided reading is planned.
    pub fn complete(&self) -> bool {
        self.need_state.is_empty() && self.need_around.is_empty()
    }
}

/// Plans the readings `todo` (indices into `items`, in group order).
pub fn plan(
    policy: &Policy,
    now_ms: u64,
    items: &[Item<'_>],
    todo: &[usize],
    states: &HashMap<i64, Known>,
    fetched: &HashMap<(i64, u64), Fetched>,
) -> Plan {
    let mut plan = Plan {
        outcomes: vec![None; items.len()],
        ..Plan::default()
    };
    // The meters in order of first appearance, each with its items in order.
    let mut order: Vec<i64> = Vec::new();
    let mut by_meter: HashMap<i64, Vec<usize>> = HashMap::new();
    for &i in todo {
        let Some(item) = items.get(i) else { continue };
        by_meter
            .entry(item.meter_id)
            .or_insert_with(|| {
                order.push(item.meter_id);
                Vec::new()
            })
            .push(i);
    }
    for meter_id in order {
        let Some(indices) = by_meter.get(&meter_id) else {
            continue;
        };
        match states.get(&meter_id) {
            None => plan.need_state.push(meter_id),
            Some(None) => {
                for &i in indices {
                    set(&mut plan.outcomes, i, Outcome::UnknownMeter);
                }
            }
            Some(Some(state)) if state.revoked => {
                for &i in indices {
                    set(&mut plan.outcomes, i, Outcome::Revoked);
                }
            }
            Some(Some(state)) => {
                judge_meter(
                    policy, now_ms, items, meter_id, *state, indices, fetched, &mut plan,
                );
            }
        }
    }
    plan
}

fn set(outcomes: &mut [Option<Outcome>], i: usize, outcome: Outcome) {
    if let Some(slot) = outcomes.get_mut(i) {
        *slot = Some(outcome);
    }
}

/// Judges one meter's readings in order against `state`.
#[expect(
    clippy::too_many_arguments,
    reason = "one private step of plan(), which owns all of these"
)]
fn judge_meter(
    policy: &Policy,
    now_ms: u64,
    items: &[Item<'_>],
    meter_id: i64,
    state: MeterState,
    indices: &[usize],
    fetched: &HashMap<(i64, u64), Fetched>,
    plan: &mut Plan,
) {
    let mut last = state.last;
    let mut accepted: Vec<usize> = Vec::new();
    let mut accepted_readings: Vec<Reading> = Vec::new();
    let mut gaps: i64 = 0;
    let mut outcomes: Vec<(usize, Outcome)> = Vec::with_capacity(indices.len());
    // Once one reading lacks its neighbours, those after it cannot be
    // judged yet; only their own needs are collected (a superset: any
    // reading below the highest sequence seen so far may need neighbours).
    let mut blocked = false;
    let mut highest = last.map(|r| r.sequence);
    for &i in indices {
        let Some(item) = items.get(i) else { continue };
        let reading = item.reading.reading();
        let below = highest.is_some_and(|h| reading.sequence < h);
        highest = Some(highest.map_or(reading.sequence, |h| h.max(reading.sequence)));
        if blocked {
            if below {
                plan.need_around.push((meter_id, reading.sequence));
            }
            continue;
        }
        let verdict = match policy.judge(last.as_ref(), item.reading, now_ms) {
            Judgement::Verdict(v) => v,
            Judgement::NeedsNeighbours => {
                match fetched
                    .get(&(meter_id, reading.sequence))
                    .filter(|f| f.version == state.version)
                {
                    Some(f) => {
                        let around = merge(f.around, &accepted_readings, reading.sequence);
                        policy.judge_late(&around, item.reading, now_ms)
                    }
                    None => {
                        plan.need_around.push((meter_id, reading.sequence));
                        blocked = true;
                        continue;
                    }
                }
            }
        };
        if let Verdict::Accept { gap, late } = verdict {
            accepted.push(i);
            accepted_readings.push(*reading);
            if !late {
                last = Some(*reading);
                if gap > 0 {
                    gaps += 1;
                }
            }
        }
        outcomes.push((i, verdict.into()));
    }
    if blocked {
        return;
    }
    for (i, outcome) in outcomes {
        set(&mut plan.outcomes, i, outcome);
    }
    let n = i64::try_from(accepted.len()).unwrap_or(i64::MAX);
    plan.meters.push(MeterPlan {
        meter_id,
        expected: state.version,
        accepted,
        gaps,
        new_last: (last != state.last).then_some(last).flatten(),
        after: MeterState {
            version: state.version.saturating_add(n),
            last,
            revoked: false,
        },
    });
}

/// The stored neighbours of `sequence`, completed with the readings
/// accepted earlier in the same group (not stored yet, but they will be
/// in the same statement).
fn merge(mut around: Around, accepted: &[Reading], sequence: u64) -> Around {
    for r in accepted {
        if r.sequence == sequence {
            around.at.get_or_insert(*r);
        } else if r.sequence < sequence {
            if around.before.is_none_or(|b| b.sequence < r.sequence) {
                around.before = Some(*r);
            }
        } else if around.after.is_none_or(|a| a.sequence > r.sequence) {
            around.after = Some(*r);
        }
    }
    around
}

#[cfg(test)]
mod tests;
