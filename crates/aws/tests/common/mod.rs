//! Shared helpers for the adapter tests: one moto per test, a client factory and caller pointed
//! at it, and a tiny scripted HTTP server for error-path tests.

#![allow(dead_code)]

use pilotlight_aws::{AwsReadiness, Caller, ClientFactory};
use pilotlight_core::model::{AwsSettings, Regions};
use pilotlight_testkit::Moto;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Primary region of every test.
pub const PRIMARY: &str = "us-east-1";
/// DR region of every test.
pub const DR: &str = "us-west-2";

/// Keeps the default credential chain off the instance-metadata address.
pub fn init_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::env::set_var("AWS_EC2_METADATA_DISABLED", "true"));
}

/// Settings for an emulator at `endpoint` with static test credentials.
pub fn settings(endpoint: &str) -> AwsSettings {
    AwsSettings {
        endpoint: Some(endpoint.to_string()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(10),
        max_attempts: 3,
        requests_per_second: 50.0,
        ..AwsSettings::default()
    }
}

/// The regions of every test.
pub fn regions() -> Regions {
    Regions {
        primary: PRIMARY.into(),
        dr: DR.into(),
        observers: vec![],
    }
}

/// A moto server with a factory, a caller and the readiness adapter pointed at it.
pub struct World {
    /// The emulator; stopped when the world is dropped.
    pub moto: Moto,
    /// Clients for setting up and breaking things.
    pub clients: Arc<ClientFactory>,
    /// The adapter under test.
    pub readiness: AwsReadiness,
}

/// Starts a fresh moto and wires the adapter to it.
pub fn world() -> World {
    init_env();
    let moto = Moto::start().expect("moto starts");
    let clients = Arc::new(ClientFactory::new(settings(&moto.endpoint())));
    let caller = Caller::from_factory(&clients);
    let readiness = AwsReadiness::new(clients.clone(), caller, regions(), Duration::from_secs(600));
    World {
        moto,
        clients,
        readiness,
    }
}

/// A loopback HTTP server that answers every request with the same canned response and counts
/// requests. Each connection is closed after one answer.
pub struct Canned {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Requests received.
    pub hits: Arc<AtomicUsize>,
}

impl Canned {
    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Serves `status`, `headers` and `body` to every request.
pub async fn canned(status: u16, headers: &[(&str, &str)], body: &str) -> Canned {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let hits = Arc::new(AtomicUsize::new(0));
    let mut response = format!(
        "HTTP/1.1 {status} Canned\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        response.push_str(&format!("{k}: {v}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(body);
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let response = response.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head, then as much body as content-length says.
                loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = find(&buf, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = sock.write_all(response.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Canned { endpoint, hits }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A forwarding proxy in front of moto that fixes one wire incompatibility of moto 5.2.1 with the
/// Rust SDK: `GetBucketVersioning` answers with a `GetBucketVersioningResponse` root element
/// instead of S3's `VersioningConfiguration`, which the SDK refuses to parse. Everything else is
/// passed through unchanged. Returns the proxy's endpoint.
pub async fn s3_versioning_fix_proxy(upstream: String) -> String {
    use axum::body::{to_bytes, Body};
    use axum::extract::Request;
    use axum::response::Response;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |req: Request| {
        let client = client.clone();
        let upstream = upstream.clone();
        async move {
            let (parts, body) = req.into_parts();
            let path = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/")
                .to_string();
            let versioning = parts.method == axum::http::Method::GET
                && parts.uri.query().is_some_and(|q| {
                    q.split('&')
                        .any(|kv| kv == "versioning" || kv == "versioning=")
                });
            let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
            let mut headers = parts.headers.clone();
            headers.remove(axum::http::header::HOST);
            let answer = client
                .request(parts.method.clone(), format!("{upstream}{path}"))
                .headers(headers)
                .body(body)
                .send()
                .await;
            let Ok(answer) = answer else {
                return Response::builder()
                    .status(502)
                    .body(Body::empty())
                    .expect("response");
            };
            let status = answer.status();
            let mut out = Response::builder().status(status);
            for (k, v) in answer.headers() {
                if k != axum::http::header::CONTENT_LENGTH
                    && k != axum::http::header::TRANSFER_ENCODING
                {
                    out = out.header(k, v);
                }
            }
            let mut bytes = answer.bytes().await.unwrap_or_default().to_vec();
            if versioning && status.is_success() {
                let text = String::from_utf8_lossy(&bytes)
                    .replace("GetBucketVersioningResponse", "VersioningConfiguration");
                bytes = text.into_bytes();
            }
            out.body(Body::from(bytes)).expect("response")
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    endpoint
}

/// A hosted zone with one HTTPS health check per region.
pub struct Zone {
    /// The zone id.
    pub id: String,
    /// Health checks of the primary and DR sets.
    pub checks: [String; 2],
}

/// Create the zone `shop.test.` and the health checks of its primary and DR record sets.
pub async fn zone_with_checks(clients: &ClientFactory) -> anyhow::Result<Zone> {
    use aws_sdk_route53::types::{HealthCheckConfig, HealthCheckType};
    let r53 = clients.route53(PRIMARY).await;
    let zone = r53
        .create_hosted_zone()
        .name("shop.test.")
        .caller_reference("zone-1")
        .send()
        .await?;
    let id = zone
        .hosted_zone()
        .map(|z| z.id().to_string())
        .unwrap_or_default();
    let mut checks = Vec::new();
    for (i, fqdn) in ["primary.shop.test", "dr.shop.test"].iter().enumerate() {
        let hc = r53
            .create_health_check()
            .caller_reference(format!("hc-{i}"))
            .health_check_config(
                HealthCheckConfig::builder()
                    .r#type(HealthCheckType::Https)
                    .fully_qualified_domain_name(*fqdn)
                    .port(443)
                    .resource_path("/health")
                    .build()?,
            )
            .send()
            .await?;
        checks.push(
            hc.health_check()
                .map(|h| h.id().to_string())
                .unwrap_or_default(),
        );
    }
    Ok(Zone {
        id,
        checks: [checks[0].clone(), checks[1].clone()],
    })
}
