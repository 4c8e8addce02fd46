//! The real clock and a CSPRNG-backed id generator.

use chrono::{DateTime, Utc};
use rand::RngCore;
use uuid::Uuid;

use crate::ports::{Clock, IdGenerator};

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Ids and random bytes from a cryptographically secure generator: the thread-local ChaCha
/// generator of `rand`, seeded from the operating system and reseeded periodically (no system
/// call per token on the hot path).
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn uuid(&self) -> Uuid {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    fn fill_random(&self, buf: &mut [u8]) {
        rand::thread_rng().fill_bytes(buf);
    }
}
