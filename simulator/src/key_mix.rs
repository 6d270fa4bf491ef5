//! Which kind of key each meter of a swarm gets (`--algorithm`): one kind
//! for every meter, or a mixed swarm of RSA-2048 and P-256 meters.

use core::fmt;
use core::str::FromStr;

use smartmeter_core::KeySpec;

/// The kind of key of each meter, by its index in the swarm (the order of
/// the keystore).
///
/// `mixed` is an even split, the same on every run: meters with an even
/// index (0, 2, 4...) get RSA-2048 keys, meters with an odd index P-256
/// keys. A keystore therefore keeps its meters' kinds from run to run.
///
/// ```
/// use smartmeter_core::KeySpec;
/// use smartmeter_sim::KeyMix;
///
/// let mix: KeyMix = "mixed".parse()?;
/// assert_eq!([mix.spec_for(0), mix.spec_for(1), mix.spec_for(2)],
///            [KeySpec::RSA2048, KeySpec::P256, KeySpec::RSA2048]);
/// assert_eq!("p256".parse::<KeyMix>()?.spec_for(7), KeySpec::P256);
/// assert!("p384".parse::<KeyMix>().is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMix {
    /// Every meter has a key of this kind.
    One(KeySpec),
    /// RSA-2048 and P-256, alternating by meter index.
    Mixed,
}

impl KeyMix {
    /// The kinds of a mixed swarm: meter `i` gets `MIXED[i % 2]`.
    pub const MIXED: [KeySpec; 2] = [KeySpec::RSA2048, KeySpec::P256];

    /// Every kind of key this gives a meter.
    pub fn kinds(self) -> Vec<KeySpec> {
        match self {
            Self::One(spec) => vec![spec],
            Self::Mixed => Self::MIXED.to_vec(),
        }
    }

    /// The kind of key of the meter at `index`.
    pub fn spec_for(self, index: usize) -> KeySpec {
        let [even, odd] = Self::MIXED;
        match self {
            Self::One(spec) => spec,
            Self::Mixed if index.is_multiple_of(2) => even,
            Self::Mixed => odd,
        }
    }
}

impl fmt::Display for KeyMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::One(spec) => spec.fmt(f),
            Self::Mixed => f.write_str("mixed"),
        }
    }
}

impl FromStr for KeyMix {
    type Err = String;

    /// `mixed`, or a key kind as the core names it (`rsa2048`, `rsa3072`,
    /// `p256`...).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "mixed" {
            return Ok(Self::Mixed);
        }
        s.parse::<KeySpec>()
            .map(Self::One)
            .map_err(|e| format!("{e}: expected rsa2048, rsa3072, p256 or mixed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_is_an_even_split_and_every_name_reads_back() {
        let kinds: Vec<KeySpec> = (0..10).map(|i| KeyMix::Mixed.spec_for(i)).collect();
        for spec in KeyMix::MIXED {
            assert_eq!(kinds.iter().filter(|k| **k == spec).count(), 5);
        }
        for (i, kind) in kinds.iter().enumerate() {
            assert_eq!(Some(kind), KeyMix::MIXED.get(i % 2));
        }
        for name in ["rsa2048", "rsa3072", "p256", "mixed"] {
            assert_eq!(
                name.parse::<KeyMix>().map(|m| m.to_string()),
                Ok(name.into())
            );
        }
    }
}
