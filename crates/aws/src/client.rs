//! One client factory for every AWS service: region, credentials (default chain, profile, or
//! static emulator keys), endpoint override and timeouts are decided here and nowhere else.

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use pilotlight_core::model::AwsSettings;
use std::collections::HashMap;
use std::sync::Mutex;

/// Builds and caches per-region SDK configurations for every service Pilotlight calls.
#[derive(Debug)]
pub struct ClientFactory {
    settings: AwsSettings,
    configs: Mutex<HashMap<String, aws_types::SdkConfig>>,
}

impl ClientFactory {
    /// A factory for the given settings. No network call is made until a client is used.
    pub fn new(settings: AwsSettings) -> Self {
        ClientFactory {
            settings,
            configs: Mutex::new(HashMap::new()),
        }
    }

    /// The settings this factory was built with.
    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    /// The shared SDK configuration for `region`, built once and cached.
    pub async fn sdk_config(&self, region: &str) -> aws_types::SdkConfig {
        if let Some(cfg) = self
            .configs
            .lock()
            .expect("client cache poisoned")
            .get(region)
        {
            return cfg.clone();
        }
        let s = &self.settings;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            // Retries live in one layer, ours (crate::retry); the SDK's own are disabled.
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(s.connect_timeout)
                    .read_timeout(s.read_timeout)
                    .operation_attempt_timeout(s.read_timeout)
                    .build(),
            );
        if let Some(endpoint) = &s.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(profile) = &s.profile {
            loader = loader.profile_name(profile);
        }
        if let (Some(id), Some(secret)) = (&s.access_key_id, &s.secret_access_key) {
            loader = loader.credentials_provider(Credentials::new(
                id,
                secret,
                None,
                None,
                "pilotlight-static",
            ));
        }
        let cfg = loader.load().await;
        self.configs
            .lock()
            .expect("client cache poisoned")
            .insert(region.to_string(), cfg.clone());
        cfg
    }

    /// DynamoDB client for `region`.
    pub async fn dynamodb(&self, region: &str) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk_config(region).await)
    }

    /// S3 client for `region` (path-style addressing when an endpoint override is set).
    pub async fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let cfg = self.sdk_config(region).await;
        let conf = aws_sdk_s3::config::Builder::from(&cfg)
            .force_path_style(self.settings.endpoint.is_some())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// KMS client for `region`.
    pub async fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.sdk_config(region).await)
    }

    /// RDS client for `region`.
    pub async fn rds(&self, region: &str) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(&self.sdk_config(region).await)
    }

    /// Route 53 client (a global service; calls are signed for `region`).
    pub async fn route53(&self, region: &str) -> aws_sdk_route53::Client {
        aws_sdk_route53::Client::new(&self.sdk_config(region).await)
    }

    /// ECS client for `region`.
    pub async fn ecs(&self, region: &str) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&self.sdk_config(region).await)
    }

    /// EC2 Auto Scaling client for `region`.
    pub async fn autoscaling(&self, region: &str) -> aws_sdk_autoscaling::Client {
        aws_sdk_autoscaling::Client::new(&self.sdk_config(region).await)
    }

    /// EC2 client for `region` (launch templates).
    pub async fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk_config(region).await)
    }

    /// CloudWatch client for `region`.
    pub async fn cloudwatch(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::new(&self.sdk_config(region).await)
    }
}
