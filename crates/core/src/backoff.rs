//! Exponential backoff with full jitter, the one backoff formula used by every retry in
//! Pilotlight (AWS calls and step attempts). Pure: the caller supplies the random number.

use std::time::Duration;

/// Delay before retry number `attempt` (1 = the first retry): a uniformly random duration in
/// `[0, min(max, base * 2^(attempt-1))]`, chosen by `unit` in `[0, 1)`.
pub fn full_jitter(base: Duration, max: Duration, attempt: u32, unit: f64) -> Duration {
    let exp = 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
    let cap = (base.as_secs_f64() * exp).min(max.as_secs_f64());
    Duration::from_secs_f64(cap * unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_up_to_the_cap() {
        let b = Duration::from_millis(100);
        let m = Duration::from_secs(2);
        let upper = |a| full_jitter(b, m, a, 1.0);
        assert_eq!(upper(1), Duration::from_millis(100));
        assert_eq!(upper(2), Duration::from_millis(200));
        assert_eq!(upper(4), Duration::from_millis(800));
        assert_eq!(upper(6), Duration::from_secs(2));
        assert_eq!(upper(60), Duration::from_secs(2));
        assert_eq!(full_jitter(b, m, 3, 0.0), Duration::ZERO);
        assert_eq!(full_jitter(b, m, 3, 0.5), Duration::from_millis(200));
    }
}
