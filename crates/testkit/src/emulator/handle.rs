//! [`EmulatorControl`]: the runtime handle on the emulation that is not fault injection: the
//! RDS promotion delay, the promotions seen, and the health reported for Route 53 health
//! checks. The HTTP control API (`/__emulator/settings`, `/__emulator/promotions`,
//! `/__emulator/health-checks`) drives the same state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::layers::global_tables::GlobalTables;
use super::layers::health_checks::HealthChecks;
use super::layers::rds_promotion::{Phase, Promotions, Settings, MAX_PROMOTION_DELAY};
use super::EmulatorError;

/// The runtime settings of the emulation (JSON: `{"promotion_delay_ms": 3000}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EmulatorSettings {
    /// How long a promoted RDS read replica shows `modifying` (and keeps its source) before it
    /// is a standalone `available` instance. Applies to promotions started after it is set.
    #[serde(rename = "promotion_delay_ms", serialize_with = "as_millis")]
    pub promotion_delay: Duration,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One RDS promotion seen by the proxy (JSON: `{"region", "instance", "complete",
/// "elapsed_ms", "remaining_ms"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promotion {
    /// Region of the promoted instance.
    pub region: String,
    /// The instance identifier, as the promoting client wrote it.
    pub instance: String,
    /// Whether the promotion completed (the instance no longer shows `modifying`).
    pub complete: bool,
    /// Time since moto accepted the promotion.
    #[serde(rename = "elapsed_ms", serialize_with = "as_millis")]
    pub elapsed: Duration,
    /// Time left until it completes (zero once complete).
    #[serde(rename = "remaining_ms", serialize_with = "as_millis")]
    pub remaining: Duration,
}

/// Changes the emulation at runtime. Cheap to clone; every clone controls the same proxy, and
/// changes apply to the next request. Obtained from [`super::Emulator::control`].
#[derive(Debug, Clone)]
pub struct EmulatorControl {
    pub(crate) settings: Arc<Settings>,
    pub(crate) promotions: Arc<Promotions>,
    pub(crate) health_checks: Arc<HealthChecks>,
    pub(crate) global_tables: Arc<GlobalTables>,
}

/// Checks a promotion delay against [`MAX_PROMOTION_DELAY`].
pub(crate) fn validate_promotion_delay(delay: Duration) -> Result<(), EmulatorError> {
    if delay > MAX_PROMOTION_DELAY {
        return Err(EmulatorError::InvalidSetting(format!(
            "promotion delay of {} ms is over the {} ms limit",
            delay.as_millis(),
            MAX_PROMOTION_DELAY.as_millis()
        )));
    }
    Ok(())
}

impl EmulatorControl {
    /// The current settings.
    pub fn settings(&self) -> EmulatorSettings {
        EmulatorSettings {
            promotion_delay: self.settings.promotion_delay(),
        }
    }

    /// The current RDS promotion delay.
    pub fn promotion_delay(&self) -> Duration {
        self.settings.promotion_delay()
    }

    /// Sets how long promotions started from now on show `modifying` (at most one hour;
    /// promotions under way keep the delay they started with).
    pub fn set_promotion_delay(&self, delay: Duration) -> Result<(), EmulatorError> {
        validate_promotion_delay(delay)?;
        self.settings.set_promotion_delay(delay);
        tracing::info!(
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "emulator: promotion delay set"
        );
        Ok(())
    }

    /// The RDS promotions seen through the proxy (deleted instances are forgotten), sorted by
    /// region and identifier.
    pub fn promotions(&self) -> Vec<Promotion> {
        let now = Instant::now();
        self.promotions
            .records()
            .into_iter()
            .map(|r| Promotion {
                complete: now >= r.completes_at,
                elapsed: now.saturating_duration_since(r.promoted_at),
                remaining: r.completes_at.saturating_duration_since(now),
                region: r.region,
                instance: r.instance,
            })
            .collect()
    }

    /// Whether the promotion of `instance` in `region` completed (false if never promoted or
    /// still `modifying`).
    pub fn is_promoted(&self, region: &str, instance: &str) -> bool {
        self.promotions.phase(region, instance, Instant::now()) == Some(Phase::Promoted)
    }

    /// Sets the health of the endpoint behind Route 53 health check `id`: `false` makes every
    /// checker of `GetHealthCheckStatus` report `Failure: HTTP Status Code 503` (or success for
    /// an `Inverted` health check). Unknown ids are accepted (the setting waits for them).
    pub fn set_health_check(&self, id: impl Into<String>, healthy: bool) {
        let id = id.into();
        tracing::info!(id, healthy, "emulator: health-check health set");
        self.health_checks.set(&id, healthy);
    }

    /// Removes the setting of health check `id` (back to moto's report: success); returns
    /// whether there was one.
    pub fn clear_health_check(&self, id: &str) -> bool {
        tracing::info!(id, "emulator: health-check health cleared");
        self.health_checks.clear(id)
    }

    /// Removes every health-check setting.
    pub fn clear_health_checks(&self) {
        tracing::info!("emulator: all health-check settings cleared");
        self.health_checks.clear_all();
    }

    /// The health set per health-check id.
    pub fn health_checks(&self) -> BTreeMap<String, bool> {
        self.health_checks.snapshot()
    }

    /// Forgets the state derived from moto's resources (promotions, global-table groups), as
    /// when moto is reset through the proxy (`POST /moto-api/reset`). Settings and
    /// health-check settings are kept.
    pub fn forget_resources(&self) {
        tracing::info!("emulator: emulated resource state forgotten");
        self.promotions.clear();
        self.global_tables.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control() -> EmulatorControl {
        EmulatorControl {
            settings: Arc::default(),
            promotions: Arc::default(),
            health_checks: Arc::default(),
            global_tables: Arc::default(),
        }
    }

    #[test]
    fn promotion_delay_is_validated_and_serialized_in_ms() {
        let c = control();
        assert_eq!(c.promotion_delay(), Duration::ZERO);
        c.set_promotion_delay(Duration::from_millis(3000)).unwrap();
        assert_eq!(
            serde_json::to_value(c.settings()).unwrap(),
            serde_json::json!({"promotion_delay_ms": 3000})
        );
        let err = c
            .set_promotion_delay(Duration::from_secs(3601))
            .unwrap_err();
        assert!(matches!(err, EmulatorError::InvalidSetting(_)), "{err}");
        assert_eq!(c.promotion_delay(), Duration::from_millis(3000));
    }

    #[test]
    fn promotions_report_progress() {
        let c = control();
        let now = Instant::now();
        c.promotions
            .record("us-west-2", "db-dr", now, Duration::from_secs(60));
        c.promotions
            .record("us-east-1", "db-b", now, Duration::ZERO);
        let seen = c.promotions();
        assert_eq!(seen.len(), 2);
        assert_eq!(
            (seen[0].region.as_str(), seen[0].complete),
            ("us-east-1", true)
        );
        assert_eq!(seen[0].remaining, Duration::ZERO);
        assert!(!seen[1].complete);
        assert!(seen[1].remaining > Duration::from_secs(50));
        assert!(c.is_promoted("us-east-1", "DB-B"));
        assert!(!c.is_promoted("us-west-2", "db-dr"));
        c.forget_resources();
        assert!(c.promotions().is_empty());
    }
}
