//! Reading manifests: files, directories and standard input; multi-document YAML, JSON, and `List` objects.
//!
//! Input that can partly succeed does: every good document comes back, and each bad one becomes a
//! [`Diagnostic`] that names the file, the document and the line, so one typo never hides the rest of a bundle.
//!
//! ```
//! use ksx_core::manifest::parse_str;
//!
//! let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: [oops\n";
//! let loaded = parse_str("bundle.yaml", text);
//! assert_eq!(loaded.documents.len(), 1);
//! assert_eq!(loaded.documents[0].object.as_ref().map(|o| o.name()), Some("a"));
//! assert_eq!(loaded.diagnostics.len(), 1);
//! // The flow sequence opened on line 5 is still open when the input ends on line 6.
//! assert!(loaded.diagnostics[0].to_string().starts_with("bundle.yaml:6:1: document 2: invalid YAML"));
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cluster::{Kind, Object};
use crate::error::{Error, Result};

/// Where a document came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// The file, or `-` for standard input.
    pub file: String,
    /// 1-based index of the document in the file.
    pub document: usize,
    /// 1-based line where the document starts.
    pub line: usize,
    /// For an item of a `List`, its index in `items`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(item) = self.item {
            write!(f, " (items[{item}])")?;
        }
        Ok(())
    }
}

/// One document of a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Where it came from.
    pub source: Source,
    /// The document as JSON.
    pub value: serde_json::Value,
    /// The document as a typed object when its `apiVersion`/`kind` is one the cluster seam carries and it matches
    /// that kind's schema; `None` for other kinds (custom resources, `autoscaling/v1` HPAs…), which callers read
    /// from `value`.
    pub object: Option<Object>,
}

impl Document {
    /// `apiVersion` of the document, or empty.
    pub fn api_version(&self) -> &str {
        self.value
            .get("apiVersion")
            .and_then(|v| v.as_str())
            .unwrap_or("")
    }

    /// `kind` of the document, or empty.
    pub fn kind(&self) -> &str {
        self.value
            .get("kind")
            .and_then(|v| v.as_str())
            .unwrap_or("")
    }

    /// `metadata.name` of the document, or empty.
    pub fn name(&self) -> &str {
        self.value
            .pointer("/metadata/name")
            .and_then(|v| v.as_str())
            .unwrap_or("")
    }

    /// `metadata.namespace` of the document.
    pub fn namespace(&self) -> Option<&str> {
        self.value
            .pointer("/metadata/namespace")
            .and_then(|v| v.as_str())
    }
}

/// A problem with one document or file. The rest of the input still loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    /// The file, or `-` for standard input.
    pub file: String,
    /// 1-based line, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// 1-based document index, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl From<Diagnostic> for Error {
    fn from(d: Diagnostic) -> Self {
        let location = match (d.line, d.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", d.file),
            (Some(l), None) => format!("{}:{l}", d.file),
            _ => d.file.clone(),
        };
        Error::Parse {
            location,
            reason: d.message,
        }
    }
}

/// Documents and diagnostics from one or more inputs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loaded {
    /// Good documents, in input order.
    pub documents: Vec<Document>,
    /// Problems, in input order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    /// Appends another load.
    pub fn extend(&mut self, other: Loaded) {
        self.documents.extend(other.documents);
        self.diagnostics.extend(other.diagnostics);
    }

    /// The typed objects among the documents.
    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.documents.iter().filter_map(|d| d.object.as_ref())
    }
}

/// Loads files and directories (recursively: `*.yaml`, `*.yml`, `*.json`, in sorted order); `-` reads standard
/// input. Unreadable paths become diagnostics.
pub fn load_paths<P: AsRef<Path>>(paths: &[P]) -> Loaded {
    let mut loaded = Loaded::default();
    for path in paths {
        let path = path.as_ref();
        if path == Path::new("-") {
            let mut text = String::new();
            match std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
                Ok(_) => loaded.extend(parse_str("-", &text)),
                Err(e) => loaded.diagnostics.push(file_diag("-", &e.to_string())),
            }
            continue;
        }
        let mut files = Vec::new();
        if let Err(e) = collect_files(path, &mut files) {
            loaded
                .diagnostics
                .push(file_diag(&path.display().to_string(), &e.to_string()));
        }
        for file in files {
            let name = file.display().to_string();
            match std::fs::read_to_string(&file) {
                Ok(text) => loaded.extend(parse_str(&name, &text)),
                Err(e) => loaded.diagnostics.push(file_diag(&name, &e.to_string())),
            }
        }
    }
    loaded
}

/// Reads a whole file.
///
/// # Errors
/// [`Error::Io`] naming the path.
pub fn read_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn file_diag(file: &str, message: &str) -> Diagnostic {
    Diagnostic {
        file: file.into(),
        line: None,
        column: None,
        document: None,
        message: format!("cannot read: {message}"),
    }
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        out.push(path.to_owned());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            collect_files(&entry, out)?;
        } else if matches!(
            entry.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(entry);
        }
    }
    Ok(())
}

/// Splits a YAML stream into documents at `---` lines, keeping each document's 1-based start line. JSON input
/// (one value) is one document.
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    for (idx, line) in text.lines().enumerate() {
        let is_separator = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if is_separator {
            docs.push((start, std::mem::take(&mut current)));
            start = idx + 2;
            // Content after the marker on the same line belongs to the next document.
            if let Some(rest) = line.get(4..) {
                current.push_str(rest);
                current.push('\n');
                start = idx + 1;
            }
        } else if line == "..." {
            docs.push((start, std::mem::take(&mut current)));
            start = idx + 2;
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    docs.push((start, current));
    docs
}

fn is_blank_document(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#')
    })
}

/// Parses one manifest text. `file` names it in sources and diagnostics.
pub fn parse_str(file: &str, text: &str) -> Loaded {
    let mut loaded = Loaded::default();
    let mut index = 0;
    for (line, chunk) in split_documents(text) {
        if is_blank_document(&chunk) {
            continue;
        }
        index += 1;
        let value: serde_json::Value = match serde_yaml::from_str(&chunk) {
            Ok(v) => v,
            Err(e) => {
                let (l, c) = e.location().map_or((line, None), |loc| {
                    (line + loc.line() - 1, Some(loc.column()))
                });
                loaded.diagnostics.push(Diagnostic {
                    file: file.into(),
                    line: Some(l),
                    column: c,
                    document: Some(index),
                    message: format!(
                        "document {index}: invalid YAML: {}",
                        strip_location(&e.to_string())
                    ),
                });
                continue;
            }
        };
        let source = Source {
            file: file.into(),
            document: index,
            line,
            item: None,
        };
        push_value(&mut loaded, source, value);
    }
    loaded
}

/// Drops serde_yaml's own " at line X column Y" suffix: the diagnostic carries the absolute position itself.
fn strip_location(message: &str) -> &str {
    message
        .find(" at line ")
        .map_or(message, |i| message.get(..i).unwrap_or(message))
}

fn push_value(loaded: &mut Loaded, source: Source, value: serde_json::Value) {
    if !value.is_object() {
        loaded.diagnostics.push(Diagnostic {
            file: source.file.clone(),
            line: Some(source.line),
            column: None,
            document: Some(source.document),
            message: format!(
                "document {}: expected a mapping with apiVersion and kind",
                source.document
            ),
        });
        return;
    }
    let kind = value.get("kind").and_then(|v| v.as_str()).unwrap_or("");
    if kind.ends_with("List")
        && let Some(items) = value.get("items").and_then(|v| v.as_array())
    {
        for (i, item) in items.iter().enumerate() {
            let src = Source {
                item: Some(i),
                ..source.clone()
            };
            push_value(loaded, src, item.clone());
        }
        return;
    }
    let api_version = value
        .get("apiVersion")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let object = match Kind::from_type(api_version, kind) {
        Some(k) => match typed_object(&k, value.clone(), &source) {
            Ok(o) => Some(o),
            Err(e) => {
                loaded.diagnostics.push(Diagnostic {
                    file: source.file.clone(),
                    line: Some(source.line),
                    column: None,
                    document: Some(source.document),
                    message: format!(
                        "document {} ({kind} {}): {}",
                        source.document,
                        value
                            .pointer("/metadata/name")
                            .and_then(|v| v.as_str())
                            .unwrap_or("?"),
                        match e {
                            Error::Parse { reason, .. } => reason,
                            other => other.to_string(),
                        }
                    ),
                });
                return;
            }
        },
        None => None,
    };
    loaded.documents.push(Document {
        source,
        value,
        object,
    });
}

fn typed_object(kind: &Kind, value: serde_json::Value, source: &Source) -> Result<Object> {
    Object::from_json(kind, value).map_err(|e| match e {
        Error::Parse { reason, .. } => Error::Parse {
            location: source.to_string(),
            reason,
        },
        other => other,
    })
}

/// Deserializes a value into a typed spec, naming the field path on failure (`spec.triggers[0].type: unknown
/// variant`). Types with `deny_unknown_fields` report unknown fields with their path.
///
/// # Errors
/// [`Error::Parse`] with `location` as given and the field path in the reason.
pub fn from_value_at<T: DeserializeOwned>(value: &serde_json::Value, location: &str) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let reason = if path.is_empty() || path == "." {
            e.inner().to_string()
        } else {
            format!("{path}: {}", e.inner())
        };
        Error::Parse {
            location: location.into(),
            reason,
        }
    })
}

/// Parses a YAML or JSON text into a typed spec, naming the file, line and field on failure.
///
/// # Errors
/// [`Error::Parse`] with `file:line:column` and the field path.
pub fn from_yaml_str<T: DeserializeOwned>(file: &str, text: &str) -> Result<T> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let location = inner.location().map_or_else(
            || file.to_owned(),
            |l| format!("{file}:{}:{}", l.line(), l.column()),
        );
        let msg = strip_location(&inner.to_string()).to_owned();
        // The YAML deserializer already names the path in some messages; never say it twice.
        let first = path.split(['.', '[']).next().unwrap_or_default();
        let named = path.is_empty()
            || path == "."
            || [':', '.', '[']
                .iter()
                .any(|c| msg.starts_with(&format!("{first}{c}")));
        Error::Parse {
            location,
            reason: if named { msg } else { format!("{path}: {msg}") },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_documents_with_lines() {
        let text = "a: 1\n---\nb: 2\n\n--- \n# only a comment\n---\nc: 3\n";
        let loaded = parse_str("x.yaml", text);
        // Three mappings without kind are still documents (no typed object).
        assert_eq!(loaded.documents.len(), 3);
        let lines: Vec<usize> = loaded.documents.iter().map(|d| d.source.line).collect();
        assert_eq!(lines, [1, 3, 8]);
        assert!(loaded.documents.iter().all(|d| d.object.is_none()));
    }

    #[test]
    fn bad_yaml_names_file_line_and_document() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ok\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: [\n";
        let loaded = parse_str("b.yaml", text);
        assert_eq!(loaded.documents.len(), 1);
        let d = &loaded.diagnostics[0];
        assert_eq!(d.document, Some(2));
        assert!(d.line.unwrap() >= 6, "{d}");
        assert!(d.to_string().starts_with("b.yaml:"), "{d}");
    }

    #[test]
    fn schema_errors_name_the_field() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: many\n";
        let loaded = parse_str("d.yaml", text);
        assert!(loaded.documents.is_empty());
        let msg = loaded.diagnostics[0].to_string();
        assert!(msg.contains("Deployment web"), "{msg}");
        assert!(msg.contains("replicas"), "{msg}");
    }

    #[test]
    fn lists_are_flattened() {
        let text = r#"{"apiVersion":"v1","kind":"List","items":[
            {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}},
            {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"b"}}]}"#;
        let loaded = parse_str("l.json", text);
        let names: Vec<&str> = loaded.objects().map(Object::name).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(loaded.documents[1].source.item, Some(1));
    }

    #[test]
    fn unknown_fields_have_paths() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        #[allow(dead_code, reason = "fields exist to be deserialized")]
        struct Spec {
            min_replicas: i32,
        }
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code, reason = "fields exist to be deserialized")]
        struct Doc {
            spec: Spec,
        }
        let err = from_yaml_str::<Doc>("s.yaml", "spec:\n  minReplicas: 1\n  maxReplica: 3\n")
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("s.yaml:3:"), "{msg}");
        assert_eq!(msg.matches("spec").count(), 1, "path named once: {msg}");
        assert!(msg.contains("spec") && msg.contains("maxReplica"), "{msg}");
    }

    #[test]
    fn unreadable_paths_are_diagnostics() {
        let loaded = load_paths(&["/nonexistent/ksx/file.yaml"]);
        assert_eq!(loaded.diagnostics.len(), 1);
        assert!(loaded.diagnostics[0].message.starts_with("cannot read"));
    }

    #[test]
    fn directories_load_sorted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("b.yaml"),
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("a.json"),
            r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let loaded = load_paths(&[dir.path()]);
        let names: Vec<&str> = loaded.objects().map(Object::name).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(loaded.diagnostics.is_empty());
    }
}
