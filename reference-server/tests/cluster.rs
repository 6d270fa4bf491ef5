//! Cluster mode with real processes on loopback (issue 15): a 3-node
//! JetStream cluster of `nats-server` processes, 2 ingest nodes, 2 store
//! workers and 2 PostgreSQL shards, all started (and removed) here.
//!
//! Under steady load from meters that re-send a reading until it gets an
//! answer (as real meters do), a store worker, an ingest node and a NATS
//! node are each killed with SIGKILL and restarted; then 2 of the 3 NATS
//! nodes are stopped (SIGSTOP) and resumed. Checked: every reading that got
//! a 2xx is in the shard of its key as soon as it is answered, and stored
//! exactly once; every stored history passes the core's audit without a
//! finding; service resumes after each fault; without quorum the answer is
//! 503 `cluster_unavailable`, never a 201 (a 200 duplicate only for a
//! reading already committed); nothing acknowledged is lost when the quorum
//! returns; registration holds on the other ingest node, and so does a
//! revocation, answered from that node's cache while both store workers
//! are stopped.
//!
//! `nats-server` is taken from `$NATS_SERVER`, else `PATH` or
//! `/usr/sbin/nats-server` (Debian); without it the test fails.
//! `SMARTMETER_CLUSTER_PHASE_SECS` lengthens each phase (the full fault
//! run of `scripts/cluster-fault.sh`); the figures are printed as
//! `cluster-figures: {json}`. `SMARTMETER_CLUSTER_KEEP_LOGS` keeps the
//! processes' logs (their directory is printed first).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use smartmeter_core::{MeterKey, PublicKey, Reading, SignedReading};
use smartmeter_test_support::db::{TestDb, query_at};
use smartmeter_test_support::process::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_smartmeter-server");
const TOKEN: &str = "cluster-operator-token";
const PARTITIONS: u32 = 4;
const METERS: usize = 6;

// ---------------------------------------------------------------- helpers

fn nats_server() -> PathBuf {
    if let Ok(p) = std::env::var("NATS_SERVER") {
        return PathBuf::from(p);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    for dir in path.split(':').chain(["/usr/sbin", "/usr/local/bin"]) {
        let p = Path::new(dir).join("nats-server");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "nats-server is not installed: the cluster test needs it (Debian package `nats-server`, \
         which scripts/test.sh installs; or set NATS_SERVER to its path)"
    );
}

/// Clock ticks per second of /proc's CPU times.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first column of the first row of `statement` on the database at
/// `url` (a shard), as a number.
fn sql(url: &str, statement: &str) -> Result<Option<i64>, String> {
    let rows = query_at(url, statement)?;
    Ok(rows.first().and_then(|r| r.try_get::<_, i64>(0).ok()))
}

/// A process that can be killed, stopped, resumed and started again with
/// the same command line; its output goes to a log file.
struct Proc {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    fn new(name: &str, program: &Path, args: Vec<String>, dir: &Path) -> Self {
        let mut p = Self {
            name: name.into(),
            program: program.into(),
            args,
            log: dir.join(format!("{name}.log")),
            child: None,
        };
        p.start();
        p
    }

    fn start(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(&self.program)
            .args(&self.args)
            .env("SMARTMETER_OPERATOR_TOKEN", TOKEN)
            .env("RUST_LOG", "warn,smartmeter_server=info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.name));
        self.child = Some(child);
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }

    /// CPU seconds used so far (user + system, from /proc).
    fn cpu_secs(&self) -> f64 {
        let pid = self.child.as_ref().unwrap().id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // Fields after the command name (which may hold spaces): utime and
        // stime are fields 14 and 15 of the line, 12 and 13 after ')'.
        let rest = stat.rsplit_once(')').unwrap().1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
        ticks / clock_ticks()
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let ok = Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {pid}");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.is_some() {
            // A stopped process must be resumed to die cleanly.
            self.signal("-CONT");
        }
        self.kill9();
    }
}

/// One HTTP/1.1 exchange (test-support's): (status, JSON body); `None`
/// when the node cannot be reached or does not answer.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Option<(u16, Value)> {
    let (status, body) = smartmeter_test_support::process::http(addr, method, path, token, body)?;
    Some((status, serde_json::from_str(&body).unwrap_or(Value::Null)))
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        thread::sleep(Duration::from_millis(100));
    }
    started.elapsed()
}

// ---------------------------------------------------------------- the cluster

struct Nats {
    client_ports: Vec<u16>,
    procs: Vec<Proc>,
}

impl Nats {
    fn start(dir: &Path) -> Self {
        let bin = nats_server();
        let client_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let route_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let monitor_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let routes = route_ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let procs = (0..3)
            .map(|i| {
                let store = dir.join(format!("nats{i}"));
                std::fs::create_dir_all(&store).unwrap();
                let args = vec![
                    "-a".into(),
                    "127.0.0.1".into(),
                    "-p".into(),
                    client_ports[i].to_string(),
                    "-m".into(),
                    monitor_ports[i].to_string(),
                    "-n".into(),
                    format!("n{i}"),
                    "-js".into(),
                    "-sd".into(),
                    store.display().to_string(),
                    "--cluster_name".into(),
                    "smc".into(),
                    "--cluster".into(),
                    format!("nats://127.0.0.1:{}", route_ports[i]),
                    "--routes".into(),
                    routes.clone(),
                ];
                Proc::new(&format!("nats{i}"), &bin, args, dir)
            })
            .collect();
        let nats = Self {
            client_ports,
            procs,
        };
        for &p in &monitor_ports {
            let addr: SocketAddr = format!("127.0.0.1:{p}").parse().unwrap();
            wait_until(
                "nats-server monitoring port",
                Duration::from_secs(20),
                || TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok(),
            );
        }
        nats
    }

    fn urls(&self) -> String {
        self.client_ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

struct Node {
    proc: Proc,
    public: SocketAddr,
    operator: SocketAddr,
}

fn node(name: &str, role: &str, index: u32, nats: &Nats, shards: &[TestDb], dir: &Path) -> Node {
    let public: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let operator: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut args = vec![
        "--database-url".into(),
        shards[0].url.clone(),
        "--public-addr".into(),
        public.to_string(),
        "--operator-addr".into(),
        operator.to_string(),
        "--db-pool-size".into(),
        "4".into(),
        "--rate-limit-burst".into(),
        "0".into(),
        "--nats-url".into(),
        nats.urls(),
        "--role".into(),
        role.into(),
        "--partitions".into(),
        PARTITIONS.to_string(),
        "--stream-replicas".into(),
        "3".into(),
        "--store-index".into(),
        index.to_string(),
        "--store-count".into(),
        "2".into(),
        "--ack-wait-ms".into(),
        "1000".into(),
        "--verdict-timeout-ms".into(),
        "5000".into(),
        "--publish-timeout-ms".into(),
        "2000".into(),
        "--dedupe-window-secs".into(),
        "30".into(),
    ];
    for s in shards {
        args.push("--shard-database-url".into());
        args.push(s.url.clone());
    }
    let proc = Proc::new(name, Path::new(BIN), args, dir);
    let n = Node {
        proc,
        public,
        operator,
    };
    n.wait_ready();
    n
}

impl Node {
    fn wait_ready(&self) {
        let addr = self.public;
        wait_until(
            &format!("{} ready", self.proc.name),
            Duration::from_secs(60),
            || http(addr, "GET", "/health", None, "").is_some_and(|(s, _)| s == 200),
        );
    }

    fn restart(&mut self) {
        self.proc.start();
        self.wait_ready();
    }
}

// ---------------------------------------------------------------- meters

struct Meter {
    key: MeterKey,
    key_id: String,
    /// The meter's id in its shard, and that shard's URL.
    id: i64,
    shard: String,
    /// Sequence -> status of the 2xx answer.
    acked: Mutex<BTreeMap<u64, u16>>,
    /// The next sequence to send.
    next: AtomicU64,
}

impl Meter {
    fn reading(&self, sequence: u64, base: u64) -> String {
        self.key
            .sign(Reading {
                sequence,
                timestamp_ms: base + sequence * 100,
                wh_imported: sequence * 7,
                wh_exported: sequence,
            })
            .unwrap()
            .to_json()
    }

    fn acks(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Asserts that the meter's shard holds its reading `sequence`: a 2xx
    /// promises a committed reading, checked at once rather than only at
    /// the end.
    fn assert_stored(&self, sequence: u64, answer: &Value) {
        let count = sql(
            &self.shard,
            // Sequences are stored shifted into BIGINT (db::bigint).
            &format!(
                "SELECT count(*) FROM readings WHERE meter_id = {} AND sequence = {}",
                self.id,
                smartmeter_server::db::bigint::to_db(sequence)
            ),
        )
        .unwrap();
        assert_eq!(
            count,
            Some(1),
            "{} seq {sequence} was answered {answer} but is not in its shard",
            self.key_id
        );
    }
}

#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    unavailable: AtomicU64,
    unreachable: AtomicU64,
    duplicates: AtomicU64,
    /// Answers outside 2xx/503 (must stay empty).
    unexpected: Mutex<Vec<String>>,
}

/// Sends one meter's readings in order, each until it gets a 2xx, over
/// whichever ingest node answers.
/// Starts every meter on a thread of its own, reporting every 20 ms
/// (re-sending until answered) until `stop`.
fn start_load(
    meters: &[Arc<Meter>],
    ingest: &[SocketAddr],
    base: u64,
    stop: &Arc<AtomicBool>,
    tally: &Arc<Tally>,
) -> Vec<thread::JoinHandle<()>> {
    meters
        .iter()
        .map(|m| {
            let (m, stop, tally, addrs) = (
                Arc::clone(m),
                Arc::clone(stop),
                Arc::clone(tally),
                ingest.to_vec(),
            );
            thread::spawn(move || {
                run_meter(&m, &addrs, base, &stop, &tally, Duration::from_millis(20))
            })
        })
        .collect()
}

fn run_meter(
    meter: &Meter,
    ingest: &[SocketAddr],
    base: u64,
    stop: &AtomicBool,
    tally: &Tally,
    pace: Duration,
) {
    let mut which = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let seq = meter.next.load(Ordering::SeqCst);
        let body = meter.reading(seq, base);
        loop {
            tally.sent.fetch_add(1, Ordering::Relaxed);
            let addr = ingest[which % ingest.len()];
            match http(addr, "POST", "/reportReading", None, &body) {
                Some((s @ (200 | 201), v)) => {
                    if v["duplicate"] == true {
                        tally.duplicates.fetch_add(1, Ordering::Relaxed);
                    }
                    meter.assert_stored(seq, &v);
                    meter.acked.lock().unwrap().insert(seq, s);
                    meter.next.store(seq + 1, Ordering::SeqCst);
                    break;
                }
                Some((503, v)) => {
                    assert_eq!(v["error"], "cluster_unavailable", "{v}");
                    tally.unavailable.fetch_add(1, Ordering::Relaxed);
                }
                Some((s, v)) => {
                    tally
                        .unexpected
                        .lock()
                        .unwrap()
                        .push(format!("{} seq {seq}: {s} {v}", meter.key_id));
                }
                None => {
                    tally.unreachable.fetch_add(1, Ordering::Relaxed);
                    which += 1;
                }
            }
            // Give up the current reading only when told to stop and it is
            // not getting through: it is then not acknowledged.
            if stop.load(Ordering::SeqCst) {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        which += 1;
        thread::sleep(pace);
    }
}

fn total_acks(meters: &[Arc<Meter>]) -> Vec<usize> {
    meters.iter().map(|m| m.acks()).collect()
}

/// Waits until every meter has `more` acknowledged readings beyond `from`.
fn progress(what: &str, meters: &[Arc<Meter>], more: usize, limit: Duration) -> Duration {
    let from = total_acks(meters);
    wait_until(what, limit, || {
        total_acks(meters)
            .iter()
            .zip(&from)
            .all(|(now, before)| *now >= before + more)
    })
}

/// Every stored reading of a meter, through the read API (routed to the
/// meter's shard), verified with its registered key.
fn stored(node: SocketAddr, meter: &Meter) -> Vec<smartmeter_core::VerifiedReading> {
    let mut out = Vec::new();
    let mut after: Option<u64> = None;
    loop {
        let path = match after {
            Some(a) => format!("/meters/{}/readings?limit=1000&after={a}", meter.key_id),
            None => format!("/meters/{}/readings?limit=1000", meter.key_id),
        };
        let (s, v) = http(node, "GET", &path, Some(TOKEN), "").expect("read API");
        assert_eq!(s, 200, "{v}");
        let key = PublicKey::from_base64(v["public_key"].as_str().unwrap()).unwrap();
        for r in v["readings"].as_array().unwrap() {
            let signed = SignedReading::from_json(r["signed"].to_string().as_bytes()).unwrap();
            out.push(key.verify(&signed).unwrap());
        }
        match v["next_after"].as_u64() {
            Some(a) => after = Some(a),
            None => return out,
        }
    }
}

// ---------------------------------------------------------------- the test

#[test]
fn cluster_survives_kills_and_quorum_loss() {
    let phase = Duration::from_secs(
        std::env::var("SMARTMETER_CLUSTER_PHASE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2),
    );
    let dir = std::env::temp_dir().join(format!("smartmeter-cluster-{}", random_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    eprintln!("cluster test: logs in {}", dir.display());

    let shards = [TestDb::create(), TestDb::create()];
    let mut nats = Nats::start(&dir);
    // Store workers first: they create the schema in both shards.
    let mut store = vec![
        node("store0", "store", 0, &nats, &shards, &dir),
        node("store1", "store", 1, &nats, &shards, &dir),
    ];
    let mut ingest = vec![
        node("ingest0", "ingest", 0, &nats, &shards, &dir),
        node("ingest1", "ingest", 0, &nats, &shards, &dir),
    ];
    let ingest_addrs: Vec<SocketAddr> = ingest.iter().map(|n| n.public).collect();

    // Meters: registered through one ingest node's operator listener; the
    // other learns them through the registry bucket.
    let meters: Vec<Arc<Meter>> = (0..METERS)
        .map(|i| {
            let key = MeterKey::generate(2048).unwrap();
            let pem = key.public_key().to_pem();
            let body = serde_json::json!({"username": format!("m{i}"), "public_key": pem});
            let (s, v) = http(
                ingest[0].operator,
                "POST",
                "/register",
                Some(TOKEN),
                &body.to_string(),
            )
            .unwrap();
            assert_eq!(s, 201, "{v}");
            let key_id = v["key_id"].as_str().unwrap().to_string();
            // The meter's row is in exactly one shard.
            let homes: Vec<(i64, String)> = shards
                .iter()
                .filter_map(|sh| {
                    let id = sql(
                        &sh.url,
                        &format!("SELECT id FROM meters WHERE key_id = decode('{key_id}', 'hex')"),
                    )
                    .unwrap()?;
                    Some((id, sh.url.clone()))
                })
                .collect();
            assert_eq!(homes.len(), 1, "{key_id} in {} shards", homes.len());
            let (id, shard) = homes.into_iter().next().unwrap();
            Arc::new(Meter {
                key,
                key_id,
                id,
                shard,
                acked: Mutex::default(),
                next: AtomicU64::new(1),
            })
        })
        .collect();
    // Both shards hold meters.
    let per_shard: Vec<i64> = shards
        .iter()
        .map(|s| sql(&s.url, "SELECT count(*) FROM meters").unwrap().unwrap())
        .collect();
    assert_eq!(
        per_shard.iter().sum::<i64>(),
        METERS as i64,
        "{per_shard:?}"
    );

    let base = now_ms() - 3_600_000;
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let load = start_load(&meters, &ingest_addrs, base, &stop, &tally);
    let limit = Duration::from_secs(45);
    let mut recovery: Vec<(&str, Duration)> = Vec::new();
    recovery.push(("start", progress("first readings", &meters, 3, limit)));
    // Steady load: CPU per reading of one ingest node and one store worker.
    // Meters alternate between the ingest nodes; store0's home partitions
    // are the even ones.
    let home: Vec<bool> = meters
        .iter()
        .map(|m| {
            let id: smartmeter_core::KeyId = m.key_id.parse().unwrap();
            smartmeter_server::cluster::wire::partition(&id, PARTITIONS).is_multiple_of(2)
        })
        .collect();
    let acks_before = total_acks(&meters);
    let (ingest_cpu, store_cpu) = (ingest[0].proc.cpu_secs(), store[0].proc.cpu_secs());
    let steady_started = Instant::now();
    thread::sleep(phase);
    let steady = steady_started.elapsed().as_secs_f64();
    let ingest_cpu = ingest[0].proc.cpu_secs() - ingest_cpu;
    let store_cpu = store[0].proc.cpu_secs() - store_cpu;
    let acks_after = total_acks(&meters);
    let done: Vec<usize> = acks_after
        .iter()
        .zip(&acks_before)
        .map(|(a, b)| a - b)
        .collect();
    let all: usize = done.iter().sum();
    let stored_by_store0: usize = done
        .iter()
        .zip(&home)
        .filter(|(_, h)| **h)
        .map(|(d, _)| *d)
        .sum();
    let steady_figures = serde_json::json!({
        "secs": steady,
        "readings_per_sec": all as f64 / steady,
        "ingest0_cpu_ms_per_reading": ingest_cpu * 1000.0 / (all as f64 / 2.0).max(1.0),
        "store0_cpu_ms_per_reading": store_cpu * 1000.0 / (stored_by_store0 as f64).max(1.0),
        "ingest0_cpu_share": ingest_cpu / steady,
        "store0_cpu_share": store_cpu / steady,
    });

    // A store worker: its partitions move to the other one.
    store[0].proc.kill9();
    recovery.push((
        "store worker killed",
        progress("after a store worker died", &meters, 3, limit),
    ));
    store[0].restart();
    thread::sleep(phase);

    // An ingest node: meters go to the other one.
    ingest[0].proc.kill9();
    recovery.push((
        "ingest node killed",
        progress("after an ingest node died", &meters, 3, limit),
    ));
    ingest[0].restart();
    thread::sleep(phase);

    // A NATS node: the stream keeps its quorum.
    nats.procs[0].kill9();
    recovery.push((
        "NATS node killed",
        progress("after a NATS node died", &meters, 3, limit),
    ));
    nats.procs[0].start();
    thread::sleep(phase);
    recovery.push((
        "NATS node back",
        progress("after the NATS node returned", &meters, 3, limit),
    ));

    // The other store worker, now that the first one is back.
    store[1].proc.kill9();
    recovery.push((
        "second store worker killed",
        progress("after the second store worker died", &meters, 3, limit),
    ));
    store[1].restart();
    thread::sleep(phase);

    stop.store(true, Ordering::SeqCst);
    for t in load {
        t.join().unwrap();
    }
    assert!(
        tally.unexpected.lock().unwrap().is_empty(),
        "{:?}",
        tally.unexpected.lock().unwrap()
    );

    // Quorum loss: 2 of 3 NATS nodes stopped. Every reading gets a 503
    // with the cluster code, never a 201. The one 2xx allowed: the reading
    // a meter was sending when the load stopped may be committed already
    // (unacknowledged), and the NATS node still running, not yet aware
    // that it lost its leadership, may de-duplicate the copy; that is a
    // 200 duplicate, which must then be in the shard.
    nats.procs[1].signal("-STOP");
    nats.procs[2].signal("-STOP");
    let quorum_lost = Instant::now();
    let refused = thread::scope(|s| {
        let tries: Vec<_> = meters
            .iter()
            .flat_map(|m| ingest_addrs.iter().map(move |a| (m, *a)))
            .map(|(m, addr)| {
                s.spawn(move || {
                    let seq = m.next.load(Ordering::SeqCst);
                    let answer = http(addr, "POST", "/reportReading", None, &m.reading(seq, base));
                    (m, seq, answer)
                })
            })
            .collect();
        let mut refused = 0;
        for t in tries {
            let (m, seq, answer) = t.join().unwrap();
            let (s, v) = answer.expect("an ingest node answers without quorum");
            if s == 200 && v["duplicate"] == true {
                m.assert_stored(seq, &v);
                m.acked.lock().unwrap().insert(seq, s);
                tally.duplicates.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            assert_eq!(
                (s, v["error"].as_str()),
                (503, Some("cluster_unavailable")),
                "{v}"
            );
            refused += 1;
        }
        refused
    });
    let refusing = quorum_lost.elapsed();
    nats.procs[1].signal("-CONT");
    nats.procs[2].signal("-CONT");
    // When the quorum is back, the meters' re-sends are taken (some of the
    // refused copies may have been kept by the stream: a duplicate then).
    let stop = Arc::new(AtomicBool::new(false));
    let resend = start_load(&meters, &ingest_addrs, base, &stop, &tally);
    let resumed = progress("after the quorum returned", &meters, 2, limit);
    stop.store(true, Ordering::SeqCst);
    for t in resend {
        t.join().unwrap();
    }
    recovery.push(("quorum back", resumed));
    assert!(
        tally.unexpected.lock().unwrap().is_empty(),
        "{:?}",
        tally.unexpected.lock().unwrap()
    );

    // Every acknowledged reading is stored exactly once, in its meter's
    // shard; every history passes the audit without a finding.
    let mut acked_total = 0usize;
    let mut stored_total = 0usize;
    for m in &meters {
        let acked: BTreeSet<u64> = m.acked.lock().unwrap().keys().copied().collect();
        assert!(
            acked.len() >= 2,
            "{} made no progress after the quorum came back",
            m.key_id
        );
        let readings = stored(ingest_addrs[1], m);
        let seqs: Vec<u64> = readings.iter().map(|r| r.reading().sequence).collect();
        let unique: BTreeSet<u64> = seqs.iter().copied().collect();
        assert_eq!(
            unique.len(),
            seqs.len(),
            "a sequence stored twice: {seqs:?}"
        );
        let lost: Vec<_> = acked.difference(&unique).collect();
        assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
        // Beyond the acknowledged ones, at most the reading the meter was
        // sending when the load stopped (earlier ones were all answered).
        let extra: Vec<_> = unique.difference(&acked).collect();
        assert!(extra.len() <= 1, "stored but never acknowledged: {extra:?}");
        let report = smartmeter_core::audit(&readings).unwrap();
        assert!(report.findings.is_empty(), "{}", report.to_json());
        acked_total += acked.len();
        stored_total += readings.len();
    }
    let in_shards: i64 = shards
        .iter()
        .map(|s| {
            sql(&s.url, "SELECT count(*) FROM readings")
                .unwrap()
                .unwrap()
        })
        .sum();
    assert_eq!(
        in_shards, stored_total as i64,
        "readings stored outside their meter's shard"
    );

    // Revocation through one ingest node reaches the other (registry
    // bucket); a key registered nowhere is unknown on every node. Both
    // store workers are stopped meanwhile, so a 403 `meter_revoked` can
    // only come from the ingest node's own cache (a reading that got past
    // it would wait for a verdict that cannot come and get a 503).
    for s in &store {
        s.proc.signal("-STOP");
    }
    let victim = &meters[0];
    let (s, v) = http(
        ingest[1].operator,
        "POST",
        &format!("/meters/{}/revoke", victim.key_id),
        Some(TOKEN),
        "",
    )
    .unwrap();
    assert_eq!(s, 200, "{v}");
    let next = victim.next.load(Ordering::SeqCst) + 1;
    // The revoking node has the revocation in its cache at once.
    let (s, v) = http(
        ingest[1].public,
        "POST",
        "/reportReading",
        None,
        &victim.reading(next, base),
    )
    .unwrap();
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("meter_revoked")),
        "{v}"
    );
    // The other hears of it through its registry watch, within a moment:
    // until then it lets the reading through to wait for a verdict, which
    // no stopped worker sends (503). A stale cache entry never turns.
    let mut answer = None;
    wait_until(
        "the revocation reaches the other ingest node",
        Duration::from_secs(30),
        || {
            let (s, v) = http(
                ingest[0].public,
                "POST",
                "/reportReading",
                None,
                &victim.reading(next, base),
            )
            .unwrap();
            if s == 503 && v["error"] == "cluster_unavailable" {
                return false;
            }
            answer = Some((s, v));
            true
        },
    );
    let (s, v) = answer.unwrap();
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("meter_revoked")),
        "{v}"
    );
    for s in &store {
        s.proc.signal("-CONT");
    }
    let stranger = Meter {
        key: MeterKey::generate(2048).unwrap(),
        key_id: String::new(),
        id: 0,
        shard: String::new(),
        acked: Mutex::default(),
        next: AtomicU64::new(1),
    };
    for addr in &ingest_addrs {
        let (s, v) = http(
            *addr,
            "POST",
            "/reportReading",
            None,
            &stranger.reading(1, base),
        )
        .unwrap();
        assert_eq!(
            (s, v["error"].as_str()),
            (403, Some("unknown_meter")),
            "{v}"
        );
    }

    let figures = serde_json::json!({
        "phase_secs": phase.as_secs(),
        "steady": steady_figures,
        "sent": tally.sent.load(Ordering::Relaxed),
        "acknowledged": acked_total,
        "stored": stored_total,
        "duplicates_answered": tally.duplicates.load(Ordering::Relaxed),
        "stored_twice": 0,
        "answered_503": tally.unavailable.load(Ordering::Relaxed),
        "unreachable": tally.unreachable.load(Ordering::Relaxed),
        "refused_without_quorum": refused,
        "refusing_secs": refusing.as_secs_f64(),
        "recovery_secs": recovery
            .iter()
            .map(|(k, v)| serde_json::json!([k, v.as_secs_f64()]))
            .collect::<Vec<_>>(),
    });
    println!("cluster-figures: {figures}");
    drop(ingest);
    drop(store);
    drop(nats);
    if std::env::var_os("SMARTMETER_CLUSTER_KEEP_LOGS").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
