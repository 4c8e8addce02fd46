//! Identifiers and randomness as a port: the domain never calls a random generator itself.

use uuid::Uuid;

/// A source of fresh identifiers and cryptographically secure random bytes.
pub trait IdGenerator: Send + Sync + 'static {
    /// A new random (version 4) UUID, never returned before.
    fn uuid(&self) -> Uuid;
    /// Fills `buf` with bytes from a cryptographically secure generator.
    fn fill_random(&self, buf: &mut [u8]);
}
