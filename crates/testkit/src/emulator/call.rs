//! What a request addresses: the AWS service, region and operation, and the wire protocol in
//! which an injected error must be written.
//!
//! Service and region come from the SigV4 credential scope (`Authorization` header, or the
//! `X-Amz-Credential` query parameter of a presigned URL). The operation comes from
//! `X-Amz-Target` (JSON protocols), the `Action` parameter (query protocols), S3's `x-id`
//! parameter, or a coarse name derived from the method and path (REST protocols).

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};

/// The wire protocol of a request, which decides the shape of an injected error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// `application/x-amz-json-1.x` with `X-Amz-Target` (DynamoDB, KMS, ECS, ...).
    AwsJson,
    /// Form-encoded `Action=` requests with XML answers (RDS, Auto Scaling, CloudWatch <= 1.99).
    AwsQuery,
    /// EC2's variant of the query protocol (different error envelope).
    Ec2Query,
    /// REST with XML bodies (Route 53).
    RestXml,
    /// REST with JSON bodies (Lambda and friends).
    RestJson,
    /// S3's own REST-XML dialect.
    S3,
}

/// Services that speak an `awsJson` protocol even when a request carries no `X-Amz-Target`.
const JSON_SERVICES: &[&str] = &[
    "dynamodb",
    "kms",
    "ecs",
    "logs",
    "secretsmanager",
    "ssm",
    "events",
    "application-autoscaling",
];

/// One classified request.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// SigV4 signing name (`dynamodb`, `rds`, `monitoring` for CloudWatch, ...), if signed.
    pub service: Option<String>,
    /// Region of the credential scope, if signed.
    pub region: Option<String>,
    /// Operation name (`CreateTable`, `DescribeDBInstances`, `ChangeResourceRecordSets`, ...).
    pub operation: Option<String>,
    /// How errors for this request must be written.
    pub protocol: Protocol,
    /// The request's content type, echoed in injected JSON errors.
    pub content_type: Option<String>,
    /// The URI path (`/2013-04-01/healthcheck/ID/status`), for layers that read ids from it.
    pub path: String,
    /// The URI query string without `?` (empty when there is none).
    pub query: String,
}

impl Call {
    /// Classifies a request from its head and (when it was buffered) its body.
    pub fn classify(method: &Method, uri: &Uri, headers: &HeaderMap, body: Option<&Bytes>) -> Call {
        let query = uri.query().unwrap_or("");
        let (service, region) = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|auth| credential_scope(auth, headers))
            .or_else(|| {
                query_param(query, "X-Amz-Credential").and_then(|c| scope_parts(&c, headers))
            })
            .map_or((None, None), |(s, r)| (Some(s), r));
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let target = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .map(|t| t.rsplit('.').next().unwrap_or(t).to_owned());
        let action = query_param(query, "Action").or_else(|| {
            let form = content_type
                .as_deref()
                .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
            body.filter(|_| form)
                .and_then(|b| std::str::from_utf8(b).ok())
                .and_then(|b| query_param(b, "Action"))
        });
        let service_name = service.as_deref().unwrap_or("");
        let is_json_ct = content_type
            .as_deref()
            .is_some_and(|ct| ct.starts_with("application/x-amz-json"));
        let protocol = if service_name == "s3" {
            Protocol::S3
        } else if service_name == "ec2" {
            Protocol::Ec2Query
        } else if target.is_some() || is_json_ct || JSON_SERVICES.contains(&service_name) {
            Protocol::AwsJson
        } else if action.is_some() {
            Protocol::AwsQuery
        } else if content_type
            .as_deref()
            .is_some_and(|ct| ct.starts_with("application/json"))
        {
            Protocol::RestJson
        } else {
            Protocol::RestXml
        };
        let operation = target.or(action).or_else(|| match protocol {
            Protocol::S3 => Some(s3_operation(method, uri, headers)),
            Protocol::RestXml | Protocol::RestJson if service_name == "route53" => {
                Some(route53_operation(method, uri.path()))
            }
            _ if service.is_some() => Some(coarse_rest_name(method, uri.path())),
            _ => None,
        });
        Call {
            service,
            region,
            operation,
            protocol,
            content_type,
            path: uri.path().to_owned(),
            query: query.to_owned(),
        }
    }

    /// A request parameter of the query protocols: from the form body when it is one, else
    /// from the URI query string (`DBInstanceIdentifier`, ...).
    pub fn param(&self, body: &[u8], name: &str) -> Option<String> {
        let form = self
            .content_type
            .as_deref()
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        form.then(|| std::str::from_utf8(body).ok())
            .flatten()
            .and_then(|b| query_param(b, name))
            .or_else(|| query_param(&self.query, name))
    }
}

/// `(service, region)` from `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`.
fn credential_scope(auth: &str, headers: &HeaderMap) -> Option<(String, Option<String>)> {
    let start = auth.find("Credential=")? + "Credential=".len();
    let rest = &auth[start..];
    let end = rest
        .find(|c: char| c == ',' || c.is_whitespace())
        .unwrap_or(rest.len());
    scope_parts(&rest[..end], headers)
}

/// Splits a credential (`AKID/DATE/REGION/SERVICE/aws4_request`). SigV4a scopes have no region
/// (`AKID/DATE/SERVICE/aws4_request`); their region set is in `X-Amz-Region-Set`.
fn scope_parts(credential: &str, headers: &HeaderMap) -> Option<(String, Option<String>)> {
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [.., region, service, "aws4_request"] if parts.len() >= 5 => {
            Some(((*service).to_owned(), Some((*region).to_owned())))
        }
        [_, _, service, "aws4_request"] => {
            let region = headers
                .get("x-amz-region-set")
                .and_then(|v| v.to_str().ok())
                .map(|s| s.split(',').next().unwrap_or(s).trim().to_owned());
            Some(((*service).to_owned(), region))
        }
        _ => None,
    }
}

/// The first value of `name` in a `a=b&c=d` string (percent-decoded).
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Whether a query string names a parameter (with or without value), e.g. `?versioning`.
fn has_param(query: &str, name: &str) -> bool {
    form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == name)
}

fn verb(method: &Method) -> &'static str {
    match *method {
        Method::GET => "Get",
        Method::PUT => "Put",
        Method::DELETE => "Delete",
        Method::HEAD => "Head",
        Method::POST => "Post",
        _ => "Other",
    }
}

/// S3 operation: the SDK's `x-id` parameter when present, else a name derived from the path
/// (path-style addressing) and the sub-resource parameter.
fn s3_operation(method: &Method, uri: &Uri, headers: &HeaderMap) -> String {
    let query = uri.query().unwrap_or("");
    if let Some(id) = query_param(query, "x-id") {
        return id;
    }
    let mut segments = uri.path().trim_start_matches('/').splitn(2, '/');
    let bucket = segments.next().filter(|s| !s.is_empty());
    let key = segments.next().filter(|s| !s.is_empty());
    const BUCKET_SUBRESOURCES: &[(&str, &str)] = &[
        ("versioning", "Versioning"),
        ("replication", "Replication"),
        ("tagging", "Tagging"),
        ("policy", "Policy"),
        ("lifecycle", "Lifecycle"),
        ("cors", "Cors"),
        ("encryption", "Encryption"),
        ("acl", "Acl"),
        ("website", "Website"),
        ("logging", "Logging"),
        ("notification", "NotificationConfiguration"),
        ("location", "Location"),
    ];
    match (bucket, key) {
        (None, _) => "ListBuckets".to_owned(),
        (Some(_), None) => {
            if let Some((_, name)) = BUCKET_SUBRESOURCES
                .iter()
                .find(|(p, _)| has_param(query, p))
            {
                return format!("{}Bucket{name}", verb(method));
            }
            if has_param(query, "versions") {
                return "ListObjectVersions".to_owned();
            }
            if has_param(query, "uploads") {
                return "ListMultipartUploads".to_owned();
            }
            if has_param(query, "delete") {
                return "DeleteObjects".to_owned();
            }
            match *method {
                Method::PUT => "CreateBucket".to_owned(),
                Method::DELETE => "DeleteBucket".to_owned(),
                Method::HEAD => "HeadBucket".to_owned(),
                Method::GET if query_param(query, "list-type").as_deref() == Some("2") => {
                    "ListObjectsV2".to_owned()
                }
                Method::GET => "ListObjects".to_owned(),
                _ => format!("{}Bucket", verb(method)),
            }
        }
        (Some(_), Some(_)) => {
            if has_param(query, "uploads") {
                return "CreateMultipartUpload".to_owned();
            }
            if has_param(query, "uploadId") {
                return match *method {
                    Method::PUT => "UploadPart",
                    Method::POST => "CompleteMultipartUpload",
                    Method::DELETE => "AbortMultipartUpload",
                    _ => "ListParts",
                }
                .to_owned();
            }
            if has_param(query, "tagging") {
                return format!("{}ObjectTagging", verb(method));
            }
            if *method == Method::PUT && headers.contains_key("x-amz-copy-source") {
                return "CopyObject".to_owned();
            }
            format!("{}Object", verb(method))
        }
    }
}

/// Route 53 operation from `/2013-04-01/<resource>/...`; unknown shapes get a coarse name.
fn route53_operation(method: &Method, path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest = segments.get(1..).unwrap_or(&[]);
    let name = match (method.as_str(), rest) {
        ("POST", ["hostedzone"]) => "CreateHostedZone",
        ("GET", ["hostedzone"]) => "ListHostedZones",
        ("GET", ["hostedzonesbyname"]) => "ListHostedZonesByName",
        ("GET", ["hostedzonecount"]) => "GetHostedZoneCount",
        ("GET", ["hostedzone", _]) => "GetHostedZone",
        ("DELETE", ["hostedzone", _]) => "DeleteHostedZone",
        ("POST", ["hostedzone", _]) => "UpdateHostedZoneComment",
        ("POST", ["hostedzone", _, "rrset"]) => "ChangeResourceRecordSets",
        ("GET", ["hostedzone", _, "rrset"]) => "ListResourceRecordSets",
        ("POST", ["healthcheck"]) => "CreateHealthCheck",
        ("GET", ["healthcheck"]) => "ListHealthChecks",
        ("GET", ["healthcheck", _]) => "GetHealthCheck",
        ("POST", ["healthcheck", _]) => "UpdateHealthCheck",
        ("DELETE", ["healthcheck", _]) => "DeleteHealthCheck",
        ("GET", ["healthcheck", _, "status"]) => "GetHealthCheckStatus",
        ("GET", ["change", _]) => "GetChange",
        ("GET", ["tags", _, _]) => "ListTagsForResource",
        ("POST", ["tags", _, _]) => "ChangeTagsForResource",
        _ => return coarse_rest_name(method, path),
    };
    name.to_owned()
}

/// `METHOD /path` with every segment that is not a plain word (letters and dashes) replaced by
/// `*`, so ids do not explode the statistics: `GET /2015-03-31/functions/*`.
fn coarse_rest_name(method: &Method, path: &str) -> String {
    let shape: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let word = s.chars().all(|c| c.is_ascii_alphabetic() || c == '-');
            let version = s.len() == 10 && s.chars().all(|c| c.is_ascii_digit() || c == '-');
            if word || version {
                s
            } else {
                "*"
            }
        })
        .collect();
    format!("{method} /{}", shape.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn auth(region: &str, service: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/{region}/{service}/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc"
        )
    }

    #[test]
    fn json_protocol_reads_scope_and_target() {
        let h = headers(&[
            ("authorization", &auth("us-west-2", "dynamodb")),
            ("x-amz-target", "DynamoDB_20120810.DescribeTable"),
            ("content-type", "application/x-amz-json-1.0"),
        ]);
        let c = Call::classify(&Method::POST, &"/".parse().unwrap(), &h, None);
        assert_eq!(c.service.as_deref(), Some("dynamodb"));
        assert_eq!(c.region.as_deref(), Some("us-west-2"));
        assert_eq!(c.operation.as_deref(), Some("DescribeTable"));
        assert_eq!(c.protocol, Protocol::AwsJson);
    }

    #[test]
    fn query_protocol_reads_action_from_form_body() {
        let h = headers(&[
            ("authorization", &auth("us-east-1", "rds")),
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
        ]);
        let body = Bytes::from_static(b"Version=2014-10-31&Action=PromoteReadReplica&X=1");
        let c = Call::classify(&Method::POST, &"/".parse().unwrap(), &h, Some(&body));
        assert_eq!(c.operation.as_deref(), Some("PromoteReadReplica"));
        assert_eq!(c.protocol, Protocol::AwsQuery);
        let ec2 = headers(&[("authorization", &auth("us-east-1", "ec2"))]);
        let uri = "/?Action=DescribeInstances&Version=2016-11-15"
            .parse()
            .unwrap();
        let c = Call::classify(&Method::GET, &uri, &ec2, None);
        assert_eq!(c.operation.as_deref(), Some("DescribeInstances"));
        assert_eq!(c.protocol, Protocol::Ec2Query);
    }

    #[test]
    fn rest_protocols_get_names_from_the_path() {
        let r53 = headers(&[("authorization", &auth("us-east-1", "route53"))]);
        let uri = "/2013-04-01/hostedzone/Z0123ABC/rrset/".parse().unwrap();
        let c = Call::classify(&Method::POST, &uri, &r53, None);
        assert_eq!(c.operation.as_deref(), Some("ChangeResourceRecordSets"));
        assert_eq!(c.protocol, Protocol::RestXml);

        let s3 = headers(&[("authorization", &auth("us-west-2", "s3"))]);
        let op = |m: Method, u: &str| {
            Call::classify(&m, &u.parse().unwrap(), &s3, None)
                .operation
                .unwrap()
        };
        assert_eq!(op(Method::GET, "/"), "ListBuckets");
        assert_eq!(op(Method::PUT, "/bucket"), "CreateBucket");
        assert_eq!(op(Method::PUT, "/bucket?versioning"), "PutBucketVersioning");
        assert_eq!(op(Method::GET, "/bucket/a/b.txt"), "GetObject");
        assert_eq!(op(Method::GET, "/bucket/k?x-id=GetObject"), "GetObject");
        assert_eq!(op(Method::GET, "/bucket?list-type=2"), "ListObjectsV2");
    }

    #[test]
    fn presigned_and_unsigned_requests() {
        let uri = "/b/k?X-Amz-Credential=AKID%2F20260101%2Feu-west-1%2Fs3%2Faws4_request"
            .parse()
            .unwrap();
        let c = Call::classify(&Method::GET, &uri, &HeaderMap::new(), None);
        assert_eq!(c.service.as_deref(), Some("s3"));
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        let c = Call::classify(
            &Method::GET,
            &"/moto-api/data.json".parse().unwrap(),
            &HeaderMap::new(),
            None,
        );
        assert_eq!(c.service, None);
        assert_eq!(c.operation, None);
    }

    #[test]
    fn coarse_names_hide_ids() {
        assert_eq!(
            coarse_rest_name(&Method::GET, "/2015-03-31/functions/fn1/configuration"),
            "GET /2015-03-31/functions/*/configuration"
        );
    }
}
