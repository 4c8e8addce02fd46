//! A JSON string field that accepts only JSON strings. poem-openapi's `String` also accepts
//! numbers and booleans (turning `42` into `"42"`), which the contract's `type: string` forbids.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde::Deserialize;
use serde_json::Value;

/// A string that must arrive as a JSON string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct StrictString(pub String);

impl StrictString {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Type for StrictString {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl ParseFromJSON for StrictString {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(text) => Ok(Self(text)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for StrictString {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// `Option<StrictString>` as `Option<&str>`.
pub fn opt(value: &Option<StrictString>) -> Option<&str> {
    value.as_ref().map(StrictString::as_str)
}

/// An optional string the schema does not mark `nullable`: absent is `None`, a JSON string is
/// `Some`, and `null` (or any other JSON type) is refused like a wrong type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionalString(pub Option<String>);

impl OptionalString {
    /// The text, when present.
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl Type for OptionalString {
    const IS_REQUIRED: bool = false;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref()
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.0.iter())
    }

    fn is_none(&self) -> bool {
        self.0.is_none()
    }
}

impl ParseFromJSON for OptionalString {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            None => Ok(Self(None)),
            Some(Value::String(text)) => Ok(Self(Some(text))),
            Some(other) => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for OptionalString {
    fn to_json(&self) -> Option<Value> {
        self.0.clone().map(Value::String)
    }
}
