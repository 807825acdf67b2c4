//! DynamoDB global tables (version 2019.11.21), metadata only.
//!
//! moto ignores `UpdateTable` with `ReplicaUpdates` and never lists `Replicas`. This layer:
//! - on `UpdateTable` with `ReplicaUpdates: [{Create: {RegionName}}]`, reads the table's
//!   `KeySchema`, `AttributeDefinitions`, secondary indexes and stream settings from moto
//!   (`DescribeTable` in the caller's region), creates the same table (on-demand billing) in the
//!   target region, and records the group {table name -> regions};
//! - on `Delete: {RegionName}`, deletes the table in that region and forgets the region;
//! - forwards the `UpdateTable` with `ReplicaUpdates` removed (moto answers with the table
//!   description, into which the replicas are then injected);
//! - on `DescribeTable`/`UpdateTable` answers for a table of a group, asked in one of the
//!   group's regions, injects `GlobalTableVersion: "2019.11.21"` and `Replicas` with every
//!   other region of the group whose table still exists in moto (`ReplicaStatus: ACTIVE`), so
//!   deleting the DR table directly in moto makes its replica disappear;
//! - on a successful `DeleteTable` through the proxy, forgets that region.
//!
//! Items are not replicated (see the parent module for where that layer would hook in).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::{json, Map, Value};

use super::super::call::Call;
use super::super::responses::bad_gateway;
use super::super::upstream::{Buffered, Upstream};
use super::Layer;

/// The `GlobalTableVersion` reported for emulated global tables.
pub const GLOBAL_TABLE_VERSION: &str = "2019.11.21";

/// The recorded global-table groups: table name -> regions holding a replica (source included).
#[derive(Debug, Default)]
pub(crate) struct GlobalTables {
    groups: Mutex<BTreeMap<String, BTreeSet<String>>>,
}

impl GlobalTables {
    /// The regions of `table`'s group, if it is a global table.
    pub fn regions_of(&self, table: &str) -> Option<BTreeSet<String>> {
        self.lock().get(table).cloned()
    }

    /// Forgets every group (moto was reset).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// A copy of every group.
    pub fn snapshot(&self) -> BTreeMap<String, BTreeSet<String>> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, BTreeSet<String>>> {
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, table: &str, regions: &[&str]) {
        let mut groups = self.lock();
        let group = groups.entry(table.to_owned()).or_default();
        group.extend(regions.iter().map(|r| (*r).to_owned()));
    }

    fn remove_region(&self, table: &str, region: &str) {
        let mut groups = self.lock();
        if let Some(group) = groups.get_mut(table) {
            group.remove(region);
            if group.is_empty() {
                groups.remove(table);
            }
        }
    }
}

/// The layer emulating global-table replica metadata.
#[derive(Debug, Clone)]
pub(crate) struct DynamoDbGlobalTables {
    tables: Arc<GlobalTables>,
}

impl DynamoDbGlobalTables {
    /// A layer recording its groups in `tables`.
    pub fn new(tables: Arc<GlobalTables>) -> DynamoDbGlobalTables {
        DynamoDbGlobalTables { tables }
    }

    async fn create_replica(
        &self,
        table: &str,
        source: &str,
        target: &str,
        moto: &Upstream,
    ) -> Result<(), Response<Body>> {
        if target == source {
            return Err(validation_error(&format!(
                "Cannot add replica: table {table} already lives in {target}"
            )));
        }
        let described =
            call_moto(moto, source, "DescribeTable", &json!({"TableName": table})).await?;
        if described.status != StatusCode::OK {
            return Err(passthrough(described));
        }
        let description = described
            .json()
            .and_then(|mut v| v.get_mut("Table").map(Value::take))
            .unwrap_or(Value::Null);
        let create = create_table_request(table, &description);
        let created = call_moto(moto, target, "CreateTable", &create).await?;
        if created.status != StatusCode::OK {
            if error_type(&created).as_deref() == Some("ResourceInUseException") {
                tracing::debug!(table, target, "emulator: replica table already exists");
            } else {
                return Err(passthrough(created));
            }
        }
        self.tables.add(table, &[source, target]);
        tracing::info!(table, source, target, "emulator: DynamoDB replica created");
        Ok(())
    }

    async fn delete_replica(
        &self,
        table: &str,
        region: &str,
        moto: &Upstream,
    ) -> Result<(), Response<Body>> {
        let deleted = call_moto(moto, region, "DeleteTable", &json!({"TableName": table})).await?;
        if deleted.status != StatusCode::OK
            && error_type(&deleted).as_deref() != Some("ResourceNotFoundException")
        {
            return Err(passthrough(deleted));
        }
        self.tables.remove_region(table, region);
        tracing::info!(table, region, "emulator: DynamoDB replica deleted");
        Ok(())
    }

    /// `Replicas` entries for the other regions of the group whose table still exists.
    async fn live_replicas(
        &self,
        table: &str,
        asked_in: &str,
        regions: &BTreeSet<String>,
        moto: &Upstream,
    ) -> Vec<Value> {
        let mut replicas = Vec::new();
        for region in regions.iter().filter(|r| r.as_str() != asked_in) {
            match moto
                .dynamodb(region, "DescribeTable", &json!({"TableName": table}))
                .await
            {
                Ok(d) if d.status == StatusCode::OK => {
                    replicas.push(json!({"RegionName": region, "ReplicaStatus": "ACTIVE"}));
                }
                Ok(_) => tracing::debug!(table, region, "emulator: replica table is gone"),
                Err(e) => {
                    tracing::warn!(table, region, error = %e, "emulator: replica check failed")
                }
            }
        }
        replicas
    }
}

#[async_trait]
impl Layer for DynamoDbGlobalTables {
    fn wants(&self, call: &Call) -> bool {
        call.service.as_deref() == Some("dynamodb")
            && matches!(
                call.operation.as_deref(),
                Some("UpdateTable" | "DescribeTable" | "DeleteTable")
            )
    }

    async fn before(
        &self,
        call: &Call,
        request: &mut Bytes,
        moto: &Upstream,
    ) -> Option<Response<Body>> {
        if call.operation.as_deref() != Some("UpdateTable") {
            return None;
        }
        let mut body: Value = serde_json::from_slice(request).ok()?;
        let updates = body.get("ReplicaUpdates")?.as_array()?.clone();
        let Some(table) = body
            .get("TableName")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return Some(validation_error("TableName is required"));
        };
        let Some(source) = call.region.clone() else {
            return Some(validation_error(
                "the request is not signed with a region (no SigV4 credential scope)",
            ));
        };
        for update in &updates {
            let create = update.pointer("/Create/RegionName").and_then(Value::as_str);
            let delete = update.pointer("/Delete/RegionName").and_then(Value::as_str);
            let outcome = match (create, delete) {
                (Some(target), _) => self.create_replica(&table, &source, target, moto).await,
                (None, Some(region)) => self.delete_replica(&table, region, moto).await,
                (None, None) => {
                    tracing::debug!(
                        ?update,
                        "emulator: replica update ignored (only Create/Delete are emulated)"
                    );
                    Ok(())
                }
            };
            if let Err(response) = outcome {
                return Some(response);
            }
        }
        if let Some(map) = body.as_object_mut() {
            map.remove("ReplicaUpdates");
        }
        *request = Bytes::from(body.to_string());
        None
    }

    async fn after(
        &self,
        call: &Call,
        request: &Bytes,
        status: StatusCode,
        response: &mut Bytes,
        moto: &Upstream,
    ) -> bool {
        if status != StatusCode::OK {
            return false;
        }
        let Some(table) = serde_json::from_slice::<Value>(request).ok().and_then(|v| {
            v.get("TableName")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }) else {
            return false;
        };
        let Some(region) = call.region.as_deref() else {
            return false;
        };
        if call.operation.as_deref() == Some("DeleteTable") {
            self.tables.remove_region(&table, region);
            return false;
        }
        let Some(regions) = self
            .tables
            .regions_of(&table)
            .filter(|g| g.contains(region))
        else {
            return false;
        };
        let Ok(mut answer) = serde_json::from_slice::<Value>(response) else {
            return false;
        };
        let replicas = self.live_replicas(&table, region, &regions, moto).await;
        let Some(key) = ["Table", "TableDescription"]
            .into_iter()
            .find(|k| answer.get(*k).is_some_and(Value::is_object))
        else {
            return false;
        };
        let Some(description) = answer.get_mut(key).and_then(Value::as_object_mut) else {
            return false;
        };
        description.insert("Replicas".into(), Value::Array(replicas));
        description.insert("GlobalTableVersion".into(), json!(GLOBAL_TABLE_VERSION));
        *response = Bytes::from(answer.to_string());
        true
    }
}

/// The `CreateTable` body for a replica of the table `description` describes: same keys and
/// attributes, same index keys and projections, same stream settings, on-demand billing.
fn create_table_request(table: &str, description: &Value) -> Value {
    let mut create = Map::new();
    create.insert("TableName".into(), json!(table));
    for field in ["KeySchema", "AttributeDefinitions"] {
        if let Some(v) = description.get(field) {
            create.insert(field.into(), v.clone());
        }
    }
    create.insert("BillingMode".into(), json!("PAY_PER_REQUEST"));
    for field in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        let indexes: Vec<Value> = description
            .get(field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|index| {
                json!({
                    "IndexName": index.get("IndexName"),
                    "KeySchema": index.get("KeySchema"),
                    "Projection": index.get("Projection"),
                })
            })
            .collect();
        if !indexes.is_empty() {
            create.insert(field.into(), Value::Array(indexes));
        }
    }
    if let Some(stream) = description
        .get("StreamSpecification")
        .filter(|s| s.get("StreamEnabled") == Some(&Value::Bool(true)))
    {
        create.insert("StreamSpecification".into(), stream.clone());
    }
    Value::Object(create)
}

async fn call_moto(
    moto: &Upstream,
    region: &str,
    operation: &str,
    body: &Value,
) -> Result<Buffered, Response<Body>> {
    moto.dynamodb(region, operation, body)
        .await
        .map_err(|e| bad_gateway(&e.to_string()))
}

/// The short error type of a DynamoDB error answer (`ResourceNotFoundException`).
fn error_type(answer: &Buffered) -> Option<String> {
    let value = answer.json()?;
    let full = value.get("__type")?.as_str()?;
    Some(full.rsplit('#').next().unwrap_or(full).to_owned())
}

fn json_response(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    response
}

/// moto's error answer to one of our own calls, handed to the client as the answer.
fn passthrough(answer: Buffered) -> Response<Body> {
    json_response(answer.status, answer.body)
}

fn validation_error(message: &str) -> Response<Body> {
    let body = json!({
        "__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
        "message": message,
    });
    json_response(StatusCode::BAD_REQUEST, Bytes::from(body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_create_request_copies_keys_and_indexes() {
        let description = json!({
            "TableName": "t",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingModeSummary": {"BillingMode": "PROVISIONED"},
            "GlobalSecondaryIndexes": [{"IndexName": "g", "KeySchema": [], "Projection": {"ProjectionType": "ALL"},
                                         "ProvisionedThroughput": {"ReadCapacityUnits": 5}}],
            "LocalSecondaryIndexes": [],
            "StreamSpecification": {"StreamEnabled": false},
        });
        let create = create_table_request("t", &description);
        assert_eq!(create["BillingMode"], "PAY_PER_REQUEST");
        assert_eq!(create["KeySchema"], description["KeySchema"]);
        assert_eq!(
            create["AttributeDefinitions"],
            description["AttributeDefinitions"]
        );
        assert_eq!(create["GlobalSecondaryIndexes"][0]["IndexName"], "g");
        assert!(create["GlobalSecondaryIndexes"][0]
            .get("ProvisionedThroughput")
            .is_none());
        assert!(create.get("LocalSecondaryIndexes").is_none());
        assert!(create.get("StreamSpecification").is_none());
    }

    #[test]
    fn groups_forget_regions() {
        let tables = GlobalTables::default();
        tables.add("t", &["us-east-1", "us-west-2"]);
        tables.remove_region("t", "us-west-2");
        assert_eq!(
            tables.regions_of("t"),
            Some(BTreeSet::from(["us-east-1".to_owned()]))
        );
        tables.remove_region("t", "us-east-1");
        assert_eq!(tables.regions_of("t"), None);
    }
}
