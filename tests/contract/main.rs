//! Port contract suites. Each suite is a set of async functions taking `Arc<dyn Port>` (and a
//! way to move time forward); every adapter of that port must pass it. The memory adapters run
//! here on every `cargo test`; the Postgres and Redis adapters will run the same suites.
//! Also: the layering rule (domain and ports import no infrastructure) and the release link
//! order's toolchain-independent symbol matching.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod backoff;
mod credentials;
mod families;
mod flows;
mod groups;
mod keys;
mod layering;
mod link_order;
mod live;
mod rate_limit;
mod revocation;
mod users;

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use tmi_auth::adapters::memory::ManualClock;

/// Moves an adapter's notion of time forward.
pub type Advance = Arc<dyn Fn(chrono::Duration) + Send + Sync>;

/// A manual clock and an [`Advance`] driving it.
pub fn manual_time() -> (Arc<ManualClock>, Advance) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    ));
    let driver = clock.clone();
    (clock, Arc::new(move |d| driver.advance(d)))
}
