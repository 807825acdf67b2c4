//! The annual cadence: a passing drill is due again 12 months after the last one.

use crate::store::DrillSummary;

/// Milliseconds in the cadence: 365 days.
pub const CADENCE_MS: u64 = 365 * 24 * 3600 * 1000;

/// When the next drill is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// No passing drill on record: one is due now.
    NeverPassed,
    /// Due at this time (ms since the epoch), in the future.
    At(u64),
    /// Overdue since this time.
    Overdue(u64),
}

/// When the next annual drill of an environment is due, from its drills, at `now_ms`.
pub fn next_due(drills: &[DrillSummary], now_ms: u64) -> Due {
    match drills
        .iter()
        .filter(|d| d.passed)
        .map(|d| d.started_at_ms)
        .max()
    {
        None => Due::NeverPassed,
        Some(last) => {
            let due = last.saturating_add(CADENCE_MS);
            if due <= now_ms {
                Due::Overdue(due)
            } else {
                Due::At(due)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Mode;

    fn d(at: u64, passed: bool) -> DrillSummary {
        DrillSummary {
            id: format!("d{at}"),
            environment: "e".into(),
            mode: Mode::Full,
            started_at_ms: at,
            finished_at_ms: at + 1,
            passed,
            rto_ms: None,
            rpo_ms: None,
        }
    }

    #[test]
    fn due_a_year_after_the_last_passing_drill() {
        assert_eq!(next_due(&[], 5), Due::NeverPassed);
        assert_eq!(next_due(&[d(100, false)], 5), Due::NeverPassed);
        assert_eq!(
            next_due(&[d(100, true), d(200, false)], 300),
            Due::At(100 + CADENCE_MS)
        );
        assert_eq!(
            next_due(&[d(100, true)], 100 + CADENCE_MS + 1),
            Due::Overdue(100 + CADENCE_MS)
        );
    }
}
