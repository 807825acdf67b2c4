//! The connection to moto: forwards client requests (bodies streamed both ways) and sends the
//! proxy's own requests (the calls of the emulation layers: DynamoDB replicas, RDS and Route 53
//! look-ups).

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Headers that describe one hop of a connection and are never forwarded by a proxy.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes hop-by-hop headers (and those listed in `Connection`).
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    for name in HOP_BY_HOP
        .iter()
        .copied()
        .chain(listed.iter().map(String::as_str))
    {
        headers.remove(name);
    }
}

/// Why a request to moto failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// Connecting, sending or receiving failed.
    #[error("request to moto failed: {0}")]
    Http(String),
    /// The proxy's own request took longer than its timeout.
    #[error("moto did not answer within {0:?}")]
    Timeout(Duration),
}

/// A buffered answer from moto.
#[derive(Debug)]
pub(crate) struct Buffered {
    /// HTTP status.
    pub status: StatusCode,
    /// Body bytes.
    pub body: Bytes,
}

impl Buffered {
    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Timeout of the proxy's own requests to moto (client requests have none: a stalled moto,
/// e.g. under `kill -STOP`, must stall the client like a stalled AWS endpoint would).
const OWN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The HTTP client to one moto server.
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    client: Client<HttpConnector, Body>,
    authority: String,
}

impl Upstream {
    /// A client for moto on `127.0.0.1:port`.
    pub fn new(port: u16) -> Upstream {
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(5))
            .build_http();
        Upstream {
            client,
            authority: format!("127.0.0.1:{port}"),
        }
    }

    /// The URI of `path_and_query` on moto.
    pub fn uri(&self, path_and_query: &str) -> Result<Uri, UpstreamError> {
        format!("http://{}{}", self.authority, path_and_query)
            .parse()
            .map_err(|e: http::uri::InvalidUri| UpstreamError::Http(e.to_string()))
    }

    /// Sends a request as is (its URI must already point at moto) and returns moto's answer
    /// with a streaming body.
    pub async fn send(&self, request: Request<Body>) -> Result<Response<Body>, UpstreamError> {
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| UpstreamError::Http(format!("{e:?}")))?;
        Ok(response.map(Body::new))
    }

    /// Sends a DynamoDB JSON call to moto for `region` (moto reads the region from the
    /// credential scope and does not check the signature) and buffers the answer.
    pub async fn dynamodb(
        &self,
        region: &str,
        operation: &str,
        body: &serde_json::Value,
    ) -> Result<Buffered, UpstreamError> {
        self.signed(
            Method::POST,
            "/",
            "dynamodb",
            region,
            &[
                ("content-type", "application/x-amz-json-1.0"),
                ("x-amz-target", &format!("DynamoDB_20120810.{operation}")),
            ],
            Bytes::from(body.to_string()),
        )
        .await
    }

    /// Sends a query-protocol call (`Action=...&Version=...&Name=value...`, form-encoded) to
    /// moto's `service` in `region` and buffers the answer.
    pub async fn query(
        &self,
        service: &str,
        region: &str,
        params: &[(&str, &str)],
    ) -> Result<Buffered, UpstreamError> {
        let form = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        self.signed(
            Method::POST,
            "/",
            service,
            region,
            &[(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
            Bytes::from(form),
        )
        .await
    }

    /// Sends a request signed (in form only: moto checks no signature) for `service` in
    /// `region`, with extra headers, and buffers the answer.
    pub async fn signed(
        &self,
        method: Method,
        path_and_query: &str,
        service: &str,
        region: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Buffered, UpstreamError> {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=test/20260101/{region}/{service}/aws4_request, \
             SignedHeaders=host, Signature=0"
        );
        let mut builder = Request::builder()
            .method(method)
            .uri(self.uri(path_and_query)?)
            .header(
                header::AUTHORIZATION,
                HeaderValue::from_str(&auth).map_err(|e| UpstreamError::Http(e.to_string()))?,
            );
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Body::from(body))
            .map_err(|e| UpstreamError::Http(e.to_string()))?;
        self.send_buffered(request).await
    }

    /// Sends a request and buffers the whole answer, with [`OWN_REQUEST_TIMEOUT`].
    pub async fn send_buffered(&self, request: Request<Body>) -> Result<Buffered, UpstreamError> {
        let exchange = async {
            let response = self.send(request).await?;
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .map_err(|e| UpstreamError::Http(e.to_string()))?;
            Ok(Buffered { status, body })
        };
        tokio::time::timeout(OWN_REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| UpstreamError::Timeout(OWN_REQUEST_TIMEOUT))?
    }
}
