//! The PostgreSQL pool, with TLS through rustls as `DATABASE_URL` asks.
//!
//! libpq's settings are honoured in the URL's query:
//!
//! | `sslmode` | TLS | server certificate |
//! |---|---|---|
//! | `disable` | never | - |
//! | `prefer` (default, as libpq) | when the server offers it | not checked |
//! | `require` | always | not checked (encryption only) |
//! | `verify-full` | always | must chain to `sslrootcert` and name the host |
//!
//! `sslrootcert` is a PEM file of trusted certificates, or `system` for the
//! operating system's store; `verify-full` needs it. `verify-ca` and the
//! other libpq TLS settings (client certificates) are refused with a message
//! rather than ignored.
//!
//! [`PgPool`] is a [`rocket_db_pools::Pool`], so `rocket_db_pools` keeps
//! managing it (connection guard, shutdown); it also times how long each
//! request for a connection waits, for the metrics.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use prometheus_client::metrics::histogram::Histogram;
use rocket::figment::Figment;
use rocket_db_pools::deadpool_postgres::{
    self, ManagerConfig, RecyclingMethod, Runtime, tokio_postgres,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{Client, DbError};

/// How to use TLS to PostgreSQL (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS if the server offers it, certificate not checked.
    Prefer,
    /// TLS, certificate not checked.
    Require,
    /// TLS, certificate checked against the trusted roots and the host name.
    VerifyFull,
}

/// Where the trusted certificates of `verify-full` come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// A PEM file.
    File(PathBuf),
    /// The operating system's store.
    System,
}

/// The TLS settings of a database URL, and the URL without them (what
/// tokio-postgres parses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The mode.
    pub mode: SslMode,
    /// The trusted roots, for `verify-full`.
    pub root_cert: Option<RootCert>,
    /// The URL less `sslmode` and `sslrootcert`.
    pub url: String,
}

/// A database URL that cannot be used.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn percent_decode(s: &str) -> Result<String, ConfigError> {
    let bad = || {
        ConfigError(format!(
            "bad percent-encoding in database URL parameter {s:?}"
        ))
    };
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next().ok_or_else(bad)?, bytes.next().ok_or_else(bad)?];
            let hex = std::str::from_utf8(&hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

impl TlsSettings {
    /// Takes `sslmode` and `sslrootcert` out of a `postgres://` URL.
    ///
    /// # Errors
    /// An unknown or unsupported mode, `verify-full` without `sslrootcert`,
    /// or a client-certificate setting.
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, q),
            None => (url, ""),
        };
        let mut mode = SslMode::Prefer;
        let mut root_cert = None;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => {
                    mode = match percent_decode(value)?.as_str() {
                        "disable" => SslMode::Disable,
                        "prefer" => SslMode::Prefer,
                        "require" => SslMode::Require,
                        "verify-full" => SslMode::VerifyFull,
                        "allow" | "verify-ca" => {
                            return Err(ConfigError(format!(
                                "sslmode={value} is not supported: use disable, prefer, require or verify-full"
                            )));
                        }
                        other => {
                            return Err(ConfigError(format!("unknown sslmode {other:?}")));
                        }
                    }
                }
                "sslrootcert" => {
                    let value = percent_decode(value)?;
                    root_cert = Some(if value == "system" {
                        RootCert::System
                    } else {
                        RootCert::File(PathBuf::from(value))
                    });
                }
                "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir" => {
                    return Err(ConfigError(format!(
                        "{key} is not supported (no client certificates)"
                    )));
                }
                _ => kept.push(pair),
            }
        }
        if mode == SslMode::VerifyFull && root_cert.is_none() {
            return Err(ConfigError(
                "sslmode=verify-full needs sslrootcert=<PEM file> or sslrootcert=system".into(),
            ));
        }
        let url = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok(Self {
            mode,
            root_cert,
            url,
        })
    }

    /// The tokio-postgres configuration: the URL with the mode set.
    ///
    /// # Errors
    /// A URL that tokio-postgres refuses.
    pub fn pg_config(&self) -> Result<tokio_postgres::Config, ConfigError> {
        let mut config: tokio_postgres::Config = self
            .url
            .parse()
            .map_err(|e| ConfigError(format!("bad database URL: {e}")))?;
        config.ssl_mode(match self.mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
        });
        Ok(config)
    }

    /// The rustls connector for this mode.
    ///
    /// # Errors
    /// Trusted roots that cannot be read.
    pub fn connector(&self) -> Result<MakeRustlsConnect, ConfigError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| ConfigError(format!("TLS: {e}")))?;
        let config = match (&self.mode, &self.root_cert) {
            (SslMode::VerifyFull, Some(root)) => builder
                .with_root_certificates(roots(root)?)
                .with_no_client_auth(),
            _ => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
                .with_no_client_auth(),
        };
        Ok(MakeRustlsConnect::new(config))
    }
}

fn roots(root: &RootCert) -> Result<RootCertStore, ConfigError> {
    let mut store = RootCertStore::empty();
    match root {
        RootCert::File(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| ConfigError(format!("sslrootcert {}: {e}", path.display())))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(ConfigError(format!(
                    "sslrootcert {}: no usable certificate",
                    path.display()
                )));
            }
        }
        RootCert::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(ConfigError(
                    "sslrootcert=system: no certificate in the system store".into(),
                ));
            }
        }
    }
    Ok(store)
}

/// `prefer` and `require`: encryption without authentication of the
/// server, as libpq does for these modes. The handshake signatures are
/// still checked, so the session is bound to the certificate presented.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A pool of PostgreSQL connections over TLS as configured. Clones share
/// the connections.
#[derive(Clone)]
pub struct PgPool {
    pool: deadpool_postgres::Pool,
    wait: OnceLock<Histogram>,
}

impl std::fmt::Debug for PgPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgPool")
            .field("status", &self.pool.status())
            .finish_non_exhaustive()
    }
}

impl PgPool {
    /// A pool for `url` with at most `size` connections; waiting for a
    /// connection, or making one, gives up after `timeout`.
    ///
    /// # Errors
    /// A URL or TLS setting that cannot be used.
    pub fn new(url: &str, size: usize, timeout: Duration) -> Result<Self, ConfigError> {
        let tls = TlsSettings::from_url(url)?;
        let manager = deadpool_postgres::Manager::from_config(
            tls.pg_config()?,
            tls.connector()?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(size.max(1))
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| ConfigError(format!("cannot build the pool: {e}")))?;
        Ok(Self {
            pool,
            wait: OnceLock::new(),
        })
    }

    /// Records how long each later [`PgPool::get`] waits into `histogram`.
    pub fn observe_wait(&self, histogram: Histogram) {
        let _ = self.wait.set(histogram);
    }

    /// A connection from the pool.
    ///
    /// # Errors
    /// [`DbError::Unavailable`] with the cause (for example PostgreSQL's
    /// "too many clients already", or a refused certificate).
    pub async fn get(&self) -> Result<Client, DbError> {
        let started = Instant::now();
        let client = self.pool.get().await;
        if let Some(h) = self.wait.get() {
            h.observe(started.elapsed().as_secs_f64());
        }
        Ok(client?)
    }

    /// Closes the pool: waiting and later requests fail.
    pub fn close(&self) {
        self.pool.close();
    }
}

#[rocket::async_trait]
impl rocket_db_pools::Pool for PgPool {
    type Connection = Client;
    type Error = DbError;

    async fn init(figment: &Figment) -> Result<Self, Self::Error> {
        let config: rocket_db_pools::Config = figment
            .extract()
            .map_err(|e| DbError::Unavailable(Box::new(e)))?;
        Self::new(
            &config.url,
            config.max_connections,
            Duration::from_secs(config.connect_timeout),
        )
        .map_err(|e| DbError::Unavailable(Box::new(e)))
    }

    async fn get(&self) -> Result<Self::Connection, Self::Error> {
        PgPool::get(self).await
    }

    async fn close(&self) {
        PgPool::close(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_come_out_of_the_url() {
        let t =
            TlsSettings::from_url("postgres://u@h:5/db?sslmode=require&application_name=x").ok();
        assert_eq!(
            t,
            Some(TlsSettings {
                mode: SslMode::Require,
                root_cert: None,
                url: "postgres://u@h:5/db?application_name=x".into()
            })
        );
        let t = TlsSettings::from_url("postgres://u@h/db").ok();
        assert_eq!(
            t.map(|t| (t.mode, t.url)),
            Some((SslMode::Prefer, "postgres://u@h/db".into()))
        );
        let t =
            TlsSettings::from_url("postgres://h/db?sslmode=verify-full&sslrootcert=%2Fca.pem").ok();
        assert_eq!(
            t.map(|t| (t.mode, t.root_cert, t.url)),
            Some((
                SslMode::VerifyFull,
                Some(RootCert::File("/ca.pem".into())),
                "postgres://h/db".into()
            ))
        );
        for bad in [
            "postgres://h/db?sslmode=verify-full",
            "postgres://h/db?sslmode=verify-ca&sslrootcert=system",
            "postgres://h/db?sslmode=sometimes",
            "postgres://h/db?sslcert=x.pem",
        ] {
            assert!(TlsSettings::from_url(bad).is_err(), "{bad}");
        }
    }
}
