//! Fuzzes the ACS input path: arbitrary bytes as the `SAMLResponse` (base64 of them, and the
//! raw text as if it were base64) through the guard, the parser and xmlsec. Must never panic
//! or crash; every input is either accepted (impossible without the IdP key) or refused.
//!
//! Run by hand (needs nightly and cargo-fuzz):
//!   cargo +nightly fuzz run saml_acs -- -max_total_time=300
#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use tmi_auth::adapters::saml::{AttributeMapping, SamaelProvider, SamlSettings};
use tmi_auth::ports::saml::{SamlProvider, SamlProviderInfo};

fn provider() -> &'static SamaelProvider {
    static PROVIDER: OnceLock<SamaelProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let cert: String = include_str!("../fixtures/idp.crt")
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let metadata = format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.test/metadata"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
        );
        SamaelProvider::new(SamlSettings {
            info: SamlProviderInfo {
                id: "fuzz".into(),
                name: "Fuzz".into(),
                icon: "key".into(),
                entity_id: "http://127.0.0.1:8080/saml/fuzz/metadata".into(),
                metadata_url: "http://127.0.0.1:8080/saml/fuzz/metadata".into(),
                acs_url: "http://127.0.0.1:8080/saml/acs".into(),
                slo_url: "http://127.0.0.1:8080/saml/slo".into(),
                initialized: false,
                allow_idp_initiated: true,
            },
            sp_key_pem: None,
            sp_cert_pem: None,
            idp_metadata_xml: Some(metadata),
            attributes: AttributeMapping::default(),
            sign_authn_requests: false,
            force_authn: false,
            clock_skew: chrono::Duration::seconds(60),
        })
        .expect("fuzz provider builds")
    })
}

fuzz_target!(|data: &[u8]| {
    let provider = provider();
    let encoded = STANDARD.encode(data);
    assert!(provider.validate_response(&encoded, Some("_request")).is_err());
    assert!(provider.validate_response(&encoded, None).is_err());
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = provider.validate_response(text, Some("_request"));
        let _ = provider.validate_logout_post(text);
        let _ = provider.validate_logout_redirect(text);
    }
});
