//! Meter identities (username and private key) and the keystore file that
//! keeps them between runs.
//!
//! The file is JSON, written with mode 0600 because it holds private keys:
//!
//! ```json
//! {"format": "smartmeter-sim-keystore", "version": 1,
//!  "meters": [{"username": "meter-3f2a...", "private_key": "-----BEGIN PRIVATE KEY-----\n..."}]}
//! ```
//!
//! Each `private_key` is an unencrypted PKCS#8 PEM document, RSA or P-256
//! alike: the key says its own kind, so the format (version 1) is the one
//! RSA-only keystores were written in, and they load unchanged. Keys are
//! generated, encoded and parsed by `smartmeter-core` only.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use smartmeter_core::{KeySpec, MeterKey};

use crate::key_mix::KeyMix;
use crate::parallel::{cpu_threads, parallel_map};

const FORMAT: &str = "smartmeter-sim-keystore";
const VERSION: u32 = 1;

/// A simulated meter's identity: its username and private key.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The username it is registered under.
    pub username: String,
    /// Its private key.
    pub key: Arc<MeterKey>,
}

/// A keystore file could not be read, parsed or written, or a key could not be made.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeystoreError(pub String);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: String,
    version: u32,
    meters: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    username: String,
    private_key: String,
}

/// A random username: `meter-` and 16 hex digits.
pub fn random_username() -> String {
    format!("meter-{:016x}", rand::random::<u64>())
}

/// Generates `n` new identities (RSA 2048, random usernames) on all cores.
///
/// # Errors
/// When the core cannot generate a key.
pub fn generate(
    specs: &[KeySpec],
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<Identity>, KeystoreError> {
    let keys = parallel_map(
        specs.len(),
        cpu_threads(),
        |i| match specs.get(i) {
            Some(spec) => MeterKey::generate_spec(*spec),
            None => Err(smartmeter_core::KeyError::Generation),
        },
        tick,
    );
    if keys.len() != specs.len() {
        return Err(KeystoreError("a key generation thread failed".into()));
    }
    keys.into_iter()
        .map(|k| {
            k.map(|key| Identity {
                username: random_username(),
                key: Arc::new(key),
            })
            .map_err(|e| KeystoreError(format!("cannot generate a meter key: {e}")))
        })
        .collect()
}

/// Reads a keystore file. A missing file is an empty keystore.
///
/// # Errors
/// When the file cannot be read or holds anything but a valid keystore.
pub fn load(path: &Path) -> Result<Vec<Identity>, KeystoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(KeystoreError(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let file: File = serde_json::from_str(&text)
        .map_err(|e| KeystoreError(format!("{} is not a keystore: {e}", path.display())))?;
    if file.format != FORMAT || file.version != VERSION {
        return Err(KeystoreError(format!(
            "{} is not a version {VERSION} {FORMAT} file",
            path.display()
        )));
    }
    let parsed = parallel_map(
        file.meters.len(),
        cpu_threads(),
        |i| {
            file.meters
                .get(i)
                .ok_or_else(|| "missing entry".to_string())
                .and_then(|e| {
                    MeterKey::from_pkcs8_pem(&e.private_key)
                        .map(|key| Identity {
                            username: e.username.clone(),
                            key: Arc::new(key),
                        })
                        .map_err(|err| format!("key of {}: {err}", e.username))
                })
        },
        &|| {},
    );
    if parsed.len() != file.meters.len() {
        return Err(KeystoreError("a key parsing thread failed".into()));
    }
    parsed
        .into_iter()
        .map(|r| r.map_err(|e| KeystoreError(format!("{}: {e}", path.display()))))
        .collect()
}

/// Writes a keystore file with mode 0600, replacing it atomically.
///
/// # Errors
/// When a key cannot be encoded or the file cannot be written.
pub fn save(path: &Path, identities: &[Identity]) -> Result<(), KeystoreError> {
    let meters = identities
        .iter()
        .map(|id| {
            let pem = id
                .key
                .to_pkcs8_pem()
                .map_err(|e| KeystoreError(format!("cannot encode a key: {e}")))?;
            Ok(Entry {
                username: id.username.clone(),
                private_key: pem.to_string(),
            })
        })
        .collect::<Result<Vec<_>, KeystoreError>>()?;
    let file = File {
        format: FORMAT.into(),
        version: VERSION,
        meters,
    };
    let json = serde_json::to_string_pretty(&file)
        .map_err(|e| KeystoreError(format!("cannot encode the keystore: {e}")))?;
    let err = |e: std::io::Error| KeystoreError(format!("cannot write {}: {e}", path.display()));
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp_name);
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?;
        // The mode applies only when the file is created; make sure.
        use std::os::unix::fs::PermissionsExt as _;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(err)?;
        f.write_all(json.as_bytes()).map_err(err)?;
        f.write_all(b"\n").map_err(err)?;
        f.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, path).map_err(err)
}

/// The identities for a run of `n` meters whose keys are of the kinds
/// `mix` gives them: from the keystore (when given) topped up with new
/// keys, saved back when any were added. Returns the identities and how
/// many were generated.
///
/// # Errors
/// As [`load`], [`generate`] and [`save`]; and when a meter of the
/// keystore has a key of another kind than `mix` gives it (a keystore made
/// with another `--algorithm`): its meters keep their keys, so the run
/// would not be the swarm asked for.
pub fn provide(
    n: usize,
    keystore: Option<&Path>,
    mix: KeyMix,
    tick: &(dyn Fn() + Sync),
) -> Result<(Vec<Identity>, usize), KeystoreError> {
    let mut ids = match keystore {
        Some(p) => load(p)?,
        None => Vec::new(),
    };
    for (i, id) in ids.iter().take(n).enumerate() {
        let (has, wanted) = (id.key.public_key().spec(), mix.spec_for(i));
        if has != wanted {
            return Err(KeystoreError(format!(
                "meter {i} of the keystore ({}) has a {has} key, but --algorithm {mix} gives it \
                 a {wanted} key: use another keystore, or the --algorithm it was made with",
                id.username
            )));
        }
        tick();
    }
    let missing = n.saturating_sub(ids.len());
    if missing > 0 {
        let specs: Vec<KeySpec> = (ids.len()..n).map(|i| mix.spec_for(i)).collect();
        ids.extend(generate(&specs, tick)?);
        if let Some(p) = keystore {
            save(p, &ids)?;
        }
    }
    ids.truncate(n);
    Ok((ids, missing))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    const RSA: KeyMix = KeyMix::One(KeySpec::RSA2048);

    #[test]
    fn round_trip_with_mode_0600_and_top_up() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        let (first, made) = provide(2, Some(&path), RSA, &|| {}).unwrap();
        assert_eq!(made, 2);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        // Reused: same usernames and keys, nothing generated.
        let (again, made) = provide(2, Some(&path), RSA, &|| {}).unwrap();
        assert_eq!(made, 0);
        for (a, b) in first.iter().zip(&again) {
            assert_eq!(a.username, b.username);
            assert_eq!(a.key.key_id(), b.key.key_id());
        }
        // Fewer meters: a prefix; more: topped up and saved.
        let (one, made) = provide(1, Some(&path), RSA, &|| {}).unwrap();
        assert_eq!((one.len(), made), (1, 0));
        let (three, made) = provide(3, Some(&path), RSA, &|| {}).unwrap();
        assert_eq!((three.len(), made), (3, 1));
        assert_eq!(three[1].key.key_id(), first[1].key.key_id());
        assert_eq!(load(&path).unwrap().len(), 3);
    }

    #[test]
    fn rejects_a_file_that_is_not_a_keystore() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        std::fs::write(&path, "{\"format\":\"x\",\"version\":1,\"meters\":[]}").unwrap();
        assert!(load(&path).is_err());
        std::fs::write(&path, "not json").unwrap();
        assert!(load(&path).is_err());
        assert!(load(&dir.path().join("missing.json")).unwrap().is_empty());
    }

    /// A keystore written before P-256 existed (an RSA key from the shared
    /// vectors, in the version 1 layout) loads as it is.
    #[test]
    fn an_rsa_keystore_of_the_first_format_loads_unchanged() {
        let path = format!("{}/../docs/vectors/valid.json", env!("CARGO_MANIFEST_DIR"));
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let pem = doc["cases"][0]["private_key_pem"].as_str().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.json");
        let old = serde_json::json!({
            "format": "smartmeter-sim-keystore",
            "version": 1,
            "meters": [{"username": "meter-0123456789abcdef", "private_key": pem}],
        });
        std::fs::write(&path, old.to_string()).unwrap();
        let (ids, made) = provide(1, Some(&path), RSA, &|| {}).unwrap();
        assert_eq!(made, 0);
        assert_eq!(ids[0].username, "meter-0123456789abcdef");
        assert_eq!(ids[0].key.public_key().spec(), KeySpec::RSA2048);
        // Topped up as a mixed swarm: meter 1 gets a P-256 key.
        let (ids, made) = provide(2, Some(&path), KeyMix::Mixed, &|| {}).unwrap();
        assert_eq!(made, 1);
        assert_eq!(ids[1].key.public_key().spec(), KeySpec::P256);
    }

    #[test]
    fn a_mixed_keystore_round_trips_and_refuses_another_algorithm() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mixed.json");
        let (first, made) = provide(4, Some(&path), KeyMix::Mixed, &|| {}).unwrap();
        assert_eq!(made, 4);
        let again = load(&path).unwrap();
        for (i, (a, b)) in first.iter().zip(&again).enumerate() {
            assert_eq!(a.key.key_id(), b.key.key_id());
            assert_eq!(b.key.public_key().spec(), KeyMix::Mixed.spec_for(i));
        }
        let p256 = KeyMix::One(KeySpec::P256);
        let err = provide(4, Some(&path), p256, &|| {}).unwrap_err();
        assert!(err.0.contains("meter 0 of the keystore"), "{err}");
        // Nothing was generated or saved by the refused run.
        assert_eq!(load(&path).unwrap().len(), 4);
    }
}
