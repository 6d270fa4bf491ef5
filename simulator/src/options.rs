//! The options of a run: the command line's flags, each declared once with
//! its default, its environment variable and its help. The binary adds
//! only how to print; tests and embedders build the same [`Options`] with
//! [`Options::new`], which takes every default from these declarations.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::attack::AttackChoice;
use crate::key_mix::KeyMix;

/// Everything a run needs.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Number of meters.
    #[arg(long, default_value_t = 100)]
    pub meters: usize,

    /// Readings each meter reports.
    #[arg(long, default_value_t = 6)]
    pub readings: u64,

    /// Time between two readings of a meter: seconds (`5`, `0.2`, `5s`) or
    /// milliseconds (`200ms`).
    #[arg(long, default_value = "5s", value_parser = positive_duration)]
    pub interval: Duration,

    /// Base URL of the server's public API (readings).
    #[arg(
        long,
        env = "SMARTMETER_SERVER_URL",
        default_value = "http://127.0.0.1:8000"
    )]
    pub server_url: String,

    /// Base URL of the server's operator API (registration).
    #[arg(
        long,
        env = "SMARTMETER_OPERATOR_URL",
        default_value = "http://127.0.0.1:8001"
    )]
    pub operator_url: String,

    /// Bearer token of the operator API.
    #[arg(long, env = "SMARTMETER_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: String,

    /// Key of each meter: rsa2048, rsa3072, p256, or mixed (an even split,
    /// the same on every run: meters 0, 2, 4... RSA-2048, meters 1, 3, 5...
    /// P-256). With a keystore, its meters must have the kinds this gives.
    #[arg(long, value_name = "ALGORITHM", default_value = "rsa2048")]
    pub algorithm: KeyMix,

    /// Keystore file (JSON, mode 0600): keys and usernames are read from it
    /// and new ones saved to it, so that repeated runs need no new keys.
    /// Without it, keys are generated and kept in memory only.
    #[arg(long)]
    pub keystore: Option<PathBuf>,

    /// Most HTTP requests in flight at once (the connection pool's size).
    #[arg(long, default_value_t = 64, value_parser = at_least_one)]
    pub connections: usize,

    /// Timeout of one HTTP request.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub timeout: Duration,

    /// First retry delay; it doubles with each failed attempt, with jitter.
    #[arg(long = "backoff", value_name = "BACKOFF", default_value = "200ms", value_parser = duration)]
    pub backoff_base: Duration,

    /// Longest retry delay.
    #[arg(long = "max-backoff", value_name = "MAX_BACKOFF", default_value = "10s", value_parser = duration)]
    pub backoff_max: Duration,

    /// How long a meter keeps retrying undelivered readings after its last
    /// reading; what is left then counts as undelivered.
    #[arg(long, default_value = "120s", value_parser = duration)]
    pub drain_timeout: Duration,

    /// After the normal run, send what an attacker would and check that the
    /// server refuses it (repeatable, or comma-separated).
    #[arg(
        long = "attack",
        value_name = "ATTACK",
        value_enum,
        value_delimiter = ','
    )]
    pub attacks: Vec<AttackChoice>,

    /// Sign every reading before the reporting stage (with the times at which
    /// it will be sent) instead of on the spot, so that signing does not
    /// limit the send rate: for load tests bigger than this machine can sign
    /// live (RSA-2048 signing costs about 3 ms per reading and core).
    #[arg(long)]
    pub presign: bool,

    /// Show progress bars (on standard error, when it is a terminal). Not a
    /// flag of its own: the binary sets it unless `--quiet`.
    #[arg(skip)]
    pub progress: bool,
}

/// The options alone, as a command line, for [`Options::from_args`].
#[derive(Debug, Parser)]
#[command(name = "smartmeter-sim")]
struct OptionsOnly {
    #[command(flatten)]
    options: Options,
}

impl Options {
    /// The command line's defaults for the given server, without progress
    /// bars.
    ///
    /// ```
    /// let o = smartmeter_sim::Options::new("http://127.0.0.1:8000", "http://127.0.0.1:8001", "t")?;
    /// assert_eq!((o.meters, o.readings), (100, 6));
    /// # Ok::<(), clap::Error>(())
    /// ```
    ///
    /// # Errors
    /// Never for a token and URLs that are plain text; the flags' parsers
    /// run as on the command line.
    pub fn new(
        server_url: &str,
        operator_url: &str,
        operator_token: &str,
    ) -> Result<Self, clap::Error> {
        Self::from_args([
            "--server-url",
            server_url,
            "--operator-url",
            operator_url,
            "--operator-token",
            operator_token,
        ])
    }

    /// Options from command-line arguments (without the program name),
    /// with the defaults for the rest.
    ///
    /// # Errors
    /// An unknown flag or a value its parser refuses, as clap reports it.
    pub fn from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let program = std::iter::once(std::ffi::OsString::from("smartmeter-sim"));
        OptionsOnly::try_parse_from(program.chain(args.into_iter().map(Into::into)))
            .map(|o| o.options)
    }
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

/// A [`duration`] greater than zero.
fn positive_duration(text: &str) -> Result<Duration, String> {
    match duration(text)? {
        d if d.is_zero() => Err("must be positive".into()),
        d => Ok(d),
    }
}

/// A count of at least one.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{text}` is not a whole number of at least 1")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

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
        assert!(positive_duration("0s").is_err());
        assert!(at_least_one("0").is_err());
    }

    #[test]
    fn new_takes_every_default_from_the_flags() {
        let o = Options::new("http://s", "http://o", "t").unwrap();
        assert_eq!((o.meters, o.readings), (100, 6));
        assert_eq!(o.interval, Duration::from_secs(5));
        assert_eq!(
            (o.server_url.as_str(), o.operator_url.as_str()),
            ("http://s", "http://o")
        );
        assert_eq!(o.connections, 64);
        assert_eq!(
            (o.timeout, o.backoff_base),
            (Duration::from_secs(10), Duration::from_millis(200))
        );
        assert_eq!(
            (o.backoff_max, o.drain_timeout),
            (Duration::from_secs(10), Duration::from_secs(120))
        );
        assert!(o.attacks.is_empty() && !o.presign && !o.progress && o.keystore.is_none());
        assert_eq!(o.algorithm, KeyMix::One(smartmeter_core::KeySpec::RSA2048));
        let mixed = Options::from_args(["--operator-token", "t", "--algorithm", "mixed"]).unwrap();
        assert_eq!(mixed.algorithm, KeyMix::Mixed);
        assert!(Options::from_args(["--operator-token", "t", "--algorithm", "p384"]).is_err());
        assert!(Options::from_args(["--operator-token", "t", "--interval", "0"]).is_err());
    }
}
