//! Single logout: LogoutRequests verified over the redirect binding's query string or by their
//! XML signature, checked for issuer, destination and freshness; LogoutResponses for the
//! redirect binding.

use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, Utc};
use flate2::Compression;
use flate2::write::DeflateEncoder;
use samael::crypto::{Crypto, CryptoProvider, ReduceMode};
use samael::schema::{Issuer, LogoutRequest, LogoutResponse, Status, StatusCode};
use samael::traits::ToXml;

use super::{ALLOWED, HTTP_REDIRECT_BINDING, SUCCESS, SamaelProvider, guard, redirect};
use crate::ports::saml::{SamlError, SamlLogout};

impl SamaelProvider {
    pub(super) fn logout_redirect(&self, raw_query: &str) -> Result<SamlLogout, SamlError> {
        self.ready()?;
        let verified = redirect::verify(raw_query, "SAMLRequest", &self.idp_certs)?;
        let xml = guard::decode_redirect(&verified.message)?;
        self.parse_logout(&xml)
    }

    pub(super) fn logout_post(&self, saml_request: &str) -> Result<SamlLogout, SamlError> {
        self.ready()?;
        let xml = guard::decode_post(saml_request)?;
        if guard::count_elements(&xml, "LogoutRequest") != 1 {
            return Err(SamlError::Invalid(
                "expected exactly one LogoutRequest".into(),
            ));
        }
        let reduced = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
            &xml,
            &self.idp_certs,
            ReduceMode::default(),
            Some(ALLOWED),
        )
        .map_err(|_| SamlError::Signature("LogoutRequest is not signed by this IdP".into()))?;
        if guard::count_elements(&reduced, "LogoutRequest") != 1 {
            return Err(SamlError::Signature(
                "the signature does not cover the LogoutRequest".into(),
            ));
        }
        self.parse_logout(&reduced)
    }

    pub(super) fn logout_response(
        &self,
        request_id: &str,
        response_id: &str,
    ) -> Result<Option<String>, SamlError> {
        let Some(location) = self.sp.slo_binding_location(HTTP_REDIRECT_BINDING) else {
            return Ok(None);
        };
        let response = LogoutResponse {
            id: Some(response_id.to_owned()),
            in_response_to: Some(request_id.to_owned()),
            version: Some("2.0".to_owned()),
            issue_instant: Some(Utc::now()),
            destination: Some(location.clone()),
            consent: None,
            issuer: Some(Issuer {
                value: Some(self.info.entity_id.clone()),
                ..Issuer::default()
            }),
            signature: None,
            status: Some(Status {
                status_code: StatusCode {
                    value: Some(SUCCESS.to_owned()),
                },
                status_message: None,
                status_detail: None,
            }),
        };
        let xml = response
            .to_string()
            .map_err(|e| SamlError::Unavailable(format!("LogoutResponse: {e}")))?;
        let mut deflated = DeflateEncoder::new(Vec::new(), Compression::default());
        deflated
            .write_all(xml.as_bytes())
            .map_err(|e| SamlError::Unavailable(e.to_string()))?;
        let deflated = deflated
            .finish()
            .map_err(|e| SamlError::Unavailable(e.to_string()))?;
        let mut url = url::Url::parse(&location)
            .map_err(|_| SamlError::Unavailable("IdP SLO location is not a URL".into()))?;
        url.query_pairs_mut()
            .append_pair("SAMLResponse", &STANDARD.encode(deflated));
        Ok(Some(self.sign_or_not(url, true)?))
    }

    fn parse_logout(&self, xml: &str) -> Result<SamlLogout, SamlError> {
        let request: LogoutRequest = xml
            .parse()
            .map_err(|e| SamlError::Invalid(format!("LogoutRequest does not parse: {e}")))?;
        let issuer = request.issuer.as_ref().and_then(|i| i.value.as_deref());
        if issuer != Some(self.idp_entity_id.as_str()) {
            return Err(SamlError::Invalid(
                "LogoutRequest from another issuer".into(),
            ));
        }
        if let Some(destination) = &request.destination
            && destination != &self.info.slo_url
        {
            return Err(SamlError::Invalid(
                "LogoutRequest for another destination".into(),
            ));
        }
        let issued = request
            .issue_instant
            .ok_or_else(|| SamlError::Invalid("LogoutRequest has no IssueInstant".into()))?;
        let now = Utc::now();
        if issued > now + self.skew || issued + Duration::minutes(5) + self.skew < now {
            return Err(SamlError::Invalid(
                "LogoutRequest is stale or from the future".into(),
            ));
        }
        // SAML core §3.7.1: the request is void from NotOnOrAfter on.
        if let Some(raw) = guard::attribute_of(xml, "LogoutRequest", "NotOnOrAfter") {
            let until = chrono::DateTime::parse_from_rfc3339(raw.trim()).map_err(|_| {
                SamlError::Invalid("LogoutRequest NotOnOrAfter is malformed".into())
            })?;
            if until.with_timezone(&Utc) + self.skew <= now {
                return Err(SamlError::Invalid(
                    "LogoutRequest has expired (NotOnOrAfter)".into(),
                ));
            }
        }
        let request_id = request
            .id
            .clone()
            .filter(|id| !id.is_empty() && id.len() <= 256)
            .ok_or_else(|| SamlError::Invalid("LogoutRequest has no ID".into()))?;
        let name_id = request
            .name_id
            .as_ref()
            .map(|n| n.value.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| SamlError::Invalid("LogoutRequest has no NameID".into()))?;
        Ok(SamlLogout {
            request_id,
            name_id,
        })
    }
}
