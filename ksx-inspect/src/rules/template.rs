//! Message templates (spec §2.5): `{{ expr }}` over `object`, `kind`, `namespace`, `name`, `container`, `item`,
//! `value`, `path`, `labels`, `node`, with filters `default('x')`, `round(n)`, `join(', ')`, `upper`, `lower`.
//! Templates are parsed at load, so an unknown variable is a load error, never a blank at run time.

use std::collections::BTreeMap;

use serde_json::Value;

/// Variables a template may name.
pub const VARIABLES: &[&str] = &[
    "object",
    "kind",
    "namespace",
    "name",
    "container",
    "item",
    "value",
    "path",
    "labels",
    "node",
];

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Default(String),
    Round(usize),
    Join(String),
    Upper,
    Lower,
}

#[derive(Debug, Clone, PartialEq)]
struct Expr {
    var: String,
    fields: Vec<String>,
    filters: Vec<Filter>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Expr(Expr),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

fn unquote(arg: &str) -> String {
    let a = arg.trim();
    a.strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .or_else(|| a.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
        .unwrap_or(a)
        .to_owned()
}

fn parse_filter(text: &str) -> Result<Filter, String> {
    let t = text.trim();
    let (name, arg) = match t.split_once('(') {
        Some((n, rest)) => (
            n.trim(),
            Some(
                rest.strip_suffix(')')
                    .ok_or_else(|| format!("filter {n:?} misses ')'"))?,
            ),
        ),
        None => (t, None),
    };
    match (name, arg) {
        ("default", Some(a)) => Ok(Filter::Default(unquote(a))),
        ("round", a) => Ok(Filter::Round(a.map_or(Ok(0), |a| {
            a.trim()
                .parse()
                .map_err(|_| format!("round needs a number, got {a:?}"))
        })?)),
        ("join", a) => Ok(Filter::Join(a.map_or_else(|| ", ".to_owned(), unquote))),
        ("upper", None) => Ok(Filter::Upper),
        ("lower", None) => Ok(Filter::Lower),
        _ => Err(format!("unknown template filter {name:?}")),
    }
}

impl Template {
    /// Parses a template; `field` names it in errors (`message`).
    ///
    /// # Errors
    /// `unknown template variable "x" in message`, an unknown filter or an unclosed `{{`.
    pub fn parse(text: &str, field: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let (before, after) = rest.split_at(start);
            if !before.is_empty() {
                parts.push(Part::Text(before.to_owned()));
            }
            let after = after.get(2..).unwrap_or("");
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed '{{{{' in {field}"))?;
            let (inner, tail) = after.split_at(end);
            rest = tail.get(2..).unwrap_or("");
            let mut pieces = inner.split('|');
            let head = pieces.next().unwrap_or("").trim();
            let mut names = head.split('.');
            let var = names.next().unwrap_or("").trim().to_owned();
            if !VARIABLES.contains(&var.as_str()) {
                return Err(format!("unknown template variable {var:?} in {field}"));
            }
            let fields = names.map(|s| s.trim().to_owned()).collect();
            let filters = pieces
                .map(parse_filter)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{e} in {field}"))?;
            parts.push(Part::Expr(Expr {
                var,
                fields,
                filters,
            }));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// Renders with the given variables; absent values render empty unless `default` applies.
    pub fn render(&self, vars: &BTreeMap<&str, Value>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Expr(e) => {
                    let mut v = vars.get(e.var.as_str()).cloned().unwrap_or(Value::Null);
                    for f in &e.fields {
                        v = v.get(f.as_str()).cloned().unwrap_or(Value::Null);
                    }
                    out.push_str(&apply(v, &e.filters));
                }
            }
        }
        out
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn apply(mut v: Value, filters: &[Filter]) -> String {
    let mut text: Option<String> = None;
    for f in filters {
        let cur = text.take().unwrap_or_else(|| show(&v));
        text = Some(match f {
            Filter::Default(d) => {
                if cur.is_empty() {
                    d.clone()
                } else {
                    cur
                }
            }
            Filter::Round(n) => match cur.parse::<f64>() {
                // Rounding is for display only; comparisons never use floats.
                Ok(x) => format!("{x:.prec$}", prec = *n),
                Err(_) => cur,
            },
            Filter::Join(sep) => match &v {
                Value::Array(a) => a.iter().map(show).collect::<Vec<_>>().join(sep),
                _ => cur,
            },
            Filter::Upper => cur.to_uppercase(),
            Filter::Lower => cur.to_lowercase(),
        });
        v = Value::Null;
    }
    text.unwrap_or_else(|| show(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_and_rejects_unknown_names() {
        let t = Template::parse(
            "{{ container.name }} pulls {{ value | upper }} ({{ item.x | default('none') }}, {{ value2 }})",
            "message",
        );
        assert_eq!(
            t.unwrap_err(),
            "unknown template variable \"value2\" in message"
        );
        let t = Template::parse(
            "{{ container.name }}: {{ value | round(1) }} {{ labels | join('/') }}",
            "message",
        )
        .unwrap();
        let vars = BTreeMap::from([
            ("container", json!({"name": "web"})),
            ("value", json!(2.345)),
            ("labels", json!(["a", "b"])),
        ]);
        assert_eq!(t.render(&vars), "web: 2.3 a/b");
    }
}
