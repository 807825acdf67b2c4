//! Corrections of moto answers that the Rust SDK cannot read or that contradict AWS (measured
//! with moto 5.2.1):
//! - S3 `GetBucketVersioning` answers with a `<GetBucketVersioningResponse>` root; AWS and the
//!   SDK use `<VersioningConfiguration>`. The root is renamed.
//! - KMS `DescribeKey` of a multi-region key: moto shares one `MultiRegionConfiguration` between
//!   the primary and its replicas, so describing the replica flips the primary's
//!   `MultiRegionKeyType` to `REPLICA`. The type is set from the region asked: `PRIMARY` in the
//!   primary key's region, `REPLICA` elsewhere, as AWS reports it.

use async_trait::async_trait;
use bytes::Bytes;
use http::StatusCode;
use serde_json::Value;

use super::super::call::Call;
use super::super::upstream::Upstream;
use super::Layer;

/// The quirk corrections.
#[derive(Debug, Default)]
pub(crate) struct MotoQuirks;

fn is(call: &Call, service: &str, operation: &str) -> bool {
    call.service.as_deref() == Some(service) && call.operation.as_deref() == Some(operation)
}

/// Rename the versioning answer's root element; returns whether it changed.
pub(crate) fn fix_versioning(body: &mut Bytes) -> bool {
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    if !text.contains("<GetBucketVersioningResponse") {
        return false;
    }
    let fixed = text
        .replace("<GetBucketVersioningResponse", "<VersioningConfiguration")
        .replace(
            "</GetBucketVersioningResponse>",
            "</VersioningConfiguration>",
        );
    *body = Bytes::from(fixed);
    true
}

/// Set `MultiRegionKeyType` from the region the key was described in; returns whether it changed.
pub(crate) fn fix_key_type(body: &mut Bytes, region: &str) -> bool {
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let Some(mrc) = v.pointer_mut("/KeyMetadata/MultiRegionConfiguration") else {
        return false;
    };
    let Some(primary_region) = mrc.pointer("/PrimaryKey/Region").and_then(Value::as_str) else {
        return false;
    };
    let want = if primary_region == region {
        "PRIMARY"
    } else {
        "REPLICA"
    };
    if mrc.get("MultiRegionKeyType").and_then(Value::as_str) == Some(want) {
        return false;
    }
    mrc["MultiRegionKeyType"] = Value::String(want.to_string());
    match serde_json::to_vec(&v) {
        Ok(b) => {
            *body = Bytes::from(b);
            true
        }
        Err(_) => false,
    }
}

#[async_trait]
impl Layer for MotoQuirks {
    fn wants(&self, call: &Call) -> bool {
        is(call, "s3", "GetBucketVersioning") || is(call, "kms", "DescribeKey")
    }

    async fn after(
        &self,
        call: &Call,
        _request: &Bytes,
        status: StatusCode,
        response: &mut Bytes,
        _moto: &Upstream,
    ) -> bool {
        if !status.is_success() {
            return false;
        }
        if is(call, "s3", "GetBucketVersioning") {
            return fix_versioning(response);
        }
        match call.region.as_deref() {
            Some(region) => fix_key_type(response, region),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioning_root_is_renamed() {
        let mut b = Bytes::from_static(b"<?xml version=\"1.0\"?><GetBucketVersioningResponse xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status></GetBucketVersioningResponse>");
        assert!(fix_versioning(&mut b));
        let s = std::str::from_utf8(&b).unwrap();
        assert!(
            s.contains("<VersioningConfiguration xmlns")
                && s.ends_with("</VersioningConfiguration>"),
            "{s}"
        );
        let mut ok = Bytes::from_static(
            b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
        );
        assert!(!fix_versioning(&mut ok));
    }

    #[test]
    fn key_type_follows_the_region_asked() {
        let body = r#"{"KeyMetadata":{"KeyId":"mrk-1","MultiRegionConfiguration":{"MultiRegionKeyType":"REPLICA","PrimaryKey":{"Region":"us-east-1"}}}}"#;
        let mut b = Bytes::from(body);
        assert!(fix_key_type(&mut b, "us-east-1"));
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(
            v["KeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"],
            "PRIMARY"
        );
        let mut b = Bytes::from(body);
        assert!(
            !fix_key_type(&mut b, "us-west-2"),
            "already REPLICA in the replica's region"
        );
        let mut single = Bytes::from(r#"{"KeyMetadata":{"KeyId":"k"}}"#);
        assert!(!fix_key_type(&mut single, "us-east-1"));
    }
}
