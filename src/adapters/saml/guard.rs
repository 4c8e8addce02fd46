//! Checks every SAML message passes before any XML parser or xmlsec sees it: bounded size,
//! strict base64, UTF-8, no DOCTYPE (entity expansion; it crashed Debian's libxmlsec1), no
//! comments (NameID comment-injection), no processing instructions other than the XML
//! declaration, and — for responses — exactly one assertion.

use std::io::Read;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::read::DeflateDecoder;

use crate::ports::saml::SamlError;

/// Largest decoded SAML message we look at.
pub const MAX_XML_BYTES: usize = 128 * 1024;

/// Decodes the base64 of an HTTP-POST binding message and checks the XML.
pub fn decode_post(encoded: &str) -> Result<String, SamlError> {
    if encoded.len() > MAX_XML_BYTES * 4 / 3 + 8 {
        return Err(SamlError::Invalid("message too large".into()));
    }
    // Some IdPs wrap the base64 in lines.
    let compact: String = encoded
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = STANDARD
        .decode(compact)
        .map_err(|_| SamlError::Invalid("message is not base64".into()))?;
    checked_xml(bytes)
}

/// Decodes the base64 + raw DEFLATE of an HTTP-Redirect binding message and checks the XML.
pub fn decode_redirect(encoded: &str) -> Result<String, SamlError> {
    if encoded.len() > MAX_XML_BYTES {
        return Err(SamlError::Invalid("message too large".into()));
    }
    let deflated = STANDARD
        .decode(encoded)
        .map_err(|_| SamlError::Invalid("message is not base64".into()))?;
    let mut inflated = Vec::new();
    DeflateDecoder::new(deflated.as_slice())
        .take(MAX_XML_BYTES as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|_| SamlError::Invalid("message is not DEFLATE data".into()))?;
    if inflated.len() > MAX_XML_BYTES {
        return Err(SamlError::Invalid("message too large".into()));
    }
    checked_xml(inflated)
}

/// Checks a metadata document (the same rules, larger limit).
pub fn check_metadata(xml: &str) -> Result<(), SamlError> {
    if xml.len() > 1024 * 1024 {
        return Err(SamlError::Invalid("metadata larger than 1 MiB".into()));
    }
    check_markup(xml)
}

fn checked_xml(bytes: Vec<u8>) -> Result<String, SamlError> {
    if bytes.len() > MAX_XML_BYTES {
        return Err(SamlError::Invalid("message too large".into()));
    }
    let mut xml =
        String::from_utf8(bytes).map_err(|_| SamlError::Invalid("message is not UTF-8".into()))?;
    // A byte-order mark is dropped: quick-xml skips it without counting it, which would shift
    // every offset it reports against this string.
    if xml.starts_with('\u{feff}') {
        xml.drain(..'\u{feff}'.len_utf8());
    }
    check_markup(&xml)?;
    Ok(xml)
}

/// The markup checks of a message, for XML that did not arrive as one (a decrypted assertion).
pub fn check_fragment(xml: &str) -> Result<(), SamlError> {
    check_markup(xml)
}

fn check_markup(xml: &str) -> Result<(), SamlError> {
    let upper = xml.to_ascii_uppercase();
    if upper.contains("<!DOCTYPE") || upper.contains("<!ENTITY") {
        return Err(SamlError::Invalid(
            "DOCTYPE and entities are not allowed".into(),
        ));
    }
    if xml.contains("<!--") {
        return Err(SamlError::Invalid("comments are not allowed".into()));
    }
    let body = xml.trim_start_matches('\u{feff}').trim_start();
    let body = match body.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map(|(_, after)| after).unwrap_or(""),
        None => body,
    };
    if body.contains("<?") {
        return Err(SamlError::Invalid(
            "processing instructions are not allowed".into(),
        ));
    }
    Ok(())
}

/// Every start tag's local name (the prefix dropped: `<saml:Assertion`, `<saml2:Assertion`
/// and `<Assertion` are all `Assertion`) with the text after the name. Closing tags are skipped.
fn start_tags(xml: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = xml;
    std::iter::from_fn(move || {
        loop {
            let at = rest.find('<')?;
            rest = &rest[at + 1..];
            let name_end = rest
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(rest.len());
            let name = &rest[..name_end];
            if name.starts_with('/') {
                continue;
            }
            return Some((name.rsplit(':').next().unwrap_or(name), &rest[name_end..]));
        }
    })
}

/// Counts elements with this local name, prefix-insensitively, excluding the closing tags.
pub fn count_elements(xml: &str, local: &str) -> usize {
    start_tags(xml).filter(|(name, _)| *name == local).count()
}

/// The SAML 2.0 protocol namespace.
const PROTOCOL_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";

/// The top-level status code of a Response: the `Value` (entity references decoded) of the
/// protocol `StatusCode` child of the protocol `Status` child of the root, which must be a
/// protocol `Response`. `None` when there is none, or the XML is not well-formed. Elements
/// of other namespaces (in `Extensions`, say) and nested status codes are not read.
pub fn response_status(xml: &str) -> Option<String> {
    use quick_xml::events::Event;
    use quick_xml::name::{Namespace, ResolveResult};
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut depth = 0usize;
    let mut in_status = false;
    loop {
        let (ns, event) = reader.read_resolved_event().ok()?;
        let protocol = matches!(ns, ResolveResult::Bound(Namespace(n)) if n == PROTOCOL_NS);
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let local = e.local_name();
                match depth {
                    0 if !(protocol && local.as_ref() == b"Response") => return None,
                    1 if protocol && local.as_ref() == b"Status" => in_status = true,
                    2 if in_status && protocol && local.as_ref() == b"StatusCode" => {
                        let value = e.try_get_attribute("Value").ok()??;
                        let version = quick_xml::XmlVersion::default();
                        return Some(value.normalized_value(version).ok()?.into_owned());
                    }
                    _ => {}
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                } else if in_status && depth == 1 {
                    return None; // an empty <Status/>
                }
            }
            Event::End(_) => {
                depth = depth.checked_sub(1)?;
                if in_status && depth == 1 {
                    return None; // Status ended without a StatusCode
                }
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// Whether the root is a protocol `Response` with its own `ds:Signature` child.
pub fn response_signed(xml: &str) -> bool {
    use quick_xml::events::Event;
    use quick_xml::name::{Namespace, ResolveResult};
    const DSIG: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut depth = 0usize;
    loop {
        let Ok((ns, event)) = reader.read_resolved_event() else {
            return false;
        };
        let bound = |uri: &[u8]| matches!(ns, ResolveResult::Bound(Namespace(n)) if n == uri);
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let local = e.local_name();
                match depth {
                    0 if !(bound(PROTOCOL_NS) && local.as_ref() == b"Response") => return false,
                    1 if bound(DSIG) && local.as_ref() == b"Signature" => return true,
                    _ => {}
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => match depth.checked_sub(1) {
                Some(0) | None => return false,
                Some(d) => depth = d,
            },
            Event::Eof => return false,
            _ => {}
        }
    }
}

/// The raw value of the unprefixed attribute `attr` on the first element whose local name is
/// `local` (entity references are not decoded: for timestamps and IDs).
pub fn attribute_of(xml: &str, local: &str, attr: &str) -> Option<String> {
    let (_, mut tag) = start_tags(xml).find(|(name, _)| *name == local)?;
    loop {
        tag = tag.trim_start();
        if tag.is_empty() || tag.starts_with('>') || tag.starts_with('/') {
            return None;
        }
        let eq = tag.find('=')?;
        let key = tag[..eq].trim();
        let value = tag[eq + 1..].trim_start();
        let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'')?;
        let end = value[1..].find(quote)?;
        if key == attr {
            return Some(value[1..1 + end].to_owned());
        }
        tag = &value[1 + end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::DeflateEncoder;

    use super::*;

    #[test]
    fn attributes_are_read_from_the_named_element_only() {
        let xml = r#"<?xml version="1.0"?><samlp:LogoutRequest xmlns:samlp="urn:x" ID='_a'
            NotOnOrAfter = "2030-01-01T00:00:00Z" Version="2.0"><saml:Issuer NotOnOrAfter="x">i</saml:Issuer></samlp:LogoutRequest>"#;
        assert_eq!(
            attribute_of(xml, "LogoutRequest", "NotOnOrAfter").as_deref(),
            Some("2030-01-01T00:00:00Z")
        );
        assert_eq!(
            attribute_of(xml, "LogoutRequest", "ID").as_deref(),
            Some("_a")
        );
        assert_eq!(attribute_of(xml, "LogoutRequest", "Reason"), None);
        assert_eq!(
            attribute_of(xml, "Issuer", "NotOnOrAfter").as_deref(),
            Some("x")
        );
        assert_eq!(
            attribute_of("<LogoutRequest ID=\"unterminated", "LogoutRequest", "ID"),
            None
        );
    }

    #[test]
    fn doctype_comments_and_processing_instructions_are_refused() {
        for xml in [
            "<!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>",
            "<?xml version=\"1.0\"?><!doctype x><x/>",
            "<x>alice@example.com<!---->.evil.test</x>",
            "<?xml version=\"1.0\"?><x><?evil ?></x>",
        ] {
            assert!(decode_post(&STANDARD.encode(xml)).is_err(), "{xml} refused");
        }
        assert_eq!(
            decode_post(&STANDARD.encode("<?xml version=\"1.0\"?>\n<x/>")).unwrap(),
            "<?xml version=\"1.0\"?>\n<x/>"
        );
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        // quick-xml skips it without counting it: offsets into the message would be off by 3.
        let xml = "\u{feff}<?xml version=\"1.0\"?><x/>";
        assert_eq!(
            decode_post(&STANDARD.encode(xml)).unwrap(),
            "<?xml version=\"1.0\"?><x/>"
        );
    }

    #[test]
    fn size_base64_utf8_and_deflate_bombs_are_refused() {
        assert!(decode_post("not base64!").is_err());
        assert!(decode_post(&STANDARD.encode([0xff, 0xfe, 0x00])).is_err());
        assert!(decode_post(&STANDARD.encode(vec![b'a'; MAX_XML_BYTES + 1])).is_err());
        let mut bomb = DeflateEncoder::new(Vec::new(), Compression::best());
        bomb.write_all(&vec![b' '; 10 * MAX_XML_BYTES]).unwrap();
        let bomb = STANDARD.encode(bomb.finish().unwrap());
        assert!(bomb.len() < MAX_XML_BYTES, "small on the wire");
        assert!(decode_redirect(&bomb).is_err(), "but refused once inflated");
        let mut ok = DeflateEncoder::new(Vec::new(), Compression::best());
        ok.write_all(b"<x/>").unwrap();
        assert_eq!(
            decode_redirect(&STANDARD.encode(ok.finish().unwrap())).unwrap(),
            "<x/>"
        );
    }

    #[test]
    fn assertions_are_counted_whatever_the_prefix() {
        let xml = "<p:Response><saml:Assertion ID=\"a\"></saml:Assertion><Assertion/>\
                   <saml2:AssertionConsumer/></p:Response>";
        assert_eq!(count_elements(xml, "Assertion"), 2);
        assert_eq!(count_elements(xml, "Response"), 1);
    }

    #[test]
    fn the_response_status_is_its_own_top_level_status_code() {
        const P: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
        const OK: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
        let cases = [
            (
                format!(
                    r#"<samlp:Response xmlns:samlp="{P}"><samlp:Status><samlp:StatusCode Value="{OK}"/></samlp:Status></samlp:Response>"#
                ),
                Some(OK),
            ),
            // Default namespace, and a nested (second-level) code.
            (
                format!(
                    r#"<Response xmlns="{P}"><Status><StatusCode Value="urn:x:Responder"><StatusCode Value="{OK}"/></StatusCode></Status></Response>"#
                ),
                Some("urn:x:Responder"),
            ),
            // A foreign StatusCode in Extensions before the real one is not read.
            (
                format!(
                    r#"<p:Response xmlns:p="{P}" xmlns:x="urn:other"><p:Extensions><x:StatusCode Value="{OK}"/></p:Extensions><p:Status><p:StatusCode Value="urn:x:Requester"/></p:Status></p:Response>"#
                ),
                Some("urn:x:Requester"),
            ),
            // Character references are decoded.
            (
                format!(
                    r#"<p:Response xmlns:p="{P}"><p:Status><p:StatusCode Value="urn&#58;oasis&#58;names&#58;tc&#58;SAML&#58;2.0&#58;status&#58;Success"/></p:Status></p:Response>"#
                ),
                Some(OK),
            ),
            // No status, an empty one, a code outside Status, a root that is no Response.
            (
                format!(r#"<p:Response xmlns:p="{P}"><p:Other/></p:Response>"#),
                None,
            ),
            (
                format!(
                    r#"<p:Response xmlns:p="{P}"><p:Status/><p:StatusCode Value="{OK}"/></p:Response>"#
                ),
                None,
            ),
            (
                format!(r#"<p:Response xmlns:p="{P}"><p:StatusCode Value="{OK}"/></p:Response>"#),
                None,
            ),
            (
                format!(
                    r#"<p:LogoutResponse xmlns:p="{P}"><p:Status><p:StatusCode Value="{OK}"/></p:Status></p:LogoutResponse>"#
                ),
                None,
            ),
            (
                format!(r#"<Response><Status><StatusCode Value="{OK}"/></Status></Response>"#),
                None,
            ),
        ];
        for (xml, expected) in cases {
            assert_eq!(response_status(&xml).as_deref(), expected, "{xml}");
        }
    }
}
