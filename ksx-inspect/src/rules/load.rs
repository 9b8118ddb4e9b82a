//! Loading and validating rule files (spec §2.1, §2.9). Every problem of every file is collected, with the
//! file, line and column of the offending key or value, before anything runs.
//!
//! Line and column come from the document text: the YAML parser gives positions only for syntax errors, so the
//! loader finds each key of the offending field path in order from the document's first line (and the value,
//! when one is named). This points at the right spot for the block and flow styles rules are written in.

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;
use serde_json::Value;

use super::cond::{Cond, OPERATORS, Op};
use super::path::Path;
use super::template::Template;
use super::{ForEach, Match, NameFilter, Rule, RuleKind};
use crate::checks::builtin;
use crate::model::{Category, Severity};

/// One problem of a rule file, printed as `<file>:<line>:<column>: rule "<id>": <problem>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleError {
    /// The rule file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// `rule "<id>"` or `document <n>`.
    pub subject: String,
    /// What is wrong, worded as in the spec.
    pub problem: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.column, self.subject, self.problem
        )
    }
}

const SPEC_KEYS: &[&str] = &[
    "id",
    "type",
    "category",
    "severity",
    "enabled",
    "title",
    "match",
    "forEach",
    "when",
    "expect",
    "message",
    "remediation",
    "references",
    "prometheus",
    "nodeSelector",
    "node",
];
const MATCH_KEYS: &[&str] = &[
    "apiVersions",
    "kinds",
    "namespaces",
    "names",
    "labelSelector",
    "annotations",
];
const CATEGORIES: &[&str] = &[
    "security",
    "reliability",
    "efficiency",
    "networking",
    "rbac",
    "node",
];
const CONTAINER_SETS: &[&str] = &[
    "containers",
    "initContainers",
    "ephemeralContainers",
    "allContainers",
];

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

pub(super) fn unknown_field(field: &str, key: &str, known: &[&str]) -> String {
    let best = known
        .iter()
        .map(|k| (distance(key, k), *k))
        .filter(|(d, _)| *d <= 3)
        .min();
    match best {
        Some((_, k)) => format!("unknown field \"{field}\" (did you mean \"{k}\"?)"),
        None => format!("unknown field \"{field}\""),
    }
}

/// Finds positions in one document's text.
struct Locator<'a> {
    lines: Vec<&'a str>,
    start: usize,
}

impl Locator<'_> {
    /// The 1-based (line, column) of the last of `keys` found in order from the document start, or of `value`
    /// after it when given; the document start when nothing matches.
    fn find(&self, keys: &[&str], value: Option<&str>) -> (usize, usize) {
        let mut line = self.start;
        let mut col = 0;
        let mut found = (self.start + 1, 1);
        for key in keys {
            let needle = format!("{key}:");
            let mut hit = None;
            for (i, l) in self.lines.iter().enumerate().skip(line) {
                let from = if i == line { col } else { 0 };
                if let Some(pos) = l.get(from..).and_then(|s| s.find(&needle)) {
                    hit = Some((i, from + pos));
                    break;
                }
            }
            if let Some((i, c)) = hit {
                line = i;
                col = c + key.len();
                found = (i + 1, c + 1);
            }
        }
        if let Some(v) = value
            && let Some(l) = self.lines.get(line)
            && let Some(pos) = l.get(col..).and_then(|s| s.find(v))
        {
            found = (line + 1, col + pos + 1);
        }
        found
    }
}

/// Collects the problems of one document.
struct Doc<'a> {
    file: &'a str,
    loc: Locator<'a>,
    subject: String,
    errors: Vec<RuleError>,
}

impl Doc<'_> {
    fn err(&mut self, keys: &[&str], value: Option<&str>, problem: String) {
        let (line, column) = self.loc.find(keys, value);
        self.errors.push(RuleError {
            file: self.file.to_owned(),
            line,
            column,
            subject: self.subject.clone(),
            problem,
        });
    }
}

fn is_valid_id(id: &str) -> bool {
    (3..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(crate::pod::scalar_string).collect())
        .unwrap_or_default()
}

/// Parses every rule of the given files (`(name, text)`); all problems or all rules.
///
/// # Errors
/// Every problem found, sorted by file and line.
pub fn load_rules(files: &[(String, String)]) -> Result<Vec<Rule>, Vec<RuleError>> {
    let mut rules: Vec<Rule> = Vec::new();
    let mut errors = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (file, text) in files {
        let loaded = ksx_core::manifest::parse_str(file, text);
        for d in &loaded.diagnostics {
            let doc = d.document.unwrap_or(1);
            let msg = d
                .message
                .strip_prefix(&format!("document {doc}: "))
                .unwrap_or(&d.message);
            let msg = msg.strip_prefix("invalid YAML: ").unwrap_or(msg);
            errors.push(RuleError {
                file: file.clone(),
                line: d.line.unwrap_or(1),
                column: d.column.unwrap_or(1),
                subject: format!("document {doc}"),
                problem: format!("invalid YAML: {msg}"),
            });
        }
        for document in &loaded.documents {
            let mut doc = Doc {
                file,
                loc: Locator {
                    lines: text.lines().collect(),
                    start: document.source.line.saturating_sub(1),
                },
                subject: format!("document {}", document.source.document),
                errors: Vec::new(),
            };
            if let Some(rule) = parse_rule(&mut doc, &document.value) {
                let (line, column) = doc.loc.find(&["spec", "id"], Some(&rule.id));
                let here = format!("{file}:{line}:{column}");
                if let Some(first) = seen.get(&rule.id) {
                    doc.err(
                        &["spec", "id"],
                        Some(&rule.id),
                        format!(
                            "duplicate rule id \"{}\" (first defined at {first})",
                            rule.id
                        ),
                    );
                } else {
                    seen.insert(rule.id.clone(), here);
                    if doc.errors.is_empty() {
                        rules.push(rule);
                    }
                }
            }
            errors.extend(doc.errors);
        }
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        errors.sort();
        Err(errors)
    }
}

fn parse_rule(doc: &mut Doc<'_>, value: &Value) -> Option<Rule> {
    let Some(top) = value.as_object() else {
        doc.err(&[], None, "a rule document must be a mapping".to_owned());
        return None;
    };
    for key in top.keys() {
        if !["apiVersion", "kind", "metadata", "spec"].contains(&key.as_str()) {
            let p = unknown_field(key, key, &["apiVersion", "kind", "metadata", "spec"]);
            doc.err(&[key], None, p);
        }
    }
    let av = top.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if av != "inspect.ksx.io/v1" {
        doc.err(
            &["apiVersion"],
            None,
            format!("field \"apiVersion\" must be inspect.ksx.io/v1; got {av:?}"),
        );
    }
    let kind = top.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != "InspectRule" {
        doc.err(
            &["kind"],
            None,
            format!("field \"kind\" must be InspectRule; got {kind:?}"),
        );
    }
    let Some(spec) = top.get("spec").and_then(Value::as_object) else {
        doc.err(&[], None, "missing required field \"spec\"".to_owned());
        return None;
    };
    let id = match spec.get("id").and_then(Value::as_str) {
        None => {
            doc.err(
                &["spec"],
                None,
                "missing required field \"spec.id\"".to_owned(),
            );
            String::new()
        }
        Some(id) if !is_valid_id(id) => {
            doc.err(
                &["spec", "id"],
                Some(id),
                format!("invalid rule id {id:?}: expected kebab-case, 3-63 characters"),
            );
            String::new()
        }
        Some(id) => {
            doc.subject = format!("rule \"{id}\"");
            if builtin(id).is_some() {
                doc.err(
                    &["spec", "id"],
                    Some(id),
                    format!("rule id \"{id}\" is reserved by a built-in check"),
                );
            }
            id.to_owned()
        }
    };
    for key in spec.keys() {
        if !SPEC_KEYS.contains(&key.as_str()) {
            let p = unknown_field(&format!("spec.{key}"), key, SPEC_KEYS);
            doc.err(&["spec", key], None, p);
        }
    }
    let ty = spec.get("type").and_then(Value::as_str).unwrap_or("object");
    let rule_kind = {
        let mut sink = |keys: &[&str], value: Option<&str>, problem: String| {
            doc.err(keys, value, problem);
        };
        match ty {
            "object" => Some(RuleKind::Object),
            "prometheus" => {
                super::prometheus::parse(spec, &mut sink).map(|p| RuleKind::Prometheus(Box::new(p)))
            }
            "node" => super::node::parse(spec, &mut sink).map(|n| RuleKind::Node(Box::new(n))),
            _ => {
                sink(
                    &["spec", "type"],
                    Some(ty),
                    format!(
                        "field \"spec.type\" must be one of object, prometheus, node; got {ty:?}"
                    ),
                );
                None
            }
        }
    };
    let severity = match spec
        .get("severity")
        .map(|v| (v, v.as_str().and_then(Severity::parse)))
    {
        None => {
            doc.err(
                &["spec"],
                None,
                "missing required field \"spec.severity\"".to_owned(),
            );
            Severity::Warning
        }
        Some((_, Some(s))) => s,
        Some((v, None)) => {
            let shown = crate::pod::scalar_string(v).unwrap_or_else(|| v.to_string());
            doc.err(
                &["spec", "severity"],
                None,
                format!(
                    "field \"spec.severity\" must be one of danger, warning, info; got {shown:?}"
                ),
            );
            Severity::Warning
        }
    };
    let category = match spec.get("category").map(|v| (v, v.as_str())) {
        None => {
            doc.err(
                &["spec"],
                None,
                "missing required field \"spec.category\"".to_owned(),
            );
            Category::Security
        }
        Some((_, Some(c))) if CATEGORIES.contains(&c) => {
            serde_json::from_value(Value::String(c.to_owned())).unwrap_or(Category::Security)
        }
        Some((v, _)) => {
            let shown = crate::pod::scalar_string(v).unwrap_or_else(|| v.to_string());
            doc.err(
                &["spec", "category"],
                None,
                format!(
                    "field \"spec.category\" must be one of {}; got {shown:?}",
                    CATEGORIES.join(", ")
                ),
            );
            Category::Security
        }
    };
    let matcher = parse_match(doc, spec.get("match"));
    let for_each = parse_for_each(doc, spec.get("forEach"), &matcher);
    let when = spec
        .get("when")
        .and_then(|w| parse_cond(doc, w, &["spec", "when"], "spec.when"));
    let expect = match spec.get("expect") {
        None => {
            if ty == "object" {
                doc.err(
                    &["spec"],
                    None,
                    "missing required field \"spec.expect\"".to_owned(),
                );
            }
            None
        }
        Some(e) => parse_cond(doc, e, &["spec", "expect"], "spec.expect"),
    };
    let message = match spec.get("message") {
        None => None,
        Some(Value::String(m)) => match Template::parse(m, "message") {
            Ok(t) => Some(t),
            Err(p) => {
                doc.err(&["spec", "message"], None, p);
                None
            }
        },
        Some(_) => {
            doc.err(
                &["spec", "message"],
                None,
                "field \"spec.message\" must be a string".to_owned(),
            );
            None
        }
    };
    let enabled = crate::pod::as_bool(spec.get("enabled")).unwrap_or(true);
    Some(Rule {
        title: spec
            .get("title")
            .and_then(Value::as_str)
            .map_or_else(|| id.clone(), str::to_owned),
        id,
        category,
        severity,
        enabled,
        matcher,
        for_each,
        when,
        expect: match expect {
            Some(e) => e,
            None if ty == "object" => return None,
            None => Cond::All(Vec::new()),
        },
        message,
        remediation: spec
            .get("remediation")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        references: strings(spec.get("references")),
        file: doc.file.to_owned(),
        kind: rule_kind?,
        observations: Vec::new(),
    })
}

fn name_filter(doc: &mut Doc<'_>, v: Option<&Value>, field: &str) -> NameFilter {
    let Some(v) = v else {
        return NameFilter::default();
    };
    if let Some(m) = v.as_object() {
        for key in m.keys() {
            if key != "include" && key != "exclude" {
                let p = unknown_field(
                    &format!("spec.match.{field}.{key}"),
                    key,
                    &["include", "exclude"],
                );
                doc.err(&["spec", "match", field, key], None, p);
            }
        }
        return NameFilter {
            include: strings(m.get("include")),
            exclude: strings(m.get("exclude")),
        };
    }
    NameFilter {
        include: strings(Some(v)),
        exclude: Vec::new(),
    }
}

fn parse_match(doc: &mut Doc<'_>, v: Option<&Value>) -> Match {
    let Some(m) = v.and_then(Value::as_object) else {
        return Match::default();
    };
    for key in m.keys() {
        if !MATCH_KEYS.contains(&key.as_str()) {
            let p = unknown_field(&format!("spec.match.{key}"), key, MATCH_KEYS);
            doc.err(&["spec", "match", key], None, p);
        }
    }
    Match {
        api_versions: strings(m.get("apiVersions")),
        kinds: strings(m.get("kinds")),
        namespaces: name_filter(doc, m.get("namespaces"), "namespaces"),
        names: name_filter(doc, m.get("names"), "names"),
        label_selector: m.get("labelSelector").cloned(),
        annotations: crate::pod::string_map(m.get("annotations").unwrap_or(&Value::Null)),
    }
}

fn parse_for_each(doc: &mut Doc<'_>, v: Option<&Value>, matcher: &Match) -> Option<ForEach> {
    match v? {
        Value::String(s) if CONTAINER_SETS.contains(&s.as_str()) => {
            let workload_only = !matcher.kinds.is_empty()
                && matcher
                    .kinds
                    .iter()
                    .all(|k| k == "workloads" || crate::pod::is_workload(k));
            if !workload_only {
                doc.err(
                    &["spec", "forEach"],
                    Some(s),
                    format!("forEach \"{s}\" needs workload kinds in match.kinds"),
                );
            }
            Some(ForEach::Containers(s.clone()))
        }
        Value::Object(m) if m.get("path").is_some_and(Value::is_string) => {
            let text = m.get("path").and_then(Value::as_str).unwrap_or("");
            match Path::parse(text) {
                Ok(p) => Some(ForEach::Path(p)),
                Err(e) => {
                    path_error(doc, &["spec", "forEach", "path"], text, &e);
                    None
                }
            }
        }
        other => {
            let shown = crate::pod::scalar_string(other).unwrap_or_else(|| other.to_string());
            doc.err(
                &["spec", "forEach"],
                None,
                format!(
                    "field \"spec.forEach\" must be one of {} or {{path: ...}}; got {shown:?}",
                    CONTAINER_SETS.join(", ")
                ),
            );
            None
        }
    }
}

fn path_error(doc: &mut Doc<'_>, keys: &[&str], text: &str, e: &super::path::PathError) {
    let (line, column) = doc.loc.find(keys, Some(text));
    doc.errors.push(RuleError {
        file: doc.file.to_owned(),
        line,
        column: column + e.column - 1,
        subject: doc.subject.clone(),
        problem: format!(
            "invalid path {text:?}: {} at column {}",
            e.message, e.column
        ),
    });
}

fn regex_message(e: &regex::Error) -> String {
    e.to_string()
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .trim_start_matches("error: ")
        .to_owned()
}

fn parse_cond<'k>(doc: &mut Doc<'_>, v: &'k Value, keys: &[&'k str], field: &str) -> Option<Cond> {
    let Some(m) = v.as_object() else {
        doc.err(
            keys,
            None,
            format!("field \"{field}\" must be a condition mapping"),
        );
        return None;
    };
    let sub = |k: &'k str| -> Vec<&'k str> {
        let mut v: Vec<&'k str> = keys.to_vec();
        v.push(k);
        v
    };
    for comb in ["all", "any"] {
        if let Some(list) = m.get(comb) {
            let Some(items) = list.as_array() else {
                doc.err(
                    &sub(comb),
                    None,
                    format!("field \"{field}.{comb}\" must be a list of conditions"),
                );
                return None;
            };
            let keys2 = sub(comb);
            let mut out = Vec::new();
            for (i, c) in items.iter().enumerate() {
                out.push(parse_cond(doc, c, &keys2, &format!("{field}.{comb}[{i}]")));
            }
            let out: Option<Vec<Cond>> = out.into_iter().collect();
            return out.map(if comb == "all" { Cond::All } else { Cond::Any });
        }
    }
    if let Some(inner) = m.get("not") {
        return parse_cond(doc, inner, &sub("not"), &format!("{field}.not"))
            .map(|c| Cond::Not(Box::new(c)));
    }
    for comb in ["each", "someOf"] {
        if let Some(p) = m.get(comb) {
            let text = p.as_str().unwrap_or("");
            let path = match Path::parse(text) {
                Ok(p) => Some(p),
                Err(e) => {
                    path_error(doc, &sub(comb), text, &e);
                    None
                }
            };
            let Some(inner) = m.get("expect") else {
                doc.err(
                    &sub(comb),
                    None,
                    format!("missing required field \"{field}.expect\""),
                );
                return None;
            };
            let inner = parse_cond(doc, inner, &sub("expect"), &format!("{field}.expect"));
            let (path, inner) = (path?, inner?);
            return Some(if comb == "each" {
                Cond::Each(path, Box::new(inner))
            } else {
                Cond::SomeOf(path, Box::new(inner))
            });
        }
    }
    // A leaf.
    let ops: Vec<&str> = m
        .keys()
        .map(String::as_str)
        .filter(|k| OPERATORS.contains(k))
        .collect();
    for key in m.keys() {
        if !OPERATORS.contains(&key.as_str())
            && !["path", "default", "some"].contains(&key.as_str())
        {
            doc.err(
                &sub(key),
                None,
                format!(
                    "unknown operator \"{key}\"; expected one of {}",
                    OPERATORS.join(", ")
                ),
            );
            return None;
        }
    }
    let Some(path_text) = m.get("path").and_then(Value::as_str) else {
        doc.err(
            keys,
            None,
            format!("missing required field \"{field}.path\""),
        );
        return None;
    };
    let path = match Path::parse(path_text) {
        Ok(p) => p,
        Err(e) => {
            path_error(doc, &sub("path"), path_text, &e);
            return None;
        }
    };
    let op_name = match ops.as_slice() {
        [one] => *one,
        [] => {
            doc.err(
                keys,
                None,
                format!(
                    "condition has no operator; expected one of {}",
                    OPERATORS.join(", ")
                ),
            );
            return None;
        }
        many => {
            doc.err(
                &sub(many.get(1).copied().unwrap_or("")),
                None,
                format!(
                    "condition has {} operators ({}); exactly one is allowed",
                    many.len(),
                    many.join(", ")
                ),
            );
            return None;
        }
    };
    let arg = m.get(op_name).cloned().unwrap_or(Value::Null);
    let op = parse_op(doc, op_name, &arg, &sub(op_name))?;
    Some(Cond::Leaf {
        path,
        op,
        default: m.get("default").cloned(),
        some: crate::pod::as_bool(m.get("some")).unwrap_or(false),
    })
}

fn parse_op(doc: &mut Doc<'_>, name: &str, arg: &Value, keys: &[&str]) -> Option<Op> {
    let shown = crate::pod::scalar_string(arg).unwrap_or_else(|| arg.to_string());
    let bad = |doc: &mut Doc<'_>, what: &str| {
        doc.err(
            keys,
            None,
            format!("operator {name} needs {what}; got {shown}"),
        );
        None
    };
    match name {
        "exists" => match crate::pod::as_bool(Some(arg)) {
            Some(b) => Some(Op::Exists(b)),
            None => bad(doc, "true or false"),
        },
        "absent" => match crate::pod::as_bool(Some(arg)) {
            Some(true) => Some(Op::Absent),
            _ => bad(doc, "true"),
        },
        "equals" => Some(Op::Equals(arg.clone())),
        "notEquals" => Some(Op::NotEquals(arg.clone())),
        "in" | "notIn" => match arg.as_array() {
            Some(a) if name == "in" => Some(Op::In(a.clone())),
            Some(a) => Some(Op::NotIn(a.clone())),
            None => bad(doc, "a list"),
        },
        "regex" | "notRegex" => {
            let Some(p) = arg.as_str() else {
                return bad(doc, "a string");
            };
            match Regex::new(p) {
                Ok(r) if name == "regex" => Some(Op::Regex(r)),
                Ok(r) => Some(Op::NotRegex(r)),
                Err(e) => {
                    doc.err(
                        keys,
                        None,
                        format!("invalid regex '{p}': {}", regex_message(&e)),
                    );
                    None
                }
            }
        }
        "gt" | "gte" | "lt" | "lte" => {
            let Some(q) = super::cond::quantity(arg) else {
                doc.err(
                    keys,
                    Some(&shown),
                    format!("invalid quantity \"{shown}\" for {name} (examples: 4Gi, 4G, 500m)"),
                );
                return None;
            };
            use std::cmp::Ordering::{Equal, Greater, Less};
            let orders: &'static [std::cmp::Ordering] = match name {
                "gt" => &[Greater],
                "gte" => &[Greater, Equal],
                "lt" => &[Less],
                _ => &[Less, Equal],
            };
            Some(Op::Compare(orders, q))
        }
        "contains" => Some(Op::Contains(arg.clone())),
        _ => match crate::pod::as_i64(Some(arg)).and_then(|n| usize::try_from(n).ok()) {
            Some(n) if name == "minItems" => Some(Op::MinItems(n)),
            Some(n) => Some(Op::MaxItems(n)),
            None => bad(doc, "a non-negative integer"),
        },
    }
}
