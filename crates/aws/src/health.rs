//! Read-only health reads for the probes of `pilotlight serve` and `pilotlight observer`: a
//! Route 53 health check's status as its checkers report it, and a CloudWatch alarm's state.
//!
//! Both go through [`Caller`] (rate limits, retries, classification). "No such health check" and
//! "no such alarm" are answers (`Ok(None)`), not errors; an error means the reading could not be
//! made, which a probe reports as unknown, never as down.

use crate::actions::ROUTE53_REGION;
use crate::readiness::is_healthy_report;
use crate::retry::Caller;
use crate::ClientFactory;
use aws_sdk_cloudwatch::types::{AlarmType, StateValue};
use pilotlight_core::CapabilityError;
use std::fmt;
use std::sync::Arc;

/// One Route 53 checker's latest observation of a health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckerReport {
    /// The checker's region (`us-east-1`, ...), when Route 53 names it.
    pub region: Option<String>,
    /// The checker's IP address, when given.
    pub ip: Option<String>,
    /// The checker's status text (`Success: HTTP Status Code 200, OK`).
    pub status: String,
    /// Whether the status says healthy (it starts with `Success`).
    pub healthy: bool,
}

/// A Route 53 health check's status: what each checker last observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckStatus {
    /// The health check id.
    pub id: String,
    /// One report per checker, in Route 53's order.
    pub checkers: Vec<CheckerReport>,
}

impl HealthCheckStatus {
    /// The status of health check `id` from a `GetHealthCheckStatus` answer.
    pub fn from_output(
        id: &str,
        out: &aws_sdk_route53::operation::get_health_check_status::GetHealthCheckStatusOutput,
    ) -> HealthCheckStatus {
        let checkers = out
            .health_check_observations()
            .iter()
            .map(|o| {
                let status = o
                    .status_report()
                    .and_then(|r| r.status())
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                CheckerReport {
                    region: o.region().map(|r| r.as_str().to_string()),
                    ip: o.ip_address().map(str::to_string),
                    healthy: is_healthy_report(&status),
                    status,
                }
            })
            .collect();
        HealthCheckStatus {
            id: id.to_string(),
            checkers,
        }
    }

    /// How many checkers report success.
    pub fn healthy_count(&self) -> usize {
        self.checkers.iter().filter(|c| c.healthy).count()
    }

    /// Healthy when at least half of the checkers report success; `None` when no checker has
    /// reported (nothing to judge by).
    pub fn is_healthy(&self) -> Option<bool> {
        if self.checkers.is_empty() {
            return None;
        }
        Some(self.healthy_count() * 2 >= self.checkers.len())
    }

    /// One line for people: `2 of 3 checkers report success (us-west-1: Failure: ...)`, naming
    /// the first failing checker.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} of {} checkers report success",
            self.healthy_count(),
            self.checkers.len()
        );
        if let Some(bad) = self.checkers.iter().find(|c| !c.healthy) {
            let region = bad.region.as_deref().unwrap_or("a checker");
            s.push_str(&format!(" ({region}: {})", bad.status));
        }
        s
    }
}

/// A CloudWatch alarm's state value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlarmValue {
    /// `OK`.
    Ok,
    /// `ALARM`.
    Alarm,
    /// `INSUFFICIENT_DATA`.
    InsufficientData,
    /// A value this version does not know, or none.
    Other(String),
}

impl fmt::Display for AlarmValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlarmValue::Ok => f.write_str("OK"),
            AlarmValue::Alarm => f.write_str("ALARM"),
            AlarmValue::InsufficientData => f.write_str("INSUFFICIENT_DATA"),
            AlarmValue::Other(s) => f.write_str(s),
        }
    }
}

impl From<Option<&StateValue>> for AlarmValue {
    fn from(v: Option<&StateValue>) -> Self {
        match v {
            Some(StateValue::Ok) => AlarmValue::Ok,
            Some(StateValue::Alarm) => AlarmValue::Alarm,
            Some(StateValue::InsufficientData) => AlarmValue::InsufficientData,
            Some(other) => AlarmValue::Other(other.as_str().to_string()),
            None => AlarmValue::Other("(no state)".to_string()),
        }
    }
}

/// A CloudWatch alarm's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmState {
    /// The alarm name.
    pub name: String,
    /// Its region.
    pub region: String,
    /// Metric alarm or composite alarm.
    pub composite: bool,
    /// The state value.
    pub value: AlarmValue,
    /// Why CloudWatch set it (`StateReason`), possibly empty.
    pub reason: String,
}

/// Read-only health reads: Route 53 health-check status and CloudWatch alarm state. Cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct HealthReads {
    clients: Arc<ClientFactory>,
    caller: Caller,
    route53_region: String,
}

impl HealthReads {
    /// Reads through `clients`, every call through `caller`. Route 53 calls are signed for
    /// [`ROUTE53_REGION`].
    pub fn new(clients: Arc<ClientFactory>, caller: Caller) -> Self {
        HealthReads {
            clients,
            caller,
            route53_region: ROUTE53_REGION.to_string(),
        }
    }

    /// Signs Route 53 calls for `region` instead (another partition's global endpoint).
    pub fn with_route53_region(mut self, region: impl Into<String>) -> Self {
        self.route53_region = region.into();
        self
    }

    /// The caller every read goes through.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The status of health check `id` as its checkers report it; `None` when there is no such
    /// health check.
    pub async fn health_check_status(
        &self,
        id: &str,
    ) -> Result<Option<HealthCheckStatus>, CapabilityError> {
        let region = self.route53_region.as_str();
        let client = self.clients.route53(region).await;
        let Some(out) = self
            .caller
            .call_opt(
                "route53",
                region,
                "GetHealthCheckStatus",
                &["NoSuchHealthCheck"],
                || client.get_health_check_status().health_check_id(id).send(),
            )
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(HealthCheckStatus::from_output(id, &out)))
    }

    /// The state of the metric or composite alarm `name` in `region`; `None` when there is no
    /// such alarm.
    pub async fn alarm_state(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<AlarmState>, CapabilityError> {
        let client = self.clients.cloudwatch(region).await;
        let out = self
            .caller
            .call("cloudwatch", region, "DescribeAlarms", || {
                client
                    .describe_alarms()
                    .alarm_names(name)
                    .alarm_types(AlarmType::MetricAlarm)
                    .alarm_types(AlarmType::CompositeAlarm)
                    .send()
            })
            .await?;
        let metric = out
            .metric_alarms()
            .iter()
            .find(|a| a.alarm_name() == Some(name))
            .map(|a| (false, a.state_value(), a.state_reason()));
        let composite = || {
            out.composite_alarms()
                .iter()
                .find(|a| a.alarm_name() == Some(name))
                .map(|a| (true, a.state_value(), a.state_reason()))
        };
        Ok(metric
            .or_else(composite)
            .map(|(composite, value, reason)| AlarmState {
                name: name.to_string(),
                region: region.to_string(),
                composite,
                value: AlarmValue::from(value),
                reason: reason.unwrap_or_default().to_string(),
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(healthy: bool) -> CheckerReport {
        CheckerReport {
            region: Some(if healthy { "us-east-1" } else { "eu-west-1" }.into()),
            ip: None,
            status: if healthy {
                "Success: HTTP Status Code 200, OK".into()
            } else {
                "Failure: HTTP Status Code 503, Service Unavailable".into()
            },
            healthy,
        }
    }

    #[test]
    fn healthy_when_at_least_half_succeed() {
        let status = |ups: usize, downs: usize| HealthCheckStatus {
            id: "hc".into(),
            checkers: (0..ups)
                .map(|_| report(true))
                .chain((0..downs).map(|_| report(false)))
                .collect(),
        };
        assert_eq!(status(0, 0).is_healthy(), None);
        assert_eq!(status(1, 0).is_healthy(), Some(true));
        assert_eq!(status(0, 1).is_healthy(), Some(false));
        assert_eq!(status(2, 2).is_healthy(), Some(true));
        assert_eq!(status(1, 2).is_healthy(), Some(false));
        assert_eq!(status(8, 8).healthy_count(), 8);
        assert_eq!(
            status(1, 2).summary(),
            "1 of 3 checkers report success (eu-west-1: Failure: HTTP Status Code 503, Service \
             Unavailable)"
        );
        assert_eq!(status(2, 0).summary(), "2 of 2 checkers report success");
    }

    #[test]
    fn alarm_values() {
        assert_eq!(
            AlarmValue::from(Some(&StateValue::Alarm)),
            AlarmValue::Alarm
        );
        assert_eq!(AlarmValue::from(Some(&StateValue::Ok)).to_string(), "OK");
        assert_eq!(
            AlarmValue::from(Some(&StateValue::InsufficientData)).to_string(),
            "INSUFFICIENT_DATA"
        );
        assert_eq!(
            AlarmValue::from(None),
            AlarmValue::Other("(no state)".into())
        );
    }
}
