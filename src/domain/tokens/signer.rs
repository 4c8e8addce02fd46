//! Signing algorithms of access tokens and their keys: the algorithm names, the parsed
//! private keys that sign, the public halves the JWKS publishes (with their RFC 7638
//! thumbprints), and the HS256 secret shared with resource servers.

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use sha2::{Digest, Sha256};

use crate::domain::encoding::b64url;

/// The algorithm access tokens are signed with (the JWS `alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Deserialize)]
pub enum SigningAlg {
    /// Ed25519 (RFC 8037), the default: small, fast, deterministic signatures.
    #[default]
    EdDSA,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys unless a larger one is configured.
    RS256,
    /// HMAC with SHA-256 under a secret the operator shares with the resource servers
    /// (compatibility with servers that validate the original TMI's tokens). The secret is
    /// configured, never stored or published.
    HS256,
}

impl SigningAlg {
    /// The JWS `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::EdDSA => "EdDSA",
            SigningAlg::ES256 => "ES256",
            SigningAlg::RS256 => "RS256",
            SigningAlg::HS256 => "HS256",
        }
    }

    /// The same algorithm as the JWT library names it.
    pub fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            SigningAlg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            SigningAlg::ES256 => jsonwebtoken::Algorithm::ES256,
            SigningAlg::RS256 => jsonwebtoken::Algorithm::RS256,
            SigningAlg::HS256 => jsonwebtoken::Algorithm::HS256,
        }
    }

    /// Whether keys for this algorithm live in the key store (HS256's secret is configured).
    pub fn is_stored(self) -> bool {
        self != SigningAlg::HS256
    }
}

/// The HS256 secret shared with resource servers. `Debug` never prints it.
#[derive(Clone)]
pub struct SharedSecret(pub(super) Arc<[u8]>);

impl SharedSecret {
    /// Shortest secret accepted: 256 bits, the size of the HMAC-SHA-256 output (RFC 7518 §3.2).
    pub const MIN_LEN: usize = 32;

    /// The secret, if it is long enough.
    pub fn new(secret: &[u8]) -> Option<Self> {
        (secret.len() >= Self::MIN_LEN).then(|| Self(secret.into()))
    }

    /// Its key id: derived from a digest of the secret, so replicas sharing it agree.
    pub fn kid(&self) -> String {
        let mut digest = Sha256::new();
        digest.update(b"tmi-auth hs256 kid\0");
        digest.update(&self.0);
        format!("hs-{}", &b64url(&digest.finalize())[..16])
    }
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

impl std::fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The public half of a signing key, as its JWK members (base64url values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// Ed25519 (`kty: OKP`, `crv: Ed25519`).
    Okp {
        /// The public key.
        x: String,
    },
    /// P-256 (`kty: EC`, `crv: P-256`).
    Ec {
        /// The x coordinate.
        x: String,
        /// The y coordinate.
        y: String,
    },
    /// RSA (`kty: RSA`).
    Rsa {
        /// The modulus.
        n: String,
        /// The public exponent.
        e: String,
    },
    /// A shared secret: nothing public.
    Secret,
}

impl PublicKey {
    /// RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order.
    pub(super) fn thumbprint(&self) -> String {
        let canonical = match self {
            PublicKey::Okp { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
            PublicKey::Ec { x, y } => {
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
            PublicKey::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
            PublicKey::Secret => return String::new(),
        };
        b64url(&Sha256::digest(canonical.as_bytes()))
    }

    /// The verification key in the form the JWT library wants.
    pub(super) fn decoding_key(&self) -> Option<jsonwebtoken::DecodingKey> {
        match self {
            PublicKey::Okp { x } => jsonwebtoken::DecodingKey::from_ed_components(x).ok(),
            PublicKey::Ec { x, y } => jsonwebtoken::DecodingKey::from_ec_components(x, y).ok(),
            PublicKey::Rsa { n, e } => jsonwebtoken::DecodingKey::from_rsa_components(n, e).ok(),
            PublicKey::Secret => None,
        }
    }
}

/// A parsed private key.
pub enum Signer {
    /// Ed25519.
    Ed25519(Ed25519KeyPair),
    /// ECDSA P-256 with SHA-256, fixed-length (JWS) signatures.
    Es256(EcdsaKeyPair),
    /// RSA PKCS#1 v1.5 with SHA-256.
    Rs256(RsaKeyPair),
    /// HMAC-SHA-256 under the shared secret (boxed: the key keeps its precomputed state).
    Hs256(Box<aws_lc_rs::hmac::Key>),
}

impl Signer {
    /// A P-256 or RSA (2048 to 4096 bits) key from a PKCS#8 document. Larger RSA keys are
    /// refused: their signatures alone would take tokens past what we accept back.
    pub(super) fn from_pkcs8(der: &[u8]) -> Option<Self> {
        if let Ok(key) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            return Some(Signer::Es256(key));
        }
        RsaKeyPair::from_pkcs8(der)
            .ok()
            .filter(|key| (256..=512).contains(&key.public_modulus_len()))
            .map(Signer::Rs256)
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> SigningAlg {
        match self {
            Signer::Ed25519(_) => SigningAlg::EdDSA,
            Signer::Es256(_) => SigningAlg::ES256,
            Signer::Rs256(_) => SigningAlg::RS256,
            Signer::Hs256(_) => SigningAlg::HS256,
        }
    }

    /// The public half, as JWK members.
    pub(super) fn public_key(&self) -> PublicKey {
        match self {
            Signer::Ed25519(key) => PublicKey::Okp {
                x: b64url(key.public_key().as_ref()),
            },
            Signer::Es256(key) => {
                // Uncompressed SEC1 point: 0x04 || x || y.
                let point = key.public_key().as_ref();
                PublicKey::Ec {
                    x: b64url(&point[1..33]),
                    y: b64url(&point[33..65]),
                }
            }
            Signer::Rs256(key) => {
                let public = key.public_key();
                PublicKey::Rsa {
                    n: b64url(public.modulus().big_endian_without_leading_zero()),
                    e: b64url(public.exponent().big_endian_without_leading_zero()),
                }
            }
            Signer::Hs256(_) => PublicKey::Secret,
        }
    }

    /// How long its signatures are, in bytes.
    pub fn signature_len(&self) -> usize {
        match self {
            Signer::Ed25519(_) | Signer::Es256(_) => 64,
            Signer::Rs256(key) => key.public_modulus_len(),
            Signer::Hs256(_) => 32,
        }
    }

    /// Signs `message` (the JWS signing input); `None` only if the library fails.
    pub fn sign(&self, message: &[u8]) -> Option<SignatureBytes> {
        match self {
            Signer::Ed25519(key) => Some(SignatureBytes::from_slice(key.sign(message).as_ref())),
            Signer::Es256(key) => key
                .sign(&SystemRandom::new(), message)
                .ok()
                .map(|s| SignatureBytes::from_slice(s.as_ref())),
            Signer::Rs256(key) => {
                let mut out = SignatureBytes::zeroed(key.public_modulus_len());
                key.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    out.as_mut(),
                )
                .ok()
                .map(|()| out)
            }
            Signer::Hs256(key) => Some(SignatureBytes::from_slice(
                aws_lc_rs::hmac::sign(key, message).as_ref(),
            )),
        }
    }
}

/// A signature, on the stack for the 64-byte ones (Ed25519, P-256).
pub struct SignatureBytes {
    len: usize,
    inline: [u8; 64],
    heap: Vec<u8>,
}

impl SignatureBytes {
    fn from_slice(bytes: &[u8]) -> Self {
        let mut out = Self::zeroed(bytes.len());
        out.as_mut().copy_from_slice(bytes);
        out
    }

    fn zeroed(len: usize) -> Self {
        Self {
            len,
            inline: [0; 64],
            heap: if len > 64 { vec![0; len] } else { Vec::new() },
        }
    }

    fn as_mut(&mut self) -> &mut [u8] {
        if self.len > 64 {
            &mut self.heap
        } else {
            &mut self.inline[..self.len]
        }
    }
}

impl AsRef<[u8]> for SignatureBytes {
    fn as_ref(&self) -> &[u8] {
        if self.len > 64 {
            &self.heap
        } else {
            &self.inline[..self.len]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_thumbprint_is_the_rfc7638_example() {
        // RFC 7638 section 3.1.
        let key = PublicKey::Rsa {
            n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into(),
            e: "AQAB".into(),
        };
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn shared_secrets_are_long_hidden_and_named_by_a_digest() {
        assert!(SharedSecret::new(&[7; 31]).is_none());
        let secret = SharedSecret::new(&[7; 32]).expect("32 bytes");
        assert_eq!(format!("{secret:?}"), "SharedSecret(<redacted>)");
        let kid = secret.kid();
        assert!(kid.starts_with("hs-") && kid.len() == 19, "{kid}");
        assert_eq!(kid, SharedSecret::new(&[7; 32]).expect("same").kid());
        assert_ne!(kid, SharedSecret::new(&[8; 32]).expect("other").kid());
    }
}
