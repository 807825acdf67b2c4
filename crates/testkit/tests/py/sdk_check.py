"""Drives the emulator proxy with boto3 (a real AWS SDK) and prints what it saw as JSON.

Usage: python3 sdk_check.py ENDPOINT PHASE, PHASE one of replicas, codes, retries,
promotion_and_health. The Rust test sets the fault rules before and between phases through the
HTTP control endpoint, as the CLI would; promotion_and_health drives the settings and health-check
endpoints itself.
"""
import json
import sys
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint = sys.argv[1]
phase = sys.argv[2]


def client(service, region="us-east-1", attempts=1):
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": attempts},
            s3={"addressing_style": "path"},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


def error_code(call):
    try:
        call()
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]


out = {}
if phase == "replicas":
    ddb = client("dynamodb")
    ddb.create_table(
        TableName="accounts",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.update_table(TableName="accounts", ReplicaUpdates=[{"Create": {"RegionName": "us-west-2"}}])
    table = ddb.describe_table(TableName="accounts")["Table"]
    out["replicas"] = table.get("Replicas", [])
    out["version"] = table.get("GlobalTableVersion")
    dr = client("dynamodb", "us-west-2").describe_table(TableName="accounts")["Table"]
    out["dr_replicas"] = dr.get("Replicas", [])
elif phase == "codes":
    # One attempt each: the SDK must parse the injected error code.
    out["dynamodb"] = error_code(lambda: client("dynamodb").list_tables())
    out["kms"] = error_code(lambda: client("kms").list_keys())
    out["rds"] = error_code(lambda: client("rds").describe_db_instances())
    out["autoscaling"] = error_code(lambda: client("autoscaling").describe_auto_scaling_groups())
    out["cloudwatch"] = error_code(lambda: client("cloudwatch").describe_alarms())
    out["ec2"] = error_code(lambda: client("ec2").describe_instances())
    out["route53"] = error_code(lambda: client("route53").list_hosted_zones())
    out["s3"] = error_code(lambda: client("s3").list_buckets())
elif phase == "retries":
    # Three attempts each: the SDK must classify the injected throttling as retryable.
    out["dynamodb"] = error_code(lambda: client("dynamodb", attempts=3).list_tables())
    out["rds"] = error_code(lambda: client("rds", attempts=3).describe_db_instances())
    out["route53"] = error_code(lambda: client("route53", attempts=3).list_hosted_zones())
elif phase == "promotion_and_health":
    # The emulator starts with a 60 s promotion delay; the script changes settings through the
    # HTTP control API, as the CLI would.
    def control(method, path, body):
        request = urllib.request.Request(
            endpoint + "/__emulator/" + path, data=json.dumps(body).encode(), method=method
        )
        with urllib.request.urlopen(request) as answer:
            return json.load(answer)

    def instance(rds, name):
        found = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
        return {
            "status": found["DBInstanceStatus"],
            "source": found.get("ReadReplicaSourceDBInstanceIdentifier"),
        }

    rds, dr = client("rds"), client("rds", "us-west-2")
    source = rds.create_db_instance(
        DBInstanceIdentifier="orders",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="pilot",
        MasterUserPassword="not-a-secret-1",
        AllocatedStorage=20,
    )["DBInstance"]["DBInstanceArn"]
    for name in ["orders-dr", "orders-dr2"]:
        dr.create_db_instance_read_replica(
            DBInstanceIdentifier=name,
            SourceDBInstanceIdentifier=source,
            DBInstanceClass="db.t3.micro",
        )
    promoted = dr.promote_read_replica(DBInstanceIdentifier="orders-dr")["DBInstance"]
    out["promote_status"] = promoted["DBInstanceStatus"]
    out["during"] = instance(dr, "orders-dr")
    try:
        dr.promote_read_replica(DBInstanceIdentifier="orders-dr")
        out["again"] = "ok"
    except ClientError as e:
        out["again"] = {
            "code": e.response["Error"]["Code"],
            "message": e.response["Error"]["Message"],
            "http": e.response["ResponseMetadata"]["HTTPStatusCode"],
        }
    control("PUT", "settings", {"promotion_delay_ms": 0})
    dr.promote_read_replica(DBInstanceIdentifier="orders-dr2")
    out["after"] = instance(dr, "orders-dr2")
    out["source_lists"] = rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0].get(
        "ReadReplicaDBInstanceIdentifiers", []
    )

    r53 = client("route53")
    check = r53.create_health_check(
        CallerReference="sdk-check",
        HealthCheckConfig={"Type": "HTTPS", "FullyQualifiedDomainName": "app.example.com", "Port": 443},
    )["HealthCheck"]["Id"]

    def health():
        observations = r53.get_health_check_status(HealthCheckId=check)["HealthCheckObservations"]
        words = {o["StatusReport"]["Status"].split(":")[0] for o in observations}
        return words.pop() if len(words) == 1 else sorted(words)

    out["health_default"] = health()
    control("PUT", "health-checks/" + check, {"healthy": False})
    out["health_unhealthy"] = health()
    r53.update_health_check(HealthCheckId=check, Inverted=True)
    out["health_inverted"] = health()
print(json.dumps(out))
