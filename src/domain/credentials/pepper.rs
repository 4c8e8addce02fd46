//! The peppers keying client-secret digests. One is current: new secrets are digested under it,
//! and a secret that authenticates under an older pepper is digested again under it. The others
//! only verify the secrets still digested under them, so an operator can replace the pepper
//! without invalidating every credential at once.

use std::fmt;

/// One pepper and the id its digests are stored with.
#[derive(Clone)]
pub struct Pepper {
    id: String,
    key: [u8; 32],
}

impl Pepper {
    /// A pepper known by `id`.
    pub fn new(id: impl Into<String>, key: [u8; 32]) -> Self {
        Self { id: id.into(), key }
    }

    /// Its id, stored beside every digest made under it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key itself.
    pub fn key(&self) -> &[u8; 32] {
        &self.key
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pepper")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The current pepper and the older ones that still verify.
#[derive(Debug, Clone)]
pub struct Peppers {
    current: Pepper,
    previous: Vec<Pepper>,
}

impl Peppers {
    /// `current` digests; `previous` only verify. A previous pepper with the current one's id,
    /// or an id already listed, is dropped.
    pub fn new(current: Pepper, previous: impl IntoIterator<Item = Pepper>) -> Self {
        let mut kept: Vec<Pepper> = Vec::new();
        for pepper in previous {
            if pepper.id != current.id && kept.iter().all(|p| p.id != pepper.id) {
                kept.push(pepper);
            }
        }
        Self {
            current,
            previous: kept,
        }
    }

    /// Only `current`.
    pub fn single(current: Pepper) -> Self {
        Self::new(current, [])
    }

    /// The pepper new digests are made under.
    pub fn current(&self) -> &Pepper {
        &self.current
    }

    /// The pepper with this id, current or previous.
    pub fn find(&self, id: &str) -> Option<&Pepper> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|p| p.id == id)
    }

    /// The ids of the previous peppers.
    pub fn previous_ids(&self) -> impl Iterator<Item = &str> {
        self.previous.iter().map(|p| p.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_current_and_previous_and_drops_duplicates() {
        let peppers = Peppers::new(
            Pepper::new("p-b", [2; 32]),
            [
                Pepper::new("p-a", [1; 32]),
                Pepper::new("p-b", [9; 32]),
                Pepper::new("p-a", [8; 32]),
            ],
        );
        assert_eq!(peppers.current().id(), "p-b");
        assert_eq!(peppers.find("p-b").unwrap().key(), &[2; 32]);
        assert_eq!(peppers.find("p-a").unwrap().key(), &[1; 32]);
        assert!(peppers.find("p-c").is_none());
        assert_eq!(peppers.previous_ids().collect::<Vec<_>>(), ["p-a"]);
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let shown = format!("{:?}", Peppers::single(Pepper::new("p-x", [0xAB; 32])));
        assert!(shown.contains("p-x"));
        assert!(!shown.contains("171"), "{shown}");
    }
}
