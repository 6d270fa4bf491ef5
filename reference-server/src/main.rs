//! `smartmeter-server`: runs the public and the operator listener in one
//! process until SIGTERM or Ctrl-C, then finishes in-flight requests (for
//! Rocket's `shutdown.grace` seconds) before exiting.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use rocket::error::ErrorKind;
use rocket::{Ignite, Rocket};
use smartmeter_server::{Config, Shared, build_operator, build_public, logging};

/// mimalloc instead of the system allocator: a request allocates and frees
/// many small buffers across threads (hyper, Rocket, JSON, the commit
/// queue), where glibc's malloc took about a tenth of the server's CPU
/// outside verification (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn dev_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("cannot generate a token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

async fn run(mut config: Config) -> Result<(), String> {
    if config
        .operator_token
        .as_deref()
        .is_none_or(|t| t.trim().is_empty())
        && config.dev_mode
    {
        let token = dev_token()?;
        eprintln!("smartmeter-server: development mode, operator token: {token}");
        config.operator_token = Some(token);
    }
    let shared = Shared::new(config)?;
    smartmeter_server::cluster::start(&shared).await?;
    let public = build_public(&shared)
        .ignite()
        .await
        .map_err(|e| format!("public listener: {e}"))?;
    let operator = build_operator(&shared)
        .ignite()
        .await
        .map_err(|e| format!("operator listener: {e}"))?;
    tracing::info!(
        public = %shared.config.public_addr,
        operator = %shared.config.operator_addr,
        "starting"
    );
    let stop_public = public.shutdown();
    let stop_operator = operator.shutdown();
    // When either listener stops (signal or failure), stop the other too.
    let (a, b) = rocket::tokio::join!(
        async move {
            let r = public.launch().await;
            stop_operator.notify();
            r
        },
        async move {
            let r = operator.launch().await;
            stop_public.notify();
            r
        }
    );
    stopped("public", a).await?;
    stopped("operator", b).await?;
    tracing::info!("stopped");
    Ok(())
}

/// What one listener's `launch` returned, once its connections are done.
///
/// Rocket 0.5 answers "shutdown failed" when its server future ends before
/// it notices the shutdown signal while request tasks still hold the
/// instance: those requests are still being served. Returning at once would
/// end the process under them, so wait for them to let go, within the
/// configured grace and mercy periods, as Rocket's own path does; only what
/// is still running after that is a failed shutdown.
async fn stopped(
    listener: &str,
    launched: Result<Rocket<Ignite>, rocket::Error>,
) -> Result<(), String> {
    let error = match launched {
        Ok(_) => return Ok(()),
        Err(error) => error,
    };
    if let ErrorKind::Shutdown(rocket, None) = error.kind() {
        let periods = &rocket.config().shutdown;
        let deadline = Instant::now()
            + Duration::from_secs(u64::from(periods.grace) + u64::from(periods.mercy));
        // The error holds one reference; the request tasks hold the others.
        while Arc::strong_count(rocket) > 1 && Instant::now() < deadline {
            rocket::tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if Arc::strong_count(rocket) == 1 {
            return Ok(());
        }
    }
    Err(format!("{listener} listener: {error}"))
}

#[rocket::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    if let Err(e) = logging::init(config.log_format) {
        eprintln!("smartmeter-server: {e}");
        return ExitCode::FAILURE;
    }
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "smartmeter-server failed");
            eprintln!("smartmeter-server: {e}");
            ExitCode::FAILURE
        }
    }
}
