//! End to end: the CloudFormation templates of `infra/` deployed into moto's CloudFormation,
//! through Pilotlight's emulator proxy.
//!
//! - The reference environment: `network.yaml` in both regions, `reference-environment.yaml` as
//!   the primary then the DR stack, the primary updated with `EnableReplication=true`, and
//!   `pilotlight-iam.yaml` for it; every resource moto creates is checked through its service's
//!   API, every one it cannot create is named (docs/deploying.md, "What the emulator deploys",
//!   lists the same), and `pilotlight check` runs on the result with an environment config built
//!   from the stack outputs. Its verdict is asserted resource by resource, including the failures
//!   that moto's gaps cause, and every call it made must be granted to the deployed check role.
//! - Pilotlight's own deployment: `pilotlight-iam.yaml`, `pilotlight.yaml` as the control service
//!   in the DR region and as an observer in a third region; the HA store's key schema, the topic,
//!   the logs, the services and the roles' policies as moto holds them.
//!
//! Nothing is faked: where moto's CloudFormation cannot create a resource, the test asserts that
//! it is absent, so an emulator that learns it fails here and the docs get updated.

mod common;

use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use common::{pilotlight, results};
use pilotlight_aws::{permissions, ClientFactory};
use pilotlight_core::model::AwsSettings;
use pilotlight_testkit::Emulator;
use std::collections::{BTreeMap, BTreeSet};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PRIMARY: &str = "us-east-1";
const DR: &str = "us-west-2";
const OBSERVER: &str = "eu-west-1";
/// moto's account.
const ACCOUNT: &str = "123456789012";
/// The subnets of network.yaml, passed explicitly: moto does not split a CommaDelimitedList
/// parameter's default.
const SUBNET_CIDRS: &str = "10.40.0.0/20,10.40.16.0/20,10.40.32.0/20,10.40.48.0/20";
/// moto accepts any well-formed AMI id.
const AMI: &str = "ami-12c6146b";

fn template(name: &str) -> String {
    let path = format!("{}/../../infra/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn factory(endpoint: &str) -> ClientFactory {
    ClientFactory::new(AwsSettings {
        endpoint: Some(endpoint.to_string()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        ..AwsSettings::default()
    })
}

/// A stack as CloudFormation reports it once created.
struct Stack {
    outputs: BTreeMap<String, String>,
    /// Logical id → (type, physical id) of the resources it created.
    resources: BTreeMap<String, (String, String)>,
}

impl Stack {
    fn output(&self, key: &str) -> &str {
        self.outputs
            .get(key)
            .unwrap_or_else(|| panic!("no output {key}: {:?}", self.outputs))
    }

    fn physical(&self, logical: &str) -> &str {
        &self
            .resources
            .get(logical)
            .unwrap_or_else(|| panic!("no resource {logical}"))
            .1
    }

    fn created(&self) -> BTreeSet<&str> {
        self.resources.keys().map(String::as_str).collect()
    }
}

async fn cfn(f: &ClientFactory, region: &str) -> aws_sdk_cloudformation::Client {
    aws_sdk_cloudformation::Client::new(&f.sdk_config(region).await)
}

fn parameters(params: &[(&str, &str)]) -> Vec<Parameter> {
    params
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(*k)
                .parameter_value(*v)
                .build()
        })
        .collect()
}

/// Reads a stack after a create or update, which must have reached `want`.
async fn read_stack(
    client: &aws_sdk_cloudformation::Client,
    name: &str,
    want: StackStatus,
) -> Stack {
    let mut status = None;
    for _ in 0..100 {
        let out = client
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .expect("describe_stacks");
        let stack = out.stacks()[0].clone();
        let s = stack.stack_status().cloned();
        if s.as_ref()
            .is_some_and(|s| !s.as_str().ends_with("IN_PROGRESS"))
        {
            assert_eq!(
                s.as_ref(),
                Some(&want),
                "stack {name}: {:?}",
                stack.stack_status_reason()
            );
            let outputs = stack
                .outputs()
                .iter()
                .map(|o| {
                    (
                        o.output_key().unwrap_or_default().to_string(),
                        o.output_value().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            let listed = client
                .describe_stack_resources()
                .stack_name(name)
                .send()
                .await
                .expect("describe_stack_resources");
            // moto also lists, without a logical id, each resource it skipped (a false
            // condition or an unsupported type): only the named ones exist.
            let resources = listed
                .stack_resources()
                .iter()
                .filter(|r| !r.logical_resource_id().unwrap_or_default().is_empty())
                .map(|r| {
                    (
                        r.logical_resource_id().unwrap_or_default().to_string(),
                        (
                            r.resource_type().unwrap_or_default().to_string(),
                            r.physical_resource_id().unwrap_or_default().to_string(),
                        ),
                    )
                })
                .collect();
            return Stack { outputs, resources };
        }
        status = s;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("stack {name} still {status:?}");
}

async fn deploy(
    f: &ClientFactory,
    region: &str,
    name: &str,
    file: &str,
    params: &[(&str, &str)],
) -> Stack {
    let client = cfn(f, region).await;
    client
        .create_stack()
        .stack_name(name)
        .template_body(template(file))
        .set_parameters(Some(parameters(params)))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "create_stack {name} ({file} in {region}): {}",
                error_chain(&e)
            )
        });
    read_stack(&client, name, StackStatus::CreateComplete).await
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        text.push_str(": ");
        text.push_str(&s.to_string());
        next = s.source();
    }
    text
}

/// The resources of `file` (`  Logical:` then `    Type: AWS::…` under `Resources:`), read
/// line by line: the templates are written with two-space indentation.
fn template_resources(file: &str) -> BTreeMap<String, String> {
    let text = template(file);
    let mut out = BTreeMap::new();
    let mut in_resources = false;
    let mut current: Option<String> = None;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() && !line.starts_with('#') {
            in_resources = line.trim_end() == "Resources:";
            continue;
        }
        if !in_resources {
            continue;
        }
        if let Some(name) = line
            .strip_prefix("  ")
            .filter(|l| !l.starts_with(' ') && !l.starts_with('#'))
            .and_then(|l| l.strip_suffix(':'))
        {
            current = Some(name.to_string());
        } else if let (Some(name), Some(ty)) = (&current, line.strip_prefix("    Type: ")) {
            out.insert(name.clone(), ty.trim().to_string());
            current = None;
        }
    }
    out
}

fn set<'a>(items: &[&'a str]) -> BTreeSet<&'a str> {
    items.iter().copied().collect()
}

/// Asserts that a stack created exactly `created` and, of the template's other resources,
/// that `unsupported` are the ones moto cannot create and `conditional` those whose condition
/// is false for this stack.
fn assert_created(
    stack: &Stack,
    file: &str,
    created: &[&str],
    unsupported: &[(&str, &str)],
    conditional: &[&str],
) {
    let all = template_resources(file);
    assert!(all.len() > 5, "the template parser found {all:?}");
    assert_eq!(
        stack.created(),
        set(created),
        "{file}: resources moto created"
    );
    for (id, (ty, physical)) in &stack.resources {
        assert_eq!(Some(ty), all.get(id), "{file}: {id}");
        assert!(
            !physical.is_empty() || ty == "AWS::RDS::DBSubnetGroup",
            "{file}: {id} has no physical id"
        );
    }
    for (id, ty) in unsupported {
        assert_eq!(all.get(*id).map(String::as_str), Some(*ty), "{file}: {id}");
    }
    let accounted: BTreeSet<&str> = created
        .iter()
        .chain(unsupported.iter().map(|(id, _)| id))
        .chain(conditional)
        .copied()
        .collect();
    let declared: BTreeSet<&str> = all.keys().map(String::as_str).collect();
    assert_eq!(
        accounted, declared,
        "{file}: every resource is created, unsupported by moto, or off by condition"
    );
}

// ---- raw access to moto for the services the CLI's tests have no SDK for ------------------

/// A request to moto, unsigned (moto does not check signatures; the service is read from the
/// credential scope). Returns the body.
async fn moto_http(moto: &str, method: &str, path: &str, service: &str, body: &str) -> String {
    let addr = moto.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect moto");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/{PRIMARY}/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{head}\n{body}"
    );
    body.to_string()
}

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

fn xml_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// moto's whole state (`/moto-api/data.json`).
async fn moto_state(moto: &str) -> serde_json::Value {
    let body = moto_http(moto, "GET", "/moto-api/data.json", "s3", "").await;
    serde_json::from_str(&body).expect("data.json")
}

fn models<'a>(state: &'a serde_json::Value, service: &str, model: &str) -> &'a [serde_json::Value] {
    state[service][model]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The default version of a managed policy as moto holds it: action → resources.
async fn policy_grants(moto: &str, arn: &str) -> BTreeMap<String, BTreeSet<String>> {
    let body = format!(
        "Action=GetPolicyVersion&Version=2010-05-08&PolicyArn={}&VersionId=v1",
        form_encode(arn)
    );
    let xml = moto_http(moto, "POST", "/", "iam", &body).await;
    let doc = xml_unescape(xml_text(&xml, "Document").expect("a policy document"));
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("policy JSON");
    let list = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .map(|x| x.as_str().expect("string").to_string())
                .collect(),
            other => panic!("unexpected {other}"),
        }
    };
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in doc["Statement"].as_array().expect("statements") {
        assert_eq!(s["Effect"], "Allow");
        for a in list(&s["Action"]) {
            out.entry(a).or_default().extend(list(&s["Resource"]));
        }
    }
    out
}

/// The parameters of `pilotlight-iam.yaml` for the reference environment: the ARNs of what the
/// stacks created (`ids` as named by the outputs), every optional feature set (moto keeps an
/// `AWS::NoValue` list item as null, so empty lists cannot be deployed there).
fn iam_parameters(ids: &BTreeMap<&str, String>) -> Vec<(&'static str, String)> {
    let arn =
        |svc: &str, region: &str, rest: &str| format!("arn:aws:{svc}:{region}:{ACCOUNT}:{rest}");
    let both =
        |svc: &str, rest: &str| format!("{},{}", arn(svc, PRIMARY, rest), arn(svc, DR, rest));
    let cluster = &ids["cluster"];
    vec![
        ("EcsClusterArns", both("ecs", &format!("cluster/{cluster}"))),
        (
            "EcsServiceArns",
            [&ids["api"], &ids["signaling"]]
                .iter()
                .map(|s| both("ecs", &format!("service/{cluster}/{s}")))
                .collect::<Vec<_>>()
                .join(","),
        ),
        (
            "AutoScalingGroupArns",
            both(
                "autoscaling",
                &format!("autoScalingGroup:*:autoScalingGroupName/{}", ids["group"]),
            ),
        ),
        (
            "RdsInstanceArns",
            format!(
                "{},{}",
                arn("rds", PRIMARY, &format!("db:{}", ids["db"])),
                arn("rds", DR, &format!("db:{}", ids["replica"]))
            ),
        ),
        (
            "RdsReplicaArns",
            arn("rds", DR, &format!("db:{}", ids["replica"])),
        ),
        (
            "RdsFenceParameterGroupArns",
            both("rds", "pg:confer-read-only"),
        ),
        ("AuroraClusterArns", both("rds", "cluster:confer-aurora")),
        (
            "AuroraGlobalClusterArns",
            format!("arn:aws:rds::{ACCOUNT}:global-cluster:confer-global"),
        ),
        (
            "DynamoDbTableArns",
            ["confer-meetings", "confer-sessions"]
                .iter()
                .map(|t| both("dynamodb", &format!("table/{t}")))
                .collect::<Vec<_>>()
                .join(","),
        ),
        (
            "S3BucketArns",
            format!(
                "arn:aws:s3:::{},arn:aws:s3:::{}",
                ids["bucket_primary"], ids["bucket_dr"]
            ),
        ),
        ("KmsKeyArns", both("kms", &format!("key/{}", ids["key"]))),
        ("HostedZoneId", ids["zone"].clone()),
        (
            "HealthCheckArns",
            format!(
                "arn:aws:route53:::healthcheck/{},arn:aws:route53:::healthcheck/{}",
                ids["health_primary"], ids["health_dr"]
            ),
        ),
        ("NotificationTopicArns", arn("sns", DR, "confer-alerts")),
        (
            "SteeredHealthCheckArns",
            format!("arn:aws:route53:::healthcheck/{}", ids["health_primary"]),
        ),
        (
            "DnsRecordNames",
            "api.confer.example,media.confer.example".into(),
        ),
        (
            "HaStoreTableArns",
            format!(
                "{},{}",
                arn("dynamodb", DR, "table/pilotlight-confer-journal"),
                arn("dynamodb", DR, "table/pilotlight-confer-lease")
            ),
        ),
    ]
}

/// The environment config of the deployed reference environment. The KMS key is left out:
/// moto's key is single-region (its id is not `mrk-…`), which the config loader rightly
/// refuses; the test asserts that separately.
fn environment_config(endpoint: &str, p: &Stack, d: &Stack) -> String {
    format!(
        r#"[environment]
name = "confer-cfn"
tier = "development"

[regions]
primary = "{PRIMARY}"
dr = "{DR}"

[objectives]
rto = "15m"
rpo = "1m"

[aws]
endpoint = "{endpoint}"
access_key_id = "test"
secret_access_key = "test"

[[ecs_services]]
name = "api"
cluster = "{cluster}"
service = "{api}"
pilot_light_count = 1
active_count = 4

[[ecs_services]]
name = "signaling"
cluster = "{cluster}"
service = "{signaling}"
pilot_light_count = 1
active_count = 2

[[autoscaling_groups]]
name = "media-routers"
group = "{group}"
pilot_light_capacity = 1
active_capacity = 6

[[rds_replicas]]
name = "db"
primary_instance = "{db}"
replica_instance = "{replica}"

[[dynamodb_tables]]
name = "meetings"
table = "confer-meetings"

[[dynamodb_tables]]
name = "sessions"
table = "confer-sessions"

[[s3_buckets]]
name = "recordings"
primary_bucket = "{bucket_primary}"
dr_bucket = "{bucket_dr}"
rtc = true

[route53]
zone_id = "{zone}"

[[route53.records]]
name = "api-dns"
record_name = "api.confer.example."
record_type = "A"
routing = "failover"
primary_set_identifier = "api-confer-primary"
dr_set_identifier = "api-confer-dr"

[[route53.records]]
name = "media-dns"
record_name = "media.confer.example."
record_type = "A"
routing = "failover"
primary_set_identifier = "media-confer-primary"
dr_set_identifier = "media-confer-dr"
"#,
        cluster = d.output("ClusterName"),
        api = d.output("ApiServiceName"),
        signaling = d.output("SignalingServiceName"),
        group = d.output("MediaRoutersGroupName"),
        db = p.output("PrimaryDbInstanceId"),
        replica = d.output("ReplicaDbInstanceId"),
        bucket_primary = p.output("RecordingsBucketName"),
        bucket_dr = d.output("RecordingsBucketName"),
        zone = p.output("HostedZoneId"),
    )
}

// ---- the reference environment ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn reference_environment_deploys_and_is_checked() {
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let emu = Emulator::start().await.expect("start the emulator");
    let f = factory(&emu.endpoint());
    let moto = emu.moto_endpoint();

    // Networks, one per region.
    let net = |region: &'static str| {
        let f = &f;
        async move {
            let zones = format!("{region}a,{region}b");
            let stack = deploy(
                f,
                region,
                "confer-network",
                "network.yaml",
                &[("AvailabilityZones", &zones), ("SubnetCidrs", SUBNET_CIDRS)],
            )
            .await;
            assert_created(
                &stack,
                "network.yaml",
                &[
                    "Vpc",
                    "InternetGateway",
                    "GatewayAttachment",
                    "PublicSubnetA",
                    "PublicSubnetB",
                    "PrivateSubnetA",
                    "PrivateSubnetB",
                    "PublicRouteTable",
                    "DefaultRoute",
                    "PublicSubnetARoutes",
                    "PublicSubnetBRoutes",
                    "PrivateRouteTable",
                    "PrivateSubnetARoutes",
                    "PrivateSubnetBRoutes",
                ],
                &[],
                &[],
            );
            let ec2 = f.ec2(region).await;
            let subnets = ec2
                .describe_subnets()
                .set_subnet_ids(Some(
                    stack
                        .output("PublicSubnetIds")
                        .split(',')
                        .chain(stack.output("PrivateSubnetIds").split(','))
                        .map(str::to_string)
                        .collect(),
                ))
                .send()
                .await
                .expect("describe_subnets");
            let mut placed: Vec<(String, String, String)> = subnets
                .subnets()
                .iter()
                .map(|s| {
                    assert_eq!(s.vpc_id(), Some(stack.output("VpcId")));
                    (
                        s.cidr_block().unwrap_or_default().to_string(),
                        s.availability_zone().unwrap_or_default().to_string(),
                        s.subnet_id().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            placed.sort();
            let cidr_zone: Vec<(&str, &str)> = placed
                .iter()
                .map(|(c, z, _)| (c.as_str(), z.as_str()))
                .collect();
            let (a, b) = (format!("{region}a"), format!("{region}b"));
            assert_eq!(
                cidr_zone,
                vec![
                    ("10.40.0.0/20", a.as_str()),
                    ("10.40.16.0/20", b.as_str()),
                    ("10.40.32.0/20", a.as_str()),
                    ("10.40.48.0/20", b.as_str()),
                ],
                "two public and two private subnets over two zones"
            );
            stack
        }
    };
    let (net_p, net_d) = tokio::join!(net(PRIMARY), net(DR));

    // The primary stack, then DR (it needs the primary's database and key).
    let p = deploy(
        &f,
        PRIMARY,
        "confer-primary",
        "reference-environment.yaml",
        &[
            ("RegionRole", "primary"),
            ("VpcId", net_p.output("VpcId")),
            ("PublicSubnetIds", net_p.output("PublicSubnetIds")),
            ("PrivateSubnetIds", net_p.output("PrivateSubnetIds")),
            ("MediaRouterImageId", AMI),
        ],
    )
    .await;
    let common_created = [
        "Cluster",
        "TaskExecutionRole",
        "ApiLogGroup",
        "SignalingLogGroup",
        "ApiTaskDefinition",
        "SignalingTaskDefinition",
        "ServiceSecurityGroup",
        "ApiService",
        "SignalingService",
        "MediaRouterSecurityGroup",
        "MediaRouterLaunchTemplate",
        "MediaRouters",
        "DbSubnetGroup",
        "DbSecurityGroup",
        "RecordingsBucket",
    ];
    let mut primary_created = common_created.to_vec();
    primary_created.extend([
        "DataKey",
        "DataKeyAlias",
        "PrimaryDb",
        "Zone",
        "PrimaryHealthCheck",
        "DrHealthCheck",
        "ApiPrimaryRecord",
        "ApiDrRecord",
        "MediaPrimaryRecord",
        "MediaDrRecord",
    ]);
    assert_created(
        &p,
        "reference-environment.yaml",
        &primary_created,
        // Measured with moto 5.2.1: no CloudFormation model for global tables.
        &[
            ("MeetingsTable", "AWS::DynamoDB::GlobalTable"),
            ("SessionsTable", "AWS::DynamoDB::GlobalTable"),
        ],
        &["DataKeyReplica", "ReplicaDb", "ReplicationRole"],
    );
    let d = deploy(
        &f,
        DR,
        "confer-dr",
        "reference-environment.yaml",
        &[
            ("RegionRole", "dr"),
            ("VpcId", net_d.output("VpcId")),
            ("PublicSubnetIds", net_d.output("PublicSubnetIds")),
            ("PrivateSubnetIds", net_d.output("PrivateSubnetIds")),
            ("MediaRouterImageId", AMI),
            ("PrimaryDbInstanceArn", p.output("PrimaryDbInstanceArn")),
            ("PrimaryKeyArn", p.output("DataKeyArn")),
        ],
    )
    .await;
    let mut dr_created = common_created.to_vec();
    dr_created.push("ReplicaDb");
    assert_created(
        &d,
        "reference-environment.yaml",
        &dr_created,
        // Measured with moto 5.2.1: no CloudFormation model for KMS replica keys.
        &[("DataKeyReplica", "AWS::KMS::ReplicaKey")],
        &[
            "DataKey",
            "DataKeyAlias",
            "PrimaryDb",
            "MeetingsTable",
            "SessionsTable",
            "ReplicationRole",
            "Zone",
            "PrimaryHealthCheck",
            "DrHealthCheck",
            "ApiPrimaryRecord",
            "ApiDrRecord",
            "MediaPrimaryRecord",
            "MediaDrRecord",
        ],
    );

    // Step 3 of the deployment: replication, once the DR bucket exists. The update completes,
    // but moto neither creates a resource whose condition turned true (the replication role)
    // nor applies ReplicationConfiguration.
    let cfn_p = cfn(&f, PRIMARY).await;
    let keep = |k: &str| {
        Parameter::builder()
            .parameter_key(k)
            .use_previous_value(true)
            .build()
    };
    cfn_p
        .update_stack()
        .stack_name("confer-primary")
        .use_previous_template(true)
        .parameters(keep("RegionRole"))
        .parameters(keep("VpcId"))
        .parameters(keep("PublicSubnetIds"))
        .parameters(keep("PrivateSubnetIds"))
        .parameters(keep("MediaRouterImageId"))
        .parameters(
            Parameter::builder()
                .parameter_key("EnableReplication")
                .parameter_value("true")
                .build(),
        )
        .capabilities(Capability::CapabilityIam)
        .send()
        .await
        .expect("update_stack");
    let p = read_stack(&cfn_p, "confer-primary", StackStatus::UpdateComplete).await;
    assert!(
        !p.resources.contains_key("ReplicationRole"),
        "moto now creates resources whose condition turns true on update: update docs/deploying.md"
    );

    // ---- what moto created, through the services' own APIs -------------------------------
    for (region, stack, api_count, signaling_count, group_size) in
        [(PRIMARY, &p, 4, 2, 6), (DR, &d, 1, 1, 1)]
    {
        let ecs = f.ecs(region).await;
        let services = ecs
            .describe_services()
            .cluster(stack.output("ClusterName"))
            .services(stack.output("ApiServiceName"))
            .services(stack.output("SignalingServiceName"))
            .send()
            .await
            .expect("describe_services");
        let counts: BTreeMap<String, (i32, i32, String)> = services
            .services()
            .iter()
            .map(|s| {
                (
                    s.service_name().unwrap_or_default().to_string(),
                    (
                        s.desired_count(),
                        s.running_count(),
                        s.task_definition().unwrap_or_default().to_string(),
                    ),
                )
            })
            .collect();
        assert_eq!(counts["confer-api"].0, api_count, "{region}");
        assert_eq!(counts["confer-signaling"].0, signaling_count, "{region}");
        // moto starts no task for a service CloudFormation creates (AWS would start them).
        assert_eq!(
            (counts["confer-api"].1, counts["confer-signaling"].1),
            (0, 0)
        );
        let td = ecs
            .describe_task_definition()
            .task_definition(&counts["confer-api"].2)
            .send()
            .await
            .expect("describe_task_definition");
        let td = td.task_definition().expect("task definition");
        assert_eq!(td.family(), Some("confer-api"));
        // moto keeps the task's Memory, not its Cpu, NetworkMode or compatibilities.
        assert_eq!(td.memory(), Some("1024"));
        let container = &td.container_definitions()[0];
        assert_eq!((container.cpu(), container.memory()), (512, Some(1024)));
        assert_eq!(container.port_mappings()[0].container_port(), Some(8080));

        let asg = f.autoscaling(region).await;
        let groups = asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(stack.output("MediaRoutersGroupName"))
            .send()
            .await
            .expect("describe_auto_scaling_groups");
        let g = &groups.auto_scaling_groups()[0];
        assert_eq!(
            (g.min_size(), g.max_size(), g.desired_capacity()),
            (Some(group_size), Some(12), Some(group_size)),
            "{region}"
        );
        assert_eq!(g.instances().len(), group_size as usize, "{region}");
        assert_eq!(
            g.launch_template().and_then(|t| t.launch_template_name()),
            Some("confer-media-router")
        );

        let s3 = f.s3(region).await;
        let bucket = stack.output("RecordingsBucketName");
        assert_eq!(bucket, format!("confer-recordings-{ACCOUNT}-{region}"));
        s3.head_bucket()
            .bucket(bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("bucket {bucket}: {e}"));
    }
    let rds_d = f.rds(DR).await;
    let replica = rds_d
        .describe_db_instances()
        .db_instance_identifier(d.output("ReplicaDbInstanceId"))
        .send()
        .await
        .expect("the replica");
    let replica = &replica.db_instances()[0];
    assert_eq!(
        replica.read_replica_source_db_instance_identifier(),
        Some(p.output("PrimaryDbInstanceArn")),
        "a cross-region read replica of the primary"
    );
    assert_eq!(replica.db_instance_status(), Some("available"));
    assert_eq!(replica.storage_encrypted(), Some(true));
    let key_id = p.output("DataKeyId");
    assert_eq!(
        replica.kms_key_id(),
        Some(format!("arn:aws:kms:{DR}:{ACCOUNT}:key/{key_id}").as_str()),
        "encrypted with the DR copy of the multi-region key"
    );
    let primary_db = f
        .rds(PRIMARY)
        .await
        .describe_db_instances()
        .db_instance_identifier(p.output("PrimaryDbInstanceId"))
        .send()
        .await
        .expect("the primary database");
    let primary_db = &primary_db.db_instances()[0];
    assert_eq!(primary_db.engine(), Some("postgres"));
    assert_eq!(primary_db.backup_retention_period(), Some(7));

    let r53 = f.route53(PRIMARY).await;
    let zone = p.output("HostedZoneId");
    let sets = r53
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .expect("list_resource_record_sets");
    let failover: BTreeSet<(String, String, String, String)> = sets
        .resource_record_sets()
        .iter()
        .filter(|r| r.set_identifier().is_some())
        .map(|r| {
            (
                r.name().to_string(),
                r.set_identifier().unwrap_or_default().to_string(),
                r.failover()
                    .map(|f| f.as_str().to_string())
                    .unwrap_or_default(),
                r.health_check_id().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let (hp, hd) = (
        p.output("PrimaryHealthCheckId"),
        p.output("DrHealthCheckId"),
    );
    let want: BTreeSet<(String, String, String, String)> = [
        ("api.confer.example.", "api-confer-primary", "PRIMARY", hp),
        ("api.confer.example.", "api-confer-dr", "SECONDARY", hd),
        (
            "media.confer.example.",
            "media-confer-primary",
            "PRIMARY",
            hp,
        ),
        ("media.confer.example.", "media-confer-dr", "SECONDARY", hd),
    ]
    .iter()
    .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
    .collect();
    assert_eq!(
        failover, want,
        "failover record pairs steered by the health checks"
    );
    let hc = r53
        .get_health_check()
        .health_check_id(hp)
        .send()
        .await
        .expect("get_health_check");
    let cfg = hc
        .health_check()
        .and_then(|h| h.health_check_config())
        .expect("config");
    assert_eq!(cfg.ip_address(), Some("192.0.2.10"));
    assert_eq!(cfg.resource_path(), Some("/health"));
    assert_eq!(
        (cfg.request_interval(), cfg.failure_threshold()),
        (Some(30), Some(3))
    );

    // ---- what moto's CloudFormation did not do (docs/deploying.md) -------------------------
    for region in [PRIMARY, DR] {
        let tables = f
            .dynamodb(region)
            .await
            .list_tables()
            .send()
            .await
            .expect("list_tables");
        assert!(
            tables.table_names().is_empty(),
            "moto now creates AWS::DynamoDB::GlobalTable ({region}: {:?}): update the docs and \
             this test",
            tables.table_names()
        );
    }
    assert!(
        !key_id.starts_with("mrk-"),
        "moto now honours MultiRegion on AWS::KMS::Key ({key_id}): put the key into the config"
    );
    let kms_p = f.kms(PRIMARY).await;
    let keys = kms_p.list_keys().send().await.expect("list_keys");
    assert!(keys.keys().iter().any(|k| k.key_id() == Some(key_id)));
    let aliases = kms_p.list_aliases().send().await.expect("list_aliases");
    assert!(aliases
        .aliases()
        .iter()
        .any(|a| a.alias_name() == Some("alias/confer-data") && a.target_key_id() == Some(key_id)));
    // moto stores a KeyPolicy given as a YAML object without serialising it; reading the key
    // back then fails inside moto (HTTP 500). AWS accepts and returns it.
    assert!(
        kms_p.describe_key().key_id(key_id).send().await.is_err(),
        "moto now describes keys whose KeyPolicy CloudFormation gave as an object: update the \
         docs and this test"
    );
    let dr_keys = f.kms(DR).await.list_keys().send().await.expect("list_keys");
    assert!(
        dr_keys.keys().is_empty(),
        "moto now creates AWS::KMS::ReplicaKey: update the docs and this test"
    );
    let s3_p = f.s3(PRIMARY).await;
    let repl = s3_p
        .get_bucket_replication()
        .bucket(p.output("RecordingsBucketName"))
        .send()
        .await;
    assert!(
        repl.is_err(),
        "moto now applies ReplicationConfiguration: update the docs and this test"
    );

    // ---- Pilotlight's IAM for this environment ---------------------------------------------
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    ids.insert("cluster", d.output("ClusterName").into());
    ids.insert("api", d.output("ApiServiceName").into());
    ids.insert("signaling", d.output("SignalingServiceName").into());
    ids.insert("group", d.output("MediaRoutersGroupName").into());
    ids.insert("db", p.output("PrimaryDbInstanceId").into());
    ids.insert("replica", d.output("ReplicaDbInstanceId").into());
    ids.insert("bucket_primary", p.output("RecordingsBucketName").into());
    ids.insert("bucket_dr", d.output("RecordingsBucketName").into());
    ids.insert("key", key_id.into());
    ids.insert("zone", zone.into());
    ids.insert("health_primary", hp.into());
    ids.insert("health_dr", hd.into());
    let iam_params = iam_parameters(&ids);
    let iam_params: Vec<(&str, &str)> = iam_params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let iam = deploy(
        &f,
        DR,
        "confer-pilotlight-iam",
        "pilotlight-iam.yaml",
        &iam_params,
    )
    .await;
    let check_policy = iam.physical("CheckPolicy").to_string();
    let granted = policy_grants(&moto, &check_policy).await;
    let want: BTreeSet<String> = permissions::actions("check");
    assert_eq!(
        granted.keys().cloned().collect::<BTreeSet<_>>(),
        want,
        "the deployed check policy grants exactly the check capability's actions"
    );
    assert_eq!(
        granted["dynamodb:DescribeTable"].len(),
        4,
        "two tables in two regions: {:?}",
        granted["dynamodb:DescribeTable"]
    );

    // ---- pilotlight check on the deployed environment ---------------------------------------
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("environment.toml");
    std::fs::write(&config, environment_config(&emu.endpoint(), &p, &d)).expect("write config");
    emu.reset_stats();
    let run = pilotlight(&[
        "check",
        "--config",
        config.to_str().unwrap(),
        "--output",
        "json",
    ])
    .await;
    assert_eq!(
        run.code, 1,
        "moto's gaps make the environment not ready:\n{}\n{}",
        run.stdout, run.stderr
    );
    let report = run.json();
    assert_eq!(report["verdict"], "not_ready");
    let got: BTreeMap<String, (String, String)> = results(&report)
        .into_iter()
        .map(|(r, s, reason)| (r, (s, reason)))
        .collect();
    // (resource, status, a fragment of the reason): what the templates give on moto.
    let expected = [
        // Deployed and ready.
        ("autoscaling_group/media-routers", "pass", "in service"),
        ("route53_record/api-dns", "pass", ""),
        ("route53_record/media-dns", "pass", ""),
        // Deployed; moto starts no task for a service CloudFormation creates.
        ("ecs_service/api", "warn", "0 of 1 tasks running"),
        ("ecs_service/signaling", "warn", "0 of 1 tasks running"),
        // Deployed; the replica lag metric comes from RDS itself, which moto does not emulate.
        ("rds_replica/db", "warn", "no recent ReplicaLag datapoint"),
        // Not deployed by moto: global tables.
        (
            "dynamodb_table/meetings",
            "fail",
            "does not exist in the primary region",
        ),
        (
            "dynamodb_table/sessions",
            "fail",
            "does not exist in the primary region",
        ),
        // Deployed without VersioningConfiguration (moto ignores it).
        ("s3_buckets/recordings", "fail", "versioning is off"),
    ];
    assert_eq!(
        got.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        expected.iter().map(|(r, _, _)| *r).collect::<BTreeSet<_>>(),
        "{got:#?}"
    );
    for (resource, status, fragment) in expected {
        let (s, reason) = &got[resource];
        assert_eq!(s, status, "{resource}: {reason}");
        assert!(
            reason.contains(fragment),
            "{resource}: {reason:?} lacks {fragment:?}"
        );
    }

    // Every call `check` made is the check capability's, and the deployed role allows it.
    let stats = emu.stats();
    assert!(stats.total_requests() > 10, "check called AWS");
    let table: BTreeSet<(&str, &str)> = permissions::of("check")
        .map(|p| (p.service, p.operation))
        .collect();
    for r in &stats.requests {
        // The proxy sees SigV4 signing names; CloudWatch signs as `monitoring`.
        let service = match r.service.as_str() {
            "monitoring" => "cloudwatch",
            other => other,
        };
        assert!(
            table.contains(&(service, r.operation.as_str())),
            "check made a call the table does not give the check capability: {r:?}"
        );
        let action = pilotlight_aws::error::iam_action(service, &r.operation);
        assert!(
            granted.contains_key(&action),
            "the deployed check role does not allow {action}"
        );
    }
}

// ---- Pilotlight's own deployment ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn pilotlight_deploys_in_the_dr_and_an_observer_region() {
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let emu = Emulator::start().await.expect("start the emulator");
    let f = factory(&emu.endpoint());
    let moto = emu.moto_endpoint();

    // IAM first: the control service's task role is named after the environment.
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    for (k, v) in [
        ("cluster", "confer"),
        ("api", "confer-api"),
        ("signaling", "confer-signaling"),
        ("group", "confer-media-routers"),
        ("db", "confer-db"),
        ("replica", "confer-db-replica"),
        ("bucket_primary", "confer-recordings-primary"),
        ("bucket_dr", "confer-recordings-dr"),
        ("key", "mrk-1234abcd12ab34cd56ef1234567890ab"),
        ("zone", "Z0123456789ABC"),
        ("health_primary", "11111111-1111-1111-1111-111111111111"),
        ("health_dr", "22222222-2222-2222-2222-222222222222"),
    ] {
        ids.insert(k, v.to_string());
    }
    let iam_params = iam_parameters(&ids);
    let iam_params: Vec<(&str, &str)> = iam_params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let iam = deploy(&f, DR, "pilotlight-iam", "pilotlight-iam.yaml", &iam_params).await;
    let policies: Vec<String> = template_resources("pilotlight-iam.yaml")
        .into_iter()
        .filter(|(_, ty)| ty == "AWS::IAM::ManagedPolicy")
        .map(|(id, _)| id)
        .collect();
    let roles = ["CheckRole", "ControlServiceRole", "OperatorRole"];
    let mut created: Vec<&str> = policies.iter().map(String::as_str).collect();
    created.extend(roles);
    assert_created(&iam, "pilotlight-iam.yaml", &created, &[], &[]);
    assert_eq!(
        iam.output("ControlServiceRoleArn"),
        format!("arn:aws:iam::{ACCOUNT}:role/pilotlight-confer-control")
    );

    // The deployed policies, as moto holds them, grant exactly the table's actions: per
    // policy the actions of the capabilities its name stands for, per role the union.
    let state = moto_state(&moto).await;
    let role_policies = |name: &str| -> BTreeSet<String> {
        let role = models(&state, "iam", "Role")
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("role {name}"));
        role["attached_managed_policies"]
            .as_array()
            .expect("attached policies")
            .iter()
            .map(|p| p["PolicyArn"].as_str().unwrap().to_string())
            .collect()
    };
    let mut role_actions: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (role, name) in [
        ("check", "pilotlight-confer-check"),
        ("control", "pilotlight-confer-control"),
        ("operator", "pilotlight-confer-operator"),
    ] {
        let mut actions = BTreeSet::new();
        for arn in role_policies(name) {
            actions.extend(policy_grants(&moto, &arn).await.into_keys());
        }
        role_actions.insert(role, actions);
    }
    assert_eq!(role_actions["check"], permissions::actions("check"));
    let every: BTreeSet<String> = permissions::CAPABILITIES
        .iter()
        .flat_map(|c| permissions::actions(c.name))
        .collect();
    assert_eq!(
        role_actions["control"], every,
        "the control service may run every step"
    );
    assert_eq!(role_actions["operator"], every);

    // Networks in the DR and the observer's region.
    let mut nets = BTreeMap::new();
    for region in [DR, OBSERVER] {
        let zones = format!("{region}a,{region}b");
        nets.insert(
            region,
            deploy(
                &f,
                region,
                "pilotlight-network",
                "network.yaml",
                &[("AvailabilityZones", &zones), ("SubnetCidrs", SUBNET_CIDRS)],
            )
            .await,
        );
    }
    let image = format!("{ACCOUNT}.dkr.ecr.{DR}.amazonaws.com/pilotlight:0.1.0");
    let control = deploy(
        &f,
        DR,
        "pilotlight-control",
        "pilotlight.yaml",
        &[
            ("Role", "control"),
            ("Image", &image),
            ("VpcId", nets[DR].output("VpcId")),
            ("SubnetIds", nets[DR].output("PublicSubnetIds")),
            (
                "ControlCommand",
                "serve,--config,/etc/pilotlight/environment.toml",
            ),
            ("NotificationEmail", "oncall@example.com"),
        ],
    )
    .await;
    assert_created(
        &control,
        "pilotlight.yaml",
        &[
            "Cluster",
            "LogGroup",
            "ExecutionRole",
            "SecurityGroup",
            "TaskDefinition",
            "Service",
            "JournalTable",
            "LeaseTable",
            "Topic",
        ],
        // Measured with moto 5.2.1: no CloudFormation model for SNS subscriptions.
        &[("EmailSubscription", "AWS::SNS::Subscription")],
        &[],
    );
    let observer = deploy(
        &f,
        OBSERVER,
        "pilotlight-observer",
        "pilotlight.yaml",
        &[
            ("Role", "observer"),
            ("Image", &image),
            ("VpcId", nets[OBSERVER].output("VpcId")),
            ("SubnetIds", nets[OBSERVER].output("PublicSubnetIds")),
            (
                "ObserverCommand",
                "observer,--control,https://pilotlight.internal:8080,--token-file,/etc/pilotlight/observer-token",
            ),
        ],
    )
    .await;
    assert_created(
        &observer,
        "pilotlight.yaml",
        &[
            "Cluster",
            "LogGroup",
            "ExecutionRole",
            "SecurityGroup",
            "TaskDefinition",
            "Service",
        ],
        &[],
        &["JournalTable", "LeaseTable", "Topic", "EmailSubscription"],
    );

    // The HA store: journal keyed by run id + sequence, lease keyed by environment.
    let ddb = f.dynamodb(DR).await;
    let key_schema =
        |t: &aws_sdk_dynamodb::types::TableDescription| -> Vec<(String, String, String)> {
            t.key_schema()
                .iter()
                .map(|k| {
                    let name = k.attribute_name().to_string();
                    let ty = t
                        .attribute_definitions()
                        .iter()
                        .find(|a| a.attribute_name() == name)
                        .map(|a| a.attribute_type().as_str().to_string())
                        .unwrap_or_default();
                    (name, k.key_type().as_str().to_string(), ty)
                })
                .collect()
        };
    let journal = ddb
        .describe_table()
        .table_name(control.output("JournalTableName"))
        .send()
        .await
        .expect("journal table");
    let journal = journal.table().expect("table");
    assert_eq!(
        control.output("JournalTableName"),
        "pilotlight-confer-journal"
    );
    assert_eq!(
        key_schema(journal),
        vec![
            ("run_id".into(), "HASH".into(), "S".into()),
            ("seq".into(), "RANGE".into(), "N".into())
        ]
    );
    let lease = ddb
        .describe_table()
        .table_name(control.output("LeaseTableName"))
        .send()
        .await
        .expect("lease table");
    assert_eq!(
        key_schema(lease.table().expect("table")),
        vec![("environment".into(), "HASH".into(), "S".into())]
    );
    for region in [OBSERVER] {
        let tables = f
            .dynamodb(region)
            .await
            .list_tables()
            .send()
            .await
            .expect("tables");
        assert!(
            tables.table_names().is_empty(),
            "the store lives in the control region only"
        );
    }

    // The services: one task each, the control service with its role, the observer without.
    for (region, stack, role) in [(DR, &control, "control"), (OBSERVER, &observer, "observer")] {
        let ecs = f.ecs(region).await;
        let svc = ecs
            .describe_services()
            .cluster(stack.output("ClusterName"))
            .services(stack.output("ServiceName"))
            .send()
            .await
            .expect("describe_services");
        let svc = &svc.services()[0];
        assert_eq!(svc.desired_count(), 1, "{role}");
        let td = ecs
            .describe_task_definition()
            .task_definition(svc.task_definition().unwrap_or_default())
            .send()
            .await
            .expect("describe_task_definition");
        let td = td.task_definition().expect("task definition");
        assert_eq!(
            td.family(),
            Some(format!("pilotlight-confer-{role}").as_str())
        );
        let container = &td.container_definitions()[0];
        assert_eq!(container.image(), Some(image.as_str()));
        assert_eq!(container.user(), Some("65532:65532"), "non-root");
        assert_eq!(container.readonly_root_filesystem(), Some(true));
        let command: Vec<&str> = container.command().iter().map(String::as_str).collect();
        match role {
            "control" => {
                assert_eq!(
                    command,
                    ["serve", "--config", "/etc/pilotlight/environment.toml"]
                )
            }
            _ => assert_eq!(command[0], "observer"),
        }
        // moto 5.2.1 drops a task definition's TaskRoleArn (and ExecutionRoleArn): the role
        // is checked in the templates below instead.
        assert_eq!(
            td.task_role_arn(),
            None,
            "moto now keeps TaskRoleArn: assert it is the control role (observer: none) and \
             update docs/deploying.md"
        );
    }
    // The control task's role is the IAM stack's control role, by name; the observer has none.
    let own = template("pilotlight.yaml");
    assert!(own.contains(
        "- !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:role/pilotlight-${EnvironmentName}-control"
    ));
    assert!(template("pilotlight-iam.yaml")
        .contains("RoleName: !Sub pilotlight-${EnvironmentName}-control"));
    assert_eq!(
        iam.output("ControlServiceRoleArn"),
        format!("arn:aws:iam::{ACCOUNT}:role/pilotlight-confer-control")
    );

    // Topic and log groups, as moto holds them.
    let state = moto_state(&moto).await;
    // moto ignores a role's ManagedPolicyArns (hence pilotlight-iam.yaml attaches through the
    // policies' Roles): the execution roles hold no policy there.
    let execution_roles: Vec<&serde_json::Value> = models(&state, "iam", "Role")
        .iter()
        .filter(|r| r["logical_resource_id"] == "ExecutionRole")
        .collect();
    assert_eq!(execution_roles.len(), 2, "control and observer");
    for r in execution_roles {
        assert_eq!(
            r["attached_managed_policies"].as_array().map(Vec::len),
            Some(0),
            "moto now attaches ManagedPolicyArns: update docs/deploying.md"
        );
    }
    let topics: Vec<&str> = models(&state, "sns", "Topic")
        .iter()
        .filter_map(|t| t["arn"].as_str())
        .collect();
    assert_eq!(topics, vec![control.output("TopicArn")]);
    assert_eq!(
        control.output("TopicArn"),
        format!("arn:aws:sns:{DR}:{ACCOUNT}:pilotlight-confer")
    );
    let groups: BTreeSet<(String, i64)> = models(&state, "logs", "LogGroup")
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap_or_default().to_string(),
                g["retention_in_days"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(
        groups,
        BTreeSet::from([
            ("/pilotlight/confer/control".to_string(), 90),
            ("/pilotlight/confer/observer".to_string(), 90),
        ])
    );
}
