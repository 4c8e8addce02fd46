//! Readiness probes: can a backend answer right now?

use async_trait::async_trait;

use super::PortError;

/// A backend that can be asked whether it answers.
#[async_trait]
pub trait Probe: Send + Sync + 'static {
    /// Short name for reports (`postgres`, `redis`).
    fn name(&self) -> &'static str;
    /// `Ok` when the backend answered a trivial request, `Unavailable` otherwise.
    async fn check(&self) -> Result<(), PortError>;
}
