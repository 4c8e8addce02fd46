//! XML Encryption of assertions (xmlenc 1.0 and 1.1), done here rather than by samael, which
//! decrypts AES-128 only and never checks a signature inside the encrypted assertion.
//!
//! Key transport: RSA-OAEP only (`rsa-oaep-mgf1p` and xmlenc 1.1 `rsa-oaep`, with the digest and
//! MGF1 hash the message names); RSA PKCS#1 v1.5 is refused (Bleichenbacher). Content: AES-128,
//! -192 and -256, in GCM or CBC. The decrypted assertion passes the same markup checks as a
//! message (no DOCTYPE, comments or processing instructions) and must be exactly one SAML
//! `Assertion`. Every failure says the same thing, so a response cannot be used to learn
//! whether a forged ciphertext decrypted (the CBC padding oracle of XML Encryption).

use std::ops::Range;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::pkey::{PKey, Private};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use samael::service_provider::ServiceProvider;

use self::crypto::{KeyError, content_cipher, decrypt_content, unwrap_key};
use super::guard;
use crate::ports::saml::SamlError;

const ASSERTION_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
const XENC: &[u8] = b"http://www.w3.org/2001/04/xmlenc#";
const XENC11: &[u8] = b"http://www.w3.org/2009/xmlenc11#";
const DSIG: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";

/// The content encryption algorithms we decrypt, by their short configuration names
/// (preferred first).
pub const CONTENT: &[(&str, &str)] = &[
    ("aes256-gcm", "http://www.w3.org/2009/xmlenc11#aes256-gcm"),
    ("aes192-gcm", "http://www.w3.org/2009/xmlenc11#aes192-gcm"),
    ("aes128-gcm", "http://www.w3.org/2009/xmlenc11#aes128-gcm"),
    ("aes256-cbc", "http://www.w3.org/2001/04/xmlenc#aes256-cbc"),
    ("aes192-cbc", "http://www.w3.org/2001/04/xmlenc#aes192-cbc"),
    ("aes128-cbc", "http://www.w3.org/2001/04/xmlenc#aes128-cbc"),
];

/// The key transport algorithms we decrypt.
pub const KEY_TRANSPORT: &[&str] = &[
    "http://www.w3.org/2009/xmlenc11#rsa-oaep",
    "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
];

/// At most this many `EncryptedKey`s (one per recipient) are tried: each costs an RSA
/// private-key operation before any signature is checked.
const MAX_KEYS: usize = 4;

/// The one message every decryption failure gets.
const FAILED: &str = "the encrypted assertion could not be decrypted with our key";

pub fn failed() -> SamlError {
    SamlError::Invalid(FAILED.into())
}

/// An `EncryptedAssertion` as found in a message.
#[derive(Debug, Default)]
pub struct EncryptedAssertion {
    /// Where the element lies in the message (start tag to end tag).
    span: Range<usize>,
    /// The namespace declarations on its start tag (`xmlns:saml="…"` as written).
    declarations: Vec<(String, String)>,
    data: Option<Cipher64>,
    keys: Vec<TransportedKey>,
}

#[derive(Debug, Default)]
pub(super) struct Cipher64 {
    pub(super) algorithm: String,
    pub(super) value: String,
}

#[derive(Debug, Default)]
pub(super) struct TransportedKey {
    pub(super) cipher: Cipher64,
    pub(super) digest: Option<String>,
    pub(super) mgf: Option<String>,
}

/// The message's `EncryptedAssertion` (the SAML assertion namespace), if it has one. `Err`
/// when it has more than one or its markup cannot be read.
pub fn find(xml: &str) -> Result<Option<EncryptedAssertion>, SamlError> {
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut found: Option<EncryptedAssertion> = None;
    // Inside the EncryptedAssertion: the element path below it, as (namespace, local name).
    let mut path: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut inside = false;
    let mut text: Option<String> = None;
    loop {
        let before = usize::try_from(reader.buffer_position()).map_err(|_| failed())?;
        let (ns, event) = reader.read_resolved_event().map_err(|_| failed())?;
        let ns = match ns {
            ResolveResult::Bound(Namespace(n)) => n.to_vec(),
            _ => Vec::new(),
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let local = e.local_name().as_ref().to_vec();
                let empty = matches!(event, Event::Empty(_));
                if !inside {
                    if ns == ASSERTION_NS && local == b"EncryptedAssertion" {
                        if found.is_some() {
                            return Err(SamlError::Invalid(
                                "more than one EncryptedAssertion".into(),
                            ));
                        }
                        let mut assertion = EncryptedAssertion {
                            span: before..before,
                            declarations: declarations(e)?,
                            ..Default::default()
                        };
                        if empty {
                            assertion.span.end =
                                usize::try_from(reader.buffer_position()).map_err(|_| failed())?;
                        } else {
                            inside = true;
                        }
                        found = Some(assertion);
                    }
                    continue;
                }
                let assertion = found.as_mut().ok_or_else(failed)?;
                let algorithm = || attribute(e, b"Algorithm");
                let unsupported =
                    |what: &str| Err(SamlError::Invalid(format!("{what} is not supported")));
                match (path_of(&path).as_slice(), ns.as_slice(), local.as_slice()) {
                    ([], XENC, b"EncryptedData") if assertion.data.is_some() => {
                        return unsupported("more than one EncryptedData");
                    }
                    ([], XENC, b"EncryptedData") => {
                        assertion.data = Some(Cipher64::default());
                    }
                    // EncryptedAssertion/EncryptedData/EncryptionMethod
                    ([(XENC, b"EncryptedData")], XENC, b"EncryptionMethod") => {
                        data_of(assertion).algorithm = algorithm()?;
                    }
                    // …/EncryptedKey/EncryptionMethod, wherever the EncryptedKey is.
                    ([.., (XENC, b"EncryptedKey")], XENC, b"EncryptionMethod") => {
                        key_of(assertion)?.cipher.algorithm = algorithm()?;
                    }
                    (
                        [.., (XENC, b"EncryptedKey"), (XENC, b"EncryptionMethod")],
                        DSIG,
                        b"DigestMethod",
                    ) => {
                        key_of(assertion)?.digest = Some(algorithm()?);
                    }
                    (
                        [.., (XENC, b"EncryptedKey"), (XENC, b"EncryptionMethod")],
                        XENC11,
                        b"MGF",
                    ) => {
                        key_of(assertion)?.mgf = Some(algorithm()?);
                    }
                    (
                        [.., (XENC, b"EncryptedKey"), (XENC, b"EncryptionMethod")],
                        XENC,
                        b"OAEPparams",
                    ) => {
                        return unsupported("an OAEP label (OAEPparams)");
                    }
                    (path, XENC, b"EncryptedKey") => {
                        if path
                            .iter()
                            .any(|(n, l)| *n == XENC && *l == b"EncryptedKey")
                        {
                            return unsupported("a key wrapped in another key");
                        }
                        if assertion.keys.len() == MAX_KEYS {
                            return unsupported("more than four EncryptedKeys");
                        }
                        assertion.keys.push(TransportedKey::default());
                    }
                    (
                        [
                            ..,
                            (XENC, b"EncryptedData" | b"EncryptedKey"),
                            (XENC, b"CipherData"),
                        ],
                        XENC,
                        b"CipherReference",
                    ) => {
                        return Err(SamlError::Invalid(
                            "CipherReference is not supported".into(),
                        ));
                    }
                    (
                        [
                            ..,
                            (XENC, b"EncryptedData" | b"EncryptedKey"),
                            (XENC, b"CipherData"),
                        ],
                        XENC,
                        b"CipherValue",
                    ) => {
                        text = Some(String::new());
                    }
                    _ => {}
                }
                if empty {
                    if text.take().is_some() {
                        store_value(&path, assertion, String::new())?;
                    }
                } else {
                    path.push((ns, local));
                }
            }
            Event::Text(ref t) => {
                if let Some(text) = text.as_mut() {
                    text.push_str(&t.decode().map_err(|_| failed())?);
                }
            }
            Event::CData(ref t) => {
                if let Some(text) = text.as_mut() {
                    text.push_str(&t.decode().map_err(|_| failed())?);
                }
            }
            Event::GeneralRef(ref r) => {
                // Base64 broken into lines by .NET arrives with `&#xD;`: character
                // references are kept (whitespace is dropped when decoding).
                if let Some(text) = text.as_mut() {
                    let c = r
                        .resolve_char_ref()
                        .map_err(|_| failed())?
                        .ok_or_else(failed)?;
                    text.push(c);
                }
            }
            Event::End(_) if inside => {
                let ended = path.pop();
                if let Some(value) = text.take() {
                    let assertion = found.as_mut().ok_or_else(failed)?;
                    store_value(&path, assertion, value)?;
                }
                if ended.is_none() {
                    inside = false;
                    let assertion = found.as_mut().ok_or_else(failed)?;
                    assertion.span.end =
                        usize::try_from(reader.buffer_position()).map_err(|_| failed())?;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if inside {
        return Err(failed());
    }
    Ok(found)
}

fn path_of(path: &[(Vec<u8>, Vec<u8>)]) -> Vec<(&[u8], &[u8])> {
    path.iter()
        .map(|(ns, local)| (ns.as_slice(), local.as_slice()))
        .collect()
}

fn data_of(assertion: &mut EncryptedAssertion) -> &mut Cipher64 {
    assertion.data.get_or_insert_with(Cipher64::default)
}

fn key_of(assertion: &mut EncryptedAssertion) -> Result<&mut TransportedKey, SamlError> {
    assertion.keys.last_mut().ok_or_else(failed)
}

/// Stores a CipherValue's text on the EncryptedData or EncryptedKey that holds it.
fn store_value(
    path: &[(Vec<u8>, Vec<u8>)],
    assertion: &mut EncryptedAssertion,
    value: String,
) -> Result<(), SamlError> {
    match path_of(path).as_slice() {
        [(XENC, b"EncryptedData"), (XENC, b"CipherData")] => data_of(assertion).value = value,
        [.., (XENC, b"EncryptedKey"), (XENC, b"CipherData")] => {
            key_of(assertion)?.cipher.value = value;
        }
        // A CipherValue of an EncryptedData nested deeper is not ours to read.
        _ => {}
    }
    Ok(())
}

fn attribute(e: &BytesStart<'_>, name: &[u8]) -> Result<String, SamlError> {
    let value = e
        .try_get_attribute(name)
        .map_err(|_| failed())?
        .ok_or_else(failed)?;
    Ok(value
        .normalized_value(quick_xml::XmlVersion::default())
        .map_err(|_| failed())?
        .trim()
        .to_owned())
}

/// The `xmlns` and `xmlns:p` attributes of a start tag, as written.
fn declarations(e: &BytesStart<'_>) -> Result<Vec<(String, String)>, SamlError> {
    let mut out = Vec::new();
    for attr in e.attributes() {
        let attr = attr.map_err(|_| failed())?;
        let key = std::str::from_utf8(attr.key.as_ref()).map_err(|_| failed())?;
        if key == "xmlns" || key.starts_with("xmlns:") {
            let value = std::str::from_utf8(&attr.value).map_err(|_| failed())?;
            out.push((key.to_owned(), value.to_owned()));
        }
    }
    Ok(out)
}

/// Decrypts the assertion with our private key and returns its XML (one `Assertion`
/// element, checked like a message). `allowed`: the content encryption algorithms (URIs)
/// this provider may use; another is refused before any key is unwrapped.
pub fn decrypt(
    assertion: &EncryptedAssertion,
    key: &PKey<Private>,
    allowed: &[String],
) -> Result<String, SamlError> {
    let data = assertion.data.as_ref().ok_or_else(failed)?;
    if !allowed.contains(&data.algorithm) {
        return Err(SamlError::Invalid(format!(
            "content encryption algorithm {:.100} is not allowed for this provider",
            data.algorithm
        )));
    }
    let cipher = content_cipher(&data.algorithm).ok_or_else(|| {
        SamlError::Invalid(format!(
            "unsupported content encryption algorithm {:.100}",
            data.algorithm
        ))
    })?;
    if assertion.keys.is_empty() {
        return Err(failed());
    }
    let content = base64(&data.value)?;
    // An IdP may encrypt the key for several recipients; one of them is us.
    let mut unsupported = None;
    for transported in &assertion.keys {
        let session_key = match unwrap_key(transported, key) {
            Ok(session_key) => session_key,
            Err(KeyError::Unsupported(e)) => {
                unsupported = Some(e);
                continue;
            }
            Err(KeyError::Failed) => continue,
        };
        if session_key.len() != cipher.key_len() {
            continue;
        }
        let plaintext = decrypt_content(cipher, &session_key, &content).ok_or_else(failed)?;
        return checked_assertion(plaintext);
    }
    Err(unsupported.unwrap_or_else(failed))
}

pub(super) fn base64(value: &str) -> Result<Vec<u8>, SamlError> {
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len() > guard::MAX_XML_BYTES * 4 / 3 + 8 {
        return Err(failed());
    }
    STANDARD.decode(compact).map_err(|_| failed())
}

/// The plaintext must be exactly one `Assertion` element (nothing but whitespace around it)
/// and pass the message markup checks.
fn checked_assertion(plaintext: Vec<u8>) -> Result<String, SamlError> {
    let xml = String::from_utf8(plaintext).map_err(|_| failed())?;
    guard::check_fragment(&xml).map_err(|_| failed())?;
    let trimmed = xml.trim();
    if guard::count_elements(trimmed, "Assertion") != 1
        || guard::count_elements(trimmed, "EncryptedAssertion") != 0
        || guard::count_elements(trimmed, "Response") != 0
    {
        return Err(failed());
    }
    let mut reader = quick_xml::Reader::from_str(trimmed);
    let mut depth = 0usize;
    let mut root_done = false;
    loop {
        let event = reader.read_event().map_err(|_| failed())?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) if depth == 0 => {
                if root_done || e.local_name().as_ref() != b"Assertion" {
                    return Err(failed());
                }
                if matches!(event, Event::Start(_)) {
                    depth = 1;
                } else {
                    root_done = true;
                }
            }
            Event::Start(_) => depth += 1,
            Event::End(_) => {
                depth = depth.checked_sub(1).ok_or_else(failed)?;
                root_done |= depth == 0;
            }
            Event::Eof if root_done && depth == 0 => return Ok(trimmed.to_owned()),
            Event::Eof => return Err(failed()),
            // Outside the root only whitespace (the text was trimmed: there is none).
            _ if depth == 0 => return Err(failed()),
            _ => {}
        }
    }
}

/// The message with the `EncryptedAssertion` replaced by the decrypted `Assertion`. The
/// namespace declarations of the `EncryptedAssertion` start tag that the assertion's own
/// start tag does not make are added to it, so its prefixes resolve as they did in place.
pub fn splice(
    xml: &str,
    encrypted: &EncryptedAssertion,
    assertion: &str,
) -> Result<String, SamlError> {
    let mut reader = quick_xml::Reader::from_str(assertion);
    let root = loop {
        match reader.read_event().map_err(|_| failed())? {
            Event::Start(e) | Event::Empty(e) => break e,
            Event::Eof => return Err(failed()),
            _ => {}
        }
    };
    let own = declarations(&root)?;
    let name_end = root.name().as_ref().len() + 1; // `<` and the name
    let mut extra = String::new();
    for (key, value) in &encrypted.declarations {
        if !own.iter().any(|(k, _)| k == key) {
            let quote = if value.contains('"') { '\'' } else { '"' };
            extra.push_str(&format!(" {key}={quote}{value}{quote}"));
        }
    }
    let before = xml.get(..encrypted.span.start).ok_or_else(failed)?;
    let after = xml.get(encrypted.span.end..).ok_or_else(failed)?;
    let (head, rest) = (
        assertion.get(..name_end).ok_or_else(failed)?,
        assertion.get(name_end..).ok_or_else(failed)?,
    );
    Ok([before, head, &extra, rest, after].concat())
}

/// Whether, and when, the assertion was decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decrypted {
    /// It was not encrypted.
    No,
    /// After the Response's signature was verified: the message is what it covered.
    AfterVerifying,
    /// Before any signature was checked: the assertion's own signature must verify.
    BeforeVerifying,
}

/// A copy of `sp` that checks no signature, for a message made only of content whose
/// signature was already verified ([`Decrypted::AfterVerifying`]). Every other check stays.
pub fn without_signature_check(sp: &ServiceProvider) -> ServiceProvider {
    let mut copy = sp.clone();
    for descriptor in copy.idp_metadata.idp_sso_descriptors.iter_mut().flatten() {
        descriptor.key_descriptors.clear();
    }
    copy
}

mod crypto;
#[cfg(test)]
mod tests;
