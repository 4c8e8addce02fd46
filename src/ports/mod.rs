//! Ports: the traits the domain needs from the outside world.
//!
//! Every port is an `#[async_trait]` (or plain) trait that is `Send + Sync + 'static` and is
//! held as `Arc<dyn Port>`. A method's doc comment is its contract: every adapter (memory,
//! Postgres, Redis) must honour each sentence, and the contract suites in `tests/contract`
//! check it. Nothing in this module may import infrastructure crates.

pub mod backoff;
pub mod clock;
pub mod credentials;
pub mod error;
pub mod events;
pub mod families;
pub mod flows;
pub mod groups;
pub mod identity_provider;
pub mod ids;
pub mod keys;
pub mod probe;
pub mod rate_limit;
pub mod revocation;
pub mod saml;
pub mod users;

pub use backoff::{BackoffPolicy, FailureCounter, FailureState};
pub use clock::Clock;
pub use credentials::ClientCredentialRepository;
pub use error::PortError;
pub use events::{AuditEvent, EventSink};
pub use families::RefreshFamilyStore;
pub use flows::{FlowKind, FlowStore};
pub use groups::GroupRepository;
pub use identity_provider::IdentityProvider;
pub use ids::IdGenerator;
pub use keys::KeyStore;
pub use probe::Probe;
pub use rate_limit::{Limit, RateDecision, RateLimiter};
pub use revocation::{RevocationEntry, RevocationList};
pub use saml::SamlProvider;
pub use users::UserRepository;
