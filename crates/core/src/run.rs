//! The run and step state machine. A run's state is a pure fold of journal events over its plan:
//! [`RunState::apply`] takes an event and returns the new state, [`RunState::ready`] says which
//! nodes may start, [`RunState::outcome`] says how the run ended. The executor persists each
//! event before acting on it, so replaying the journal rebuilds exactly this state after a crash.

use crate::plan::Plan;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Status of one plan node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Not started.
    Pending,
    /// Intent recorded; acting or verifying.
    Running,
    /// Waiting for a person's approval.
    AwaitingApproval,
    /// Verified done.
    Succeeded,
    /// Gave up (after retries, on timeout, or refused by a gate).
    Failed,
    /// Never started: a dependency failed, or the run was aborted.
    Skipped,
}

impl NodeStatus {
    /// Whether the node will not change any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            NodeStatus::Succeeded | NodeStatus::Failed | NodeStatus::Skipped
        )
    }
}

/// Status of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Acting.
    Running,
    /// No new step starts until resumed; running steps finish.
    Paused,
    /// Abort requested; running steps finish, nothing new starts.
    Aborting,
    /// Every step succeeded.
    Succeeded,
    /// Finished with some steps failed or skipped, after acting.
    Degraded,
    /// Failed before changing anything that matters (a gate refused), or every action failed.
    Failed,
    /// Aborted by an operator.
    Aborted,
}

impl RunStatus {
    /// Whether the run has ended.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Degraded | RunStatus::Failed | RunStatus::Aborted
        )
    }
    /// Lower-case label.
    pub fn label(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Paused => "paused",
            RunStatus::Aborting => "aborting",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Degraded => "degraded",
            RunStatus::Failed => "failed",
            RunStatus::Aborted => "aborted",
        }
    }
}

/// Something that happened to a run, as recorded in the journal. Times are milliseconds since
/// the Unix epoch, supplied by the executor (the core reads no clock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Intent: the node is about to act (attempt counts from 1).
    NodeStarted {
        /// Node id.
        node: String,
        /// Attempt number.
        attempt: u32,
        /// When.
        at_ms: u64,
    },
    /// The node's live state was read before acting.
    NodeObserved {
        /// Node id.
        node: String,
        /// The live value.
        live: String,
        /// When.
        at_ms: u64,
    },
    /// The node's side-effecting call was sent and accepted.
    ActionSent {
        /// Node id.
        node: String,
        /// What was sent.
        detail: String,
        /// When.
        at_ms: u64,
    },
    /// Verified done.
    NodeSucceeded {
        /// Node id.
        node: String,
        /// Verified live value.
        detail: String,
        /// When.
        at_ms: u64,
    },
    /// Gave up.
    NodeFailed {
        /// Node id.
        node: String,
        /// Why, and what to do.
        error: String,
        /// When.
        at_ms: u64,
    },
    /// Waiting for approval.
    ApprovalRequested {
        /// Node id.
        node: String,
        /// When.
        at_ms: u64,
    },
    /// A person approved.
    Approved {
        /// Node id.
        node: String,
        /// Who.
        by: String,
        /// When.
        at_ms: u64,
    },
    /// An operator paused the run.
    Paused {
        /// Who.
        by: String,
        /// When.
        at_ms: u64,
    },
    /// An operator resumed the run (also recorded when a process resumes it after a crash).
    Resumed {
        /// Who.
        by: String,
        /// When.
        at_ms: u64,
    },
    /// An operator asked to abort.
    AbortRequested {
        /// Who.
        by: String,
        /// When.
        at_ms: u64,
    },
    /// The run ended.
    RunFinished {
        /// Final status.
        status: RunStatus,
        /// When.
        at_ms: u64,
    },
}

/// A node's state within a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeState {
    /// Status.
    pub status: NodeStatus,
    /// Attempts started.
    pub attempts: u32,
    /// Whether the side-effecting call was recorded as sent (never resend one-shot actions).
    pub action_sent: bool,
    /// When it first started.
    pub started_at_ms: Option<u64>,
    /// When it ended.
    pub finished_at_ms: Option<u64>,
    /// Last live value read.
    pub live: Option<String>,
    /// Result or error text.
    pub message: Option<String>,
    /// Who approved (manual approval nodes).
    pub approved_by: Option<String>,
}

/// A transition the state machine refuses: the journal and the plan disagree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid transition for run: {0}; the journal does not match the plan (inspect it with `pilotlight runs show`)")]
pub struct TransitionError(pub String);

/// The state of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Run status.
    pub status: RunStatus,
    /// Node states by id.
    pub nodes: BTreeMap<String, NodeState>,
    /// Whether an abort was requested at some point.
    pub abort_requested: bool,
}

impl RunState {
    /// The initial state of a run of `plan`.
    pub fn new(plan: &Plan) -> Self {
        let nodes = plan
            .nodes
            .iter()
            .map(|n| {
                (
                    n.id.clone(),
                    NodeState {
                        status: NodeStatus::Pending,
                        attempts: 0,
                        action_sent: false,
                        started_at_ms: None,
                        finished_at_ms: None,
                        live: None,
                        message: None,
                        approved_by: None,
                    },
                )
            })
            .collect();
        RunState {
            status: RunStatus::Running,
            nodes,
            abort_requested: false,
        }
    }

    /// Rebuild a run's state from its journal events.
    pub fn replay<'a>(
        plan: &Plan,
        events: impl IntoIterator<Item = &'a Event>,
    ) -> Result<Self, TransitionError> {
        let mut s = RunState::new(plan);
        for e in events {
            s.apply(plan, e)?;
        }
        Ok(s)
    }

    fn node_mut(&mut self, id: &str) -> Result<&mut NodeState, TransitionError> {
        self.nodes
            .get_mut(id)
            .ok_or_else(|| TransitionError(format!("unknown node `{id}`")))
    }

    /// Apply one event. Refuses transitions that cannot happen (e.g. a finished node starting).
    pub fn apply(&mut self, plan: &Plan, event: &Event) -> Result<(), TransitionError> {
        if self.status.is_final() && !matches!(event, Event::RunFinished { .. }) {
            return Err(TransitionError(format!(
                "run already {}",
                self.status.label()
            )));
        }
        match event {
            Event::NodeStarted {
                node,
                attempt,
                at_ms,
            } => {
                let n = self.node_mut(node)?;
                if n.status.is_final() {
                    return Err(TransitionError(format!(
                        "node `{node}` already {:?}",
                        n.status
                    )));
                }
                n.status = NodeStatus::Running;
                n.attempts = (*attempt).max(n.attempts);
                n.started_at_ms.get_or_insert(*at_ms);
            }
            Event::NodeObserved { node, live, .. } => {
                self.node_mut(node)?.live = Some(live.clone());
            }
            Event::ActionSent { node, .. } => {
                let n = self.node_mut(node)?;
                if n.status != NodeStatus::Running {
                    return Err(TransitionError(format!(
                        "node `{node}` sent an action while {:?}",
                        n.status
                    )));
                }
                n.action_sent = true;
            }
            Event::NodeSucceeded {
                node,
                detail,
                at_ms,
            } => {
                let n = self.node_mut(node)?;
                if n.status.is_final() {
                    return Err(TransitionError(format!(
                        "node `{node}` already {:?}",
                        n.status
                    )));
                }
                n.status = NodeStatus::Succeeded;
                n.finished_at_ms = Some(*at_ms);
                n.message = Some(detail.clone());
                n.live = Some(detail.clone());
            }
            Event::NodeFailed { node, error, at_ms } => {
                let n = self.node_mut(node)?;
                if n.status.is_final() {
                    return Err(TransitionError(format!(
                        "node `{node}` already {:?}",
                        n.status
                    )));
                }
                n.status = NodeStatus::Failed;
                n.finished_at_ms = Some(*at_ms);
                n.message = Some(error.clone());
                let optional = plan.node(node).map(|p| p.optional).unwrap_or(false);
                if !optional {
                    self.skip_dependants(plan, node, *at_ms);
                }
            }
            Event::ApprovalRequested { node, at_ms } => {
                let n = self.node_mut(node)?;
                n.status = NodeStatus::AwaitingApproval;
                n.started_at_ms.get_or_insert(*at_ms);
            }
            Event::Approved { node, by, .. } => {
                let n = self.node_mut(node)?;
                n.approved_by = Some(by.clone());
            }
            Event::Paused { .. } => {
                if self.status == RunStatus::Running {
                    self.status = RunStatus::Paused;
                }
            }
            Event::Resumed { .. } => {
                if self.status == RunStatus::Paused {
                    self.status = RunStatus::Running;
                }
            }
            Event::AbortRequested { at_ms, .. } => {
                self.abort_requested = true;
                self.status = RunStatus::Aborting;
                for n in self.nodes.values_mut() {
                    if matches!(n.status, NodeStatus::Pending | NodeStatus::AwaitingApproval) {
                        n.status = NodeStatus::Skipped;
                        n.finished_at_ms = Some(*at_ms);
                        n.message = Some("aborted by an operator".into());
                    }
                }
            }
            Event::RunFinished { status, .. } => {
                self.status = *status;
            }
        }
        Ok(())
    }

    fn skip_dependants(&mut self, plan: &Plan, failed: &str, at_ms: u64) {
        let mut blocked: BTreeSet<String> = BTreeSet::from([failed.to_string()]);
        // Plan nodes are topologically ordered, so one pass reaches every transitive dependant.
        for p in &plan.nodes {
            if p.depends_on.iter().any(|d| blocked.contains(d)) {
                if let Some(n) = self.nodes.get_mut(&p.id) {
                    if n.status == NodeStatus::Pending {
                        n.status = NodeStatus::Skipped;
                        n.finished_at_ms = Some(at_ms);
                        n.message = Some(format!("not started: `{failed}` failed"));
                        blocked.insert(p.id.clone());
                    }
                }
            }
        }
    }

    /// Nodes interrupted mid-flight (intent recorded, no result): on resume they are re-entered,
    /// reading live state before acting.
    pub fn interrupted(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| matches!(n.status, NodeStatus::Running | NodeStatus::AwaitingApproval))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Pending nodes whose dependencies all succeeded (or failed optionally), in plan order,
    /// limited so that at most `plan.max_parallel` nodes are in flight. Empty unless running.
    pub fn ready(&self, plan: &Plan) -> Vec<String> {
        if self.status != RunStatus::Running {
            return Vec::new();
        }
        let in_flight = self
            .nodes
            .values()
            .filter(|n| matches!(n.status, NodeStatus::Running | NodeStatus::AwaitingApproval))
            .count();
        let room = plan.max_parallel.saturating_sub(in_flight);
        plan.nodes
            .iter()
            .filter(|p| self.nodes.get(&p.id).map(|n| n.status) == Some(NodeStatus::Pending))
            .filter(|p| {
                p.depends_on.iter().all(|d| {
                    let dn = self.nodes.get(d).map(|n| n.status);
                    dn == Some(NodeStatus::Succeeded)
                        || (dn == Some(NodeStatus::Failed)
                            && plan.node(d).map(|x| x.optional).unwrap_or(false))
                })
            })
            .take(room)
            .map(|p| p.id.clone())
            .collect()
    }

    /// How the run ended, once no node can change any more; `None` while work remains.
    pub fn outcome(&self, plan: &Plan) -> Option<RunStatus> {
        if self.nodes.values().any(|n| !n.status.is_final()) {
            // Pending nodes that can never become ready (a dependency failed) were skipped on
            // failure, so anything non-final here is still runnable or in flight.
            return None;
        }
        if self.abort_requested {
            return Some(RunStatus::Aborted);
        }
        let failed: Vec<&str> = self
            .nodes
            .iter()
            .filter(|(_, n)| matches!(n.status, NodeStatus::Failed | NodeStatus::Skipped))
            .map(|(id, _)| id.as_str())
            .collect();
        if failed.is_empty() {
            return Some(RunStatus::Succeeded);
        }
        let acted = plan.nodes.iter().any(|p| {
            !p.kind.is_gate()
                && self
                    .nodes
                    .get(&p.id)
                    .map(|n| n.status == NodeStatus::Succeeded && n.action_sent)
                    .unwrap_or(false)
        });
        let only_optional = failed.iter().all(|id| {
            plan.node(id).map(|p| p.optional).unwrap_or(false)
                && self
                    .nodes
                    .get(*id)
                    .map(|n| n.status == NodeStatus::Failed)
                    .unwrap_or(false)
        });
        if only_optional {
            return Some(RunStatus::Degraded);
        }
        Some(if acted {
            RunStatus::Degraded
        } else {
            RunStatus::Failed
        })
    }
}
