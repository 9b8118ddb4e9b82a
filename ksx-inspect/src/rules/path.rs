//! The JSONPath subset of custom rules (spec §2.2): roots `$`, `@`, `$pod`, `$podMeta`; steps `.name`,
//! `['key.with.dots']`, `[3]`, `[*]` and `[?(@.name == 'x')]`.

use serde_json::Value;

/// Where a path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// `$`: the object.
    Object,
    /// `@`: the current item (forEach element, or `each` element).
    Current,
    /// `$pod`: the resolved pod spec.
    Pod,
    /// `$podMeta`: the resolved pod template metadata.
    PodMeta,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `.name` or `['name']`.
    Key(String),
    /// `[3]`.
    Index(usize),
    /// `[*]`.
    All,
    /// `[?(@.field == 'x')]`.
    Filter(Vec<String>, Value),
}

/// A compiled path.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// The root.
    pub root: Root,
    /// The steps.
    pub steps: Vec<Step>,
    /// The text as written.
    pub text: String,
}

/// A path error: what is wrong and the 1-based column inside the path string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    /// e.g. `expected ']'`.
    pub message: String,
    /// 1-based column in the path text.
    pub column: usize,
}

impl Path {
    /// Parses a path.
    ///
    /// # Errors
    /// [`PathError`] naming what was expected and where.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let chars: Vec<char> = text.chars().collect();
        let err = |message: &str, at: usize| PathError {
            message: message.to_owned(),
            column: at + 1,
        };
        let (root, mut i) = if text.starts_with("$podMeta") {
            (Root::PodMeta, 8)
        } else if text.starts_with("$pod") {
            (Root::Pod, 4)
        } else if text.starts_with('$') {
            (Root::Object, 1)
        } else if text.starts_with('@') {
            (Root::Current, 1)
        } else {
            return Err(err("expected '$', '@', '$pod' or '$podMeta'", 0));
        };
        let mut steps = Vec::new();
        while i < chars.len() {
            match chars.get(i) {
                Some('.') => {
                    let start = i + 1;
                    let mut j = start;
                    while chars
                        .get(j)
                        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-'))
                    {
                        j += 1;
                    }
                    if j == start {
                        return Err(err("expected a field name", start));
                    }
                    steps.push(Step::Key(chars[start..j].iter().collect()));
                    i = j;
                }
                Some('[') => {
                    let (step, next) =
                        parse_bracket(&chars, i + 1).map_err(|(m, at)| err(&m, at))?;
                    steps.push(step);
                    i = next;
                }
                _ => return Err(err("expected '.' or '['", i)),
            }
        }
        Ok(Self {
            root,
            steps,
            text: text.to_owned(),
        })
    }

    /// Every value the path yields from `root`, with its JSON pointer relative to the root.
    pub fn eval<'a>(&self, root: &'a Value, base: &str) -> Vec<(String, &'a Value)> {
        let mut cur: Vec<(String, &'a Value)> = vec![(base.to_owned(), root)];
        for step in &self.steps {
            let mut next = Vec::new();
            for (ptr, v) in cur {
                match step {
                    Step::Key(k) => {
                        if let Some(x) = v.get(k.as_str()) {
                            next.push((format!("{ptr}/{}", crate::pod::escape_pointer(k)), x));
                        }
                    }
                    Step::Index(n) => {
                        if let Some(x) = v.as_array().and_then(|a| a.get(*n)) {
                            next.push((format!("{ptr}/{n}"), x));
                        }
                    }
                    Step::All => match v {
                        Value::Array(a) => next
                            .extend(a.iter().enumerate().map(|(i, x)| (format!("{ptr}/{i}"), x))),
                        Value::Object(m) => {
                            next.extend(m.iter().map(|(k, x)| {
                                (format!("{ptr}/{}", crate::pod::escape_pointer(k)), x)
                            }));
                        }
                        _ => {}
                    },
                    Step::Filter(fields, want) => {
                        if let Some(a) = v.as_array() {
                            for (i, x) in a.iter().enumerate() {
                                let got = fields.iter().try_fold(x, |acc, f| acc.get(f.as_str()));
                                if got.is_some_and(|g| super::cond::loose_eq(g, want)) {
                                    next.push((format!("{ptr}/{i}"), x));
                                }
                            }
                        }
                    }
                }
            }
            cur = next;
        }
        cur
    }
}

fn parse_quoted(chars: &[char], start: usize) -> Result<(String, usize), (String, usize)> {
    let quote = chars.get(start).copied().unwrap_or('\'');
    let mut j = start + 1;
    let mut s = String::new();
    loop {
        match chars.get(j) {
            None => return Err((format!("expected {quote}"), j)),
            Some(c) if *c == quote => return Ok((s, j + 1)),
            Some(c) => s.push(*c),
        }
        j += 1;
    }
}

fn expect_char(chars: &[char], at: usize, want: char) -> Result<usize, (String, usize)> {
    if chars.get(at) == Some(&want) {
        Ok(at + 1)
    } else {
        Err((format!("expected '{want}'"), at))
    }
}

fn parse_bracket(chars: &[char], i: usize) -> Result<(Step, usize), (String, usize)> {
    match chars.get(i) {
        Some('*') => Ok((Step::All, expect_char(chars, i + 1, ']')?)),
        Some('\'' | '"') => {
            let (key, j) = parse_quoted(chars, i)?;
            Ok((Step::Key(key), expect_char(chars, j, ']')?))
        }
        Some(c) if c.is_ascii_digit() => {
            let mut j = i;
            while chars.get(j).is_some_and(char::is_ascii_digit) {
                j += 1;
            }
            let n: String = chars[i..j].iter().collect();
            let n = n.parse().map_err(|_| ("index too large".to_owned(), i))?;
            Ok((Step::Index(n), expect_char(chars, j, ']')?))
        }
        Some('?') => {
            let mut j = expect_char(chars, i + 1, '(')?;
            j = expect_char(chars, j, '@')?;
            let mut fields = Vec::new();
            while chars.get(j) == Some(&'.') {
                let start = j + 1;
                let mut k = start;
                while chars
                    .get(k)
                    .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-'))
                {
                    k += 1;
                }
                if k == start {
                    return Err(("expected a field name".to_owned(), start));
                }
                fields.push(chars[start..k].iter().collect());
                j = k;
            }
            while chars.get(j) == Some(&' ') {
                j += 1;
            }
            j = expect_char(chars, j, '=')?;
            j = expect_char(chars, j, '=')?;
            while chars.get(j) == Some(&' ') {
                j += 1;
            }
            let (value, mut j) = match chars.get(j) {
                Some('\'' | '"') => {
                    let (s, j) = parse_quoted(chars, j)?;
                    (Value::String(s), j)
                }
                _ => {
                    let start = j;
                    while chars
                        .get(j)
                        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '.' | '-'))
                    {
                        j += 1;
                    }
                    let lit: String = chars[start..j].iter().collect();
                    if lit.is_empty() {
                        return Err(("expected a value".to_owned(), start));
                    }
                    (serde_json::from_str(&lit).unwrap_or(Value::String(lit)), j)
                }
            };
            while chars.get(j) == Some(&' ') {
                j += 1;
            }
            j = expect_char(chars, j, ')')?;
            Ok((Step::Filter(fields, value), expect_char(chars, j, ']')?))
        }
        None => Err(("expected ']'".to_owned(), i)),
        _ => Err((
            "expected '*', a quoted key, an index or a filter".to_owned(),
            i,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_and_evaluates() {
        let p =
            Path::parse("$.spec.containers[?(@.name == 'web')].ports[*].containerPort").unwrap();
        let v = json!({"spec": {"containers": [{"name": "db"}, {"name": "web", "ports": [{"containerPort": 80}]}]}});
        let got = p.eval(&v, "");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "/spec/containers/1/ports/0/containerPort");
        let k = Path::parse("$.metadata.labels['app.kubernetes.io/name']").unwrap();
        assert_eq!(
            k.steps.last(),
            Some(&Step::Key("app.kubernetes.io/name".into()))
        );
    }

    #[test]
    fn errors_name_the_column() {
        let e = Path::parse("@.containers[").unwrap_err();
        assert_eq!((e.message.as_str(), e.column), ("expected ']'", 14));
        let e = Path::parse("@.containers[0").unwrap_err();
        assert_eq!((e.message.as_str(), e.column), ("expected ']'", 15));
    }
}
