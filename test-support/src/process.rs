//! The server as a real process: its binary, free loopback ports, a
//! minimal HTTP/1.1 exchange, and a [`ServerProcess`] that a test can kill
//! and start again on the same ports.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A loopback address with a free port.
pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// One HTTP/1.1 request on its own connection: the status and the body,
/// or `None` when the exchange failed (nothing listens, a cut connection).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// The `smartmeter-server` binary, for the tests of other crates, built
/// (or found up to date) once per test process.
///
/// The server's own tests use `env!("CARGO_BIN_EXE_smartmeter-server")`;
/// cargo sets that only for a crate's own binaries (binaries of
/// dependencies are the unstable "artifact dependencies"). So this asks
/// cargo: `cargo build --message-format=json` is a no-op when the binary
/// is fresh, cargo's own fingerprints decide what is stale (every source,
/// feature, build script and the lock file, which comparing file times
/// cannot know), and its `compiler-artifact` message names the executable,
/// wherever the target directory is. The profile is the test's own.
pub fn server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test's path");
        // target/<profile>/deps/<this test>
        let release = exe
            .parent()
            .and_then(|deps| deps.parent())
            .and_then(|profile| profile.file_name())
            .is_some_and(|name| name == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--message-format=json",
            "-p",
            "smartmeter-server",
            "--bin",
            "smartmeter-server",
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"),
        ])
        .stderr(Stdio::inherit());
        if release {
            cmd.arg("--release");
        }
        let out = cmd.output().expect("run cargo build");
        assert!(
            out.status.success(),
            "cargo build -p smartmeter-server failed"
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|m| {
                m["reason"] == "compiler-artifact" && m["target"]["name"] == "smartmeter-server"
            })
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo named no smartmeter-server executable")
    })
    .clone()
}

/// Waits until every listener of `server` answers `GET /health` with 200.
///
/// # Panics
/// When the process exits first, or after 60 s.
pub fn wait_healthy(server: &mut Child, listeners: &[SocketAddr]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let healthy =
        |addr| http(addr, "GET", "/health", None, "").is_some_and(|(status, _)| status == 200);
    while !listeners.iter().all(|a| healthy(*a)) {
        assert!(Instant::now() < deadline, "server did not become healthy");
        assert!(
            server.try_wait().ok().flatten().is_none(),
            "server exited early"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A server process on two free loopback ports; killed when dropped.
pub struct ServerProcess {
    /// The public listener.
    pub public: SocketAddr,
    /// The operator listener.
    pub operator: SocketAddr,
    bin: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl ServerProcess {
    /// A server (not started yet) of `bin` on `database_url` with the
    /// operator token [`OPERATOR_TOKEN`](crate::OPERATOR_TOKEN).
    pub fn new(bin: impl Into<PathBuf>, database_url: &str) -> Self {
        let public = free_addr();
        let operator = free_addr();
        let env = [
            ("DATABASE_URL", database_url.to_string()),
            ("SMARTMETER_OPERATOR_TOKEN", crate::OPERATOR_TOKEN.into()),
            ("SMARTMETER_PUBLIC_ADDR", public.to_string()),
            ("SMARTMETER_OPERATOR_ADDR", operator.to_string()),
        ];
        Self {
            public,
            operator,
            bin: bin.into(),
            env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            child: None,
        }
    }

    /// One more setting, as its environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Starts the process (its log on this test's standard error) and
    /// waits until both listeners answer `GET /health` with 200.
    ///
    /// # Panics
    /// When it exits early or is not healthy within 60 s.
    pub fn start(&mut self) {
        let child = Command::new(&self.bin)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        wait_healthy(self.child.insert(child), &[self.public, self.operator]);
    }

    /// `http://<public listener>`.
    pub fn public_url(&self) -> String {
        format!("http://{}", self.public)
    }

    /// `http://<operator listener>`.
    pub fn operator_url(&self) -> String {
        format!("http://{}", self.operator)
    }

    /// SIGKILL: no graceful shutdown, requests in flight are cut.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
