//! The cryptography of XML Encryption: RSA-OAEP key transport and AES content decryption.

use openssl::md::{Md, MdRef};
use openssl::pkey::{PKey, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::symm::{Cipher, Crypter, Mode};

use super::{TransportedKey, base64};
use crate::ports::saml::SamlError;

pub(super) enum KeyError {
    Unsupported(SamlError),
    Failed,
}

pub(super) fn unwrap_key(
    transported: &TransportedKey,
    key: &PKey<Private>,
) -> Result<Vec<u8>, KeyError> {
    let algorithm = transported.cipher.algorithm.as_str();
    let unsupported = |what: &str, uri: &str| {
        KeyError::Unsupported(SamlError::Invalid(format!(
            "unsupported key transport {what} {uri:.100}"
        )))
    };
    let mgf: &MdRef = match algorithm {
        // xmlenc 1.0: MGF1 with SHA-1, whatever the digest.
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p" => {
            if transported.mgf.is_some() {
                return Err(unsupported("MGF for", algorithm));
            }
            Md::sha1()
        }
        "http://www.w3.org/2009/xmlenc11#rsa-oaep" => match transported.mgf.as_deref() {
            None | Some("http://www.w3.org/2009/xmlenc11#mgf1sha1") => Md::sha1(),
            Some("http://www.w3.org/2009/xmlenc11#mgf1sha224") => Md::sha224(),
            Some("http://www.w3.org/2009/xmlenc11#mgf1sha256") => Md::sha256(),
            Some("http://www.w3.org/2009/xmlenc11#mgf1sha384") => Md::sha384(),
            Some("http://www.w3.org/2009/xmlenc11#mgf1sha512") => Md::sha512(),
            Some(other) => return Err(unsupported("MGF", other)),
        },
        other => return Err(unsupported("algorithm", other)),
    };
    let digest: &MdRef = match transported.digest.as_deref() {
        None | Some("http://www.w3.org/2000/09/xmldsig#sha1") => Md::sha1(),
        Some("http://www.w3.org/2001/04/xmldsig-more#sha224") => Md::sha224(),
        Some("http://www.w3.org/2001/04/xmlenc#sha256") => Md::sha256(),
        Some("http://www.w3.org/2001/04/xmldsig-more#sha384") => Md::sha384(),
        Some("http://www.w3.org/2001/04/xmlenc#sha512") => Md::sha512(),
        Some(other) => return Err(unsupported("digest", other)),
    };
    let wrapped = base64(&transported.cipher.value).map_err(|_| KeyError::Failed)?;
    // An RSA ciphertext is exactly as long as the modulus; anything else is not worth a
    // private-key operation.
    if wrapped.len() != key.size() {
        return Err(KeyError::Failed);
    }
    let unwrap = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let mut ctx = PkeyCtx::new(key)?;
        ctx.decrypt_init()?;
        ctx.set_rsa_padding(Padding::PKCS1_OAEP)?;
        ctx.set_rsa_oaep_md(digest)?;
        ctx.set_rsa_mgf1_md(mgf)?;
        let mut out = Vec::new();
        ctx.decrypt_to_vec(&wrapped, &mut out)?;
        Ok(out)
    };
    unwrap().map_err(|_| KeyError::Failed)
}

#[derive(Clone, Copy)]
pub(super) enum ContentCipher {
    Cbc(Cipher),
    Gcm(Cipher),
}

impl ContentCipher {
    pub(super) fn key_len(self) -> usize {
        match self {
            Self::Cbc(c) | Self::Gcm(c) => c.key_len(),
        }
    }
}

pub(super) fn content_cipher(algorithm: &str) -> Option<ContentCipher> {
    Some(match algorithm {
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => ContentCipher::Cbc(Cipher::aes_128_cbc()),
        "http://www.w3.org/2001/04/xmlenc#aes192-cbc" => ContentCipher::Cbc(Cipher::aes_192_cbc()),
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => ContentCipher::Cbc(Cipher::aes_256_cbc()),
        "http://www.w3.org/2009/xmlenc11#aes128-gcm" => ContentCipher::Gcm(Cipher::aes_128_gcm()),
        "http://www.w3.org/2009/xmlenc11#aes192-gcm" => ContentCipher::Gcm(Cipher::aes_192_gcm()),
        "http://www.w3.org/2009/xmlenc11#aes256-gcm" => ContentCipher::Gcm(Cipher::aes_256_gcm()),
        _ => return None,
    })
}

/// AES-CBC: a 16-byte IV, then blocks whose last byte says how many padding bytes end them
/// (xmlenc §5.2: the other padding bytes are arbitrary). AES-GCM: a 12-byte IV, the
/// ciphertext, a 16-byte tag.
pub(super) fn decrypt_content(
    cipher: ContentCipher,
    key: &[u8],
    content: &[u8],
) -> Option<Vec<u8>> {
    match cipher {
        ContentCipher::Cbc(c) => {
            let (iv, body) = content.split_at_checked(16)?;
            if body.is_empty() || body.len() % 16 != 0 {
                return None;
            }
            let mut crypter = Crypter::new(c, Mode::Decrypt, key, Some(iv)).ok()?;
            crypter.pad(false);
            let mut out = vec![0; body.len() + 16];
            let n = crypter.update(body, &mut out).ok()?;
            let m = crypter.finalize(&mut out[n..]).ok()?;
            out.truncate(n + m);
            let pad = usize::from(*out.last()?);
            if pad == 0 || pad > 16 || pad > out.len() {
                return None;
            }
            out.truncate(out.len() - pad);
            Some(out)
        }
        ContentCipher::Gcm(c) => {
            let (iv, rest) = content.split_at_checked(12)?;
            let (body, tag) = rest.split_at_checked(rest.len().checked_sub(16)?)?;
            let mut crypter = Crypter::new(c, Mode::Decrypt, key, Some(iv)).ok()?;
            crypter.pad(false);
            let mut out = vec![0; body.len() + 16];
            let n = crypter.update(body, &mut out).ok()?;
            crypter.set_tag(tag).ok()?;
            let m = crypter.finalize(&mut out[n..]).ok()?;
            out.truncate(n + m);
            Some(out)
        }
    }
}
