//! Error classification and retries end to end, through the real SDK: an unreachable endpoint,
//! a server that throttles, one that fails with 5xx, one that denies access.

mod common;

use common::{canned, init_env, settings, PRIMARY};
use pilotlight_aws::{AwsReadiness, Caller, ClientFactory};
use pilotlight_core::capability::ReadinessFacts;
use pilotlight_core::model::{AwsSettings, KmsKey};
use pilotlight_core::ErrorClass;
use std::sync::Arc;
use std::time::{Duration, Instant};

const DYNAMO_JSON: (&str, &str) = ("content-type", "application/x-amz-json-1.0");

async fn describe_table(
    caller: &Caller,
    factory: &ClientFactory,
) -> Result<(), pilotlight_core::CapabilityError> {
    let client = factory.dynamodb(PRIMARY).await;
    caller
        .call("dynamodb", PRIMARY, "DescribeTable", || {
            client.describe_table().table_name("t").send()
        })
        .await
        .map(|_| ())
}

#[tokio::test]
async fn closed_port_is_unreachable_quickly_after_two_attempts() -> anyhow::Result<()> {
    init_env();
    let port = pilotlight_testkit::moto::free_port()?;
    let s = AwsSettings {
        max_attempts: 5,
        ..settings(&format!("http://127.0.0.1:{port}"))
    };
    let factory = Arc::new(ClientFactory::new(s));
    let caller = Caller::from_factory(&factory);

    let started = Instant::now();
    let err = describe_table(&caller, &factory).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Unreachable, "{err}");
    assert!(err.hint.contains("`aws.endpoint`"), "{}", err.hint);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let stats = caller.stats().get("dynamodb", "DescribeTable");
    assert_eq!((stats.attempts, stats.retries, stats.failures), (2, 1, 1));

    // The readiness adapter reports the same class.
    let readiness = AwsReadiness::new(
        factory.clone(),
        caller.clone(),
        common::regions(),
        Duration::from_secs(300),
    );
    let err = readiness
        .kms(&KmsKey {
            name: "k".into(),
            key_id: "mrk-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Unreachable);
    assert_eq!(err.service, "kms");
    assert_eq!(err.operation, "DescribeKey");
    Ok(())
}

#[tokio::test]
async fn max_attempts_one_means_no_retry_when_unreachable() -> anyhow::Result<()> {
    init_env();
    let port = pilotlight_testkit::moto::free_port()?;
    let s = AwsSettings {
        max_attempts: 1,
        ..settings(&format!("http://127.0.0.1:{port}"))
    };
    let factory = ClientFactory::new(s);
    let caller = Caller::from_factory(&factory);
    let err = describe_table(&caller, &factory).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Unreachable);
    assert_eq!(caller.stats().get("dynamodb", "DescribeTable").attempts, 1);
    Ok(())
}

#[tokio::test]
async fn throttling_is_retried_up_to_max_attempts() -> anyhow::Result<()> {
    init_env();
    let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"}"#;
    let server = canned(400, &[DYNAMO_JSON], body).await;
    let factory = ClientFactory::new(AwsSettings {
        max_attempts: 3,
        ..settings(&server.endpoint)
    });
    let caller = Caller::from_factory(&factory);

    let err = describe_table(&caller, &factory).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Retryable, "{err}");
    assert_eq!(err.code.as_deref(), Some("ThrottlingException"));
    assert_eq!(err.message, "Rate exceeded");
    assert!(
        err.hint.contains("gave up after 3 attempts"),
        "{}",
        err.hint
    );
    assert!(
        err.hint.contains("`aws.requests_per_second`"),
        "{}",
        err.hint
    );
    assert_eq!(server.hits(), 3);
    let stats = caller.stats().get("dynamodb", "DescribeTable");
    assert_eq!(
        (stats.calls, stats.attempts, stats.retries, stats.throttles),
        (1, 3, 2, 3)
    );
    Ok(())
}

#[tokio::test]
async fn server_errors_are_retried() -> anyhow::Result<()> {
    init_env();
    let body =
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"boom"}"#;
    let server = canned(500, &[DYNAMO_JSON], body).await;
    let factory = ClientFactory::new(AwsSettings {
        max_attempts: 2,
        ..settings(&server.endpoint)
    });
    let caller = Caller::from_factory(&factory);
    let err = describe_table(&caller, &factory).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Retryable, "{err}");
    assert_eq!(server.hits(), 2);
    Ok(())
}

#[tokio::test]
async fn access_denied_is_credentials_and_not_retried() -> anyhow::Result<()> {
    init_env();
    let body = r#"{"__type":"com.amazon.coral.service#AccessDeniedException","message":"User: test is not authorized to perform: dynamodb:DescribeTable"}"#;
    let server = canned(400, &[DYNAMO_JSON], body).await;
    let factory = ClientFactory::new(settings(&server.endpoint));
    let caller = Caller::from_factory(&factory);
    let err = describe_table(&caller, &factory).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Credentials, "{err}");
    assert!(
        err.hint.contains("dynamodb:DescribeTable in us-east-1"),
        "{}",
        err.hint
    );
    assert_eq!(server.hits(), 1);
    Ok(())
}

#[tokio::test]
async fn unknown_rejection_is_terminal() -> anyhow::Result<()> {
    init_env();
    let body =
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"bad name"}"#;
    let server = canned(400, &[DYNAMO_JSON], body).await;
    let factory = ClientFactory::new(settings(&server.endpoint));
    let caller = Caller::from_factory(&factory);
    let err = describe_table(&caller, &factory).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Terminal, "{err}");
    assert_eq!(err.code.as_deref(), Some("ValidationException"));
    assert_eq!(server.hits(), 1);
    Ok(())
}
