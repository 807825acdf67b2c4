//! Emulation layers: behaviour moto lacks, added on our side around the forwarded request.
//!
//! A layer declares which calls it wants ([`Layer::wants`]); for those the proxy buffers the
//! request and the response, runs every interested layer's [`Layer::before`] (which may rewrite
//! the request or answer it without forwarding), forwards, then runs [`Layer::after`] (which may
//! rewrite moto's answer). Calls no layer wants are streamed through untouched.
//!
//! The layers:
//! - [`global_tables::DynamoDbGlobalTables`]: DynamoDB global-table replica metadata;
//! - [`rds_promotion::RdsPromotion`]: RDS read-replica promotion state (`modifying` for the
//!   promotion delay, then a standalone instance; repeated promotions refused);
//! - [`health_checks::Route53HealthChecks`]: Route 53 health-check status set by the test, and
//!   `Inverted`;
//! - [`ecs_scheduler::EcsScheduler`]: a new ECS service's tasks started at once, as AWS's
//!   scheduler does (moto starts them only on an update);
//! - [`moto_quirks::MotoQuirks`]: corrections of moto answers the SDK cannot read or that
//!   contradict AWS (S3 versioning's root element, KMS multi-region key type).
//!
//! Item replication between the regions of a global table is meant to be a second layer that wants
//! `PutItem`, `UpdateItem`, `DeleteItem`, `BatchWriteItem` and `TransactWriteItems`, and in
//! `after` (on HTTP 200) replays the write to moto in the other regions of
//! [`global_tables::GlobalTables::regions_of`], optionally after a configurable lag.

pub(crate) mod ecs_scheduler;
pub(crate) mod global_tables;
pub(crate) mod health_checks;
pub(crate) mod moto_quirks;
pub(crate) mod rds_promotion;

use async_trait::async_trait;
use axum::body::Body;
use bytes::Bytes;
use http::{Response, StatusCode};

use super::call::Call;
use super::upstream::Upstream;

/// One piece of emulation around forwarded requests.
#[async_trait]
pub(crate) trait Layer: Send + Sync + 'static {
    /// Whether this layer needs to see this call (and so its buffered request and response).
    fn wants(&self, call: &Call) -> bool;

    /// Runs before forwarding. May rewrite `request` (the body), or return an answer, in which
    /// case nothing is forwarded and no later layer runs.
    async fn before(
        &self,
        _call: &Call,
        _request: &mut Bytes,
        _moto: &Upstream,
    ) -> Option<Response<Body>> {
        None
    }

    /// Runs after moto answered. May rewrite `response` (the body); returns whether it did, so
    /// the proxy fixes `content-length` and drops `x-amz-crc32`.
    async fn after(
        &self,
        _call: &Call,
        _request: &Bytes,
        _status: StatusCode,
        _response: &mut Bytes,
        _moto: &Upstream,
    ) -> bool {
        false
    }
}
