//! Conditions of custom rules (spec §2.3–§2.4): leaves with one operator, `all`, `any`, `not`, `each`,
//! `someOf`. Quantities compare exactly through `ksx_core::quantity::Quantity`, never as floats.

use std::cmp::Ordering;

use ksx_core::quantity::Quantity;
use regex::Regex;
use serde_json::Value;

use super::path::{Path, Root};

/// The operators, in the order the loader lists them.
pub const OPERATORS: &[&str] = &[
    "exists",
    "absent",
    "equals",
    "notEquals",
    "in",
    "notIn",
    "regex",
    "notRegex",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "minItems",
    "maxItems",
];

/// A compiled operator.
#[derive(Debug, Clone)]
pub enum Op {
    /// `exists: bool`.
    Exists(bool),
    /// `absent: true`.
    Absent,
    /// `equals`.
    Equals(Value),
    /// `notEquals`.
    NotEquals(Value),
    /// `in`.
    In(Vec<Value>),
    /// `notIn`.
    NotIn(Vec<Value>),
    /// `regex`.
    Regex(Regex),
    /// `notRegex`.
    NotRegex(Regex),
    /// `gt`/`gte`/`lt`/`lte` with the accepted orderings.
    Compare(&'static [Ordering], Quantity),
    /// `contains`.
    Contains(Value),
    /// `minItems`.
    MinItems(usize),
    /// `maxItems`.
    MaxItems(usize),
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Cond {
    /// `{path, <op>: value, default, some}`.
    Leaf {
        /// The path.
        path: Path,
        /// The operator.
        op: Op,
        /// Value used when the path yields nothing.
        default: Option<Value>,
        /// At least one value must satisfy (default: all).
        some: bool,
    },
    /// Every condition holds.
    All(Vec<Cond>),
    /// At least one holds.
    Any(Vec<Cond>),
    /// The condition does not hold.
    Not(Box<Cond>),
    /// The condition holds for every element at the path (`@` rebinds).
    Each(Path, Box<Cond>),
    /// The condition holds for at least one element.
    SomeOf(Path, Box<Cond>),
}

/// What a condition sees.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The object.
    pub object: &'a Value,
    /// The current item and its pointer.
    pub current: (&'a Value, &'a str),
    /// The pod spec and its pointer.
    pub pod: (&'a Value, &'a str),
    /// The pod metadata and its pointer.
    pub pod_meta: (&'a Value, &'a str),
}

/// The first failing leaf: its value (absent = `None`), pointer and, inside `each`, the element.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    /// The actual value.
    pub value: Option<Value>,
    /// Where.
    pub path: String,
    /// The `each` element that failed.
    pub item: Option<Value>,
}

/// Equality where a quoted number equals the number.
pub fn loose_eq(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (a, b) {
        (Value::String(s), Value::Number(n)) | (Value::Number(n), Value::String(s)) => {
            s.trim() == n.to_string()
        }
        (Value::String(s), Value::Bool(x)) | (Value::Bool(x), Value::String(s)) => {
            s == &x.to_string()
        }
        _ => false,
    }
}

fn text(v: &Value) -> Option<String> {
    crate::pod::scalar_string(v)
}

/// Parses a number or quantity exactly.
pub fn quantity(v: &Value) -> Option<Quantity> {
    text(v).and_then(|t| Quantity::parse(t.trim()).ok())
}

impl Op {
    fn holds(&self, v: Option<&Value>) -> bool {
        let Some(v) = v else {
            return matches!(
                self,
                Self::Exists(false)
                    | Self::Absent
                    | Self::NotEquals(_)
                    | Self::NotIn(_)
                    | Self::NotRegex(_)
            );
        };
        match self {
            Self::Exists(want) => *want,
            Self::Absent => false,
            Self::Equals(x) => loose_eq(v, x),
            Self::NotEquals(x) => !loose_eq(v, x),
            Self::In(xs) => xs.iter().any(|x| loose_eq(v, x)),
            Self::NotIn(xs) => !xs.iter().any(|x| loose_eq(v, x)),
            Self::Regex(r) => text(v).is_some_and(|t| r.is_match(&t)),
            Self::NotRegex(r) => text(v).is_none_or(|t| !r.is_match(&t)),
            Self::Compare(orders, q) => quantity(v).is_some_and(|a| orders.contains(&a.cmp(q))),
            Self::Contains(x) => match v {
                Value::Array(a) => a.iter().any(|e| loose_eq(e, x)),
                Value::String(s) => text(x).is_some_and(|t| s.contains(&t)),
                _ => false,
            },
            Self::MinItems(n) => {
                v.as_array().is_some_and(|a| a.len() >= *n)
                    || v.as_object().is_some_and(|m| m.len() >= *n)
            }
            Self::MaxItems(n) => {
                v.as_array().is_some_and(|a| a.len() <= *n)
                    || v.as_object().is_some_and(|m| m.len() <= *n)
            }
        }
    }
}

fn resolve<'a>(path: &Path, scope: &Scope<'a>) -> Vec<(String, &'a Value)> {
    let (root, base) = match path.root {
        Root::Object => (scope.object, ""),
        Root::Current => scope.current,
        Root::Pod => scope.pod,
        Root::PodMeta => scope.pod_meta,
    };
    path.eval(root, base)
}

impl Cond {
    /// Evaluates the condition; on failure, returns what failed.
    pub fn check(&self, scope: &Scope<'_>) -> Result<(), Failure> {
        match self {
            Self::Leaf {
                path,
                op,
                default,
                some,
            } => {
                let values = resolve(path, scope);
                if values.is_empty() {
                    let v = default.as_ref();
                    return if op.holds(v) {
                        Ok(())
                    } else {
                        Err(Failure {
                            value: v.cloned(),
                            path: leaf_pointer(path, scope),
                            item: None,
                        })
                    };
                }
                let mut first_bad = None;
                let mut any_ok = false;
                for (ptr, v) in values {
                    if op.holds(Some(v)) {
                        any_ok = true;
                    } else if first_bad.is_none() {
                        first_bad = Some(Failure {
                            value: Some(v.clone()),
                            path: ptr,
                            item: None,
                        });
                    }
                }
                match first_bad {
                    None => Ok(()),
                    Some(_) if *some && any_ok => Ok(()),
                    Some(f) => Err(f),
                }
            }
            Self::All(cs) => cs.iter().try_for_each(|c| c.check(scope)),
            Self::Any(cs) => {
                let mut last = Failure::default();
                for c in cs {
                    match c.check(scope) {
                        Ok(()) => return Ok(()),
                        Err(f) => last = f,
                    }
                }
                Err(last)
            }
            Self::Not(c) => match c.check(scope) {
                Ok(()) => Err(Failure {
                    value: None,
                    path: String::new(),
                    item: None,
                }),
                Err(_) => Ok(()),
            },
            Self::Each(path, c) => {
                for (ptr, v) in resolve(path, scope) {
                    let inner = Scope {
                        current: (v, ptr.as_str()),
                        ..*scope
                    };
                    if let Err(mut f) = c.check(&inner) {
                        f.item = Some(v.clone());
                        return Err(f);
                    }
                }
                Ok(())
            }
            Self::SomeOf(path, c) => {
                let items = resolve(path, scope);
                let mut last = Failure::default();
                for (ptr, v) in &items {
                    let inner = Scope {
                        current: (v, ptr.as_str()),
                        ..*scope
                    };
                    match c.check(&inner) {
                        Ok(()) => return Ok(()),
                        Err(f) => last = f,
                    }
                }
                Err(last)
            }
        }
    }
}

/// Where an absent value belongs: the base pointer plus the path's plain keys.
fn leaf_pointer(path: &Path, scope: &Scope<'_>) -> String {
    let base = match path.root {
        Root::Object => "",
        Root::Current => scope.current.1,
        Root::Pod => scope.pod.1,
        Root::PodMeta => scope.pod_meta.1,
    };
    let mut out = base.to_owned();
    for s in &path.steps {
        match s {
            super::path::Step::Key(k) => {
                out.push_str(&format!("/{}", crate::pod::escape_pointer(k)));
            }
            super::path::Step::Index(i) => out.push_str(&format!("/{i}")),
            _ => break,
        }
    }
    out
}
