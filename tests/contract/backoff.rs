//! `FailureCounter` contract.

use std::sync::Arc;
use std::time::Duration;

use tmi_auth::adapters::memory::MemoryFailureCounter;
use tmi_auth::adapters::redis::RedisFailureCounter;
use tmi_auth::ports::{BackoffPolicy, FailureCounter};

use crate::{Advance, manual_time};

const POLICY: BackoffPolicy = BackoffPolicy {
    threshold: 3,
    window: Duration::from_secs(3),
    base_lock: Duration::from_millis(1000),
    max_lock: Duration::from_millis(2500),
};

pub async fn failures_count_up_and_lock_at_the_threshold(counter: Arc<dyn FailureCounter>) {
    assert_eq!(counter.peek("k").await.unwrap(), None);
    for expected in 1..=2 {
        let state = counter.record_failure("k", &POLICY).await.unwrap();
        assert_eq!(state.count, expected);
        assert!(state.locked_for.is_zero());
    }
    let state = counter.record_failure("k", &POLICY).await.unwrap();
    assert_eq!(state.count, 3);
    assert_eq!(state.locked_for, Duration::from_millis(1000));
    let state = counter.record_failure("k", &POLICY).await.unwrap();
    assert_eq!(state.locked_for, Duration::from_millis(2000));
    let state = counter.record_failure("k", &POLICY).await.unwrap();
    assert_eq!(state.locked_for, Duration::from_millis(2500), "capped");
    assert_eq!(counter.peek("k").await.unwrap().unwrap().count, 5);
    assert_eq!(counter.peek("other").await.unwrap(), None);
    counter.reset("k").await.unwrap();
    assert_eq!(counter.peek("k").await.unwrap(), None);
}

pub async fn locks_lift_and_counters_are_forgotten(
    counter: Arc<dyn FailureCounter>,
    advance: Advance,
) {
    for _ in 0..3 {
        counter.record_failure("j", &POLICY).await.unwrap();
    }
    advance(chrono::Duration::milliseconds(1100));
    let state = counter.peek("j").await.unwrap().unwrap();
    assert!(state.locked_for.is_zero(), "the lock lifted");
    assert_eq!(
        state.count, 3,
        "but the count is remembered within the window"
    );
    advance(chrono::Duration::milliseconds(3000));
    assert_eq!(counter.peek("j").await.unwrap(), None);
    assert_eq!(counter.record_failure("j", &POLICY).await.unwrap().count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_failure_counter_honours_the_contract() {
    let Some(redis) = crate::live::redis("backoff").await else {
        return;
    };
    let counter: Arc<dyn FailureCounter> = Arc::new(RedisFailureCounter::new(redis.handle.clone()));
    failures_count_up_and_lock_at_the_threshold(counter.clone()).await;
    locks_lift_and_counters_are_forgotten(counter, crate::live::real_time()).await;
    redis.cleanup().await;
}

#[tokio::test]
async fn memory_failure_counter_honours_the_contract() {
    let (clock, advance) = manual_time();
    failures_count_up_and_lock_at_the_threshold(Arc::new(MemoryFailureCounter::new(clock.clone())))
        .await;
    locks_lift_and_counters_are_forgotten(Arc::new(MemoryFailureCounter::new(clock)), advance)
        .await;
}
