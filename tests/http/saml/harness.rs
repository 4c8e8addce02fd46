//! An independent SAML IdP for the scenarios: keys and certificates from a test CA made with
//! the `openssl` CLI, IdP metadata, and responses / logout requests signed by `xmlsec1` (not
//! by our code). Skips loudly without the tools; fails under CI.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, SecondsFormat, Utc};
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

pub const IDP_ENTITY: &str = "https://idp.example.test/metadata";
pub const IDP_SSO: &str = "https://idp.example.test/sso";
pub const IDP_SLO: &str = "https://idp.example.test/slo";

/// Test keys and certificates in a temporary directory.
pub struct Pki {
    pub dir: PathBuf,
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("tool runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    /// A CA, an IdP key + certificate, a rogue key + certificate from the same CA, and our SP
    /// key + certificate. `None` (loudly) when openssl or xmlsec1 is missing, outside CI.
    pub fn generate(name: &str) -> Option<Self> {
        let ready = ["openssl", "xmlsec1"]
            .iter()
            .all(|tool| Command::new(tool).arg("version").output().is_ok());
        if !ready {
            let message = "openssl or xmlsec1 missing (apt-get install xmlsec1 openssl)";
            if std::env::var_os("CI").is_some() {
                panic!("CI requires the SAML tools: {message}");
            }
            eprintln!("\n!!! SKIPPING SAML scenario: {message}\n");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("tmi-auth-saml-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let at = |f: &str| dir.join(f);
        run(Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=tmi-auth test CA",
            ])
            .arg("-keyout")
            .arg(at("ca.key"))
            .arg("-out")
            .arg(at("ca.crt")));
        for who in ["idp", "rogue", "sp"] {
            run(Command::new("openssl")
                .args(["req", "-newkey", "rsa:2048", "-nodes", "-subj"])
                .arg(format!("/CN={who}.example.test"))
                .arg("-keyout")
                .arg(at(&format!("{who}.key")))
                .arg("-out")
                .arg(at(&format!("{who}.csr"))));
            run(Command::new("openssl")
                .args(["x509", "-req", "-days", "2", "-set_serial", "7"])
                .arg("-in")
                .arg(at(&format!("{who}.csr")))
                .arg("-CA")
                .arg(at("ca.crt"))
                .arg("-CAkey")
                .arg(at("ca.key"))
                .arg("-out")
                .arg(at(&format!("{who}.crt"))));
        }
        Some(Self { dir })
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The certificate's base64 DER (PEM body).
    pub fn cert_b64(&self, who: &str) -> String {
        std::fs::read_to_string(self.path(&format!("{who}.crt")))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect()
    }

    /// IdP metadata with the IdP's signing certificate (or none).
    pub fn idp_metadata(&self, with_cert: bool) -> String {
        let key = if with_cert {
            format!(
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
                self.cert_b64("idp")
            )
        } else {
            String::new()
        };
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{IDP_ENTITY}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{key}<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{IDP_SLO}"/><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{IDP_SSO}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
        )
    }

    /// Writes the IdP metadata and returns the TOML of provider `idp` (plus `extra` lines).
    pub fn provider_toml(&self, extra: &str) -> String {
        let metadata = self.path("idp-metadata.xml");
        std::fs::write(&metadata, self.idp_metadata(true)).unwrap();
        format!(
            "[providers.saml.idp]\nname = \"Test IdP\"\nidp_metadata_file = \"{}\"\nsp_key_file = \"{}\"\nsp_certificate_file = \"{}\"\n{extra}\n",
            metadata.display(),
            self.path("sp.key").display(),
            self.path("sp.crt").display()
        )
    }

    /// Signs the element with `id` (`Assertion`, `Response` or `LogoutRequest`, whose
    /// Signature template the XML carries) with `who`'s key, using xmlsec1.
    pub fn sign(&self, xml: &str, element: &str, who: &str) -> String {
        let ns = if element == "Assertion" {
            "urn:oasis:names:tc:SAML:2.0:assertion"
        } else {
            "urn:oasis:names:tc:SAML:2.0:protocol"
        };
        let input = self.path("unsigned.xml");
        let output = self.path("signed.xml");
        std::fs::write(&input, xml).unwrap();
        run(Command::new("xmlsec1")
            .arg("--sign")
            .arg("--privkey-pem")
            .arg(format!(
                "{},{}",
                self.path(&format!("{who}.key")).display(),
                self.path(&format!("{who}.crt")).display()
            ))
            .arg("--id-attr:ID")
            .arg(format!("{ns}:{element}"))
            .arg("--output")
            .arg(&output)
            .arg(&input));
        std::fs::read_to_string(&output).unwrap()
    }

    /// Encrypts `assertion` for our SP certificate with xmlsec1 (`cipher`: `aes128-cbc`,
    /// `aes256-gcm`, …; RSA-OAEP key transport) and returns the `EncryptedAssertion` element.
    pub fn encrypt_assertion(&self, assertion: &str, cipher: &str) -> String {
        let (uri, session) = match cipher {
            "aes128-cbc" => ("http://www.w3.org/2001/04/xmlenc#aes128-cbc", "aes-128"),
            "aes256-cbc" => ("http://www.w3.org/2001/04/xmlenc#aes256-cbc", "aes-256"),
            "aes256-gcm" => ("http://www.w3.org/2009/xmlenc11#aes256-gcm", "aes-256"),
            other => panic!("no such cipher in the harness: {other}"),
        };
        let data = self.path("to-encrypt.xml");
        let template = self.path("enc-template.xml");
        let output = self.path("encrypted.xml");
        std::fs::write(
            &data,
            format!(r#"<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{assertion}</saml:EncryptedAssertion>"#),
        )
        .unwrap();
        std::fs::write(
            &template,
            format!(r#"<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="{uri}"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/><xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>"#),
        )
        .unwrap();
        run(Command::new("xmlsec1")
            .arg("--encrypt")
            .arg("--pubkey-cert-pem")
            .arg(self.path("sp.crt"))
            .args([
                "--session-key",
                session,
                "--node-name",
                "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            ])
            .arg("--xml-data")
            .arg(&data)
            .arg("--output")
            .arg(&output)
            .arg(&template));
        strip_declaration(&std::fs::read_to_string(&output).unwrap()).to_owned()
    }

    /// Signs a redirect-binding query (`SAMLRequest=…&SigAlg=…`) with `who`'s key.
    pub fn sign_query(&self, query: &str, who: &str) -> String {
        let input = self.path("query.txt");
        std::fs::write(&input, query).unwrap();
        let out = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(self.path(&format!("{who}.key")))
            .arg(&input)
            .output()
            .unwrap();
        assert!(out.status.success());
        STANDARD.encode(out.stdout)
    }
}

/// A Signature template for the element with this id.
pub fn signature_template(id: &str) -> String {
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"##
    )
}

pub fn instant(offset: Duration) -> String {
    (Utc::now() + offset).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What goes into one response.
#[derive(Clone)]
pub struct Assertion {
    pub id: String,
    pub in_response_to: Option<String>,
    pub name_id: String,
    pub email: String,
    pub audience: String,
    pub recipient: String,
    pub destination: String,
    pub not_on_or_after: Duration,
    pub sign_response: bool,
}

impl Assertion {
    pub fn new(public: &str, in_response_to: Option<&str>, name_id: &str) -> Self {
        Self {
            id: format!("_a{}", uuid::Uuid::new_v4().simple()),
            in_response_to: in_response_to.map(str::to_owned),
            name_id: name_id.to_owned(),
            email: format!("{name_id}@example.test"),
            audience: format!("{public}/saml/idp/metadata"),
            recipient: format!("{public}/saml/acs"),
            destination: format!("{public}/saml/acs"),
            not_on_or_after: Duration::minutes(5),
            sign_response: false,
        }
    }

    /// The assertion element (with a signature template unless the response is signed).
    pub fn assertion_xml(&self) -> String {
        let irt = self
            .in_response_to
            .as_ref()
            .map(|r| format!(r#" InResponseTo="{r}""#))
            .unwrap_or_default();
        let template = if self.sign_response {
            String::new()
        } else {
            signature_template(&self.id)
        };
        format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" IssueInstant="{now}" Version="2.0"><saml:Issuer>{IDP_ENTITY}</saml:Issuer>{template}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData{irt} NotOnOrAfter="{until}" Recipient="{recipient}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{before}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{now}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="mail"><saml:AttributeValue>{email}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="displayName"><saml:AttributeValue>SAML {name_id}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="groups"><saml:AttributeValue>saml-staff</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#,
            id = self.id,
            now = instant(Duration::zero()),
            before = instant(Duration::minutes(-1)),
            until = instant(self.not_on_or_after),
            name_id = self.name_id,
            recipient = self.recipient,
            audience = self.audience,
            email = self.email,
        )
    }

    /// The full Response around `assertion` (already signed or not).
    pub fn response_xml(&self, assertion: &str) -> String {
        let response_id = format!("_r{}", uuid::Uuid::new_v4().simple());
        let irt = self
            .in_response_to
            .as_ref()
            .map(|r| format!(r#" InResponseTo="{r}""#))
            .unwrap_or_default();
        let template = if self.sign_response {
            signature_template(&response_id)
        } else {
            String::new()
        };
        format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{response_id}" Version="2.0" IssueInstant="{now}" Destination="{destination}"{irt}><saml:Issuer>{IDP_ENTITY}</saml:Issuer>{template}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{assertion}</samlp:Response>"#,
            now = instant(Duration::zero()),
            destination = self.destination,
        )
    }

    /// Signed the usual way: the assertion by `who` (or the whole response).
    pub fn signed(&self, pki: &Pki, who: &str) -> String {
        if self.sign_response {
            pki.sign(&self.response_xml(&self.assertion_xml()), "Response", who)
        } else {
            let assertion = pki.sign(&self.assertion_xml(), "Assertion", who);
            self.response_xml(strip_declaration(&assertion))
        }
    }
}

impl Assertion {
    /// A Response signed by `who` carrying this (unsigned) assertion encrypted for our SP key.
    pub fn signed_encrypted(&self, pki: &Pki, who: &str, cipher: &str) -> String {
        let mut inner = self.clone();
        inner.sign_response = true;
        let encrypted = pki.encrypt_assertion(&inner.assertion_xml(), cipher);
        pki.sign(&inner.response_xml(&encrypted), "Response", who)
    }

    /// An unsigned Response carrying this assertion signed by `who` (`None`: unsigned) and
    /// then encrypted for our SP key: what Microsoft Entra ID and AD FS send by default.
    pub fn encrypted_signed_assertion(&self, pki: &Pki, who: Option<&str>, cipher: &str) -> String {
        let mut inner = self.clone();
        inner.sign_response = false;
        let assertion = match who {
            Some(who) => {
                strip_declaration(&pki.sign(&inner.assertion_xml(), "Assertion", who)).to_owned()
            }
            None => inner
                .assertion_xml()
                .replace(&signature_template(&inner.id), ""),
        };
        inner.response_xml(&pki.encrypt_assertion(&assertion, cipher))
    }
}

pub fn strip_declaration(xml: &str) -> &str {
    match xml.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map(|(_, r)| r.trim_start())
            .unwrap_or(xml),
        None => xml.trim_start(),
    }
}

pub fn b64(xml: &str) -> String {
    STANDARD.encode(xml)
}

/// A LogoutRequest for `name_id`, with a signature template when `template`.
pub fn logout_request(public: &str, name_id: &str, template: bool) -> (String, String) {
    let id = format!("_l{}", uuid::Uuid::new_v4().simple());
    let sig = if template {
        signature_template(&id)
    } else {
        String::new()
    };
    let xml = format!(
        r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{public}/saml/slo"><saml:Issuer>{IDP_ENTITY}</saml:Issuer>{sig}<saml:NameID>{name_id}</saml:NameID></samlp:LogoutRequest>"#,
        now = instant(Duration::zero()),
    );
    (id, xml)
}

/// Raw DEFLATE + base64, as the redirect binding carries messages.
pub fn deflate_b64(xml: &str) -> String {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(xml.as_bytes()).unwrap();
    STANDARD.encode(encoder.finish().unwrap())
}

pub fn inflate_b64(encoded: &str) -> String {
    let bytes = STANDARD.decode(encoded).unwrap();
    let mut out = String::new();
    DeflateDecoder::new(bytes.as_slice())
        .read_to_string(&mut out)
        .unwrap();
    out
}

/// The value of attribute `name` on the root element.
pub fn attribute(xml: &str, name: &str) -> String {
    let start = xml.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
    xml[start..].split('"').next().unwrap().to_owned()
}
