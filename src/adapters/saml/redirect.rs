//! The HTTP-Redirect binding's query-string signature (SAML bindings §3.4.4.1): verified over
//! the parameters exactly as they were encoded on the wire, in the order the spec fixes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Public};
use openssl::sign::Verifier;
use openssl::x509::X509;
use percent_encoding::percent_decode_str;
use samael::crypto::CertificateDer;

use crate::ports::saml::SamlError;

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";

/// A verified redirect-binding message.
#[derive(Debug)]
pub struct VerifiedQuery {
    /// The decoded (still base64 + DEFLATE) message parameter.
    pub message: String,
}

/// Verifies `raw_query` (as received) carrying `param` (`SAMLRequest` or `SAMLResponse`)
/// against any of `certs`. Unsigned, SHA-1, duplicated or unknown-algorithm queries fail.
pub fn verify(
    raw_query: &str,
    param: &str,
    certs: &[CertificateDer],
) -> Result<VerifiedQuery, SamlError> {
    let mut message = None;
    let mut relay = None;
    let mut sig_alg = None;
    let mut signature = None;
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            n if n == param => &mut message,
            "RelayState" => &mut relay,
            "SigAlg" => &mut sig_alg,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(SamlError::Invalid(format!("{name} given twice")));
        }
    }
    let message = message.ok_or_else(|| SamlError::Invalid(format!("{param} is missing")))?;
    let (Some(sig_alg), Some(signature)) = (sig_alg, signature) else {
        return Err(SamlError::Signature("the query is not signed".into()));
    };
    let mut signed = format!("{param}={message}");
    if let Some(relay) = relay {
        signed.push_str("&RelayState=");
        signed.push_str(relay);
    }
    signed.push_str("&SigAlg=");
    signed.push_str(sig_alg);

    let alg = decode(sig_alg)?;
    let digest = match alg.as_str() {
        RSA_SHA256 | ECDSA_SHA256 => MessageDigest::sha256(),
        RSA_SHA512 => MessageDigest::sha512(),
        other => {
            return Err(SamlError::Signature(format!(
                "signature algorithm {other} not allowed"
            )));
        }
    };
    let signature = STANDARD
        .decode(decode(signature)?)
        .map_err(|_| SamlError::Signature("signature is not base64".into()))?;
    for cert in certs {
        let Some(key) = public_key(cert) else {
            continue;
        };
        let expect_ec = alg == ECDSA_SHA256;
        if expect_ec != (key.id() == Id::EC) {
            continue;
        }
        let der;
        let signature = if expect_ec {
            // XML-DSig ECDSA values are r || s; OpenSSL wants DER.
            match ecdsa_der(&signature) {
                Some(bytes) => {
                    der = bytes;
                    &der
                }
                None => continue,
            }
        } else {
            &signature
        };
        let verified = Verifier::new(digest, &key)
            .and_then(|mut v| {
                v.update(signed.as_bytes())?;
                v.verify(signature)
            })
            .unwrap_or(false);
        if verified {
            return Ok(VerifiedQuery {
                message: decode(message)?,
            });
        }
    }
    Err(SamlError::Signature(
        "query signature does not verify with any IdP certificate".into(),
    ))
}

fn decode(raw: &str) -> Result<String, SamlError> {
    percent_decode_str(&raw.replace('+', " "))
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| SamlError::Invalid("query is not UTF-8".into()))
}

fn public_key(cert: &CertificateDer) -> Option<PKey<Public>> {
    X509::from_der(cert.der_data()).ok()?.public_key().ok()
}

fn ecdsa_der(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return None;
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let sig =
        EcdsaSig::from_private_components(BigNum::from_slice(r).ok()?, BigNum::from_slice(s).ok()?)
            .ok()?;
    sig.to_der().ok()
}
