//! The real clock and a CSPRNG-backed id generator.

use chrono::{DateTime, Utc};
use rand::RngCore;
use rand::rngs::OsRng;
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

/// Ids and random bytes from the operating system's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandomIds;

impl IdGenerator for OsRandomIds {
    fn uuid(&self) -> Uuid {
        let mut bytes = [0u8; 16];
        OsRng.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    fn fill_random(&self, buf: &mut [u8]) {
        OsRng.fill_bytes(buf);
    }
}
