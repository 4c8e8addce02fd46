//! In-memory adapters. They are real adapters, not mocks: demo mode runs on them, so they keep
//! the same uniqueness, TTL and atomicity rules as the Postgres and Redis adapters. Every
//! critical section is one `std::sync::Mutex` lock that is never held across an `.await`.

mod backoff;
mod clock;
mod credentials;
mod families;
mod flows;
mod groups;
mod keys;
mod rate_limit;
mod revocation;
mod users;

pub use backoff::MemoryFailureCounter;
pub use clock::ManualClock;
pub use credentials::MemoryClientCredentialRepository;
pub use families::MemoryRefreshFamilyStore;
pub use flows::MemoryFlowStore;
pub use groups::MemoryGroupRepository;
pub use keys::MemoryKeyStore;
pub use rate_limit::MemoryRateLimiter;
pub use revocation::MemoryRevocationList;
pub use users::MemoryUserRepository;

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, recovering the data if a previous holder panicked (the maps stay valid).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
