//! The emulator: an HTTP proxy on 127.0.0.1 in front of a moto server that adds, on our side,
//! what moto does not emulate (DynamoDB global-table replica metadata, RDS read-replica
//! promotion state, Route 53 health-check status) and injects faults (throttling, server
//! errors, latency, regional outages) under test control.
//!
//! Point the AWS SDK at [`Emulator::endpoint`]; every request is forwarded unchanged to moto
//! unless a fault rule or an emulation layer intervenes. See `docs/emulator.md` for exactly what
//! is and is not emulated, [`control`] for the HTTP control API (`/__emulator/...`), and
//! [`EmulatorControl`] for the Rust handle on the emulation's runtime settings.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pilotlight_testkit::EmulatorError> {
//! use pilotlight_testkit::emulator::{Emulator, FaultAction, FaultRule};
//! let emulator = Emulator::start().await?;
//! emulator.faults().add(
//!     FaultRule::new(FaultAction::Throttle).for_service("dynamodb").with_probability(0.4),
//! )?;
//! // ... run the SDK against emulator.endpoint() ...
//! println!("{:?}", emulator.stats());
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```

mod call;
pub mod control;
mod faults;
mod handle;
mod layers;
mod proxy;
mod responses;
mod stats;
mod upstream;
mod xml;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::moto::{Moto, MotoError};
use layers::global_tables::{DynamoDbGlobalTables, GlobalTables};
use layers::health_checks::{HealthChecks, Route53HealthChecks};
use layers::rds_promotion::{Promotions, RdsPromotion, Settings};
use layers::Layer;
use stats::StatsStore;
use upstream::Upstream;

pub use faults::{FaultAction, FaultController, FaultRule};
pub use handle::{EmulatorControl, EmulatorSettings, Promotion};
pub use layers::global_tables::GLOBAL_TABLE_VERSION;
pub use stats::{FaultCount, ProxyStats, RequestCount, UNKNOWN};

/// Why the emulator could not start or a fault rule was refused.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// moto could not be started.
    #[error(transparent)]
    Moto(#[from] MotoError),
    /// The proxy could not listen on its port.
    #[error("the emulator proxy could not listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for (0: any free port).
        port: u16,
        /// The operating system's answer.
        #[source]
        source: std::io::Error,
    },
    /// A fault rule is invalid (probability outside 0..=1, delay too long, bad JSON).
    #[error("invalid fault rule: {0}")]
    InvalidRule(String),
    /// An emulation setting is invalid (promotion delay over one hour, bad JSON).
    #[error("invalid emulator setting: {0}")]
    InvalidSetting(String),
    /// A background task of the emulator failed.
    #[error("emulator internal error: {0}")]
    Internal(String),
}

impl EmulatorError {
    /// Whether trying again may succeed: moto was merely slow, or the port was busy.
    pub fn is_retryable(&self) -> bool {
        match self {
            EmulatorError::Moto(e) => e.is_retryable(),
            EmulatorError::Bind { source, .. } => source.kind() == std::io::ErrorKind::AddrInUse,
            EmulatorError::InvalidRule(_)
            | EmulatorError::InvalidSetting(_)
            | EmulatorError::Internal(_) => false,
        }
    }
}

/// How to start an [`Emulator`]. `EmulatorOptions { seed: 7, ..Default::default() }`.
#[derive(Debug, Clone, Default)]
pub struct EmulatorOptions {
    /// Seed of the fault rules' random draws (and of moto's generated ids, through
    /// `/moto-api/seed`): the same seed, rules and request sequence give the same faults.
    pub seed: u64,
    /// Port of the proxy on 127.0.0.1; `None` picks a free one.
    pub proxy_port: Option<u16>,
    /// Port of moto on 127.0.0.1; `None` picks a free one.
    pub moto_port: Option<u16>,
    /// Fault rules active from the first request.
    pub rules: Vec<FaultRule>,
    /// How long a promoted RDS read replica shows `modifying` (and keeps its source) before it
    /// is a standalone instance; default zero (promotions complete at once). At most one hour;
    /// changeable later with [`EmulatorControl::set_promotion_delay`].
    pub promotion_delay: Duration,
}

/// State shared by the proxy's handlers.
pub(crate) struct Shared {
    upstream: Upstream,
    faults: FaultController,
    stats: StatsStore,
    layers: Vec<Arc<dyn Layer>>,
    global_tables: Arc<GlobalTables>,
    control: EmulatorControl,
    request_ids: AtomicU64,
    /// DynamoDB requests reach moto one at a time: DynamoDB applies each request atomically,
    /// moto does not (a cancelled `TransactWriteItems` restores a copy of the table, undoing
    /// what concurrent requests wrote meanwhile). Conditional writes still race between calls.
    dynamodb_gate: tokio::sync::Mutex<()>,
}

/// A running moto server and the emulation/fault proxy in front of it. Dropping it stops both;
/// [`Emulator::shutdown`] does so gracefully.
pub struct Emulator {
    moto: Option<Moto>,
    proxy_port: u16,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("endpoint", &self.endpoint())
            .field("moto", &self.moto)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Starts moto on a free port and the proxy on another free port, with seed 0.
    pub async fn start() -> Result<Emulator, EmulatorError> {
        Self::start_with(EmulatorOptions::default()).await
    }

    /// Starts moto on a free port and the proxy on `proxy_port` (the sandbox command's fixed
    /// endpoint).
    pub async fn start_on(proxy_port: u16) -> Result<Emulator, EmulatorError> {
        Self::start_with(EmulatorOptions {
            proxy_port: Some(proxy_port),
            ..EmulatorOptions::default()
        })
        .await
    }

    /// Starts with explicit options.
    pub async fn start_with(options: EmulatorOptions) -> Result<Emulator, EmulatorError> {
        let faults = FaultController::new(options.seed);
        faults.set(options.rules)?;
        handle::validate_promotion_delay(options.promotion_delay)?;
        let wanted = options.proxy_port.unwrap_or(0);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", wanted))
            .await
            .map_err(|source| EmulatorError::Bind {
                port: wanted,
                source,
            })?;
        let proxy_port = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                port: wanted,
                source,
            })?
            .port();
        let moto_port = options.moto_port;
        let moto = tokio::task::spawn_blocking(move || match moto_port {
            Some(port) => Moto::start_on(port),
            None => Moto::start(),
        })
        .await
        .map_err(|e| EmulatorError::Internal(format!("starting moto: {e}")))??;

        let global_tables = Arc::new(GlobalTables::default());
        let control = EmulatorControl {
            settings: Arc::new(Settings::new(options.promotion_delay)),
            promotions: Arc::new(Promotions::default()),
            health_checks: Arc::new(HealthChecks::default()),
            global_tables: global_tables.clone(),
        };
        let layers: Vec<Arc<dyn Layer>> = vec![
            Arc::new(DynamoDbGlobalTables::new(global_tables.clone())),
            Arc::new(RdsPromotion::new(
                control.promotions.clone(),
                control.settings.clone(),
            )),
            Arc::new(Route53HealthChecks::new(control.health_checks.clone())),
            Arc::new(layers::moto_quirks::MotoQuirks),
            Arc::new(layers::ecs_scheduler::EcsScheduler),
        ];
        let shared = Arc::new(Shared {
            upstream: Upstream::new(moto.port()),
            faults,
            stats: StatsStore::default(),
            layers,
            global_tables,
            control,
            request_ids: AtomicU64::new(1),
            dynamodb_gate: tokio::sync::Mutex::new(()),
        });
        seed_moto(&shared.upstream, options.seed).await;

        let router = control::routes()
            .fallback(proxy::proxy)
            .with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "emulator: proxy server stopped");
            }
        });
        tracing::info!(
            proxy = %format!("http://127.0.0.1:{proxy_port}"),
            moto = %moto.endpoint(),
            seed = options.seed,
            promotion_delay_ms = u64::try_from(options.promotion_delay.as_millis()).unwrap_or(u64::MAX),
            "emulator: started"
        );
        Ok(Emulator {
            moto: Some(moto),
            proxy_port,
            shared,
            shutdown: Some(tx),
            server: Some(server),
        })
    }

    /// The endpoint the SDK talks to: `http://127.0.0.1:PROXY_PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.proxy_port)
    }

    /// The proxy's port.
    pub fn proxy_port(&self) -> u16 {
        self.proxy_port
    }

    /// moto's own endpoint, bypassing the proxy (no faults, no emulation): for tests that
    /// break things behind Pilotlight's back.
    pub fn moto_endpoint(&self) -> String {
        self.moto().endpoint()
    }

    /// The moto server (port, pid for `kill -STOP` stalls).
    pub fn moto(&self) -> &Moto {
        self.moto
            .as_ref()
            .expect("moto lives as long as the emulator")
    }

    /// The fault controller (cheap to clone; changes apply to the next request).
    pub fn faults(&self) -> FaultController {
        self.shared.faults.clone()
    }

    /// The handle on the emulation's runtime settings and state: RDS promotion delay and
    /// promotions, Route 53 health-check health (cheap to clone; changes apply to the next
    /// request).
    pub fn control(&self) -> EmulatorControl {
        self.shared.control.clone()
    }

    /// A snapshot of the request and fault counters.
    pub fn stats(&self) -> ProxyStats {
        self.shared.stats.snapshot()
    }

    /// Zeroes the request and fault counters.
    pub fn reset_stats(&self) {
        self.shared.stats.reset();
    }

    /// The emulated DynamoDB global tables: table name -> regions holding a replica.
    pub fn global_tables(&self) -> BTreeMap<String, BTreeSet<String>> {
        self.shared.global_tables.snapshot()
    }

    /// Stops the proxy (waiting up to 5 s for requests in flight) and then moto.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut server) = self.server.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut server)
                .await
                .is_err()
            {
                server.abort();
            }
        }
        if let Some(moto) = self.moto.take() {
            // Killing and reaping the child blocks briefly.
            let _ = tokio::task::spawn_blocking(move || drop(moto)).await;
        }
        tracing::info!(proxy_port = self.proxy_port, "emulator: stopped");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Makes moto's generated ids repeatable (best effort: an old moto without the endpoint is fine).
async fn seed_moto(upstream: &Upstream, seed: u64) {
    let request = upstream
        .uri(&format!("/moto-api/seed?a={seed}"))
        .ok()
        .and_then(|uri| {
            http::Request::post(uri)
                .body(axum::body::Body::empty())
                .ok()
        });
    let Some(request) = request else { return };
    match upstream.send_buffered(request).await {
        Ok(answer) if answer.status.is_success() => {}
        Ok(answer) => tracing::warn!(status = %answer.status, "emulator: moto seed refused"),
        Err(e) => tracing::warn!(error = %e, "emulator: moto seed failed"),
    }
}
