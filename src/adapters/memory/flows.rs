//! In-memory flow store with TTLs measured on the injected clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::lock;
use crate::ports::{Clock, FlowKind, FlowStore, PortError};

/// Most entries kept at once; a full store refuses new flows rather than growing unbounded.
const MAX_ENTRIES: usize = 1_000_000;
/// Smallest size at which expired entries are swept.
const MIN_SWEEP: usize = 4096;

struct Entry {
    value: Vec<u8>,
    expires_at: DateTime<Utc>,
}

struct List {
    /// Newest first.
    members: Vec<String>,
    expires_at: DateTime<Utc>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<(FlowKind, String), Entry>,
    lists: HashMap<(FlowKind, String), List>,
    /// Size at which the next sweep of expired entries happens (doubles after each sweep, so
    /// sweeping stays amortised O(1) per write).
    next_sweep: usize,
}

/// Flow records in a map, expired lazily and swept on writes.
pub struct MemoryFlowStore {
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

impl MemoryFlowStore {
    /// An empty store using `clock` for expiry.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                lists: HashMap::new(),
                next_sweep: MIN_SWEEP,
            }),
        }
    }
}

#[async_trait]
impl FlowStore for MemoryFlowStore {
    async fn put(
        &self,
        kind: FlowKind,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<(), PortError> {
        let now = self.clock.now();
        let ttl =
            chrono::Duration::from_std(ttl).map_err(|e| PortError::Unexpected(e.to_string()))?;
        let mut inner = lock(&self.inner);
        inner.make_room(now)?;
        let entries = &mut inner.entries;
        let id = (kind, key.to_owned());
        if entries.get(&id).is_some_and(|e| e.expires_at > now) {
            return Err(PortError::AlreadyExists);
        }
        entries.insert(
            id,
            Entry {
                value,
                expires_at: now + ttl,
            },
        );
        Ok(())
    }

    async fn take(&self, kind: FlowKind, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        let now = self.clock.now();
        let entry = lock(&self.inner).entries.remove(&(kind, key.to_owned()));
        Ok(entry.filter(|e| e.expires_at > now).map(|e| e.value))
    }

    async fn get(&self, kind: FlowKind, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        let now = self.clock.now();
        let inner = lock(&self.inner);
        Ok(inner
            .entries
            .get(&(kind, key.to_owned()))
            .filter(|e| e.expires_at > now)
            .map(|e| e.value.clone()))
    }

    async fn push_recent(
        &self,
        kind: FlowKind,
        key: &str,
        member: &str,
        max: usize,
        ttl: Duration,
    ) -> Result<(), PortError> {
        if max == 0 {
            return Ok(());
        }
        let now = self.clock.now();
        let ttl =
            chrono::Duration::from_std(ttl).map_err(|e| PortError::Unexpected(e.to_string()))?;
        let mut inner = lock(&self.inner);
        inner.make_room(now)?;
        let list = inner
            .lists
            .entry((kind, key.to_owned()))
            .or_insert_with(|| List {
                members: Vec::new(),
                expires_at: now,
            });
        if list.expires_at <= now {
            list.members.clear();
        }
        list.members.retain(|m| m != member);
        list.members.insert(0, member.to_owned());
        list.members.truncate(max);
        list.expires_at = now + ttl;
        Ok(())
    }

    async fn recent(&self, kind: FlowKind, key: &str) -> Result<Vec<String>, PortError> {
        let now = self.clock.now();
        let inner = lock(&self.inner);
        Ok(inner
            .lists
            .get(&(kind, key.to_owned()))
            .filter(|l| l.expires_at > now)
            .map(|l| l.members.clone())
            .unwrap_or_default())
    }
}

impl Inner {
    /// Sweeps expired records when the store has grown enough since the last sweep, and
    /// refuses a new record when it is full.
    fn make_room(&mut self, now: DateTime<Utc>) -> Result<(), PortError> {
        let size = self.entries.len() + self.lists.len();
        if size >= self.next_sweep {
            self.entries.retain(|_, e| e.expires_at > now);
            self.lists.retain(|_, l| l.expires_at > now);
            self.next_sweep = ((self.entries.len() + self.lists.len()) * 2).max(MIN_SWEEP);
        }
        if self.entries.len() + self.lists.len() >= MAX_ENTRIES {
            return Err(PortError::Unavailable("flow store is full".into()));
        }
        Ok(())
    }
}
