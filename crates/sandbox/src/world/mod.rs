//! The builders of the reference world, one module per service. Each `ensure` function checks
//! what exists first, creates only what is missing, treats "already exists" answers as existing,
//! and never deletes, resizes or resets anything.

pub(crate) mod autoscaling;
pub(crate) mod dynamodb;
pub(crate) mod ecs;
pub(crate) mod kms;
pub(crate) mod rds;
pub(crate) mod route53;
pub(crate) mod s3;

use crate::error::Call;
use crate::reference::Reference;
use pilotlight_aws::{Caller, ClientFactory};

/// What a builder needs: the clients, the shared retry layer and the reference world.
pub(crate) struct Ctx<'a> {
    /// Per-region SDK clients pointed at the emulator.
    pub factory: &'a ClientFactory,
    /// The one retry/rate-limit/classification layer every call goes through.
    pub caller: &'a Caller,
    /// Names and sizes.
    pub world: &'a Reference,
}

impl<'a> Ctx<'a> {
    /// A call of `service`'s `operation` in `region`, about `resource`.
    pub fn call<'b>(
        &'b self,
        service: &'static str,
        operation: &'static str,
        resource: &'b str,
        region: &'b str,
    ) -> Call<'b> {
        Call::new(self.caller, service, operation, resource, region)
    }
}

/// The record of one `up` run: what was created, what already existed, and what could not be
/// verified (e.g. replication the emulator does not emulate).
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// Items created by this run.
    pub created: Vec<String>,
    /// Items that already existed.
    pub existing: Vec<String>,
    /// Items requested but not visible afterwards, with the reason.
    pub warnings: Vec<String>,
}

impl Ledger {
    /// Record `item` as created by this run (`existed == false`) or found (`existed == true`).
    pub fn record(&mut self, item: String, existed: bool) {
        if existed {
            tracing::info!(item = %item, outcome = "existing", "sandbox resource already exists");
            self.existing.push(item);
        } else {
            tracing::info!(item = %item, outcome = "created", "sandbox resource created");
            self.created.push(item);
        }
    }

    /// Record something that was asked for but could not be verified.
    pub fn warn(&mut self, warning: String) {
        tracing::warn!(warning = %warning, "sandbox resource not verified");
        self.warnings.push(warning);
    }
}

/// The report label of a regional item: `"<kind> <name> in <region>"`.
pub(crate) fn item(kind: &str, name: &str, region: &str) -> String {
    format!("{kind} {name} in {region}")
}
