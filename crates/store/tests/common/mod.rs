//! Shared helpers of the DynamoDB store tests: one moto per test binary call, the journal and
//! lease tables created with the key schema of `infra/pilotlight.yaml`, clients and a caller
//! pointed at it.

#![allow(dead_code)]

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use pilotlight_aws::{Caller, ClientFactory};
use pilotlight_core::model::AwsSettings;
use pilotlight_store::{DynamoJournal, DynamoLease};
use pilotlight_testkit::Moto;
use std::time::Duration;

/// The region of the store.
pub const REGION: &str = "us-west-2";
/// The journal table.
pub const JOURNAL: &str = "pilotlight-test-journal";
/// The lease table.
pub const LEASE: &str = "pilotlight-test-lease";

/// A moto with the two tables, and what talks to it.
pub struct Store {
    /// The emulator; stopped when dropped.
    pub moto: Moto,
    /// The DynamoDB client.
    pub client: aws_sdk_dynamodb::Client,
    /// The caller every store call goes through.
    pub caller: Caller,
}

impl Store {
    /// An unfenced journal.
    pub fn journal(&self) -> DynamoJournal {
        DynamoJournal::new(self.client.clone(), self.caller.clone(), REGION, JOURNAL)
    }

    /// A lease of `environment` (one per contender: each remembers what it saw).
    pub fn lease(&self, environment: &str, duration: Duration) -> DynamoLease {
        DynamoLease::new(
            self.client.clone(),
            self.caller.clone(),
            REGION,
            LEASE,
            environment,
            duration,
        )
    }
}

/// Starts moto behind a request-serializing proxy and creates both tables.
pub async fn store() -> Store {
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let moto = tokio::task::spawn_blocking(Moto::start)
        .await
        .expect("join")
        .expect("start moto");
    let endpoint = serializing_proxy(moto.port()).await;
    let settings = AwsSettings {
        endpoint: Some(endpoint),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(10),
        max_attempts: 3,
        requests_per_second: 1000.0,
        ..AwsSettings::default()
    };
    let factory = ClientFactory::new(settings);
    let client = factory.dynamodb(REGION).await;
    let caller = Caller::from_factory(&factory);
    create_table(
        &client,
        JOURNAL,
        &[
            ("run_id", ScalarAttributeType::S),
            ("seq", ScalarAttributeType::N),
        ],
    )
    .await;
    create_table(&client, LEASE, &[("environment", ScalarAttributeType::S)]).await;
    Store {
        moto,
        client,
        caller,
    }
}

async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    keys: &[(&str, ScalarAttributeType)],
) {
    let mut req = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for (i, (attr, ty)) in keys.iter().enumerate() {
        req = req
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(*attr)
                    .attribute_type(ty.clone())
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(*attr)
                    .key_type(if i == 0 {
                        KeyType::Hash
                    } else {
                        KeyType::Range
                    })
                    .build()
                    .unwrap(),
            );
    }
    req.send().await.expect("create table");
}

/// A loopback HTTP/1.1 proxy in front of moto that hands it one request at a time, and returns
/// its endpoint.
///
/// Why: moto's server is threaded and its DynamoDB backend is not atomic under concurrency (a
/// `TransactWriteItems` deep-copies the table and, when cancelled, restores the copy, undoing
/// writes other threads made meanwhile). DynamoDB applies each request atomically; serializing
/// requests gives moto that property. The store's own concurrency (conditional writes deciding
/// between concurrent writers) is still exercised: requests interleave freely between calls.
pub async fn serializing_proxy(moto_port: u16) -> String {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// Reads one HTTP message (head and a `Content-Length` body; without one, up to EOF when
    /// `to_eof`). `None` at a clean EOF before any byte.
    async fn read_message(s: &mut TcpStream, to_eof: bool) -> std::io::Result<Option<Vec<u8>>> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16384];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let k = s.read(&mut chunk).await?;
            if k == 0 {
                return if buf.is_empty() {
                    Ok(None)
                } else {
                    Err(std::io::ErrorKind::UnexpectedEof.into())
                };
            }
            buf.extend_from_slice(&chunk[..k]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        match length {
            Some(len) => {
                while buf.len() < head_end + len {
                    let k = s.read(&mut chunk).await?;
                    if k == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                    buf.extend_from_slice(&chunk[..k]);
                }
            }
            None if to_eof => {
                s.read_to_end(&mut buf).await?;
            }
            None => {}
        }
        Ok(Some(buf))
    }

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let port = listener.local_addr().expect("addr").port();
    let gate = Arc::new(tokio::sync::Mutex::new(()));
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let gate = gate.clone();
            tokio::spawn(async move {
                while let Ok(Some(request)) = read_message(&mut client, false).await {
                    let response = {
                        let _one_at_a_time = gate.lock().await;
                        let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", moto_port)).await
                        else {
                            return;
                        };
                        if upstream.write_all(&request).await.is_err() {
                            return;
                        }
                        match read_message(&mut upstream, true).await {
                            Ok(Some(r)) => r,
                            _ => return,
                        }
                    };
                    if client.write_all(&response).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}
