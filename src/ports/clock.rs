//! Time as a port, so expiry, TTLs and rotations are deterministic in tests.

use chrono::{DateTime, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant. Successive calls never go backwards for the system clock;
    /// a manual clock returns whatever it was last set to.
    fn now(&self) -> DateTime<Utc>;
}
