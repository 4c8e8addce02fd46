//! Short-lived, single-use records of login flows: pending authorizations, our own
//! authorization codes, and markers of codes already redeemed.

use std::time::Duration;

use async_trait::async_trait;

use super::PortError;

/// The namespace a flow record lives in. Keys are unique per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowKind {
    /// A pending `/oauth2/authorize` flow, keyed by a digest of our upstream `state`.
    Authorization,
    /// One of our authorization codes, keyed by a digest of the code.
    Code,
    /// A code that was redeemed, keyed by the code's digest; the value names its token family.
    RedeemedCode,
    /// A pending SAML AuthnRequest, keyed by a digest of its RelayState.
    SamlRequest,
    /// A SAML assertion already consumed, keyed by provider and assertion ID (replay guard).
    SamlAssertion,
    /// A SAML LogoutRequest already acted on, keyed by provider and request ID (replay guard).
    SamlLogout,
    /// The subjects behind a SAML NameID when the provider maps subjects from an attribute,
    /// keyed by provider and NameID, for single logout; kept as long as a session may live.
    /// A list (`push_recent` / `recent`), not a single value.
    SamlNameId,
    /// The same record as it was kept before it became a list: one value, a JSON array of
    /// subjects, under the old key. Read only, so sessions from before the change (or from
    /// replicas not yet upgraded) can still be logged out; remove after 2026-12-12, when
    /// the last such record has expired.
    SamlNameIdV1,
}

impl FlowKind {
    /// A short stable name, usable as a key prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowKind::Authorization => "flow",
            FlowKind::Code => "code",
            FlowKind::RedeemedCode => "redeemed",
            FlowKind::SamlRequest => "saml-request",
            FlowKind::SamlAssertion => "saml-assertion",
            FlowKind::SamlLogout => "saml-logout",
            // Renamed from "saml-nameid" when the record became a list: a store holding the
            // old single-value records must not see them under the list's key.
            FlowKind::SamlNameId => "saml-nameid-list",
            FlowKind::SamlNameIdV1 => "saml-nameid",
        }
    }
}

/// A TTL store with take-exactly-once semantics, and short lists of recent members.
#[async_trait]
pub trait FlowStore: Send + Sync + 'static {
    /// Stores `value` under `(kind, key)` for `ttl`. MUST return `AlreadyExists` (and change
    /// nothing) when a live entry already has that key. After `ttl` the entry is gone.
    async fn put(
        &self,
        kind: FlowKind,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<(), PortError>;

    /// Removes and returns the live entry under `(kind, key)`, or `None` when there is none
    /// (never stored, already taken, or expired). Of any number of concurrent calls for the
    /// same key, exactly one receives `Some`.
    async fn take(&self, kind: FlowKind, key: &str) -> Result<Option<Vec<u8>>, PortError>;

    /// Returns the live entry under `(kind, key)` without consuming it, or `None`.
    async fn get(&self, kind: FlowKind, key: &str) -> Result<Option<Vec<u8>>, PortError>;

    /// Puts `member` first in the list under `(kind, key)` (dropping an earlier copy of it),
    /// keeps only the newest `max` members, and makes the whole list live for `ttl` from now.
    /// Atomic: of any number of concurrent calls for one key, none loses another's member
    /// (unless `max` pushes it out), and a concurrent `recent` never sees the list missing.
    /// Lists and single values (`put`/`take`/`get`) must not share a kind.
    async fn push_recent(
        &self,
        kind: FlowKind,
        key: &str,
        member: &str,
        max: usize,
        ttl: Duration,
    ) -> Result<(), PortError>;

    /// The live list under `(kind, key)`, newest first; empty when there is none.
    async fn recent(&self, kind: FlowKind, key: &str) -> Result<Vec<String>, PortError>;
}
