//! `smartmeter-sim`: a swarm of simulated smart meters against the
//! reference server. See `smartmeter-sim --help`.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use smartmeter_sim::{Attack, Options, run};
use tokio::sync::watch;

/// Simulates a swarm of smart meters: registers each meter's key through
/// the operator API, then reports signed readings to the public API and
/// prints a summary. Nothing is lost: readings are retried until the server
/// answers for them. Exit status: 0 when every reading was stored, 1 when a
/// reading was rejected or left undelivered (or a meter could not register,
/// or a defence failed), 2 on a setup error, 130 when interrupted.
#[derive(Debug, Parser)]
#[command(name = "smartmeter-sim", version)]
struct Args {
    /// Number of meters.
    #[arg(long, default_value_t = 100)]
    meters: usize,

    /// Readings each meter reports.
    #[arg(long, default_value_t = 6)]
    readings: u64,

    /// Time between two readings of a meter: seconds (`5`, `0.2`, `5s`) or
    /// milliseconds (`200ms`).
    #[arg(long, default_value = "5s", value_parser = duration)]
    interval: Duration,

    /// Base URL of the server's public API (readings).
    #[arg(
        long,
        env = "SMARTMETER_SERVER_URL",
        default_value = "http://127.0.0.1:8000"
    )]
    server_url: String,

    /// Base URL of the server's operator API (registration).
    #[arg(
        long,
        env = "SMARTMETER_OPERATOR_URL",
        default_value = "http://127.0.0.1:8001"
    )]
    operator_url: String,

    /// Bearer token of the operator API.
    #[arg(long, env = "SMARTMETER_OPERATOR_TOKEN", hide_env_values = true)]
    operator_token: String,

    /// Keystore file (JSON, mode 0600): keys and usernames are read from it
    /// and new ones saved to it, so that repeated runs need no new keys.
    /// Without it, keys are generated and kept in memory only.
    #[arg(long)]
    keystore: Option<PathBuf>,

    /// Most HTTP requests in flight at once (the connection pool's size).
    #[arg(long, default_value_t = 64)]
    connections: usize,

    /// Timeout of one HTTP request.
    #[arg(long, default_value = "10s", value_parser = duration)]
    timeout: Duration,

    /// First retry delay; it doubles with each failed attempt, with jitter.
    #[arg(long, default_value = "200ms", value_parser = duration)]
    backoff: Duration,

    /// Longest retry delay.
    #[arg(long, default_value = "10s", value_parser = duration)]
    max_backoff: Duration,

    /// How long a meter keeps retrying undelivered readings after its last
    /// reading; what is left then counts as undelivered.
    #[arg(long, default_value = "120s", value_parser = duration)]
    drain_timeout: Duration,

    /// After the normal run, send what an attacker would and check that the
    /// server refuses it (repeatable, or comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    attack: Vec<Attack>,

    /// Sign every reading before the reporting stage (with the times at which
    /// it will be sent) instead of on the spot, so that signing does not
    /// limit the send rate: for load tests bigger than this machine can sign
    /// live (RSA-2048 signing costs about 3 ms per reading and core).
    #[arg(long)]
    presign: bool,

    /// Print the summary as JSON on standard output.
    #[arg(long, overrides_with = "json")]
    json: bool,

    /// No progress bars.
    #[arg(long, overrides_with = "quiet")]
    quiet: bool,
}

/// A duration: seconds (`5`, `0.2`, `5s`) or milliseconds (`200ms`).
fn duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, scale) = if let Some(ms) = t.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = t.strip_suffix('s') {
        (s, 1.0)
    } else {
        (t, 1.0)
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|n| Duration::try_from_secs_f64(n * scale).ok())
        .ok_or_else(|| format!("`{text}` is not a duration such as 5, 0.2, 5s or 200ms"))
}

fn options(a: &Args) -> Result<Options, String> {
    let interval = a.interval;
    if interval.is_zero() {
        return Err("--interval must be positive".into());
    }
    Ok(Options {
        meters: a.meters,
        readings: a.readings,
        interval,
        server_url: a.server_url.clone(),
        operator_url: a.operator_url.clone(),
        operator_token: a.operator_token.clone(),
        keystore: a.keystore.clone(),
        connections: a.connections.max(1),
        timeout: a.timeout,
        backoff_base: a.backoff,
        backoff_max: a.max_backoff,
        drain_timeout: a.drain_timeout,
        attacks: a.attack.clone(),
        presign: a.presign,
        progress: !a.quiet,
    })
}

/// First Ctrl-C or SIGTERM: stop cleanly; the second: quit at once.
fn watch_signals(stop: watch::Sender<bool>) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        for round in 0..2 {
            #[cfg(unix)]
            let term_recv = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let term_recv = std::future::pending::<()>();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                () = term_recv => {}
            }
            if round == 0 {
                eprintln!(
                    "\nsmartmeter-sim: stopping: finishing requests in flight (press Ctrl-C again to quit at once)"
                );
                let _ = stop.send(true);
            } else {
                eprintln!("\nsmartmeter-sim: quitting");
                std::process::exit(130);
            }
        }
    });
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let opts = match options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("smartmeter-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let (tx, rx) = watch::channel(false);
    watch_signals(tx);
    let outcome = match run(&opts, rx).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("smartmeter-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let s = &outcome.summary;
    if args.json {
        match serde_json::to_string_pretty(s) {
            Ok(j) => println!("{j}"),
            Err(e) => {
                eprintln!("smartmeter-sim: cannot print the summary: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{}", s.to_text());
    }
    if !s.ok {
        ExitCode::FAILURE
    } else if s.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("5").unwrap(), Duration::from_secs(5));
        assert_eq!(duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(duration("0.2").unwrap(), Duration::from_millis(200));
        assert_eq!(duration("200ms").unwrap(), Duration::from_millis(200));
        assert_eq!(duration("1.5s").unwrap(), Duration::from_millis(1500));
        for bad in ["", "s", "-1", "five", "5m", "NaN"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn args_parse() {
        Args::command().debug_assert();
        let a = Args::try_parse_from([
            "smartmeter-sim",
            "--operator-token",
            "t",
            "--interval",
            "1s",
        ])
        .unwrap();
        assert_eq!(a.interval, Duration::from_secs(1));
        assert_eq!(a.meters, 100);
        assert_eq!(a.readings, 6);
    }
}
