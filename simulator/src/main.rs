//! `smartmeter-sim`: a swarm of simulated smart meters against the
//! reference server. See `smartmeter-sim --help`.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use smartmeter_sim::{Options, Summary, run};
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
    #[command(flatten)]
    options: Options,

    /// Print the summary as JSON on standard output, instead of text.
    #[arg(long, overrides_with = "json")]
    json: bool,

    /// Also write the summary as JSON to this file, in the same run as the
    /// summary on standard output (for scripts that read the numbers).
    #[arg(long, value_name = "PATH")]
    summary_json: Option<PathBuf>,

    /// No progress bars.
    #[arg(long, overrides_with = "quiet")]
    quiet: bool,
}

/// Prints the summary as text or JSON, and writes the JSON to `file` too
/// when given.
fn print_summary(s: &Summary, json: bool, file: Option<&Path>) -> Result<(), String> {
    let as_json = || {
        s.to_json()
            .map_err(|e| format!("cannot encode the summary: {e}"))
    };
    if json {
        println!("{}", as_json()?);
    } else {
        print!("{}", s.to_text());
    }
    if let Some(path) = file {
        std::fs::write(path, as_json()? + "\n")
            .map_err(|e| format!("cannot write the summary to {}: {e}", path.display()))?;
    }
    Ok(())
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
    let opts = Options {
        progress: !args.quiet,
        ..args.options
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
    if let Err(e) = print_summary(s, args.json, args.summary_json.as_deref()) {
        eprintln!("smartmeter-sim: {e}");
        return ExitCode::from(2);
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
        assert_eq!(a.options.interval, std::time::Duration::from_secs(1));
        assert_eq!(a.options.meters, 100);
        assert_eq!(a.options.readings, 6);
    }
}
