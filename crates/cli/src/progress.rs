//! Live progress of a run in the terminal: a spinner per running step and a line per finished
//! step. It tails the journal, so it shows what is durable, nothing more.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use pilotlight_core::journal::Journal;
use pilotlight_core::run::Event;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

/// Follow a run's journal events until the task is aborted, rendering progress on stderr.
pub async fn follow(journal: Arc<dyn Journal>, run_id: String) {
    let tty = std::io::stderr().is_terminal();
    let mp = MultiProgress::new();
    let style = ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let mut bars: HashMap<String, ProgressBar> = HashMap::new();
    let mut started: HashMap<String, u64> = HashMap::new();
    let mut last = 0;
    loop {
        let events = journal
            .events_since(&run_id, last)
            .await
            .unwrap_or_default();
        for e in events {
            last = e.seq;
            let line = |s: String| {
                if tty {
                    let _ = mp.println(s);
                } else {
                    eprintln!("{s}");
                }
            };
            match e.event {
                Event::NodeStarted {
                    node,
                    attempt,
                    at_ms,
                } => {
                    started.entry(node.clone()).or_insert(at_ms);
                    if tty {
                        let bar = bars.entry(node.clone()).or_insert_with(|| {
                            let b = mp.add(ProgressBar::new_spinner());
                            b.set_style(style.clone());
                            b.set_prefix(node.clone());
                            b.enable_steady_tick(Duration::from_millis(120));
                            b
                        });
                        bar.set_message(if attempt > 1 {
                            format!("attempt {attempt}")
                        } else {
                            "running".into()
                        });
                    } else {
                        line(format!(
                            "  … {node} started{}",
                            if attempt > 1 {
                                format!(" (attempt {attempt})")
                            } else {
                                String::new()
                            }
                        ));
                    }
                }
                Event::NodeObserved { node, live, .. } => {
                    if let Some(b) = bars.get(&node) {
                        b.set_message(live);
                    }
                }
                Event::ActionSent { node, detail, .. } => {
                    if let Some(b) = bars.get(&node) {
                        b.set_message(format!("{detail}; verifying"));
                    } else if !tty {
                        line(format!("  → {node}: {detail}"));
                    }
                }
                Event::ApprovalRequested { node, .. } => {
                    line(format!(
                        "  ? {node} waits for approval: pilotlight approve {run_id} {node}"
                    ));
                }
                Event::NodeSucceeded {
                    node,
                    detail,
                    at_ms,
                } => {
                    if let Some(b) = bars.remove(&node) {
                        b.finish_and_clear();
                    }
                    let took = started
                        .get(&node)
                        .map(|s| at_ms.saturating_sub(*s) as f64 / 1000.0)
                        .unwrap_or(0.0);
                    line(format!("  ✔ {node} ({took:.1}s) {detail}"));
                }
                Event::NodeFailed { node, error, at_ms } => {
                    if let Some(b) = bars.remove(&node) {
                        b.finish_and_clear();
                    }
                    let took = started
                        .get(&node)
                        .map(|s| at_ms.saturating_sub(*s) as f64 / 1000.0)
                        .unwrap_or(0.0);
                    line(format!("  ✘ {node} ({took:.1}s) {error}"));
                }
                Event::Paused { by, .. } => line(format!("  ‖ paused by {by}")),
                Event::Resumed { by, .. } => line(format!("  ▶ resumed by {by}")),
                Event::AbortRequested { by, .. } => line(format!("  ■ abort requested by {by}")),
                Event::RunFinished { status, .. } => line(format!("run {}", status.label())),
                Event::Approved { node, by, .. } => line(format!("  ✔ {node} approved by {by}")),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
