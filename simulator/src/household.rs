//! Realistic register growth: a household that consumes power all day and
//! may have solar panels that produce around noon.
//!
//! A meter has two registers that only ever grow: `wh_imported` (energy
//! taken from the grid) and `wh_exported` (energy fed into it). Between two
//! readings the household's net power (consumption minus production) is
//! integrated: when positive it adds to the import register, when negative
//! to the export register. Fractions of a watt-hour are carried over, so that
//! short intervals still add up exactly.

use rand::RngExt;

/// Milliseconds in a day.
const DAY_MS: u64 = 86_400_000;

/// One simulated household behind a meter.
#[derive(Debug, Clone)]
pub struct Household {
    /// Always-on consumption (fridge, standby), in watts.
    base_load_w: f64,
    /// Peak power of the solar panels at noon in full sun, in watts (0: none).
    solar_peak_w: f64,
    /// Cloudiness of the current day, 0 (clear) to 1 (overcast).
    cloudiness: f64,
    /// Appliance running right now (kettle, oven, washing machine), in watts.
    appliance_w: f64,
    /// Time left for the running appliance, in milliseconds.
    appliance_left_ms: u64,
    /// The import register in milli-watt-hours.
    imported_mwh: u128,
    /// The export register in milli-watt-hours.
    exported_mwh: u128,
}

impl Household {
    /// A random household whose registers start where an installed meter's
    /// would (a few years of consumption); about 40 % have solar panels.
    pub fn random(rng: &mut impl rand::Rng) -> Self {
        let has_solar = rng.random_bool(0.4);
        let solar_peak_w = if has_solar {
            rng.random_range(2_000.0..8_000.0)
        } else {
            0.0
        };
        let imported_wh: u64 = rng.random_range(1_000_000..20_000_000);
        let exported_wh: u64 = if has_solar {
            rng.random_range(100_000..5_000_000)
        } else {
            0
        };
        Self {
            base_load_w: rng.random_range(80.0..400.0),
            solar_peak_w,
            cloudiness: rng.random_range(0.0..1.0),
            appliance_w: 0.0,
            appliance_left_ms: 0,
            imported_mwh: u128::from(imported_wh) * 1000,
            exported_mwh: u128::from(exported_wh) * 1000,
        }
    }

    /// A household with the given registers, for a meter that continues
    /// where a previous run left off.
    pub fn resume(rng: &mut impl rand::Rng, wh_imported: u64, wh_exported: u64) -> Self {
        let mut h = Self::random(rng);
        h.imported_mwh = u128::from(wh_imported) * 1000;
        h.exported_mwh = u128::from(wh_exported) * 1000;
        if wh_exported > 0 && h.solar_peak_w == 0.0 {
            h.solar_peak_w = 4_000.0;
        }
        h
    }

    /// The registers in whole watt-hours: `(wh_imported, wh_exported)`.
    pub fn registers(&self) -> (u64, u64) {
        let wh = |mwh: u128| u64::try_from(mwh / 1000).unwrap_or(u64::MAX);
        (wh(self.imported_mwh), wh(self.exported_mwh))
    }

    /// Solar production at a time of day, in watts.
    fn solar_w(&self, time_ms: u64) -> f64 {
        if self.solar_peak_w == 0.0 {
            return 0.0;
        }
        // Daylight from 06:00 to 20:00 UTC, a sine arch peaking at 13:00.
        let hour = (time_ms % DAY_MS) as f64 / 3_600_000.0;
        if !(6.0..20.0).contains(&hour) {
            return 0.0;
        }
        let arch = (std::f64::consts::PI * (hour - 6.0) / 14.0).sin();
        self.solar_peak_w * arch * (1.0 - 0.8 * self.cloudiness)
    }

    /// Advances the household by `dt_ms` ending at wall-clock `now_ms` and
    /// returns the new registers. Registers never decrease.
    pub fn advance(&mut self, rng: &mut impl rand::Rng, now_ms: u64, dt_ms: u64) -> (u64, u64) {
        // Appliances switch on now and then and run for minutes.
        if self.appliance_left_ms == 0 {
            let chance = (dt_ms as f64 / 600_000.0).min(1.0);
            if rng.random_bool(chance) {
                self.appliance_w = rng.random_range(500.0..3_000.0);
                self.appliance_left_ms = rng.random_range(60_000..1_800_000);
            } else {
                self.appliance_w = 0.0;
            }
        }
        let appliance = if self.appliance_left_ms > 0 {
            self.appliance_w
        } else {
            0.0
        };
        self.appliance_left_ms = self.appliance_left_ms.saturating_sub(dt_ms);
        // Clouds drift slowly.
        self.cloudiness = (self.cloudiness + rng.random_range(-0.02..0.02)).clamp(0.0, 1.0);
        let noise = rng.random_range(0.9..1.1);
        let consumption_w = (self.base_load_w + appliance) * noise;
        let net_w = consumption_w - self.solar_w(now_ms);
        // W * ms / 3600 = mWh.
        let mwh = (net_w.abs() * dt_ms as f64 / 3_600.0).round() as u128;
        if net_w >= 0.0 {
            self.imported_mwh = self.imported_mwh.saturating_add(mwh);
        } else {
            self.exported_mwh = self.exported_mwh.saturating_add(mwh);
        }
        self.registers()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn registers_only_grow_and_look_like_a_household() {
        let mut rng = StdRng::seed_from_u64(7);
        let start = 1_764_000_000_000u64 - 1_764_000_000_000 % DAY_MS;
        let mut exported_somewhere = false;
        for _ in 0..50 {
            let mut h = Household::random(&mut rng);
            let (mut imp, mut exp) = h.registers();
            let (imp0, exp0) = (imp, exp);
            // One day in 5-second steps.
            let mut t = start;
            while t < start + DAY_MS {
                t += 5_000;
                let (i, e) = h.advance(&mut rng, t, 5_000);
                assert!(i >= imp && e >= exp, "registers decreased");
                imp = i;
                exp = e;
            }
            let day_import_kwh = (imp - imp0) as f64 / 1000.0;
            // A household imports between about 1 and 60 kWh a day.
            assert!(
                day_import_kwh > 0.5 && day_import_kwh < 80.0,
                "{day_import_kwh}"
            );
            exported_somewhere |= exp > exp0;
        }
        assert!(exported_somewhere, "some households have solar production");
    }

    #[test]
    fn short_intervals_add_up() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut h = Household::random(&mut rng);
        h.solar_peak_w = 0.0;
        let (imp0, _) = h.registers();
        for i in 0..3600 {
            h.advance(&mut rng, i * 200, 200);
        }
        // 12 minutes at >= 80 W is at least 14 Wh, even in 0.2 s steps.
        assert!(h.registers().0 - imp0 >= 14);
    }
}
