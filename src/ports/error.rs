//! The semantic error every port returns. Adapters translate their driver errors into these
//! variants inside the adapter; the domain never sees a driver error.

/// What went wrong in a port call, in terms the domain can act on.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The addressed record does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule would be broken by the write.
    #[error("already exists")]
    AlreadyExists,
    /// The write lost a race or broke another integrity rule.
    #[error("conflict")]
    Conflict,
    /// The backend cannot be reached right now; the caller may retry later.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// Anything else; the text is for logs only.
    #[error("unexpected backend error: {0}")]
    Unexpected(String),
}
