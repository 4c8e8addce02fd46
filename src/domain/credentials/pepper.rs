//! The peppers keying client-secret digests. One is current: new secrets are digested under it,
//! and a secret that authenticates under an older pepper is digested again under it. The others
//! only verify the secrets still digested under them, so an operator can replace the pepper
//! without invalidating every credential at once.

use std::fmt;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// One pepper and the id its digests are stored with.
#[derive(Clone)]
pub struct Pepper {
    id: String,
    key: [u8; 32],
    /// HMAC keyed with `key`, ready for a message: each digest clones it instead of hashing the
    /// key blocks again.
    keyed: Hmac<Sha256>,
}

impl Pepper {
    /// A pepper known by `id`.
    pub fn new(id: impl Into<String>, key: [u8; 32]) -> Self {
        // HMAC pads a key shorter than SHA-256's 64-byte block with zeros (RFC 2104 §2), so the
        // padded block keys it exactly as the 32 bytes would, without a fallible constructor.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&key);
        let keyed = <Hmac<Sha256> as KeyInit>::new(&block.into());
        Self {
            id: id.into(),
            key,
            keyed,
        }
    }

    /// HMAC-SHA256 of a secret under this pepper: the only form in which secrets are stored.
    pub fn digest(&self, secret: &SecretString) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        mac.update(secret.expose_secret().as_bytes());
        mac.finalize().into_bytes().into()
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

    /// HMAC-SHA256 written out from RFC 2104 with the plain hash, independent of the hmac crate.
    fn rfc2104(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
        use sha2::Digest;
        let pad = |byte: u8| {
            let mut block = [byte; 64];
            for (b, k) in block.iter_mut().zip(key) {
                *b ^= k;
            }
            block
        };
        let inner = Sha256::new()
            .chain_update(pad(0x36))
            .chain_update(message)
            .finalize();
        Sha256::new()
            .chain_update(pad(0x5c))
            .chain_update(inner)
            .finalize()
            .into()
    }

    #[test]
    fn digests_are_hmac_sha256_under_the_pepper() {
        let one = Pepper::new("p-1", [1; 32]);
        let mixed: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0xA5);
        let other = Pepper::new("p-2", mixed);
        for text in ["", "s3cret", &"x".repeat(256)] {
            let secret = SecretString::from(text.to_owned());
            assert_eq!(one.digest(&secret), rfc2104(&[1; 32], text.as_bytes()));
            assert_eq!(other.digest(&secret), rfc2104(&mixed, text.as_bytes()));
            // The keyed state is cloned, not consumed: the same secret digests the same again.
            assert_eq!(one.digest(&secret), one.digest(&secret));
            assert_ne!(one.digest(&secret), other.digest(&secret));
        }
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let shown = format!("{:?}", Peppers::single(Pepper::new("p-x", [0xAB; 32])));
        assert!(shown.contains("p-x"));
        assert!(!shown.contains("171"), "{shown}");
    }
}
