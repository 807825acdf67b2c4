//! The AWS probes: `route53_health_check` (down when fewer than half of the checkers report
//! success) and `cloudwatch_alarm` (`ALARM` down, `OK` up, `INSUFFICIENT_DATA` unknown). They
//! read through `pilotlight_aws::health::HealthReads`; an AWS API that fails, throttles past the
//! retries or does not answer within the timeout makes the probe unknown, never down: it is the
//! API that failed, not the primary.

use crate::{human, Seen};
use pilotlight_aws::health::{AlarmValue, HealthReads};
use pilotlight_core::health::ProbeOutcome;
use pilotlight_core::model::ProbeConfig;
use pilotlight_core::CapabilityError;
use std::time::Duration;

fn could_not_read(what: &str, e: &CapabilityError) -> Seen {
    let code = e
        .code
        .as_deref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    Seen::Unknown(format!(
        "could not read {what}: {:?} error{code}: {}; {}",
        e.class, e.message, e.hint
    ))
}

fn no_answer(service: &str, timeout: Duration) -> Seen {
    let why = format!("{service} did not answer within {}", human(timeout));
    Seen::TimedOut(ProbeOutcome::Unknown, why)
}

/// Runs one `route53_health_check` attempt.
pub(crate) async fn health_check(
    reads: &HealthReads,
    cfg: &ProbeConfig,
    timeout: Duration,
) -> Seen {
    let Some(id) = cfg.health_check_id.as_deref().filter(|s| !s.is_empty()) else {
        return Seen::Unknown("the probe has no `health_check_id`".into());
    };
    let what = format!("health check {id}");
    match tokio::time::timeout(timeout, reads.health_check_status(id)).await {
        Err(_) => no_answer("Route 53", timeout),
        Ok(Err(e)) => could_not_read(&format!("the status of {what}"), &e),
        Ok(Ok(None)) => Seen::Unknown(format!("there is no {what} (NoSuchHealthCheck)")),
        Ok(Ok(Some(status))) => match status.is_healthy() {
            None => Seen::Unknown(format!("{what}: no checker has reported yet")),
            Some(true) => Seen::Up(format!("{what}: {}", status.summary())),
            Some(false) => Seen::Down(format!("{what}: {}", status.summary())),
        },
    }
}

/// Runs one `cloudwatch_alarm` attempt; the alarm is read in the probe's `region`, else
/// `primary_region`.
pub(crate) async fn alarm(
    reads: &HealthReads,
    cfg: &ProbeConfig,
    primary_region: &str,
    timeout: Duration,
) -> Seen {
    let Some(name) = cfg.alarm_name.as_deref().filter(|s| !s.is_empty()) else {
        return Seen::Unknown("the probe has no `alarm_name`".into());
    };
    let region = cfg.region.as_deref().unwrap_or(primary_region);
    let what = format!("alarm {name} in {region}");
    match tokio::time::timeout(timeout, reads.alarm_state(region, name)).await {
        Err(_) => no_answer("CloudWatch", timeout),
        Ok(Err(e)) => could_not_read(&format!("the state of {what}"), &e),
        Ok(Ok(None)) => Seen::Unknown(format!("there is no {what}")),
        Ok(Ok(Some(state))) => {
            let why = if state.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", state.reason)
            };
            match state.value {
                AlarmValue::Alarm => Seen::Down(format!("{what} is in ALARM{why}")),
                AlarmValue::Ok => Seen::Up(format!("{what} is OK")),
                AlarmValue::InsufficientData => {
                    Seen::Unknown(format!("{what} has INSUFFICIENT_DATA{why}"))
                }
                AlarmValue::Other(v) => Seen::Unknown(format!("{what} is in state {v}")),
            }
        }
    }
}
