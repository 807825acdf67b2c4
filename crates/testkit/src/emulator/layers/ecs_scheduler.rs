//! The ECS scheduler's first placement, which moto lacks: moto starts a new service's tasks only
//! when the service is updated (its `runningCount` stays at `MOTO_ECS_SERVICE_RUNNING`, 0 by
//! default, after `CreateService`), while on AWS the scheduler starts the desired count at once.
//! After a successful `CreateService` with a desired count above 0 this layer sends moto an
//! `UpdateService` with the same desired count, so `runningCount` follows as it does on AWS
//! (tasks that start instantly: the emulator's timings are not AWS's).

use async_trait::async_trait;
use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::super::call::Call;
use super::super::upstream::Upstream;
use super::Layer;

/// Starts a created service's tasks.
#[derive(Debug, Default)]
pub(crate) struct EcsScheduler;

/// The `UpdateService` body that starts `request`'s tasks, if it asked for any.
pub(crate) fn update_for(request: &[u8]) -> Option<Value> {
    let v: Value = serde_json::from_slice(request).ok()?;
    let desired = v.get("desiredCount")?.as_i64()?;
    if desired <= 0 {
        return None;
    }
    let mut body = json!({ "service": v.get("serviceName")?, "desiredCount": desired });
    if let Some(c) = v.get("cluster") {
        body["cluster"] = c.clone();
    }
    Some(body)
}

#[async_trait]
impl Layer for EcsScheduler {
    fn wants(&self, call: &Call) -> bool {
        call.service.as_deref() == Some("ecs") && call.operation.as_deref() == Some("CreateService")
    }

    async fn after(
        &self,
        call: &Call,
        request: &Bytes,
        status: StatusCode,
        _response: &mut Bytes,
        moto: &Upstream,
    ) -> bool {
        if !status.is_success() {
            return false;
        }
        let (Some(body), Some(region)) = (update_for(request), call.region.as_deref()) else {
            return false;
        };
        let sent = moto
            .signed(
                Method::POST,
                "/",
                "ecs",
                region,
                &[
                    ("content-type", "application/x-amz-json-1.1"),
                    (
                        "x-amz-target",
                        "AmazonEC2ContainerServiceV20141113.UpdateService",
                    ),
                ],
                Bytes::from(body.to_string()),
            )
            .await;
        match sent {
            Ok(a) if a.status.is_success() => {}
            Ok(a) => {
                tracing::warn!(status = %a.status, "emulator: starting a new ECS service's tasks was refused")
            }
            Err(e) => {
                tracing::warn!(error = %e, "emulator: starting a new ECS service's tasks failed")
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_service_with_tasks_is_updated_to_its_desired_count() {
        let u = update_for(br#"{"cluster":"c","serviceName":"api","desiredCount":4}"#).unwrap();
        assert_eq!(
            u,
            json!({"cluster": "c", "service": "api", "desiredCount": 4})
        );
        assert!(update_for(br#"{"serviceName":"api","desiredCount":0}"#).is_none());
        assert!(update_for(b"not json").is_none());
    }
}
