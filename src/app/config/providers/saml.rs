//! `[providers.saml.<id>]`: SAML 2.0 identity providers.
//!
//! ```toml
//! [providers.saml.okta]
//! idp_metadata_url = "https://example.okta.com/app/abc/sso/saml/metadata"
//! sp_key_file = "/etc/tmi-auth/saml-sp.key"
//! sp_certificate_file = "/etc/tmi-auth/saml-sp.crt"
//! ```

use std::path::PathBuf;

use chrono::Duration;
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use crate::adapters::saml::{AttributeMapping, CONTENT_ENCRYPTION as CONTENT, SamlSettings};
use crate::app::config::ConfigError;
use crate::domain::login::params::is_valid_provider_id;
use crate::ports::saml::SamlProviderInfo;

/// Attribute names (matched against `Name` or `FriendlyName`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SamlAttributesConfig {
    /// Where the stable user id is: `name_id` (default) or an attribute name such as
    /// `urn:oasis:names:tc:SAML:attribute:subject-id`.
    pub subject: Option<String>,
    /// E-mail attribute (default: email, mail, the LDAP and WS-Fed names).
    pub email: Option<String>,
    /// Display-name attribute.
    pub name: Option<String>,
    /// Groups attribute.
    pub groups: Option<String>,
    /// Whether this IdP's e-mail counts as verified (for e-mail rules and linking).
    pub email_verified: bool,
}

/// One SAML IdP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamlProviderConfig {
    /// Set false to keep the entry but not offer it.
    pub enabled: bool,
    /// Display name (default: the id).
    pub name: Option<String>,
    /// Icon identifier.
    pub icon: String,
    /// Our SP entity id (default: our metadata URL for this provider).
    pub entity_id: Option<String>,
    /// Our private key, PEM (prefer `sp_key_file`).
    pub sp_key: Option<SecretString>,
    /// File holding our private key (PEM).
    pub sp_key_file: Option<PathBuf>,
    /// Our certificate, PEM.
    pub sp_certificate: Option<String>,
    /// File holding our certificate (PEM).
    pub sp_certificate_file: Option<PathBuf>,
    /// The IdP's metadata XML, inline.
    pub idp_metadata: Option<String>,
    /// File holding the IdP's metadata XML.
    pub idp_metadata_file: Option<PathBuf>,
    /// URL of the IdP's metadata, fetched at startup (timeout, 1 MiB cap).
    pub idp_metadata_url: Option<String>,
    /// Attribute mapping.
    pub attributes: SamlAttributesConfig,
    /// Accept unsolicited responses.
    pub allow_idp_initiated: bool,
    /// Sign AuthnRequests (needs the SP key).
    pub sign_authn_requests: bool,
    /// Ask for re-authentication.
    pub force_authn: bool,
    /// Clock skew tolerated on time conditions, seconds.
    pub clock_skew_secs: u64,
    /// Content encryption algorithms accepted for encrypted assertions, preferred first
    /// (default: all six; `aes128-gcm` … `aes256-cbc`).
    pub encryption_methods: Option<Vec<String>>,
}

impl Default for SamlProviderConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            name: None,
            icon: "key".to_owned(),
            entity_id: None,
            sp_key: None,
            sp_key_file: None,
            sp_certificate: None,
            sp_certificate_file: None,
            idp_metadata: None,
            idp_metadata_file: None,
            idp_metadata_url: None,
            attributes: SamlAttributesConfig::default(),
            allow_idp_initiated: false,
            sign_authn_requests: false,
            force_authn: false,
            clock_skew_secs: 60,
            encryption_methods: None,
        }
    }
}

/// A validated SAML provider; `metadata_url` is fetched at startup when set.
#[derive(Debug, Clone)]
pub struct SamlSpec {
    /// Settings (with `idp_metadata_xml` unset when it comes from a URL).
    pub settings: SamlSettings,
    /// Where to fetch the IdP metadata from.
    pub metadata_url: Option<Url>,
}

impl SamlProviderConfig {
    /// Validates the entry and reads its files; `public_url` has no trailing slash.
    pub fn spec(&self, id: &str, public_url: &str) -> Result<SamlSpec, ConfigError> {
        let key = |field: &str| format!("providers.saml.{id}.{field}");
        let err = |field: &str, msg: &str| ConfigError::new(&key(field), msg);
        if !is_valid_provider_id(id) {
            return Err(ConfigError::new(
                &format!("providers.saml.{id}"),
                "the id must match ^[a-zA-Z][a-zA-Z0-9_-]*$ (at most 100 characters)",
            ));
        }
        if !(0..=300).contains(&self.clock_skew_secs) {
            return Err(err("clock_skew_secs", "must be between 0 and 300"));
        }
        let name = self.name.clone().unwrap_or_else(|| id.to_owned());
        for (field, value) in [("name", &name), ("icon", &self.icon)] {
            if value.trim().is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
                return Err(err(field, "must be 1-256 printable characters"));
            }
        }
        let metadata_url = format!("{public_url}/saml/{id}/metadata");
        let entity_id = self
            .entity_id
            .clone()
            .unwrap_or_else(|| metadata_url.clone());
        if entity_id.trim().is_empty() || entity_id.len() > 1000 {
            return Err(err("entity_id", "must be 1-1000 characters"));
        }
        let sp_key = read_one(
            &self.sp_key.as_ref().map(|s| {
                use secrecy::ExposeSecret;
                s.expose_secret().to_owned()
            }),
            &self.sp_key_file,
            &key("sp_key_file"),
        )?
        .map(SecretString::from);
        let sp_cert = read_one(
            &self.sp_certificate,
            &self.sp_certificate_file,
            &key("sp_certificate_file"),
        )?;
        if sp_key.is_some() != sp_cert.is_some() {
            return Err(err(
                "sp_certificate",
                "sp_key and sp_certificate go together",
            ));
        }
        if self.sign_authn_requests && sp_key.is_none() {
            return Err(err(
                "sign_authn_requests",
                "needs sp_key and sp_certificate",
            ));
        }
        let inline = read_one(
            &self.idp_metadata,
            &self.idp_metadata_file,
            &key("idp_metadata_file"),
        )?;
        let fetched = match &self.idp_metadata_url {
            Some(raw) => {
                let url = Url::parse(raw)
                    .ok()
                    .filter(|u| u.scheme() == "https" || (u.scheme() == "http" && is_loopback(u)))
                    .ok_or_else(|| {
                        err(
                            "idp_metadata_url",
                            "must be an https URL (http only on loopback)",
                        )
                    })?;
                Some(url)
            }
            None => None,
        };
        match (&inline, &fetched) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "idp_metadata_url",
                    "give the IdP metadata once: inline, file or URL",
                ));
            }
            (None, None) => {
                return Err(err(
                    "idp_metadata",
                    "is required (idp_metadata, idp_metadata_file or idp_metadata_url)",
                ));
            }
            _ => {}
        }
        let attributes = self.attribute_mapping(id)?;
        let content_encryption = self.content_encryption(id)?;
        Ok(SamlSpec {
            settings: SamlSettings {
                info: SamlProviderInfo {
                    id: id.to_owned(),
                    name,
                    icon: self.icon.clone(),
                    entity_id,
                    metadata_url,
                    acs_url: format!("{public_url}/saml/acs"),
                    slo_url: format!("{public_url}/saml/slo"),
                    initialized: false,
                    allow_idp_initiated: self.allow_idp_initiated,
                    subject_from_attribute: attributes.subject.is_some(),
                },
                sp_key_pem: sp_key,
                sp_cert_pem: sp_cert,
                idp_metadata_xml: inline,
                attributes,
                sign_authn_requests: self.sign_authn_requests,
                force_authn: self.force_authn,
                clock_skew: Duration::seconds(i64::try_from(self.clock_skew_secs).unwrap_or(60)),
                content_encryption,
            },
            metadata_url: fetched,
        })
    }

    /// The configured content encryption algorithms as URIs (all we decrypt by default).
    fn content_encryption(&self, id: &str) -> Result<Vec<String>, ConfigError> {
        let Some(names) = &self.encryption_methods else {
            return Ok(CONTENT.iter().map(|(_, uri)| (*uri).to_owned()).collect());
        };
        let key = format!("providers.saml.{id}.encryption_methods");
        let known = || {
            CONTENT
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        if names.is_empty() {
            return Err(ConfigError::new(
                &key,
                format!("must name at least one of {}", known()),
            ));
        }
        let mut uris: Vec<String> = Vec::new();
        for name in names {
            let uri = CONTENT
                .iter()
                .find(|(short, _)| short == name)
                .map(|(_, uri)| (*uri).to_owned())
                .ok_or_else(|| {
                    ConfigError::new(
                        &key,
                        format!("unknown method {name:.40}; known: {}", known()),
                    )
                })?;
            if uris.contains(&uri) {
                return Err(ConfigError::new(
                    &key,
                    format!("{name:.40} is listed twice"),
                ));
            }
            uris.push(uri);
        }
        Ok(uris)
    }

    fn attribute_mapping(&self, id: &str) -> Result<AttributeMapping, ConfigError> {
        let a = &self.attributes;
        let mut mapping = AttributeMapping {
            email_verified: a.email_verified,
            ..AttributeMapping::default()
        };
        for (field, value) in [
            ("subject", &a.subject),
            ("email", &a.email),
            ("name", &a.name),
            ("groups", &a.groups),
        ] {
            if let Some(v) = value
                && (v.trim().is_empty() || v.len() > 512)
            {
                return Err(ConfigError::new(
                    &format!("providers.saml.{id}.attributes.{field}"),
                    "must be 1-512 characters",
                ));
            }
        }
        mapping.subject = match a.subject.as_deref() {
            None | Some("name_id") => None,
            Some(name) => Some(vec![name.to_owned()]),
        };
        if let Some(v) = &a.email {
            mapping.email = vec![v.clone()];
        }
        if let Some(v) = &a.name {
            mapping.name = vec![v.clone()];
        }
        if let Some(v) = &a.groups {
            mapping.groups = vec![v.clone()];
        }
        Ok(mapping)
    }
}

fn is_loopback(url: &Url) -> bool {
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// Inline value or file, not both; `None` when neither.
fn read_one(
    inline: &Option<String>,
    file: &Option<PathBuf>,
    file_key: &str,
) -> Result<Option<String>, ConfigError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            file_key,
            "set the value inline or as a file, not both",
        )),
        (Some(v), None) => Ok(Some(v.clone())),
        (None, Some(path)) => std::fs::read_to_string(path).map(Some).map_err(|e| {
            ConfigError::new(file_key, format!("cannot read {}: {e}", path.display()))
        }),
        (None, None) => Ok(None),
    }
}
