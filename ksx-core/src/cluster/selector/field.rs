//! Field selectors: `metadata.name=x`, `spec.nodeName!=n1`, for the fields the in-memory cluster supports.

use std::fmt;
use std::str::FromStr;

use crate::cluster::{Kind, Object};
use crate::error::{Error, Result};

/// The fields a [`FieldSelector`] can test.
pub const SUPPORTED_FIELDS: [&str; 4] = [
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "status.phase",
];

/// One term of a field selector: `field=value` or `field!=value`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldRequirement {
    /// The field path, one of [`SUPPORTED_FIELDS`].
    pub field: String,
    /// `false` for `=`/`==`, `true` for `!=`.
    pub negated: bool,
    /// The value compared with (may be empty).
    pub value: String,
}

/// A field selector: all terms must hold. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses `field=value,field!=value` (values may escape `\`, `,` and `=` with a backslash).
    ///
    /// # Errors
    /// [`Error::InvalidSelector`] for a term without an operator or a field outside [`SUPPORTED_FIELDS`].
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidSelector {
            selector: text.to_owned(),
            reason,
        };
        let mut requirements = Vec::new();
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        for term in split_unescaped(text, ',') {
            let (field, negated, raw) = if let Some((f, v)) = term.split_once("!=") {
                (f, true, v)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, false, v)
            } else {
                return Err(invalid(format!(
                    "term {term:?} has no operator ('=', '==' or '!=')"
                )));
            };
            let field = field.trim();
            if !SUPPORTED_FIELDS.contains(&field) {
                return Err(invalid(format!(
                    "field {field:?} is not supported (supported: {})",
                    SUPPORTED_FIELDS.join(", ")
                )));
            }
            let value = unescape(raw).map_err(invalid)?;
            requirements.push(FieldRequirement {
                field: field.to_owned(),
                negated,
                value,
            });
        }
        Ok(Self { requirements })
    }

    /// The terms, in the order given.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// Checks that every field applies to objects of `kind` (`spec.nodeName` and `status.phase` are Pod fields;
    /// `status.phase` also applies to Namespaces).
    ///
    /// # Errors
    /// [`Error::InvalidSelector`] naming the field and the kind.
    pub fn check_kind(&self, kind: &Kind) -> Result<()> {
        for r in &self.requirements {
            let applies = match r.field.as_str() {
                "spec.nodeName" => *kind == Kind::Pod,
                "status.phase" => matches!(kind, Kind::Pod | Kind::Namespace),
                _ => true,
            };
            if !applies {
                return Err(Error::InvalidSelector {
                    selector: self.to_string(),
                    reason: format!("field {} is not supported for {kind}", r.field),
                });
            }
        }
        Ok(())
    }

    /// Whether an object satisfies every term. A field the object lacks compares as the empty string.
    pub fn matches(&self, object: &Object) -> bool {
        self.requirements.iter().all(|r| {
            let actual = field_value(object, &r.field).unwrap_or("");
            (actual == r.value) != r.negated
        })
    }
}

impl FromStr for FieldSelector {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = if r.negated { "!=" } else { "=" };
            write!(f, "{}{op}{}", r.field, escape(&r.value))?;
        }
        Ok(())
    }
}

/// The value of a supported field of an object, when the object has it.
fn field_value<'a>(object: &'a Object, field: &str) -> Option<&'a str> {
    match (field, object) {
        ("metadata.name", o) => o.metadata().name.as_deref(),
        ("metadata.namespace", o) => o.namespace(),
        ("spec.nodeName", Object::Pod(p)) => p.spec.as_ref()?.node_name.as_deref(),
        ("status.phase", Object::Pod(p)) => p.status.as_ref()?.phase.as_deref(),
        ("status.phase", Object::Namespace(n)) => n.status.as_ref()?.phase.as_deref(),
        _ => None,
    }
}

fn split_unescaped(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == separator {
            parts.push(text.get(start..i).unwrap_or(""));
            start = i + c.len_utf8();
        }
    }
    parts.push(text.get(start..).unwrap_or(""));
    parts
}

fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('\\' | ',' | '=')) => out.push(n),
                Some(n) => return Err(format!("invalid escape sequence \\{n} in value {raw:?}")),
                None => return Err(format!("value {raw:?} ends with a lone backslash")),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
