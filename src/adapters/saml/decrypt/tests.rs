use openssl::encrypt::Encrypter;
use openssl::hash::MessageDigest;
use openssl::rand::rand_bytes;
use openssl::rsa::{Padding, Rsa};
use openssl::symm::{Crypter, Mode};

use super::crypto::{ContentCipher, content_cipher};
use super::*;

const ASSERTION: &str = r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a"><saml:Issuer>idp</saml:Issuer></saml:Assertion>"#;

fn key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

/// What an IdP does: a fresh session key wrapped with RSA-OAEP (`digest`, `mgf`), the
/// assertion encrypted under it.
struct Sealed {
    key_algorithm: &'static str,
    digest: Option<(&'static str, MessageDigest)>,
    mgf: Option<(&'static str, MessageDigest)>,
    data_algorithm: &'static str,
}

const OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const OAEP11: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";

impl Sealed {
    fn new(data_algorithm: &'static str) -> Self {
        Self {
            key_algorithm: OAEP_MGF1P,
            digest: None,
            mgf: None,
            data_algorithm,
        }
    }

    fn content(&self, session: &[u8], plaintext: &[u8]) -> Vec<u8> {
        match content_cipher(self.data_algorithm).unwrap() {
            ContentCipher::Cbc(c) => {
                let mut iv = [0u8; 16];
                rand_bytes(&mut iv).unwrap();
                // xmlenc padding: arbitrary bytes, the last one says how many.
                let pad = 16 - plaintext.len() % 16;
                let mut padded = plaintext.to_vec();
                padded.extend(std::iter::repeat_n(0xAA, pad - 1));
                padded.push(pad as u8);
                let mut crypter = Crypter::new(c, Mode::Encrypt, session, Some(&iv)).unwrap();
                crypter.pad(false);
                let mut out = vec![0; padded.len() + 16];
                let n = crypter.update(&padded, &mut out).unwrap();
                let m = crypter.finalize(&mut out[n..]).unwrap();
                out.truncate(n + m);
                [iv.as_slice(), &out].concat()
            }
            ContentCipher::Gcm(c) => {
                let mut iv = [0u8; 12];
                rand_bytes(&mut iv).unwrap();
                let mut crypter = Crypter::new(c, Mode::Encrypt, session, Some(&iv)).unwrap();
                let mut out = vec![0; plaintext.len() + 16];
                let n = crypter.update(plaintext, &mut out).unwrap();
                let m = crypter.finalize(&mut out[n..]).unwrap();
                out.truncate(n + m);
                let mut tag = [0u8; 16];
                crypter.get_tag(&mut tag).unwrap();
                [iv.as_slice(), &out, &tag].concat()
            }
        }
    }

    fn wrap(&self, to: &PKey<Private>, session: &[u8]) -> Vec<u8> {
        let public = PKey::public_key_from_der(&to.public_key_to_der().unwrap()).unwrap();
        let mut encrypter = Encrypter::new(&public).unwrap();
        encrypter.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
        let digest = self.digest.map_or(MessageDigest::sha1(), |(_, d)| d);
        let mgf = self.mgf.map_or(MessageDigest::sha1(), |(_, d)| d);
        encrypter.set_rsa_oaep_md(digest).unwrap();
        encrypter.set_rsa_mgf1_md(mgf).unwrap();
        let mut out = vec![0; encrypter.encrypt_len(session).unwrap()];
        let n = encrypter.encrypt(session, &mut out).unwrap();
        out.truncate(n);
        out
    }

    fn encrypted_key(&self, to: &PKey<Private>, session: &[u8]) -> String {
        let digest = self
            .digest
            .map(|(uri, _)| format!(r#"<ds:DigestMethod Algorithm="{uri}"/>"#))
            .unwrap_or_default();
        let mgf = self
            .mgf
            .map(|(uri, _)| format!(r#"<xenc11:MGF xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" Algorithm="{uri}"/>"#))
            .unwrap_or_default();
        format!(
            r#"<xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="{}">{digest}{mgf}</xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>"#,
            self.key_algorithm,
            STANDARD.encode(self.wrap(to, session))
        )
    }

    /// An EncryptedAssertion with the EncryptedKey inside EncryptedData's KeyInfo.
    fn seal(&self, to: &PKey<Private>, plaintext: &str) -> String {
        let session = self.session();
        self.seal_with(&self.encrypted_key(to, &session), "", &session, plaintext)
    }

    fn session(&self) -> Vec<u8> {
        let mut session = vec![0u8; content_cipher(self.data_algorithm).unwrap().key_len()];
        rand_bytes(&mut session).unwrap();
        session
    }

    fn seal_with(
        &self,
        inner_keys: &str,
        outer_keys: &str,
        session: &[u8],
        plaintext: &str,
    ) -> String {
        format!(
            r#"<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedData Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="{}"/><ds:KeyInfo>{inner_keys}</ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>{outer_keys}</saml:EncryptedAssertion>"#,
            self.data_algorithm,
            STANDARD.encode(self.content(session, plaintext.as_bytes()))
        )
    }
}

fn response(encrypted: &str) -> String {
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r">{encrypted}</samlp:Response>"#
    )
}

fn all() -> Vec<String> {
    CONTENT.iter().map(|(_, uri)| (*uri).to_owned()).collect()
}

fn open(xml: &str, key: &PKey<Private>) -> Result<String, SamlError> {
    let found = find(xml)?.expect("an EncryptedAssertion");
    decrypt(&found, key, &all())
}

#[test]
fn every_supported_content_algorithm_decrypts() {
    let key = key();
    assert_eq!(CONTENT.len(), 6, "AES-128/192/256 in GCM and CBC");
    for (_, algorithm) in CONTENT {
        assert!(content_cipher(algorithm).is_some(), "{algorithm}");
        let xml = response(&Sealed::new(algorithm).seal(&key, ASSERTION));
        assert_eq!(open(&xml, &key).unwrap(), ASSERTION, "{algorithm}");
    }
}

#[test]
fn a_provider_may_accept_fewer_algorithms() {
    let key = key();
    let gcm = vec!["http://www.w3.org/2009/xmlenc11#aes256-gcm".to_owned()];
    let ok =
        response(&Sealed::new("http://www.w3.org/2009/xmlenc11#aes256-gcm").seal(&key, ASSERTION));
    let found = find(&ok).unwrap().unwrap();
    assert_eq!(decrypt(&found, &key, &gcm).unwrap(), ASSERTION);
    let cbc =
        response(&Sealed::new("http://www.w3.org/2001/04/xmlenc#aes256-cbc").seal(&key, ASSERTION));
    let found = find(&cbc).unwrap().unwrap();
    let err = decrypt(&found, &key, &gcm).unwrap_err().to_string();
    assert!(err.contains("not allowed for this provider"), "{err}");
}

#[test]
fn oaep_digest_and_mgf_are_read_from_the_message() {
    let key = key();
    let sha256 = (
        "http://www.w3.org/2001/04/xmlenc#sha256",
        MessageDigest::sha256(),
    );
    let cases = [
        Sealed {
            key_algorithm: OAEP11,
            digest: Some(sha256),
            mgf: Some((
                "http://www.w3.org/2009/xmlenc11#mgf1sha256",
                MessageDigest::sha256(),
            )),
            data_algorithm: "http://www.w3.org/2009/xmlenc11#aes256-gcm",
        },
        Sealed {
            key_algorithm: OAEP11,
            digest: Some(sha256),
            mgf: None,
            data_algorithm: "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
        },
        // xmlenc 1.0 with a SHA-256 digest (MGF1 stays SHA-1), as ADFS and Entra send it.
        Sealed {
            key_algorithm: OAEP_MGF1P,
            digest: Some(sha256),
            mgf: None,
            data_algorithm: "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
        },
    ];
    for sealed in cases {
        let xml = response(&sealed.seal(&key, ASSERTION));
        assert_eq!(
            open(&xml, &key).unwrap(),
            ASSERTION,
            "{sealed:?}",
            sealed = sealed.key_algorithm
        );
    }
    // A digest the key was not wrapped with does not unwrap it.
    let mut wrong = Sealed::new("http://www.w3.org/2009/xmlenc11#aes128-gcm");
    wrong.key_algorithm = OAEP11;
    let xml = wrong.seal(&key, ASSERTION).replace(
        "</xenc:EncryptionMethod>",
        r#"<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha512"/></xenc:EncryptionMethod>"#,
    );
    assert_eq!(
        open(&response(&xml), &key).unwrap_err().to_string(),
        failed().to_string()
    );
}

#[test]
fn pkcs1_v15_key_transport_and_unknown_algorithms_are_refused() {
    let key = key();
    let sealed = Sealed::new("http://www.w3.org/2009/xmlenc11#aes128-gcm");
    let xml = sealed
        .seal(&key, ASSERTION)
        .replace(OAEP_MGF1P, "http://www.w3.org/2001/04/xmlenc#rsa-1_5");
    let err = open(&response(&xml), &key).unwrap_err().to_string();
    assert!(err.contains("unsupported key transport"), "{err}");
    let xml = sealed.seal(&key, ASSERTION).replace(
        "http://www.w3.org/2009/xmlenc11#aes128-gcm",
        "http://www.w3.org/2001/04/xmlenc#tripledes-cbc",
    );
    let err = open(&response(&xml), &key).unwrap_err().to_string();
    assert!(err.contains("not allowed"), "{err}");
    let found = find(&response(&xml)).unwrap().unwrap();
    let anything = vec!["http://www.w3.org/2001/04/xmlenc#tripledes-cbc".to_owned()];
    let err = decrypt(&found, &key, &anything).unwrap_err().to_string();
    assert!(err.contains("unsupported content encryption"), "{err}");
}

#[test]
fn tampering_and_the_wrong_key_fail_alike() {
    let key = key();
    let other = self::key();
    for algorithm in [
        "http://www.w3.org/2009/xmlenc11#aes256-gcm",
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
    ] {
        let sealed = Sealed::new(algorithm);
        let session = sealed.session();
        let good = sealed.seal_with(
            &sealed.encrypted_key(&key, &session),
            "",
            &session,
            ASSERTION,
        );
        assert_eq!(
            open(&response(&good), &other).unwrap_err().to_string(),
            failed().to_string()
        );
        // Flip a bit in the last byte of the content (the GCM tag, or the CBC padding length).
        let found = find(&good).unwrap().unwrap();
        let mut content = base64(&found.data.as_ref().unwrap().value).unwrap();
        *content.last_mut().unwrap() ^= 0x40;
        let forged = good.replace(
            &found.data.as_ref().unwrap().value,
            &STANDARD.encode(&content),
        );
        assert_eq!(
            open(&response(&forged), &key).unwrap_err().to_string(),
            failed().to_string(),
            "{algorithm}"
        );
        // Plaintext that is not one SAML Assertion fails the same way.
        for plaintext in [
            "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"><!-- c --></saml:Assertion>",
            "<?xml version=\"1.0\"?><saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"/>",
            "<saml:Assertion xmlns:saml=\"urn:x\"/><saml:Assertion xmlns:saml=\"urn:x\"/>",
            "<x/>",
            "not xml",
        ] {
            let xml = sealed.seal(&key, plaintext);
            assert_eq!(
                open(&response(&xml), &key).unwrap_err().to_string(),
                failed().to_string(),
                "{plaintext}"
            );
        }
    }
}

#[test]
fn keys_beside_the_data_and_for_other_recipients_are_found() {
    let key = key();
    let other = self::key();
    let sealed = Sealed::new("http://www.w3.org/2001/04/xmlenc#aes128-cbc");
    let session = sealed.session();
    // Shibboleth puts the EncryptedKey beside EncryptedData; an IdP may wrap the key for
    // several recipients.
    let keys = format!(
        "{}{}",
        sealed.encrypted_key(&other, &session),
        sealed.encrypted_key(&key, &session)
    );
    let xml = sealed.seal_with("", &keys, &session, ASSERTION);
    assert_eq!(open(&response(&xml), &key).unwrap(), ASSERTION);
}

#[test]
fn base64_broken_into_lines_with_character_references_decodes() {
    let key = key();
    let xml = Sealed::new("http://www.w3.org/2009/xmlenc11#aes128-gcm").seal(&key, ASSERTION);
    let found = find(&xml).unwrap().unwrap();
    let value = &found.data.as_ref().unwrap().value;
    let wrapped: String = value
        .as_bytes()
        .chunks(20)
        .map(|c| format!("{}&#xD;\n", std::str::from_utf8(c).unwrap()))
        .collect();
    let xml = xml.replace(value.as_str(), &wrapped);
    assert_eq!(open(&response(&xml), &key).unwrap(), ASSERTION);
}

#[test]
fn the_encrypted_assertion_is_replaced_in_place_with_its_namespaces() {
    let key = key();
    // The decrypted assertion uses the prefix `saml`, declared only on EncryptedAssertion.
    let plain = r#"<saml:Assertion ID="_a"><saml:Issuer>idp</saml:Issuer></saml:Assertion>"#;
    let encrypted = Sealed::new("http://www.w3.org/2009/xmlenc11#aes128-gcm").seal(&key, plain);
    let xml = response(&encrypted);
    let found = find(&xml).unwrap().unwrap();
    assert_eq!(&xml[found.span.clone()], encrypted);
    let assertion = decrypt(&found, &key, &all()).unwrap();
    let spliced = splice(&xml, &found, &assertion).unwrap();
    assert!(spliced.starts_with(r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r"><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xenc="#), "{spliced}");
    assert!(
        spliced.ends_with("</saml:Issuer></saml:Assertion></samlp:Response>"),
        "{spliced}"
    );
    assert!(!spliced.contains("EncryptedAssertion"));
    // A prefix the assertion declares itself is not declared twice.
    let found = find(&response(
        &Sealed::new("http://www.w3.org/2009/xmlenc11#aes128-gcm").seal(&key, ASSERTION),
    ))
    .unwrap()
    .unwrap();
    let empty = response("");
    let at = empty.find("</samlp:Response>").unwrap();
    let spliced = splice(
        &empty,
        &EncryptedAssertion {
            span: at..at,
            ..found
        },
        ASSERTION,
    )
    .unwrap();
    assert_eq!(spliced.matches("xmlns:saml=").count(), 1, "{spliced}");
    // Declarations are read as attributes: a `>` in a value does not hide one, and a value
    // with a double quote keeps single quotes.
    let tricky =
        r#"<saml:Assertion Note="a>b" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"/>"#;
    let with_quote = EncryptedAssertion {
        span: at..at,
        declarations: vec![
            (
                "xmlns:saml".into(),
                "urn:oasis:names:tc:SAML:2.0:assertion".into(),
            ),
            ("xmlns:q".into(), r#"urn:"q""#.into()),
        ],
        ..Default::default()
    };
    let spliced = splice(&empty, &with_quote, tricky).unwrap();
    assert_eq!(spliced.matches("xmlns:saml=").count(), 1, "{spliced}");
    assert!(
        spliced.contains(r#"<saml:Assertion xmlns:q='urn:"q"' Note="a>b""#),
        "{spliced}"
    );
    // A span that does not fall on character boundaries is an error, not a panic.
    let nbsp = "<a>\u{a0}</a>";
    let cut = EncryptedAssertion {
        span: 4..5,
        ..Default::default()
    };
    assert!(splice(nbsp, &cut, ASSERTION).is_err());
}

#[test]
fn the_plaintext_is_one_assertion_and_nothing_else() {
    let key = key();
    let sealed = Sealed::new("http://www.w3.org/2009/xmlenc11#aes128-gcm");
    let ok = format!("\n  {ASSERTION}\n");
    assert_eq!(
        open(&response(&sealed.seal(&key, &ok)), &key).unwrap(),
        ASSERTION
    );
    for plaintext in [
        format!("{ASSERTION}</samlp:Response><samlp:Response>"),
        format!("{ASSERTION}<x/>"),
        format!("{ASSERTION}text"),
        format!("{ASSERTION}<![CDATA[x]]>"),
        format!("<x/>{ASSERTION}"),
        ASSERTION.replace("</saml:Assertion>", ""),
    ] {
        let xml = response(&sealed.seal(&key, &plaintext));
        assert_eq!(
            open(&xml, &key).unwrap_err().to_string(),
            failed().to_string(),
            "{plaintext}"
        );
    }
}

#[test]
fn key_and_data_structure_limits() {
    let key = key();
    let sealed = Sealed::new("http://www.w3.org/2009/xmlenc11#aes128-gcm");
    let session = sealed.session();
    let one = sealed.encrypted_key(&key, &session);
    // Four keys are tried; a fifth is refused before any RSA operation.
    let four = sealed.seal_with("", &one.repeat(4), &session, ASSERTION);
    assert_eq!(open(&response(&four), &key).unwrap(), ASSERTION);
    let five = sealed.seal_with("", &one.repeat(5), &session, ASSERTION);
    assert!(
        find(&response(&five))
            .unwrap_err()
            .to_string()
            .contains("more than four")
    );
    // A key wrapped inside another key, a second EncryptedData, an OAEP label: refused.
    let nested = one.replace(
        "<xenc:CipherData>",
        &format!("<ds:KeyInfo>{one}</ds:KeyInfo><xenc:CipherData>"),
    );
    let xml = sealed.seal_with(&nested, "", &session, ASSERTION);
    assert!(
        find(&response(&xml))
            .unwrap_err()
            .to_string()
            .contains("another key")
    );
    let data = sealed.seal_with(&one, "", &session, ASSERTION);
    let start = data.find("<xenc:EncryptedData").unwrap();
    let end = data.find("</xenc:EncryptedData>").unwrap() + "</xenc:EncryptedData>".len();
    let doubled = data.replace(
        "</saml:EncryptedAssertion>",
        &format!("{}</saml:EncryptedAssertion>", &data[start..end]),
    );
    assert!(
        find(&response(&doubled))
            .unwrap_err()
            .to_string()
            .contains("more than one EncryptedData")
    );
    let label = data.replace(
        &format!(r#"Algorithm="{OAEP_MGF1P}">"#),
        &format!(r#"Algorithm="{OAEP_MGF1P}"><xenc:OAEPparams>bGFiZWw=</xenc:OAEPparams>"#),
    );
    assert!(
        find(&response(&label))
            .unwrap_err()
            .to_string()
            .contains("OAEP label")
    );
    // Base64 in CDATA is read.
    let found = find(&data).unwrap().unwrap();
    let value = found.data.as_ref().unwrap().value.clone();
    let cdata = data.replace(&value, &format!("<![CDATA[{value}]]>"));
    assert_eq!(open(&response(&cdata), &key).unwrap(), ASSERTION);
}

#[test]
fn two_encrypted_assertions_or_none_in_the_saml_namespace() {
    let key = key();
    let one = Sealed::new("http://www.w3.org/2009/xmlenc11#aes128-gcm").seal(&key, ASSERTION);
    assert!(find(&response(&format!("{one}{one}"))).is_err());
    assert!(find(&response("")).unwrap().is_none());
    let foreign = one.replace("urn:oasis:names:tc:SAML:2.0:assertion", "urn:other");
    assert!(find(&response(&foreign)).unwrap().is_none());
}
