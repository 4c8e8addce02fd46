//! SAML 2.0 service provider (samael with xmlsec): SP metadata, SP-initiated login with the
//! HTTP-Redirect binding, ACS validation of HTTP-POST responses, and signed single logout
//! (HTTP-Redirect and HTTP-POST).
//!
//! Invariants: every message passes [`guard`] before any parser; a response must carry
//! exactly one assertion, covered by a signature of a certificate from the IdP metadata
//! (samael reduces the document to its signed parts before reading it); an IdP whose metadata
//! has no signing certificate is refused at startup (samael would accept anything); SHA-1
//! signatures are refused; an audience restriction naming us is required.

mod decrypt;
mod guard;
mod identity;
mod logout;
mod redirect;
mod refresh;

use chrono::{Duration, Utc};
use openssl::pkey::{PKey, Private};
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider as _, ReduceMode,
};
use samael::metadata::{EncryptionMethod, Endpoint, EntityDescriptor, HTTP_POST_BINDING};
use samael::schema::Assertion;
use samael::service_provider::{Error as SpError, ServiceProvider};
use samael::traits::ToXml;
use secrecy::{ExposeSecret, SecretString};

use self::decrypt::{Decrypted, without_signature_check};

pub use decrypt::CONTENT as CONTENT_ENCRYPTION;
pub use guard::{MAX_XML_BYTES, decode_post};
pub use identity::AttributeMapping;
pub use refresh::RefreshingSamlProvider;

use crate::ports::saml::{
    SamlAssertion, SamlError, SamlLoginRequest, SamlLogout, SamlProvider, SamlProviderInfo,
};

/// The HTTP-Redirect binding URI.
pub const HTTP_REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// Signature algorithms we accept (no SHA-1, no DSA).
const ALLOWED: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// Everything one SAML provider needs, validated by the configuration.
#[derive(Debug, Clone)]
pub struct SamlSettings {
    /// Id, name, icon and our URLs (`initialized` is computed).
    pub info: SamlProviderInfo,
    /// Our private key (PEM), for signing AuthnRequests and decrypting assertions.
    pub sp_key_pem: Option<SecretString>,
    /// Our certificate (PEM), published in our metadata.
    pub sp_cert_pem: Option<String>,
    /// The IdP's metadata XML; `None` when it could not be loaded.
    pub idp_metadata_xml: Option<String>,
    /// Attribute mapping.
    pub attributes: AttributeMapping,
    /// Sign AuthnRequests (needs `sp_key_pem`).
    pub sign_authn_requests: bool,
    /// Ask the IdP to re-authenticate the user.
    pub force_authn: bool,
    /// Clock skew tolerated on time conditions.
    pub clock_skew: Duration,
    /// The content encryption algorithms (URIs) accepted from this IdP, preferred first.
    pub content_encryption: Vec<String>,
}

/// A SAML IdP served through samael.
pub struct SamaelProvider {
    info: SamlProviderInfo,
    sp: ServiceProvider,
    idp_entity_id: String,
    idp_certs: Vec<CertificateDer>,
    key: Option<PKey<Private>>,
    attributes: AttributeMapping,
    sign_authn_requests: bool,
    skew: Duration,
    content_encryption: Vec<String>,
}

impl SamaelProvider {
    /// Builds the provider. Fails (naming the problem) on an unusable key or certificate, or
    /// IdP metadata without an entity id or a signing certificate. Without metadata the
    /// provider is listed as not initialized and refuses logins.
    pub fn new(settings: SamlSettings) -> Result<Self, String> {
        let key = settings
            .sp_key_pem
            .as_ref()
            .map(|pem| {
                PKey::private_key_from_pem(pem.expose_secret().as_bytes())
                    .map_err(|_| "sp_key is not a PEM private key".to_owned())
            })
            .transpose()?;
        let certificate = settings
            .sp_cert_pem
            .as_ref()
            .map(|pem| {
                openssl::x509::X509::from_pem(pem.as_bytes())
                    .and_then(|c| c.to_der())
                    .map(CertificateDer::from)
                    .map_err(|_| "sp_certificate is not a PEM certificate".to_owned())
            })
            .transpose()?;
        if settings.sign_authn_requests && key.is_none() {
            return Err("sign_authn_requests needs sp_key".into());
        }
        let mut info = settings.info.clone();
        let (idp_metadata, idp_certs, idp_entity_id) = match &settings.idp_metadata_xml {
            Some(xml) => {
                guard::check_metadata(xml).map_err(|e| e.to_string())?;
                let metadata: EntityDescriptor = xml
                    .parse()
                    .map_err(|e| format!("IdP metadata does not parse: {e}"))?;
                let entity_id = metadata
                    .entity_id
                    .clone()
                    .filter(|id| !id.is_empty())
                    .ok_or("IdP metadata has no entityID")?;
                let probe = ServiceProvider {
                    idp_metadata: metadata.clone(),
                    ..ServiceProvider::default()
                };
                let certs = probe
                    .idp_signing_certs()
                    .map_err(|e| format!("IdP metadata certificates: {e}"))?
                    .unwrap_or_default();
                if certs.is_empty() {
                    return Err("IdP metadata has no signing certificate; refusing to accept unsigned responses".into());
                }
                info.initialized = true;
                (metadata, certs, entity_id)
            }
            None => {
                info.initialized = false;
                (EntityDescriptor::default(), Vec::new(), String::new())
            }
        };
        let sp = ServiceProvider {
            entity_id: Some(info.entity_id.clone()),
            // samael never decrypts (it does AES-128 only, accepts RSA PKCS#1 v1.5 and checks
            // no signature inside): `decrypt` does, with our own copy of the key.
            key: None,
            certificate,
            metadata_url: Some(info.metadata_url.clone()),
            acs_url: Some(info.acs_url.clone()),
            slo_url: Some(info.slo_url.clone()),
            idp_metadata,
            force_authn: settings.force_authn,
            allow_idp_initiated: false,
            max_issue_delay: Duration::seconds(90),
            max_clock_skew: settings.clock_skew,
            allowed_signature_algorithms: Some(ALLOWED.to_vec()),
            ..ServiceProvider::default()
        };
        Ok(Self {
            info,
            sp,
            idp_entity_id,
            idp_certs,
            key,
            attributes: settings.attributes,
            sign_authn_requests: settings.sign_authn_requests,
            skew: settings.clock_skew,
            content_encryption: settings.content_encryption,
        })
    }

    fn ready(&self) -> Result<(), SamlError> {
        if self.info.initialized {
            Ok(())
        } else {
            Err(SamlError::Unavailable("IdP metadata not loaded".into()))
        }
    }

    fn check_assertion(&self, assertion: &Assertion, unsolicited: bool) -> Result<(), SamlError> {
        let conditions = assertion
            .conditions
            .as_ref()
            .ok_or_else(|| SamlError::Invalid("assertion has no Conditions".into()))?;
        let names_us = conditions
            .audience_restrictions
            .iter()
            .flatten()
            .any(|r| r.audience.iter().any(|a| a == &self.info.entity_id));
        if !names_us {
            return Err(SamlError::Invalid(
                "assertion is not restricted to our audience".into(),
            ));
        }
        let confirmations = assertion
            .subject
            .as_ref()
            .and_then(|s| s.subject_confirmations.as_ref())
            .into_iter()
            .flatten()
            .filter(|c| c.method.as_deref() == Some(BEARER));
        for confirmation in confirmations {
            let solicited = confirmation
                .subject_confirmation_data
                .as_ref()
                .and_then(|d| d.in_response_to.as_ref())
                .is_some();
            if unsolicited && solicited {
                return Err(SamlError::Invalid(
                    "an unsolicited response answers a request".into(),
                ));
            }
        }
        Ok(())
    }

    fn expiry(&self, assertion: &Assertion) -> chrono::DateTime<Utc> {
        let from_conditions = assertion
            .conditions
            .as_ref()
            .and_then(|c| c.not_on_or_after);
        let from_confirmation = assertion
            .subject
            .as_ref()
            .and_then(|s| s.subject_confirmations.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|c| c.subject_confirmation_data.as_ref()?.not_on_or_after)
            .max();
        let latest = [from_conditions, from_confirmation]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(assertion.issue_instant + Duration::seconds(90));
        latest + self.skew
    }

    /// The message with its `EncryptedAssertion` (if any) replaced by the decrypted assertion.
    /// A signed Response is verified as it came (its signature covers the ciphertext), and
    /// only what that signature covers is decrypted and returned. Otherwise the assertion is
    /// decrypted first and must carry its own signature, which samael then checks.
    fn decrypted(&self, xml: String) -> Result<(String, Decrypted), SamlError> {
        let Some(encrypted) = decrypt::find(&xml)? else {
            return Ok((xml, Decrypted::No));
        };
        let key = self.key.as_ref().ok_or_else(|| {
            SamlError::Invalid("the assertion is encrypted, but no sp_key is configured".into())
        })?;
        if !guard::response_signed(&xml) {
            let assertion = decrypt::decrypt(&encrypted, key, &self.content_encryption)?;
            return Ok((
                decrypt::splice(&xml, &encrypted, &assertion)?,
                Decrypted::BeforeVerifying,
            ));
        }
        let verified = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
            &xml,
            &self.idp_certs,
            ReduceMode::default(),
            Some(ALLOWED),
        )
        .map_err(|_| {
            SamlError::Signature("no valid signature of this IdP covers the response".into())
        })?;
        // What the signature covers must still be a successful Response holding the
        // encrypted assertion.
        if guard::response_status(&verified).is_none_or(|code| code.trim() != SUCCESS) {
            return Err(SamlError::Signature(
                "the response signature does not cover a successful Response".into(),
            ));
        }
        let encrypted = decrypt::find(&verified)?.ok_or_else(|| {
            SamlError::Signature(
                "the response signature does not cover the encrypted assertion".into(),
            )
        })?;
        let assertion = decrypt::decrypt(&encrypted, key, &self.content_encryption)?;
        Ok((
            decrypt::splice(&verified, &encrypted, &assertion)?,
            Decrypted::AfterVerifying,
        ))
    }

    fn sign_or_not(&self, url: url::Url, sign: bool) -> Result<String, SamlError> {
        match (&self.key, sign) {
            (Some(key), true) => samael::crypto::sign_url(url, key)
                .map(String::from)
                .map_err(|e| SamlError::Unavailable(format!("signing: {e}"))),
            _ => Ok(url.into()),
        }
    }
}

/// The persistent NameID format (SAML core §8.3.7).
const NAME_ID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";

impl SamlProvider for SamaelProvider {
    fn info(&self) -> SamlProviderInfo {
        self.info.clone()
    }

    fn metadata_xml(&self) -> Result<String, SamlError> {
        let mut metadata = self
            .sp
            .metadata()
            .map_err(|e| SamlError::Unavailable(format!("metadata: {e}")))?;
        for descriptor in metadata.sp_sso_descriptors.iter_mut().flatten() {
            descriptor.authn_requests_signed = Some(self.sign_authn_requests);
            // The NameID the README tells operators to configure at the IdP.
            descriptor.name_id_formats = Some(vec![NAME_ID_PERSISTENT.to_owned()]);
            // Offer what we decrypt for this provider. samael marks
            // both of its key descriptors `use="signing"`; the one with the encryption
            // methods is the encryption key, and IdPs that follow `use` look for that.
            for key in descriptor.key_descriptors.iter_mut().flatten() {
                if let Some(methods) = key.encryption_methods.as_mut() {
                    key.key_use = Some("encryption".to_owned());
                    *methods = self
                        .content_encryption
                        .iter()
                        .map(String::as_str)
                        .chain(decrypt::KEY_TRANSPORT.iter().copied())
                        .map(|algorithm| EncryptionMethod {
                            algorithm: algorithm.to_owned(),
                        })
                        .collect();
                }
            }
            descriptor.single_logout_services = Some(vec![
                Endpoint {
                    binding: HTTP_REDIRECT_BINDING.to_owned(),
                    location: self.info.slo_url.clone(),
                    response_location: None,
                },
                Endpoint {
                    binding: HTTP_POST_BINDING.to_owned(),
                    location: self.info.slo_url.clone(),
                    response_location: None,
                },
            ]);
        }
        metadata
            .to_string()
            .map_err(|e| SamlError::Unavailable(format!("metadata: {e}")))
    }

    fn login_request(
        &self,
        relay_state: &str,
        request_id: &str,
    ) -> Result<SamlLoginRequest, SamlError> {
        self.ready()?;
        let location = self
            .sp
            .sso_binding_location(HTTP_REDIRECT_BINDING)
            .ok_or_else(|| {
                SamlError::Unavailable("IdP has no HTTP-Redirect SSO endpoint".into())
            })?;
        let mut request = self
            .sp
            .make_authentication_request(&location)
            .map_err(|e| SamlError::Unavailable(format!("AuthnRequest: {e}")))?;
        request.id = request_id.to_owned();
        let url = request
            .redirect(relay_state)
            .map_err(|e| SamlError::Unavailable(format!("AuthnRequest: {e}")))?
            .ok_or_else(|| SamlError::Unavailable("AuthnRequest has no destination".into()))?;
        Ok(SamlLoginRequest {
            redirect_url: self.sign_or_not(url, self.sign_authn_requests)?,
            request_id: request_id.to_owned(),
        })
    }

    fn validate_response(
        &self,
        saml_response: &str,
        request_id: Option<&str>,
    ) -> Result<SamlAssertion, SamlError> {
        self.ready()?;
        let xml = guard::decode_post(saml_response)?;
        let assertions = guard::count_elements(&xml, "Assertion")
            + guard::count_elements(&xml, "EncryptedAssertion");
        if assertions != 1 || guard::count_elements(&xml, "Response") > 1 {
            return Err(SamlError::Invalid(format!(
                "expected one Response with exactly one assertion, found {assertions}"
            )));
        }
        // The IdP's verdict (SAML Core §3.2.2.2): the Response's own top-level StatusCode
        // must say Success. It lies outside an assertion-only signature (whoever holds such
        // a Response can rewrite it), but an IdP reporting a failure, or no status at all,
        // never logs anyone in.
        match guard::response_status(&xml) {
            Some(code) if code.trim() == SUCCESS => {}
            Some(_) => {
                return Err(SamlError::Invalid(
                    "the IdP reported that the sign-in did not succeed".into(),
                ));
            }
            None => return Err(SamlError::Invalid("the Response has no status".into())),
        }
        let unsolicited = request_id.is_none();
        if unsolicited && !self.info.allow_idp_initiated {
            return Err(SamlError::Invalid(
                "unsolicited (IdP-initiated) responses are not accepted".into(),
            ));
        }
        let sp;
        let service = if unsolicited {
            sp = ServiceProvider {
                allow_idp_initiated: true,
                ..self.sp.clone()
            };
            &sp
        } else {
            &self.sp
        };
        // An encrypted assertion is decrypted here (samael decrypts AES-128 only and would
        // not check a signature inside it). When the Response is signed, its signature is
        // verified first and the decrypted copy is read without verifying again.
        let (xml, decrypted) = self.decrypted(xml)?;
        let unverified_sp;
        let service = if decrypted == Decrypted::AfterVerifying {
            unverified_sp = without_signature_check(service);
            &unverified_sp
        } else {
            service
        };
        let decrypted_unverified = decrypted == Decrypted::BeforeVerifying;
        let ids: Vec<&str> = request_id.into_iter().collect();
        // samael can panic on some malformed (decrypted) content; that is a bad message, not
        // a server error.
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            service.parse_xml_response_with_mode(
                &xml,
                (!unsolicited).then_some(ids.as_slice()),
                ReduceMode::default(),
            )
        }))
        .map_err(|_| SamlError::Invalid("the SAML library could not process the message".into()))?;
        let assertion = parsed.map_err(|err| match err {
            // Decrypted before any signature was checked: whether a forged ciphertext
            // decrypted to something parseable must not show (the CBC padding oracle).
            SpError::FailedToValidateSignature
            | SpError::FailedToParseSamlResponse(_)
            | SpError::FailedToParseSamlAssertion(_)
                if decrypted_unverified =>
            {
                decrypt::failed()
            }
            SpError::FailedToValidateSignature => {
                SamlError::Signature("no valid signature of this IdP covers the assertion".into())
            }
            other => SamlError::Invalid(other.to_string()),
        })?;
        self.check_assertion(&assertion, unsolicited)?;
        let identity = self
            .attributes
            .identity(&assertion)
            .map_err(SamlError::Invalid)?;
        let name_id = assertion
            .subject
            .as_ref()
            .and_then(|s| s.name_id.as_ref())
            .map(|n| n.value.trim().to_owned())
            .filter(|n| self.attributes.subject.is_some() && !n.is_empty() && n.len() <= 1024);
        Ok(SamlAssertion {
            identity,
            expires_at: self.expiry(&assertion),
            assertion_id: assertion.id,
            name_id,
        })
    }

    fn validate_logout_redirect(&self, raw_query: &str) -> Result<SamlLogout, SamlError> {
        self.logout_redirect(raw_query)
    }

    fn validate_logout_post(&self, saml_request: &str) -> Result<SamlLogout, SamlError> {
        self.logout_post(saml_request)
    }

    fn logout_response_redirect(
        &self,
        request_id: &str,
        response_id: &str,
    ) -> Result<Option<String>, SamlError> {
        self.logout_response(request_id, response_id)
    }
}
