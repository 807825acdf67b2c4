//! In-memory fakes for executor tests and the benchmark: a journal, an actuator over a
//! simulated world with realistic latencies (on tokio's clock, so virtual time works), readiness
//! facts, and a recording notifier.

#![allow(dead_code)]

use async_trait::async_trait;
use pilotlight_core::capability::{Actuator, Notification, Notifier, Observation, ReadinessFacts};
use pilotlight_core::journal::*;
use pilotlight_core::model::*;
use pilotlight_core::plan::Action;
use pilotlight_core::readiness::facts::*;
use pilotlight_core::run::{Event, RunStatus};
use pilotlight_core::{CapabilityError, ErrorClass};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// A journal in memory, with the same contract as the SQLite one.
#[derive(Default)]
pub struct MemJournal {
    inner: Mutex<MemInner>,
    /// Fail every append after this many (simulates a journal that breaks mid-run).
    pub fail_after: Mutex<Option<usize>>,
}

#[derive(Default)]
struct MemInner {
    runs: Vec<RunRecord>,
    events: HashMap<String, Vec<StoredEvent>>,
    decisions: Vec<Decision>,
    health: Vec<HealthEvent>,
    appends: usize,
}

#[async_trait]
impl Journal for MemJournal {
    async fn create_run(&self, run: &RunRecord) -> Result<CreateOutcome, JournalError> {
        let mut g = self.inner.lock().unwrap();
        if let Some(r) = g
            .runs
            .iter()
            .find(|r| r.idempotency_key == run.idempotency_key)
        {
            return Ok(CreateOutcome::Existing(r.clone()));
        }
        if let Some(r) = g
            .runs
            .iter()
            .find(|r| r.environment == run.environment && !r.status.is_final())
        {
            return Err(JournalError::ActiveRunExists {
                environment: r.environment.clone(),
                active: r.id.clone(),
            });
        }
        g.runs.push(run.clone());
        Ok(CreateOutcome::Created(run.clone()))
    }
    async fn append(&self, run_id: &str, event: &Event) -> Result<u64, JournalError> {
        let mut g = self.inner.lock().unwrap();
        if let Some(limit) = *self.fail_after.lock().unwrap() {
            if g.appends >= limit {
                return Err(JournalError::Full {
                    path: "memory".into(),
                    detail: "simulated disk full".into(),
                });
            }
        }
        g.appends += 1;
        let run = g
            .runs
            .iter_mut()
            .find(|r| r.id == run_id)
            .ok_or_else(|| JournalError::NotFound(run_id.into()))?;
        match event {
            Event::RunFinished { status, at_ms } => {
                run.status = *status;
                run.finished_at_ms = Some(*at_ms);
            }
            Event::Paused { .. } => run.status = RunStatus::Paused,
            Event::Resumed { .. } => run.status = RunStatus::Running,
            Event::AbortRequested { .. } => run.status = RunStatus::Aborting,
            _ => {}
        }
        let list = g.events.entry(run_id.to_string()).or_default();
        let seq = list.len() as u64 + 1;
        list.push(StoredEvent {
            seq,
            event: event.clone(),
        });
        Ok(seq)
    }
    async fn events(&self, run_id: &str) -> Result<Vec<StoredEvent>, JournalError> {
        Ok(self
            .inner
            .lock()
            .unwrap()
            .events
            .get(run_id)
            .cloned()
            .unwrap_or_default())
    }
    async fn events_since(
        &self,
        run_id: &str,
        after: u64,
    ) -> Result<Vec<StoredEvent>, JournalError> {
        let g = self.inner.lock().unwrap();
        Ok(g.events
            .get(run_id)
            .map(|l| l[(after as usize).min(l.len())..].to_vec())
            .unwrap_or_default())
    }
    async fn run(&self, run_id: &str) -> Result<RunRecord, JournalError> {
        self.inner
            .lock()
            .unwrap()
            .runs
            .iter()
            .find(|r| r.id == run_id)
            .cloned()
            .ok_or_else(|| JournalError::NotFound(run_id.into()))
    }
    async fn runs(
        &self,
        environment: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, JournalError> {
        let g = self.inner.lock().unwrap();
        Ok(g.runs
            .iter()
            .rev()
            .filter(|r| environment.is_none_or(|e| r.environment == e))
            .take(limit)
            .cloned()
            .collect())
    }
    async fn active_run(&self, environment: &str) -> Result<Option<RunRecord>, JournalError> {
        Ok(self
            .inner
            .lock()
            .unwrap()
            .runs
            .iter()
            .find(|r| r.environment == environment && !r.status.is_final())
            .cloned())
    }
    async fn record_decision(&self, d: &Decision) -> Result<(), JournalError> {
        self.inner.lock().unwrap().decisions.push(d.clone());
        Ok(())
    }
    async fn record_health_event(&self, e: &HealthEvent) -> Result<(), JournalError> {
        self.inner.lock().unwrap().health.push(e.clone());
        Ok(())
    }
    async fn health_events(
        &self,
        environment: &str,
        limit: usize,
    ) -> Result<Vec<HealthEvent>, JournalError> {
        let g = self.inner.lock().unwrap();
        Ok(g.health
            .iter()
            .rev()
            .filter(|e| e.environment == environment)
            .take(limit)
            .cloned()
            .collect())
    }
    async fn decisions(&self, run_id: &str) -> Result<Vec<Decision>, JournalError> {
        Ok(self
            .inner
            .lock()
            .unwrap()
            .decisions
            .iter()
            .filter(|d| d.run_id == run_id)
            .cloned()
            .collect())
    }
}

/// Latencies of the simulated world (realistic figures from numbers.md by default).
#[derive(Debug, Clone)]
pub struct Latencies {
    /// ECS tasks from desired to running.
    pub ecs: Duration,
    /// Instances from desired to in service.
    pub asg: Duration,
    /// RDS promotion.
    pub promote: Duration,
    /// DNS change to INSYNC.
    pub dns: Duration,
    /// One API call.
    pub call: Duration,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            ecs: Duration::from_secs(150),
            asg: Duration::from_secs(180),
            promote: Duration::from_secs(420),
            dns: Duration::from_secs(60),
            call: Duration::from_millis(100),
        }
    }
}

#[derive(Debug, Clone)]
struct Target {
    desired: u32,
    reached_at: Option<Instant>,
    /// Never gets above this many running (partial capacity).
    cap: Option<u32>,
    /// The desired count before the last change.
    prev: u32,
}

/// An actuator over a simulated world.
#[derive(Default)]
pub struct FakeWorld {
    pub lat: Latencies,
    targets: Mutex<HashMap<String, Target>>,
    promoted: Mutex<HashMap<String, Instant>>,
    shifted: Mutex<HashMap<String, Instant>>,
    /// Act calls per action kind.
    pub acts: Mutex<HashMap<String, usize>>,
    /// Observe calls.
    pub observes: AtomicUsize,
    /// Retryable failures to return from the next act calls.
    pub fail_next_acts: AtomicUsize,
    /// Terminal failure for acts on this name.
    pub broken: Mutex<Option<String>>,
    in_flight: AtomicUsize,
    /// Most acts in flight at once.
    pub max_in_flight: AtomicUsize,
    /// Capped capacities by name (partial capacity).
    pub caps: Mutex<HashMap<String, u32>>,
    /// What a traffic shift sends traffic to reports unhealthy.
    pub health_down: Mutex<bool>,
    /// Routers protected from scale-in keep a scale-down from completing until forced.
    pub drain_blocked: Mutex<bool>,
    /// `force` calls.
    pub forces: AtomicUsize,
    /// Weights acted on, in order (gradual shifts and their rollbacks).
    pub weights_sent: Mutex<Vec<u8>>,
}

fn key(a: &Action) -> (String, &'static str) {
    match a {
        Action::ScaleEcs {
            region,
            cluster,
            service,
            ..
        } => (format!("ecs:{region}:{cluster}/{service}"), "scale_ecs"),
        Action::ScaleAutoscaling { region, group, .. } => {
            (format!("asg:{region}:{group}"), "scale_autoscaling")
        }
        Action::PromoteRdsReplica { region, instance } => {
            (format!("rds:{region}:{instance}"), "promote")
        }
        Action::AuroraFailover {
            region,
            target_cluster,
            ..
        } => (format!("aurora:{region}:{target_cluster}"), "aurora"),
        Action::ShiftTraffic {
            record_name,
            to,
            weight,
            ..
        } => (format!("dns:{record_name}:{to:?}:{weight:?}"), "shift"),
        _ => ("other".into(), "other"),
    }
}

fn err(class: ErrorClass, msg: &str) -> CapabilityError {
    CapabilityError {
        class,
        service: "fake".into(),
        region: "fake".into(),
        operation: "Act".into(),
        code: None,
        message: msg.into(),
        hint: "fake".into(),
    }
}

impl FakeWorld {
    /// A world with the given latencies.
    pub fn new(lat: Latencies) -> Self {
        FakeWorld {
            lat,
            ..Default::default()
        }
    }
    /// Number of act calls of `kind`.
    pub fn act_count(&self, kind: &str) -> usize {
        self.acts.lock().unwrap().get(kind).copied().unwrap_or(0)
    }
    /// Total act calls.
    pub fn total_acts(&self) -> usize {
        self.acts.lock().unwrap().values().sum()
    }
    /// Mark an RDS instance as already promoted (its promotion was sent before a crash).
    pub fn promote_now(&self, region: &str, instance: &str) {
        self.promoted
            .lock()
            .unwrap()
            .insert(format!("rds:{region}:{instance}"), Instant::now());
    }
    fn capacity(&self, region: &str, cluster: &str, name: &str) -> u32 {
        let k = if cluster.is_empty() {
            format!("asg:{region}:{name}")
        } else {
            format!("ecs:{region}:{cluster}/{name}")
        };
        let g = self.targets.lock().unwrap();
        match g.get(&k) {
            Some(t) if t.reached_at.is_some_and(|r| Instant::now() >= r) => {
                t.cap.map_or(t.desired, |c| c.min(t.desired))
            }
            _ => 1,
        }
    }
}

#[async_trait]
impl Actuator for FakeWorld {
    async fn observe(&self, a: &Action) -> Result<Observation, CapabilityError> {
        self.observes.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.lat.call).await;
        let (k, _) = key(a);
        let now = Instant::now();
        Ok(match a {
            Action::ScaleEcs { desired, .. } | Action::ScaleAutoscaling { desired, .. } => {
                let g = self.targets.lock().unwrap();
                let t = g.get(&k);
                let running = match t {
                    Some(t) if t.reached_at.is_some_and(|r| now >= r) => {
                        t.cap.map_or(t.desired, |c| c.min(t.desired))
                    }
                    _ => 1,
                };
                let want = t.map_or(1, |t| t.desired);
                let stuck = t.filter(|t| {
                    matches!(a, Action::ScaleAutoscaling { .. })
                        && *self.drain_blocked.lock().unwrap()
                        && t.prev > t.desired
                });
                let running = stuck.map_or(running, |t| t.prev);
                Observation {
                    live: format!("desired {want}, running {running}"),
                    done: stuck.is_none() && want == *desired && running >= *desired,
                    in_progress: false,
                }
            }
            Action::PromoteRdsReplica { .. } | Action::AuroraFailover { .. } => {
                let p = self.promoted.lock().unwrap().get(&k).copied();
                match p {
                    None => Observation {
                        live: "read replica".into(),
                        done: false,
                        in_progress: false,
                    },
                    Some(at) if now >= at => Observation {
                        live: "promoted, available".into(),
                        done: true,
                        in_progress: false,
                    },
                    Some(_) => Observation {
                        live: "promoting (modifying)".into(),
                        done: false,
                        in_progress: true,
                    },
                }
            }
            Action::ShiftTraffic { .. } => {
                let p = self.shifted.lock().unwrap().get(&k).copied();
                Observation {
                    live: if p.is_some() {
                        "changed".into()
                    } else {
                        "primary serves".into()
                    },
                    done: p.is_some_and(|at| now >= at),
                    in_progress: p.is_some(),
                }
            }
            Action::WaitCapacity { targets, fraction } => {
                let mut all = true;
                let mut live = Vec::new();
                for t in targets {
                    let have = self.capacity(&t.region, &t.cluster, &t.name);
                    let need = (f64::from(t.desired) * fraction).ceil() as u32;
                    all &= have >= need;
                    live.push(format!("{} {have}/{}", t.name, t.desired));
                }
                Observation {
                    live: live.join(", "),
                    done: all,
                    in_progress: false,
                }
            }
            _ => Observation {
                live: String::new(),
                done: true,
                in_progress: false,
            },
        })
    }

    async fn act(&self, a: &Action) -> Result<String, CapabilityError> {
        let (k, kind) = key(a);
        let now_in = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now_in, Ordering::SeqCst);
        tokio::time::sleep(self.lat.call).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        *self
            .acts
            .lock()
            .unwrap()
            .entry(kind.to_string())
            .or_default() += 1;
        if self.fail_next_acts.load(Ordering::SeqCst) > 0 {
            self.fail_next_acts.fetch_sub(1, Ordering::SeqCst);
            return Err(err(
                ErrorClass::Retryable,
                "ThrottlingException: Rate exceeded",
            ));
        }
        if self
            .broken
            .lock()
            .unwrap()
            .as_deref()
            .is_some_and(|b| k.contains(b))
        {
            return Err(err(
                ErrorClass::Terminal,
                "InvalidParameterException: broken on purpose",
            ));
        }
        let now = Instant::now();
        match a {
            Action::ScaleEcs {
                desired, service, ..
            }
            | Action::ScaleAutoscaling {
                desired,
                group: service,
                ..
            } => {
                let lat = if kind == "scale_ecs" {
                    self.lat.ecs
                } else {
                    self.lat.asg
                };
                let cap = self.caps.lock().unwrap().get(service).copied();
                let mut targets = self.targets.lock().unwrap();
                let prev = targets.get(&k).map_or(1, |t| t.desired);
                targets.insert(
                    k,
                    Target {
                        desired: *desired,
                        reached_at: Some(now + lat),
                        cap,
                        prev,
                    },
                );
            }
            Action::PromoteRdsReplica { .. } | Action::AuroraFailover { .. } => {
                if self.promoted.lock().unwrap().contains_key(&k) {
                    return Err(err(
                        ErrorClass::Terminal,
                        "InvalidDBInstanceState: not a read replica",
                    ));
                }
                self.promoted
                    .lock()
                    .unwrap()
                    .insert(k, now + self.lat.promote);
            }
            Action::ShiftTraffic { weight, .. } => {
                if let Some(w) = weight {
                    self.weights_sent.lock().unwrap().push(*w);
                }
                self.shifted.lock().unwrap().insert(k, now + self.lat.dns);
            }
            _ => {}
        }
        Ok(format!("{kind} sent"))
    }

    async fn health(&self, _: &Action) -> Result<Observation, CapabilityError> {
        tokio::time::sleep(self.lat.call).await;
        let down = *self.health_down.lock().unwrap();
        Ok(Observation {
            live: if down { "unhealthy" } else { "healthy" }.into(),
            done: !down,
            in_progress: false,
        })
    }

    async fn force(&self, _: &Action) -> Result<String, CapabilityError> {
        self.forces.fetch_add(1, Ordering::SeqCst);
        *self.drain_blocked.lock().unwrap() = false;
        Ok("protection released".into())
    }
}

/// Readiness facts: all ready, with configurable replica lag.
pub struct FakeFacts {
    pub lag_seconds: Mutex<Option<f64>>,
    /// Lag of any replica read by instance (failback gates and the promotion check), once
    /// `lag_script` is used up.
    pub replica_lag: Mutex<Option<f64>>,
    /// Answers of the next lag reads by instance, in order.
    pub lag_script: Mutex<std::collections::VecDeque<Option<f64>>>,
    /// Lag reads by instance.
    pub lag_reads: AtomicUsize,
    pub dr_replica_missing: Mutex<bool>,
    /// Reads of the primary region (us-east-1) fail with this class (a regional outage, or a
    /// credentials problem there); DR reads still answer.
    pub primary_fails: Mutex<Option<ErrorClass>>,
}

impl FakeFacts {
    /// The error of a primary-region read, when the primary fails.
    fn primary_read(&self, service: &str, operation: &str) -> Option<CapabilityError> {
        self.primary_fails
            .lock()
            .unwrap()
            .map(|class| CapabilityError {
                region: "us-east-1".into(),
                service: service.into(),
                operation: operation.into(),
                ..err(class, "Service is unavailable")
            })
    }
}

impl Default for FakeFacts {
    fn default() -> Self {
        FakeFacts {
            lag_seconds: Mutex::new(Some(2.0)),
            replica_lag: Mutex::new(Some(0.0)),
            lag_script: Mutex::new(Default::default()),
            lag_reads: AtomicUsize::new(0),
            dr_replica_missing: Mutex::new(false),
            primary_fails: Mutex::new(None),
        }
    }
}

#[async_trait]
impl ReadinessFacts for FakeFacts {
    async fn dynamodb(&self, _: &DynamoTable) -> Result<DynamoFacts, CapabilityError> {
        if let Some(e) = self.primary_read("dynamodb", "DescribeTable") {
            return Err(e);
        }
        let t = TableState {
            status: "ACTIVE".into(),
            replicas: vec![ReplicaState {
                region: "us-west-2".into(),
                status: "ACTIVE".into(),
            }],
        };
        Ok(DynamoFacts {
            primary: Some(t.clone()),
            dr: Some(t),
            replication_latency_ms: Some(500.0),
        })
    }
    async fn s3(&self, _: &S3BucketPair) -> Result<S3Facts, CapabilityError> {
        unimplemented!("not in fixtures")
    }
    async fn kms(&self, _: &KmsKey) -> Result<KmsFacts, CapabilityError> {
        unimplemented!("not in fixtures")
    }
    async fn rds(&self, db: &RdsReplica) -> Result<RdsFacts, CapabilityError> {
        if let Some(e) = self.primary_read("rds", "DescribeDBInstances") {
            return Err(e);
        }
        let replica = if *self.dr_replica_missing.lock().unwrap() {
            None
        } else {
            Some(DbInstanceState {
                arn: "arn:r".into(),
                status: "available".into(),
                read_replica_source: Some(db.primary_instance.clone()),
            })
        };
        Ok(RdsFacts {
            primary: Some(DbInstanceState {
                arn: "arn:p".into(),
                status: "available".into(),
                read_replica_source: None,
            }),
            replica,
            lag_seconds: *self.lag_seconds.lock().unwrap(),
        })
    }
    async fn aurora(&self, _: &AuroraGlobalCluster) -> Result<AuroraFacts, CapabilityError> {
        unimplemented!("not in fixtures")
    }
    async fn rds_replica_lag(&self, _: &str, _: &str) -> Result<Option<f64>, CapabilityError> {
        self.lag_reads.fetch_add(1, Ordering::SeqCst);
        let mut script = self.lag_script.lock().unwrap();
        if let Some(next) = script.pop_front() {
            return Ok(next);
        }
        Ok(*self.replica_lag.lock().unwrap())
    }
    async fn ecs(&self, s: &EcsService) -> Result<EcsFacts, CapabilityError> {
        Ok(EcsFacts {
            cluster_status: Some("ACTIVE".into()),
            service: Some(ServiceState {
                status: "ACTIVE".into(),
                desired: s.pilot_light_count,
                running: s.pilot_light_count,
                task_definition: "td".into(),
            }),
            task_definition_status: Some("ACTIVE".into()),
        })
    }
    async fn autoscaling(&self, g: &AutoScalingGroup) -> Result<AsgFacts, CapabilityError> {
        Ok(AsgFacts {
            group: Some(GroupState {
                min: 1,
                max: 20,
                desired: g.pilot_light_capacity,
                in_service: g.pilot_light_capacity,
                launch: LaunchSource::Configuration { name: "lc".into() },
            }),
            launch_source_exists: true,
        })
    }
    async fn route53(&self, _: &Route53, r: &DnsRecord) -> Result<Route53Facts, CapabilityError> {
        let weighted = r.routing == Routing::Weighted;
        let set = |f: &str, hc: &str| RecordSetState {
            failover: (!weighted).then(|| f.into()),
            weight: weighted.then_some(if f == "PRIMARY" { 100 } else { 0 }),
            health_check_id: Some(hc.into()),
        };
        let hc = |id: &str| HealthCheckState {
            id: id.into(),
            exists: true,
            observations: 8,
            healthy_observations: 8,
        };
        Ok(Route53Facts {
            zone_exists: true,
            primary: Some(set("PRIMARY", &format!("{}-p", r.name))),
            dr: Some(set("SECONDARY", &format!("{}-d", r.name))),
            health_checks: vec![hc(&format!("{}-p", r.name)), hc(&format!("{}-d", r.name))],
        })
    }
}

/// Records notifications; can be told to fail.
#[derive(Default)]
pub struct RecordingNotifier {
    pub sent: Mutex<Vec<Notification>>,
    pub fail: Mutex<bool>,
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), CapabilityError> {
        if *self.fail.lock().unwrap() {
            return Err(err(ErrorClass::Unreachable, "webhook down"));
        }
        self.sent.lock().unwrap().push(n.clone());
        Ok(())
    }
}
