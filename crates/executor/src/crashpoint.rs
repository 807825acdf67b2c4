//! Crash points: a testing hook that kills the process with SIGKILL at a named journal point,
//! so the scenario `kill_at_every_journal_point` can prove that a run resumes from any point.
//! Set `PILOTLIGHT_CRASHPOINT=<node id>@<point>` (e.g. `promote-db/db@after_call`). Unset in
//! production: then every check is a cheap comparison against nothing.

use std::sync::OnceLock;

/// The journal points of a node, in the order the executor passes them.
pub const POINTS: [&str; 5] = [
    "before_intent",
    "after_intent",
    "after_call",
    "before_result",
    "after_result",
];

fn configured() -> &'static Option<(String, String)> {
    static CP: OnceLock<Option<(String, String)>> = OnceLock::new();
    CP.get_or_init(|| {
        let v = std::env::var("PILOTLIGHT_CRASHPOINT").ok()?;
        let (node, point) = v.rsplit_once('@')?;
        Some((node.to_string(), point.to_string()))
    })
}

/// Kill the process (SIGKILL, no cleanup, no flush) if `node@point` is the configured crash point.
pub fn hit(node: &str, point: &str) {
    if let Some((n, p)) = configured() {
        if n == node && p == point {
            tracing::warn!(node, point, "crash point reached: killing the process");
            // SAFETY: raising a signal on our own process; SIGKILL cannot be caught.
            unsafe {
                libc::raise(libc::SIGKILL);
            }
        }
    }
}
