//! Table-driven tests of every readiness evaluation: a passing baseline per kind, then one
//! mutation per branch with the status and a fragment of the reason it must produce.

use pilotlight_core::model::*;
use pilotlight_core::readiness::evaluate as ev;
use pilotlight_core::readiness::facts::*;
use pilotlight_core::readiness::{CheckResult, Status};
use std::time::Duration;

const P: &str = "us-east-1";
const D: &str = "us-west-2";
const RPO: Duration = Duration::from_secs(60);

fn rr(kind: ResourceKind) -> ResourceRef {
    ResourceRef {
        kind,
        name: "x".into(),
    }
}

fn assert_case(name: &str, got: CheckResult, status: Status, fragment: &str) {
    assert_eq!(got.status, status, "case {name}: {got:?}");
    assert!(
        got.reason.contains(fragment),
        "case {name}: reason {:?} lacks {fragment:?}",
        got.reason
    );
    if status != Status::Pass {
        assert!(
            !got.fix.is_empty(),
            "case {name}: a non-passing result needs a fix"
        );
    }
}

type Case<F> = (&'static str, fn(&mut F), Status, &'static str);

#[test]
fn dynamodb_cases() {
    let spec = DynamoTable {
        name: "x".into(),
        table: "meetings".into(),
    };
    let base = DynamoFacts {
        primary: Some(TableState {
            status: "ACTIVE".into(),
            replicas: vec![ReplicaState {
                region: D.into(),
                status: "ACTIVE".into(),
            }],
        }),
        dr: Some(TableState {
            status: "ACTIVE".into(),
            replicas: vec![],
        }),
        replication_latency_ms: Some(800.0),
    };
    let cases: Vec<Case<DynamoFacts>> = vec![
        ("baseline", |_| {}, Status::Pass, "latency 800 ms"),
        (
            "no latency",
            |f| f.replication_latency_ms = None,
            Status::Pass,
            "not reported",
        ),
        (
            "latency over rpo",
            |f| f.replication_latency_ms = Some(61_000.0),
            Status::Fail,
            "above the RPO of 1m",
        ),
        (
            "primary missing",
            |f| f.primary = None,
            Status::Fail,
            "does not exist in the primary",
        ),
        (
            "dr missing",
            |f| f.dr = None,
            Status::Fail,
            "no replica of meetings",
        ),
        (
            "standalone dr table",
            |f| f.primary.as_mut().unwrap().replicas.clear(),
            Status::Fail,
            "not a replica",
        ),
        (
            "replica creating",
            |f| f.primary.as_mut().unwrap().replicas[0].status = "CREATING".into(),
            Status::Fail,
            "not ACTIVE",
        ),
        (
            "dr table updating",
            |f| f.dr.as_mut().unwrap().status = "UPDATING".into(),
            Status::Fail,
            "table status UPDATING",
        ),
    ];
    for (name, mutate, status, frag) in cases {
        let mut f = base.clone();
        mutate(&mut f);
        assert_case(
            name,
            ev::dynamodb(&rr(ResourceKind::DynamodbTable), &spec, &f, P, D, RPO),
            status,
            frag,
        );
    }
}

#[test]
fn s3_cases() {
    let spec = S3BucketPair {
        name: "x".into(),
        primary_bucket: "rec-e".into(),
        dr_bucket: "rec-w".into(),
        rtc: true,
    };
    let base = S3Facts {
        primary_exists: true,
        dr_exists: true,
        primary_versioning: Some("Enabled".into()),
        dr_versioning: Some("Enabled".into()),
        rules: vec![ReplicationRule {
            id: Some("dr".into()),
            enabled: true,
            destination_bucket_arn: "arn:aws:s3:::rec-w".into(),
            rtc_enabled: true,
        }],
    };
    let cases: Vec<Case<S3Facts>> = vec![
        ("baseline", |_| {}, Status::Pass, "with RTC"),
        (
            "primary missing",
            |f| f.primary_exists = false,
            Status::Fail,
            "rec-e does not exist",
        ),
        (
            "dr missing",
            |f| f.dr_exists = false,
            Status::Fail,
            "rec-w does not exist",
        ),
        (
            "primary unversioned",
            |f| f.primary_versioning = None,
            Status::Fail,
            "versioning is off on rec-e",
        ),
        (
            "dr suspended",
            |f| f.dr_versioning = Some("Suspended".into()),
            Status::Fail,
            "Suspended on rec-w",
        ),
        (
            "no rules",
            |f| f.rules.clear(),
            Status::Fail,
            "no replication rule",
        ),
        (
            "rule elsewhere",
            |f| f.rules[0].destination_bucket_arn = "arn:aws:s3:::other".into(),
            Status::Fail,
            "no replication rule",
        ),
        (
            "rule disabled",
            |f| f.rules[0].enabled = false,
            Status::Fail,
            "is disabled",
        ),
        (
            "rtc off",
            |f| f.rules[0].rtc_enabled = false,
            Status::Fail,
            "Replication Time Control",
        ),
    ];
    for (name, mutate, status, frag) in cases {
        let mut f = base.clone();
        mutate(&mut f);
        assert_case(
            name,
            ev::s3(&rr(ResourceKind::S3Buckets), &spec, &f),
            status,
            frag,
        );
    }
    let mut no_rtc = spec.clone();
    no_rtc.rtc = false;
    let mut f = base.clone();
    f.rules[0].rtc_enabled = false;
    assert_case(
        "rtc not required",
        ev::s3(&rr(ResourceKind::S3Buckets), &no_rtc, &f),
        Status::Pass,
        "replicating to rec-w",
    );
}

#[test]
fn kms_cases() {
    let spec = KmsKey {
        name: "x".into(),
        key_id: "mrk-1".into(),
    };
    let key = |t: &str, regions: Vec<String>| KeyState {
        arn: "arn".into(),
        key_state: "Enabled".into(),
        multi_region: true,
        multi_region_type: Some(t.into()),
        replica_regions: regions,
    };
    let base = KmsFacts {
        primary: Some(key("PRIMARY", vec![D.into()])),
        dr: Some(key("REPLICA", vec![])),
    };
    let cases: Vec<Case<KmsFacts>> = vec![
        ("baseline", |_| {}, Status::Pass, "enabled replica"),
        (
            "primary missing",
            |f| f.primary = None,
            Status::Fail,
            "does not exist",
        ),
        (
            "single region",
            |f| f.primary.as_mut().unwrap().multi_region = false,
            Status::Fail,
            "single-region",
        ),
        (
            "primary is replica",
            |f| f.primary.as_mut().unwrap().multi_region_type = Some("REPLICA".into()),
            Status::Fail,
            "is a replica",
        ),
        (
            "primary disabled",
            |f| f.primary.as_mut().unwrap().key_state = "Disabled".into(),
            Status::Fail,
            "primary key mrk-1 is Disabled",
        ),
        ("no replica", |f| f.dr = None, Status::Fail, "no replica"),
        (
            "not listed",
            |f| f.primary.as_mut().unwrap().replica_regions.clear(),
            Status::Fail,
            "no replica",
        ),
        (
            "replica disabled",
            |f| f.dr.as_mut().unwrap().key_state = "Disabled".into(),
            Status::Fail,
            "is Disabled",
        ),
        (
            "replica pending deletion",
            |f| f.dr.as_mut().unwrap().key_state = "PendingDeletion".into(),
            Status::Fail,
            "PendingDeletion",
        ),
    ];
    for (name, mutate, status, frag) in cases {
        let mut f = base.clone();
        mutate(&mut f);
        assert_case(
            name,
            ev::kms(&rr(ResourceKind::KmsKey), &spec, &f, P, D),
            status,
            frag,
        );
    }
}

#[test]
fn rds_cases() {
    let spec = RdsReplica {
        name: "x".into(),
        primary_instance: "db".into(),
        replica_instance: "db-r".into(),
        fence_parameter_group: None,
    };
    let base = RdsFacts {
        primary: Some(DbInstanceState {
            arn: "arn:db".into(),
            status: "available".into(),
            read_replica_source: None,
        }),
        replica: Some(DbInstanceState {
            arn: "arn:db-r".into(),
            status: "available".into(),
            read_replica_source: Some("arn:db".into()),
        }),
        lag_seconds: Some(2.0),
    };
    let cases: Vec<Case<RdsFacts>> = vec![
        ("baseline", |_| {}, Status::Pass, "lag 2s within RPO 1m"),
        (
            "source by identifier",
            |f| f.replica.as_mut().unwrap().read_replica_source = Some("db".into()),
            Status::Pass,
            "available replica",
        ),
        (
            "primary missing",
            |f| f.primary = None,
            Status::Fail,
            "primary instance db does not exist",
        ),
        (
            "replica missing",
            |f| f.replica = None,
            Status::Fail,
            "no instance db-r",
        ),
        (
            "promoted",
            |f| f.replica.as_mut().unwrap().read_replica_source = None,
            Status::Fail,
            "not a read replica",
        ),
        (
            "wrong source",
            |f| f.replica.as_mut().unwrap().read_replica_source = Some("arn:other".into()),
            Status::Fail,
            "replicates from arn:other",
        ),
        (
            "backing up",
            |f| f.replica.as_mut().unwrap().status = "backing-up".into(),
            Status::Warn,
            "is backing-up",
        ),
        (
            "failed",
            |f| f.replica.as_mut().unwrap().status = "failed".into(),
            Status::Fail,
            "is failed",
        ),
        (
            "lag over budget",
            |f| f.lag_seconds = Some(90.0),
            Status::Fail,
            "above the RPO",
        ),
        (
            "lag unknown",
            |f| f.lag_seconds = None,
            Status::Warn,
            "no recent ReplicaLag",
        ),
    ];
    for (name, mutate, status, frag) in cases {
        let mut f = base.clone();
        mutate(&mut f);
        assert_case(
            name,
            ev::rds(&rr(ResourceKind::RdsReplica), &spec, &f, P, D, RPO),
            status,
            frag,
        );
    }
}

#[test]
fn aurora_cases() {
    let spec = AuroraGlobalCluster {
        name: "x".into(),
        global_cluster: "g".into(),
        primary_cluster: "pc".into(),
        dr_cluster: "dc".into(),
    };
    let base = AuroraFacts {
        global_members: Some(vec![
            GlobalMember {
                cluster_arn: "arn:pc".into(),
                is_writer: true,
            },
            GlobalMember {
                cluster_arn: "arn:dc".into(),
                is_writer: false,
            },
        ]),
        primary: Some(ClusterState {
            arn: "arn:pc".into(),
            status: "available".into(),
        }),
        dr: Some(ClusterState {
            arn: "arn:dc".into(),
            status: "available".into(),
        }),
        lag_ms: Some(400.0),
    };
    let cases: Vec<Case<AuroraFacts>> = vec![
        ("baseline", |_| {}, Status::Pass, "lag 400 ms"),
        ("no lag", |f| f.lag_ms = None, Status::Pass, "not reported"),
        (
            "no global",
            |f| f.global_members = None,
            Status::Fail,
            "global cluster g does not exist",
        ),
        (
            "no primary",
            |f| f.primary = None,
            Status::Fail,
            "cluster pc does not exist",
        ),
        (
            "no dr",
            |f| f.dr = None,
            Status::Fail,
            "cluster dc does not exist",
        ),
        (
            "not member",
            |f| {
                f.global_members.as_mut().unwrap().pop();
            },
            Status::Fail,
            "not a member",
        ),
        (
            "dr is writer",
            |f| f.global_members.as_mut().unwrap()[1].is_writer = true,
            Status::Fail,
            "is the writer",
        ),
        (
            "primary not writer",
            |f| f.global_members.as_mut().unwrap()[0].is_writer = false,
            Status::Fail,
            "is not the writer",
        ),
        (
            "dr not available",
            |f| f.dr.as_mut().unwrap().status = "modifying".into(),
            Status::Fail,
            "is modifying",
        ),
        (
            "lag over",
            |f| f.lag_ms = Some(120_000.0),
            Status::Fail,
            "above the RPO",
        ),
    ];
    for (name, mutate, status, frag) in cases {
        let mut f = base.clone();
        mutate(&mut f);
        assert_case(
            name,
            ev::aurora(&rr(ResourceKind::AuroraGlobal), &spec, &f, P, D, RPO),
            status,
            frag,
        );
    }
}

#[test]
fn ecs_cases() {
    let spec = EcsService {
        name: "x".into(),
        cluster: "c".into(),
        service: "api".into(),
        primary_cluster: None,
        primary_service: None,
        pilot_light_count: 1,
        active_count: 4,
    };
    let base = EcsFacts {
        cluster_status: Some("ACTIVE".into()),
        service: Some(ServiceState {
            status: "ACTIVE".into(),
            desired: 1,
            running: 1,
            task_definition: "td:1".into(),
        }),
        task_definition_status: Some("ACTIVE".into()),
    };
    let cases: Vec<Case<EcsFacts>> = vec![
        ("baseline", |_| {}, Status::Pass, "scales to 4"),
        (
            "no cluster",
            |f| f.cluster_status = None,
            Status::Fail,
            "cluster c does not exist",
        ),
        (
            "cluster inactive",
            |f| f.cluster_status = Some("INACTIVE".into()),
            Status::Fail,
            "is INACTIVE",
        ),
        (
            "no service",
            |f| f.service = None,
            Status::Fail,
            "service api does not exist",
        ),
        (
            "service draining",
            |f| f.service.as_mut().unwrap().status = "DRAINING".into(),
            Status::Fail,
            "is DRAINING",
        ),
        (
            "task def inactive",
            |f| f.task_definition_status = Some("INACTIVE".into()),
            Status::Fail,
            "cannot start new tasks",
        ),
        (
            "task def missing",
            |f| f.task_definition_status = None,
            Status::Fail,
            "is missing",
        ),
        (
            "scaled to zero",
            |f| f.service.as_mut().unwrap().desired = 0,
            Status::Fail,
            "below the pilot-light",
        ),
        (
            "above pilot light",
            |f| {
                let s = f.service.as_mut().unwrap();
                s.desired = 4;
                s.running = 4;
            },
            Status::Warn,
            "above the pilot-light",
        ),
        (
            "not running",
            |f| f.service.as_mut().unwrap().running = 0,
            Status::Warn,
            "0 of 1 tasks running",
        ),
    ];
    for (name, mutate, status, frag) in cases {
        let mut f = base.clone();
        mutate(&mut f);
        assert_case(
            name,
            ev::ecs(&rr(ResourceKind::EcsService), &spec, &f, D),
            status,
            frag,
        );
    }
}

#[test]
fn autoscaling_cases() {
    let spec = AutoScalingGroup {
        name: "x".into(),
        group: "mr".into(),
        primary_group: None,
        pilot_light_capacity: 1,
        active_capacity: 6,
    };
    let base = AsgFacts {
        group: Some(GroupState {
            min: 1,
            max: 12,
            desired: 1,
            in_service: 1,
            launch: LaunchSource::Template {
                id_or_name: "lt".into(),
                version: None,
            },
        }),
        launch_source_exists: true,
    };
    let cases: Vec<Case<AsgFacts>> = vec![
        ("baseline", |_| {}, Status::Pass, "max 12 ≥ active 6"),
        (
            "no group",
            |f| f.group = None,
            Status::Fail,
            "group mr does not exist",
        ),
        (
            "template gone",
            |f| f.launch_source_exists = false,
            Status::Fail,
            "launch template lt does not exist",
        ),
        (
            "config gone",
            |f| {
                f.launch_source_exists = false;
                f.group.as_mut().unwrap().launch =
                    LaunchSource::Configuration { name: "lc".into() };
            },
            Status::Fail,
            "launch configuration lc",
        ),
        (
            "no source",
            |f| f.group.as_mut().unwrap().launch = LaunchSource::None,
            Status::Fail,
            "no launch configuration or template",
        ),
        (
            "max below active",
            |f| f.group.as_mut().unwrap().max = 4,
            Status::Fail,
            "max size 4 is below the active capacity 6",
        ),
        (
            "desired zero",
            |f| f.group.as_mut().unwrap().desired = 0,
            Status::Fail,
            "below the pilot-light",
        ),
        (
            "above pilot light",
            |f| {
                let g = f.group.as_mut().unwrap();
                g.desired = 6;
                g.in_service = 6;
            },
            Status::Warn,
            "above the pilot-light",
        ),
        (
            "not in service",
            |f| f.group.as_mut().unwrap().in_service = 0,
            Status::Warn,
            "0 of 1 instances",
        ),
    ];
    for (name, mutate, status, frag) in cases {
        let mut f = base.clone();
        mutate(&mut f);
        assert_case(
            name,
            ev::autoscaling(&rr(ResourceKind::AutoscalingGroup), &spec, &f, D),
            status,
            frag,
        );
    }
}

#[test]
fn route53_cases() {
    let rec = DnsRecord {
        name: "x".into(),
        record_name: "api.confer.example.".into(),
        record_type: "A".into(),
        routing: Routing::Failover,
        primary_set_identifier: "api-primary".into(),
        dr_set_identifier: "api-dr".into(),
        require_health_checks: true,
    };
    let zone = Route53 {
        zone_id: "Z1".into(),
        records: vec![rec.clone()],
    };
    let set = |fo: &str, hc: &str| RecordSetState {
        failover: Some(fo.into()),
        weight: None,
        health_check_id: Some(hc.into()),
    };
    let hc = |id: &str| HealthCheckState {
        id: id.into(),
        exists: true,
        observations: 8,
        healthy_observations: 8,
    };
    let base = Route53Facts {
        zone_exists: true,
        primary: Some(set("PRIMARY", "hc-p")),
        dr: Some(set("SECONDARY", "hc-d")),
        health_checks: vec![hc("hc-p"), hc("hc-d")],
    };
    let cases: Vec<Case<Route53Facts>> = vec![
        ("baseline", |_| {}, Status::Pass, "failover records"),
        (
            "no zone",
            |f| f.zone_exists = false,
            Status::Fail,
            "hosted zone Z1",
        ),
        (
            "no primary set",
            |f| f.primary = None,
            Status::Fail,
            "api-primary",
        ),
        ("no dr set", |f| f.dr = None, Status::Fail, "api-dr"),
        (
            "wrong failover",
            |f| f.dr.as_mut().unwrap().failover = Some("PRIMARY".into()),
            Status::Fail,
            "PRIMARY/PRIMARY",
        ),
        (
            "no health check",
            |f| f.dr.as_mut().unwrap().health_check_id = None,
            Status::Fail,
            "DR record set of api.confer.example. has no health check",
        ),
        (
            "health check deleted",
            |f| f.health_checks[1].exists = false,
            Status::Fail,
            "health check hc-d of the DR record set does not exist",
        ),
        (
            "no observations",
            |f| {
                f.health_checks[0].observations = 0;
                f.health_checks[0].healthy_observations = 0;
            },
            Status::Warn,
            "no observations",
        ),
        (
            "dr unhealthy",
            |f| f.health_checks[1].healthy_observations = 1,
            Status::Fail,
            "reports unhealthy",
        ),
        (
            "primary unhealthy is fine for readiness",
            |f| f.health_checks[0].healthy_observations = 0,
            Status::Pass,
            "failover records",
        ),
    ];
    for (name, mutate, status, frag) in cases {
        let mut f = base.clone();
        mutate(&mut f);
        assert_case(
            name,
            ev::route53(&rr(ResourceKind::Route53Record), &zone, &rec, &f),
            status,
            frag,
        );
    }
    let weighted = DnsRecord {
        routing: Routing::Weighted,
        ..rec.clone()
    };
    let mut f = base.clone();
    f.primary.as_mut().unwrap().weight = Some(100);
    assert_case(
        "weighted without dr weight",
        ev::route53(&rr(ResourceKind::Route53Record), &zone, &weighted, &f),
        Status::Fail,
        "need a weight",
    );
    f.dr.as_mut().unwrap().weight = Some(0);
    assert_case(
        "weighted",
        ev::route53(&rr(ResourceKind::Route53Record), &zone, &weighted, &f),
        Status::Pass,
        "weighted records",
    );
}
