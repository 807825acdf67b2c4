//! Missing credentials are classified as `Credentials` and never retried. Its own test binary,
//! because it changes the process environment the default credential chain reads.

mod common;

use common::{canned, init_env, settings, PRIMARY};
use pilotlight_aws::{Caller, ClientFactory};
use pilotlight_core::model::AwsSettings;
use pilotlight_core::ErrorClass;

fn isolate_environment() {
    init_env();
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        std::env::remove_var(var);
    }
    std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/pilotlight-test/config");
    std::env::set_var(
        "AWS_SHARED_CREDENTIALS_FILE",
        "/nonexistent/pilotlight-test/credentials",
    );
}

#[tokio::test]
async fn missing_credentials_are_a_credentials_error() -> anyhow::Result<()> {
    isolate_environment();
    let server = canned(200, &[], "{}").await;
    for profile in [None, Some("pilotlight-no-such-profile".to_string())] {
        let s = AwsSettings {
            access_key_id: None,
            secret_access_key: None,
            profile: profile.clone(),
            ..settings(&server.endpoint)
        };
        let factory = ClientFactory::new(s);
        let caller = Caller::from_factory(&factory);
        let client = factory.kms(PRIMARY).await;
        let err = caller
            .call("kms", PRIMARY, "DescribeKey", || {
                client.describe_key().key_id("mrk-1").send()
            })
            .await
            .unwrap_err();
        assert_eq!(
            err.class,
            ErrorClass::Credentials,
            "profile {profile:?}: {err}"
        );
        assert!(
            err.hint.contains("kms:DescribeKey in us-east-1"),
            "{}",
            err.hint
        );
        assert_eq!(caller.stats().get("kms", "DescribeKey").attempts, 1);
    }
    assert_eq!(server.hits(), 0, "no request is sent without credentials");
    Ok(())
}
