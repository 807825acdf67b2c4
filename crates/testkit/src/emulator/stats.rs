//! Counters of what the proxy saw: requests per (service, region, operation) and faults
//! injected per (service, region, operation, fault kind). Requests the proxy sends to moto on its
//! own (replica emulation) and `/moto-api` calls are not counted.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::call::Call;
use super::faults::FaultAction;

/// Placeholder for a service, region or operation the request did not reveal (unsigned).
pub const UNKNOWN: &str = "unknown";

/// Requests seen for one (service, region, operation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCount {
    /// SigV4 signing name, or `unknown`.
    pub service: String,
    /// Region of the credential scope, or `unknown`.
    pub region: String,
    /// Operation name, or `unknown`.
    pub operation: String,
    /// How many requests.
    pub count: u64,
}

/// Faults of one kind injected into one (service, region, operation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCount {
    /// SigV4 signing name, or `unknown`.
    pub service: String,
    /// Region of the credential scope, or `unknown`.
    pub region: String,
    /// Operation name, or `unknown`.
    pub operation: String,
    /// `throttle`, `server_error`, `delay` or `outage`.
    pub action: String,
    /// How many times.
    pub count: u64,
}

/// A snapshot of the proxy's counters, sorted by service, region, operation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyStats {
    /// Requests seen (including those answered with an injected fault).
    pub requests: Vec<RequestCount>,
    /// Faults injected (a delayed-then-throttled request counts once for each).
    pub faults: Vec<FaultCount>,
}

impl ProxyStats {
    /// All requests seen.
    pub fn total_requests(&self) -> u64 {
        self.requests.iter().map(|r| r.count).sum()
    }

    /// Requests seen for one (service, region, operation).
    pub fn request_count(&self, service: &str, region: &str, operation: &str) -> u64 {
        self.requests
            .iter()
            .filter(|r| r.service == service && r.region == region && r.operation == operation)
            .map(|r| r.count)
            .sum()
    }

    /// Requests seen for one service in one region, all operations.
    pub fn requests_to(&self, service: &str, region: &str) -> u64 {
        self.requests
            .iter()
            .filter(|r| r.service == service && r.region == region)
            .map(|r| r.count)
            .sum()
    }

    /// All faults injected.
    pub fn total_faults(&self) -> u64 {
        self.faults.iter().map(|f| f.count).sum()
    }

    /// Faults of one kind (`throttle`, `server_error`, `delay`, `outage`) injected anywhere.
    pub fn fault_count(&self, action: &str) -> u64 {
        self.faults
            .iter()
            .filter(|f| f.action == action)
            .map(|f| f.count)
            .sum()
    }
}

type Key = (String, String, String);

#[derive(Debug, Default)]
struct Counters {
    requests: BTreeMap<Key, u64>,
    faults: BTreeMap<(Key, &'static str), u64>,
}

/// The live counters behind [`ProxyStats`].
#[derive(Debug, Default)]
pub(crate) struct StatsStore {
    inner: Mutex<Counters>,
}

fn key(call: &Call) -> Key {
    let part = |v: &Option<String>| v.clone().unwrap_or_else(|| UNKNOWN.to_owned());
    (
        part(&call.service),
        part(&call.region),
        part(&call.operation),
    )
}

impl StatsStore {
    /// Counts one request.
    pub fn record_request(&self, call: &Call) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *inner.requests.entry(key(call)).or_default() += 1;
    }

    /// Counts one injected fault.
    pub fn record_fault(&self, call: &Call, action: FaultAction) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *inner.faults.entry((key(call), action.kind())).or_default() += 1;
    }

    /// Zeroes every counter.
    pub fn reset(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.requests.clear();
        inner.faults.clear();
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> ProxyStats {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        ProxyStats {
            requests: inner
                .requests
                .iter()
                .map(|((service, region, operation), count)| RequestCount {
                    service: service.clone(),
                    region: region.clone(),
                    operation: operation.clone(),
                    count: *count,
                })
                .collect(),
            faults: inner
                .faults
                .iter()
                .map(
                    |(((service, region, operation), action), count)| FaultCount {
                        service: service.clone(),
                        region: region.clone(),
                        operation: operation.clone(),
                        action: (*action).to_owned(),
                        count: *count,
                    },
                )
                .collect(),
        }
    }
}
