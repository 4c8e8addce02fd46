//! Mapping a validated assertion to an [`UpstreamIdentity`]: the subject from the NameID or a
//! named attribute, and e-mail, name and groups from attributes matched by `Name` or
//! `FriendlyName`.

use samael::schema::Assertion;

use crate::ports::identity_provider::UpstreamIdentity;

/// Longest value we take from an attribute or the NameID.
const MAX_VALUE_CHARS: usize = 256;
/// Most groups taken from one assertion.
const MAX_GROUPS: usize = 200;

/// Attribute names to read, each with defaults tried in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeMapping {
    /// `None`: the NameID; else an attribute name (e.g. the `subject-id` URN).
    pub subject: Option<Vec<String>>,
    /// E-mail attribute names.
    pub email: Vec<String>,
    /// Display-name attribute names.
    pub name: Vec<String>,
    /// Group attribute names.
    pub groups: Vec<String>,
    /// Whether the IdP's e-mail counts as verified.
    pub email_verified: bool,
}

impl Default for AttributeMapping {
    fn default() -> Self {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        Self {
            subject: None,
            email: names(&[
                "email",
                "mail",
                "urn:oid:0.9.2342.19200300.100.1.3",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            ]),
            name: names(&[
                "displayName",
                "name",
                "urn:oid:2.16.840.1.113730.3.1.241",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
            ]),
            groups: names(&[
                "groups",
                "memberOf",
                "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
            ]),
            email_verified: false,
        }
    }
}

impl AttributeMapping {
    /// The identity in `assertion`; `Err` (for logs) when no usable subject is found.
    pub fn identity(&self, assertion: &Assertion) -> Result<UpstreamIdentity, String> {
        let subject = match &self.subject {
            None => assertion
                .subject
                .as_ref()
                .and_then(|s| s.name_id.as_ref())
                .map(|n| n.value.trim().to_owned()),
            Some(names) => values(assertion, names).into_iter().next(),
        }
        .filter(|s| usable(s))
        .ok_or_else(|| "assertion has no usable subject".to_owned())?;
        let email = values(assertion, &self.email)
            .into_iter()
            .find(|v| usable(v));
        let mut groups: Vec<String> = values(assertion, &self.groups)
            .into_iter()
            .filter(|v| usable(v))
            .collect();
        groups.sort();
        groups.dedup();
        groups.truncate(MAX_GROUPS);
        Ok(UpstreamIdentity {
            email_verified: self.email_verified && email.is_some(),
            email,
            name: values(assertion, &self.name)
                .into_iter()
                .find(|v| usable(v)),
            groups,
            subject,
        })
    }
}

fn usable(value: &str) -> bool {
    !value.is_empty()
        && value.chars().count() <= MAX_VALUE_CHARS
        && !value.chars().any(char::is_control)
}

/// Values of the first attribute (in `names` order) present, trimmed.
fn values(assertion: &Assertion, names: &[String]) -> Vec<String> {
    let attributes: Vec<_> = assertion
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| s.attributes.iter())
        .collect();
    for wanted in names {
        let found: Vec<String> = attributes
            .iter()
            .filter(|a| {
                a.name.as_deref() == Some(wanted.as_str())
                    || a.friendly_name.as_deref() == Some(wanted.as_str())
            })
            .flat_map(|a| a.values.iter())
            .filter_map(|v| v.value.as_deref())
            .map(|v| v.trim().to_owned())
            .collect();
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASSERTION: &str = r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a1" IssueInstant="2026-11-27T12:00:00Z" Version="2.0">
  <saml:Issuer>https://idp.example.test</saml:Issuer>
  <saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@example.test</saml:NameID></saml:Subject>
  <saml:AttributeStatement>
    <saml:Attribute Name="urn:oasis:names:tc:SAML:attribute:subject-id"><saml:AttributeValue>alice-42</saml:AttributeValue></saml:Attribute>
    <saml:Attribute Name="urn:oid:0.9.2342.19200300.100.1.3" FriendlyName="mail"><saml:AttributeValue>Alice@Example.test</saml:AttributeValue></saml:Attribute>
    <saml:Attribute Name="displayName"><saml:AttributeValue> Alice Example </saml:AttributeValue></saml:Attribute>
    <saml:Attribute Name="groups"><saml:AttributeValue>b</saml:AttributeValue><saml:AttributeValue>a</saml:AttributeValue><saml:AttributeValue>a</saml:AttributeValue></saml:Attribute>
  </saml:AttributeStatement>
</saml:Assertion>"#;

    #[test]
    fn defaults_read_nameid_mail_display_name_and_groups() {
        let assertion: Assertion = ASSERTION.parse().unwrap();
        let identity = AttributeMapping::default().identity(&assertion).unwrap();
        assert_eq!(identity.subject, "alice@example.test");
        assert_eq!(identity.email.as_deref(), Some("Alice@Example.test"));
        assert!(!identity.email_verified, "not verified unless configured");
        assert_eq!(identity.name.as_deref(), Some("Alice Example"));
        assert_eq!(identity.groups, ["a", "b"]);
    }

    #[test]
    fn the_subject_can_come_from_an_attribute() {
        let assertion: Assertion = ASSERTION.parse().unwrap();
        let mapping = AttributeMapping {
            subject: Some(vec!["urn:oasis:names:tc:SAML:attribute:subject-id".into()]),
            email_verified: true,
            ..AttributeMapping::default()
        };
        let identity = mapping.identity(&assertion).unwrap();
        assert_eq!(identity.subject, "alice-42");
        assert!(identity.email_verified);
        let missing = AttributeMapping {
            subject: Some(vec!["nope".into()]),
            ..AttributeMapping::default()
        };
        assert!(missing.identity(&assertion).is_err());
    }
}
