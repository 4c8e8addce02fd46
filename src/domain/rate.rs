//! The generic cell rate algorithm (GCRA), as a pure function on millisecond timestamps, so the
//! memory adapter and the Redis script compute exactly the same decisions.

use std::time::Duration;

use crate::ports::{Limit, RateDecision};

/// Decides one request. `tat` is the stored "theoretical arrival time" (ms), `None` when there
/// is none. Returns the decision and the new TAT to store (unchanged when denied).
pub fn gcra(tat: Option<i64>, now: i64, limit: Limit) -> (RateDecision, i64) {
    let window = i64::try_from(limit.window.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    let count = i64::from(limit.limit.max(1));
    let interval = (window / count).max(1);
    let tat = tat.unwrap_or(now).max(now);
    let new_tat = tat + interval;
    let allow_at = new_tat - window;
    let ms = |v: i64| Duration::from_millis(u64::try_from(v.max(0)).unwrap_or(0));
    if now < allow_at {
        let decision = RateDecision {
            allowed: false,
            limit: limit.limit,
            remaining: 0,
            reset_after: ms(tat - now),
            retry_after: ms(allow_at - now),
        };
        return (decision, tat);
    }
    let remaining = u32::try_from((window - (new_tat - now)) / interval).unwrap_or(0);
    let decision = RateDecision {
        allowed: true,
        limit: limit.limit,
        remaining,
        reset_after: ms(new_tat - now),
        retry_after: Duration::ZERO,
    };
    (decision, new_tat)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Limit = Limit {
        limit: 3,
        window: Duration::from_secs(3),
    };

    #[test]
    fn allows_a_burst_up_to_the_limit_then_denies() {
        let mut tat = None;
        for remaining in [2, 1, 0] {
            let (d, t) = gcra(tat, 0, LIMIT);
            assert!(d.allowed);
            assert_eq!(d.remaining, remaining);
            tat = Some(t);
        }
        let (d, t) = gcra(tat, 0, LIMIT);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Duration::from_secs(1));
        assert_eq!(Some(t), tat, "a denied request consumes nothing");
    }

    #[test]
    fn capacity_comes_back_over_time() {
        let mut tat = None;
        for _ in 0..3 {
            tat = Some(gcra(tat, 0, LIMIT).1);
        }
        assert!(!gcra(tat, 999, LIMIT).0.allowed);
        let (d, t) = gcra(tat, 1000, LIMIT);
        assert!(d.allowed, "one request per second comes back");
        assert!(!gcra(Some(t), 1000, LIMIT).0.allowed);
        let (d, _) = gcra(Some(t), 10_000, LIMIT);
        assert!(d.allowed);
        assert_eq!(d.remaining, 2, "fully replenished after a quiet window");
    }
}
