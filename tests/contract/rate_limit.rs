//! `RateLimiter` contract.

use std::sync::Arc;
use std::time::Duration;

use tmi_auth::adapters::memory::MemoryRateLimiter;
use tmi_auth::adapters::redis::RedisRateLimiter;
use tmi_auth::ports::{Limit, RateLimiter};

use crate::{Advance, manual_time};

const LIMIT: Limit = Limit {
    limit: 2,
    window: Duration::from_millis(1000),
};

pub async fn bursts_are_capped_and_capacity_returns(
    limiter: Arc<dyn RateLimiter>,
    advance: Advance,
) {
    let first = limiter.hit("k", LIMIT).await.unwrap();
    assert!(first.allowed);
    assert_eq!((first.limit, first.remaining), (2, 1));
    assert!(limiter.hit("k", LIMIT).await.unwrap().allowed);
    let denied = limiter.hit("k", LIMIT).await.unwrap();
    assert!(!denied.allowed);
    assert!(!denied.retry_after.is_zero() && denied.retry_after <= Duration::from_millis(500));
    assert!(
        limiter.hit("other", LIMIT).await.unwrap().allowed,
        "keys are independent"
    );
    advance(chrono::Duration::milliseconds(600));
    assert!(
        limiter.hit("k", LIMIT).await.unwrap().allowed,
        "one slot back after half a window"
    );
    assert!(!limiter.hit("k", LIMIT).await.unwrap().allowed);
}

#[tokio::test]
async fn memory_rate_limiter_honours_the_contract() {
    let (clock, advance) = manual_time();
    bursts_are_capped_and_capacity_returns(Arc::new(MemoryRateLimiter::new(clock)), advance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_rate_limiter_honours_the_contract() {
    let Some(redis) = crate::live::redis("rate limits").await else {
        return;
    };
    bursts_are_capped_and_capacity_returns(
        Arc::new(RedisRateLimiter::new(redis.handle.clone())),
        crate::live::real_time(),
    )
    .await;
    redis.cleanup().await;
}
