//! Label and field selectors.
//!
//! [`LabelSelector`] is the Kubernetes label selector in one shape whichever way it arrives: parsed from the string
//! form used by `kubectl -l` and list options (`app=web,tier in (front,back),!canary`), or converted from the
//! structured `matchLabels`/`matchExpressions` form of `k8s-openapi` ([`LabelSelector::from_k8s`]). It prints back
//! to the string form, so `parse(to_string(s)) == s`. Requirements are kept sorted by key, as Kubernetes does.
//!
//! [`FieldSelector`] covers the fields the in-memory cluster can filter on: `metadata.name`, `metadata.namespace`,
//! `spec.nodeName` and `status.phase`, each with `=`, `==` or `!=`.
//!
//! ```
//! use std::collections::BTreeMap;
//! use ksx_core::cluster::selector::LabelSelector;
//!
//! let selector: LabelSelector = "app=web, tier in (front,back), !canary".parse()?;
//! assert_eq!(selector.to_string(), "app=web,!canary,tier in (back,front)");
//! let labels = BTreeMap::from([("app".to_owned(), "web".to_owned()), ("tier".to_owned(), "front".to_owned())]);
//! assert!(selector.matches(&labels));
//! # Ok::<(), ksx_core::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;

use crate::error::{Error, Result};

mod field;
#[cfg(test)]
mod tests;

pub use field::{FieldRequirement, FieldSelector, SUPPORTED_FIELDS};

/// How a label requirement compares a label with its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operator {
    /// `key=value` or `key==value`: the label is present and equal.
    Equals,
    /// `key!=value`: the label is absent or different.
    NotEquals,
    /// `key in (a,b)`: the label is present and one of the values.
    In,
    /// `key notin (a,b)`: the label is absent or none of the values.
    NotIn,
    /// `key`: the label is present.
    Exists,
    /// `!key`: the label is absent.
    DoesNotExist,
}

/// One term of a label selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: BTreeSet<String>,
}

impl Requirement {
    /// Builds a requirement, checking the key, the values and their number against the operator.
    ///
    /// # Errors
    /// [`Error::InvalidSelector`] for a key or value that is not valid label syntax, `Equals`/`NotEquals` without
    /// exactly one value, `In`/`NotIn` without values, or `Exists`/`DoesNotExist` with values.
    pub fn new(
        key: impl Into<String>,
        operator: Operator,
        values: impl IntoIterator<Item = String>,
    ) -> Result<Self> {
        let key = key.into();
        let values: BTreeSet<String> = values.into_iter().collect();
        let requirement = Self {
            key,
            operator,
            values,
        };
        let text = requirement.to_string();
        let invalid = |reason: String| Error::InvalidSelector {
            selector: text.clone(),
            reason,
        };
        validate_key(&requirement.key).map_err(invalid)?;
        for value in &requirement.values {
            validate_value(value).map_err(invalid)?;
        }
        let count = requirement.values.len();
        match operator {
            Operator::Equals | Operator::NotEquals if count != 1 => {
                return Err(invalid(format!(
                    "operator {operator:?} needs exactly one value, got {count}"
                )));
            }
            Operator::In | Operator::NotIn if count == 0 => {
                return Err(invalid(format!(
                    "operator {operator:?} needs at least one value"
                )));
            }
            Operator::Exists | Operator::DoesNotExist if count != 0 => {
                return Err(invalid(format!(
                    "operator {operator:?} takes no values, got {count}"
                )));
            }
            _ => {}
        }
        Ok(requirement)
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, sorted.
    pub fn values(&self) -> &BTreeSet<String> {
        &self.values
    }

    /// Whether a label set satisfies this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::Equals | Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotEquals | Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.values.iter().next().map_or("", String::as_str);
        let list = || {
            self.values
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(",")
        };
        match self.operator {
            Operator::Equals => write!(f, "{}={first}", self.key),
            Operator::NotEquals => write!(f, "{}!={first}", self.key),
            Operator::In => write!(f, "{} in ({})", self.key, list()),
            Operator::NotIn => write!(f, "{} notin ({})", self.key, list()),
            Operator::Exists => f.write_str(&self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
        }
    }
}

/// A label selector: all requirements must hold. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// A selector from requirements, sorted by key (stable, as Kubernetes sorts them).
    pub fn new(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Self { requirements }
    }

    /// The selector that matches every label set.
    pub fn everything() -> Self {
        Self::default()
    }

    /// A selector of `key=value` terms, as a `matchLabels` map means.
    ///
    /// # Errors
    /// [`Error::InvalidSelector`] for a key or value that is not valid label syntax.
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Result<Self> {
        let requirements = labels
            .iter()
            .map(|(k, v)| Requirement::new(k.clone(), Operator::Equals, [v.clone()]))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::new(requirements))
    }

    /// Parses the string form. The empty string (or only blanks) is the selector that matches everything.
    ///
    /// # Errors
    /// [`Error::InvalidSelector`] naming the selector and what is wrong at which position.
    pub fn parse(text: &str) -> Result<Self> {
        Parser::new(text)
            .parse()
            .map_err(|reason| Error::InvalidSelector {
                selector: text.to_owned(),
                reason,
            })
    }

    /// Converts the structured `k8s-openapi` form: `matchLabels` become `Equals`, `matchExpressions` keep their
    /// operator (`In`, `NotIn`, `Exists`, `DoesNotExist`). An empty structured selector matches everything.
    ///
    /// # Errors
    /// [`Error::InvalidSelector`] for an unknown operator, values that do not fit the operator, or invalid label
    /// syntax.
    pub fn from_k8s(selector: &meta::LabelSelector) -> Result<Self> {
        let mut requirements = Vec::new();
        for (key, value) in selector.match_labels.iter().flatten() {
            requirements.push(Requirement::new(
                key.clone(),
                Operator::Equals,
                [value.clone()],
            )?);
        }
        for expression in selector.match_expressions.iter().flatten() {
            let operator = match expression.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(Error::InvalidSelector {
                        selector: expression.key.clone(),
                        reason: format!(
                            "unknown matchExpressions operator {other:?}, expected In, NotIn, Exists or DoesNotExist"
                        ),
                    });
                }
            };
            let values = expression.values.clone().unwrap_or_default();
            requirements.push(Requirement::new(expression.key.clone(), operator, values)?);
        }
        Ok(Self::new(requirements))
    }

    /// Converts to the structured `k8s-openapi` form. `Equals` goes to `matchLabels` unless the key appears twice;
    /// `NotEquals` becomes `NotIn` with one value.
    pub fn to_k8s(&self) -> meta::LabelSelector {
        let mut match_labels = BTreeMap::new();
        let mut match_expressions = Vec::new();
        for r in &self.requirements {
            let values: Vec<String> = r.values.iter().cloned().collect();
            let (operator, values) = match r.operator {
                Operator::Equals if !match_labels.contains_key(&r.key) => {
                    match_labels
                        .insert(r.key.clone(), values.into_iter().next().unwrap_or_default());
                    continue;
                }
                Operator::Equals | Operator::In => ("In", Some(values)),
                Operator::NotEquals | Operator::NotIn => ("NotIn", Some(values)),
                Operator::Exists => ("Exists", None),
                Operator::DoesNotExist => ("DoesNotExist", None),
            };
            match_expressions.push(meta::LabelSelectorRequirement {
                key: r.key.clone(),
                operator: operator.to_owned(),
                values,
            });
        }
        meta::LabelSelector {
            match_labels: (!match_labels.is_empty()).then_some(match_labels),
            match_expressions: (!match_expressions.is_empty()).then_some(match_expressions),
        }
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether the selector has no requirements (and so matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether a label set satisfies every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Like [`LabelSelector::matches`] for labels that may be absent (as in `ObjectMeta::labels`).
    pub fn matches_opt(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        match labels {
            Some(labels) => self.matches(labels),
            None => self.matches(&BTreeMap::new()),
        }
    }
}

impl FromStr for LabelSelector {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Checks a label key: an optional DNS subdomain prefix and `/`, then a name of at most 63 characters.
fn validate_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() || prefix.len() > 253 {
            return Err(format!(
                "label key {key:?}: the prefix must be 1 to 253 characters"
            ));
        }
        let valid_label = |part: &str| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        };
        if !prefix.split('.').all(valid_label) {
            return Err(format!(
                "label key {key:?}: the prefix {prefix:?} must be a DNS subdomain (lowercase letters, digits, '-' and \
                 '.', starting and ending with a letter or digit)"
            ));
        }
    }
    if name.is_empty() {
        return Err(format!(
            "label key {key:?}: the name part must not be empty"
        ));
    }
    check_name(name).map_err(|reason| format!("label key {key:?}: {reason}"))
}

/// Checks a label value: empty, or at most 63 characters of the name syntax.
fn validate_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    check_name(value).map_err(|reason| format!("label value {value:?}: {reason}"))
}

fn check_name(name: &str) -> Result<(), String> {
    if name.len() > 63 {
        return Err(format!("must be at most 63 characters, has {}", name.len()));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if let Some(c) = name.chars().find(|&c| !allowed(c)) {
        return Err(format!(
            "character {c:?} is not allowed (letters, digits, '-', '_' and '.' are)"
        ));
    }
    let alnum_ends = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum_ends {
        return Err("must start and end with a letter or digit".to_owned());
    }
    Ok(())
}

/// A token of the label selector language, with its byte position for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Bang,
    Open,
    Close,
    Comma,
    End,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(w) => write!(f, "{w:?}"),
            Token::In => f.write_str("\"in\""),
            Token::NotIn => f.write_str("\"notin\""),
            Token::Equals => f.write_str("'='"),
            Token::DoubleEquals => f.write_str("'=='"),
            Token::NotEquals => f.write_str("'!='"),
            Token::Bang => f.write_str("'!'"),
            Token::Open => f.write_str("'('"),
            Token::Close => f.write_str("')'"),
            Token::Comma => f.write_str("','"),
            Token::End => f.write_str("the end"),
        }
    }
}

fn tokenize(text: &str) -> Vec<(usize, Token)> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((pos, c)) = chars.next() {
        let token = match c {
            c if c.is_whitespace() => continue,
            ',' => Token::Comma,
            '(' => Token::Open,
            ')' => Token::Close,
            '=' if chars.peek().is_some_and(|&(_, n)| n == '=') => {
                chars.next();
                Token::DoubleEquals
            }
            '=' => Token::Equals,
            '!' if chars.peek().is_some_and(|&(_, n)| n == '=') => {
                chars.next();
                Token::NotEquals
            }
            '!' => Token::Bang,
            c => {
                let mut word = String::from(c);
                while let Some(&(_, n)) = chars.peek() {
                    if n.is_whitespace() || matches!(n, ',' | '(' | ')' | '=' | '!') {
                        break;
                    }
                    word.push(n);
                    chars.next();
                }
                match word.as_str() {
                    "in" => Token::In,
                    "notin" => Token::NotIn,
                    _ => Token::Word(word),
                }
            }
        };
        tokens.push((pos, token));
    }
    tokens.push((text.len(), Token::End));
    tokens
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    next: usize,
}

impl Parser {
    fn new(text: &str) -> Self {
        Self {
            tokens: tokenize(text),
            next: 0,
        }
    }

    fn peek(&self) -> &Token {
        self.tokens.get(self.next).map_or(&Token::End, |(_, t)| t)
    }

    fn take(&mut self) -> (usize, Token) {
        let item = self
            .tokens
            .get(self.next)
            .cloned()
            .unwrap_or((0, Token::End));
        if self.next < self.tokens.len() {
            self.next += 1;
        }
        item
    }

    fn parse(mut self) -> Result<LabelSelector, String> {
        let mut requirements = Vec::new();
        if *self.peek() == Token::End {
            return Ok(LabelSelector::everything());
        }
        loop {
            requirements.push(self.requirement()?);
            match self.take() {
                (_, Token::End) => break,
                (_, Token::Comma) => {}
                (pos, other) => {
                    return Err(format!(
                        "expected ',' or the end at position {pos}, found {other}"
                    ));
                }
            }
        }
        Ok(LabelSelector::new(requirements))
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let negated = if *self.peek() == Token::Bang {
            self.take();
            true
        } else {
            false
        };
        let key = match self.take() {
            (_, Token::Word(w)) => w,
            (pos, other) => {
                return Err(format!(
                    "expected a label key at position {pos}, found {other}"
                ));
            }
        };
        validate_key(&key)?;
        if negated {
            return Ok(Requirement {
                key,
                operator: Operator::DoesNotExist,
                values: BTreeSet::new(),
            });
        }
        let operator = match self.peek() {
            Token::End | Token::Comma => {
                return Ok(Requirement {
                    key,
                    operator: Operator::Exists,
                    values: BTreeSet::new(),
                });
            }
            Token::Equals | Token::DoubleEquals => Operator::Equals,
            Token::NotEquals => Operator::NotEquals,
            Token::In => Operator::In,
            Token::NotIn => Operator::NotIn,
            other => {
                let pos = self.tokens.get(self.next).map_or(0, |(p, _)| *p);
                return Err(format!(
                    "expected an operator ('=', '==', '!=', 'in', 'notin'), ',' or the end after key {key:?} at \
                     position {pos}, found {other}"
                ));
            }
        };
        self.take();
        let values = match operator {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => BTreeSet::from([self.exact_value()?]),
        };
        for value in &values {
            validate_value(value)?;
        }
        Ok(Requirement {
            key,
            operator,
            values,
        })
    }

    fn value_word(token: &Token) -> Option<String> {
        match token {
            Token::Word(w) => Some(w.clone()),
            Token::In => Some("in".to_owned()),
            Token::NotIn => Some("notin".to_owned()),
            _ => None,
        }
    }

    fn exact_value(&mut self) -> Result<String, String> {
        if matches!(self.peek(), Token::End | Token::Comma) {
            return Ok(String::new());
        }
        let (pos, token) = self.take();
        Self::value_word(&token)
            .ok_or_else(|| format!("expected a label value at position {pos}, found {token}"))
    }

    fn value_set(&mut self) -> Result<BTreeSet<String>, String> {
        match self.take() {
            (_, Token::Open) => {}
            (pos, other) => return Err(format!("expected '(' at position {pos}, found {other}")),
        }
        let mut values = BTreeSet::new();
        loop {
            // A value may be empty: `(a,,b)` and `()` hold the empty string, as in Kubernetes.
            let value = if matches!(self.peek(), Token::Comma | Token::Close) {
                String::new()
            } else {
                let (pos, token) = self.take();
                Self::value_word(&token).ok_or_else(|| {
                    format!("expected a label value at position {pos}, found {token}")
                })?
            };
            values.insert(value);
            match self.take() {
                (_, Token::Comma) => {}
                (_, Token::Close) => return Ok(values),
                (pos, other) => {
                    return Err(format!(
                        "expected ',' or ')' at position {pos}, found {other}"
                    ));
                }
            }
        }
    }
}
