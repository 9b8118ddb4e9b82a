//! SARIF 2.1.0 rendering (spec §6.3): one run, every check that ran as a rule, findings as results with
//! physical (file input) and logical locations, fingerprints and suppressions; loader diagnostics as tool
//! execution notifications.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::model::{ErrorKind, Report, Severity, SuppressedBy};

/// The OASIS schema URI of SARIF 2.1.0.
pub const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Danger => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Danger => "8.0",
        Severity::Warning => "5.0",
        Severity::Info => "2.0",
    }
}

fn pascal_case(title: &str) -> String {
    title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            cs.next()
                .map(|f| f.to_uppercase().chain(cs).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

fn artifact_location(file: &str) -> Value {
    let uri = file.strip_prefix("./").unwrap_or(file);
    if uri.starts_with('/') {
        json!({"uri": format!("file://{uri}")})
    } else {
        json!({"uri": uri, "uriBaseId": "SRCROOT"})
    }
}

/// The SARIF log of a report.
pub fn to_sarif(report: &Report) -> Value {
    let ran: Vec<_> = report.checks.iter().filter(|c| c.enabled).collect();
    let index: BTreeMap<&str, usize> = ran
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let references: BTreeMap<&str, &Vec<String>> = report
        .findings
        .iter()
        .map(|f| (f.check_id.as_str(), &f.references))
        .collect();
    let remediations: BTreeMap<&str, &str> = report
        .findings
        .iter()
        .map(|f| (f.check_id.as_str(), f.remediation.as_str()))
        .collect();
    let rules: Vec<Value> = ran
        .iter()
        .map(|c| {
            let builtin = crate::checks::builtin(&c.id);
            let remediation = builtin.map_or_else(|| remediations.get(c.id.as_str()).copied().unwrap_or(""), |b| b.remediation);
            let help_uri = builtin
                .and_then(|b| b.references.first().map(|r| (*r).to_owned()))
                .or_else(|| references.get(c.id.as_str()).and_then(|r| r.first().cloned()));
            let mut rule = json!({
                "id": c.id,
                "name": pascal_case(&c.title),
                "shortDescription": {"text": c.title},
                "fullDescription": {"text": format!("{} ({} check of category {})", c.title, c.severity, c.category)},
                "help": {"text": remediation, "markdown": remediation},
                "defaultConfiguration": {"level": level(c.severity)},
                "properties": {"tags": [c.category.as_str(), "kubernetes"], "security-severity": security_severity(c.severity)},
            });
            if let (Some(uri), Some(obj)) = (help_uri, rule.as_object_mut()) {
                obj.insert("helpUri".to_owned(), Value::String(uri));
            }
            rule
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let r = &f.resource;
            let mut fqn = match &r.namespace {
                Some(ns) => format!("{ns}/{}/{}", r.kind, r.name),
                None => format!("{}/{}", r.kind, r.name),
            };
            if let Some(c) = &f.container {
                fqn.push('/');
                fqn.push_str(c);
            }
            let mut result = json!({
                "ruleId": f.check_id,
                "ruleIndex": index.get(f.check_id.as_str()).copied().unwrap_or(0),
                "level": level(f.severity),
                "message": {"text": f.message},
                "partialFingerprints": {"ksx/v1": f.fingerprint},
                "properties": {"path": f.path, "container": f.container, "namespace": r.namespace},
            });
            if let Some(obj) = result.as_object_mut() {
                // SARIF keeps logical locations inside a location: locations[0] always names the resource, and
                // carries the file position too for file input.
                let mut location = json!({
                    "logicalLocations": [{"name": format!("{}/{}", r.kind, r.name), "fullyQualifiedName": fqn, "kind": "resource"}],
                });
                if let (Some(l), Some(loc)) = (&f.location, location.as_object_mut()) {
                    loc.insert(
                        "physicalLocation".to_owned(),
                        json!({
                            "artifactLocation": artifact_location(&l.file),
                            "region": {"startLine": l.line, "startColumn": l.column},
                        }),
                    );
                }
                obj.insert("locations".to_owned(), json!([location]));
                if let Some(s) = &f.suppressed {
                    let kind = match s.by {
                        SuppressedBy::Annotation => "inSource",
                        SuppressedBy::Config => "external",
                    };
                    let justification = s.reason.clone().or_else(|| s.rule.clone()).unwrap_or_default();
                    obj.insert("suppressions".to_owned(), json!([{"kind": kind, "justification": justification}]));
                }
            }
            result
        })
        .collect();
    let notifications: Vec<Value> = report
        .errors
        .iter()
        .map(|e| {
            let lvl = if matches!(e.kind, ErrorKind::Input) {
                "warning"
            } else {
                "error"
            };
            let mut n = json!({"level": lvl, "message": {"text": e.to_string()}});
            if let (Some(file), Some(obj)) = (&e.file, n.as_object_mut()) {
                let mut phys = json!({"artifactLocation": artifact_location(file)});
                if let (Some(line), Some(p)) = (e.line, phys.as_object_mut()) {
                    p.insert(
                        "region".to_owned(),
                        json!({"startLine": line, "startColumn": e.column.unwrap_or(1)}),
                    );
                }
                obj.insert("locations".to_owned(), json!([{"physicalLocation": phys}]));
            }
            n
        })
        .collect();
    let files: BTreeSet<&str> = report
        .findings
        .iter()
        .filter_map(|f| f.location.as_ref().map(|l| l.file.as_str()))
        .chain(report.errors.iter().filter_map(|e| e.file.as_deref()))
        .filter(|f| *f != "-")
        .collect();
    let artifacts: Vec<Value> = files
        .into_iter()
        .map(|f| json!({"location": artifact_location(f)}))
        .collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "ksx-inspect",
                "semanticVersion": report.tool.version,
                "informationUri": "https://example.invalid/ksx",
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": report.summary.objects > 0,
                "toolExecutionNotifications": notifications,
            }],
            "artifacts": artifacts,
            "results": results,
            "originalUriBaseIds": {"SRCROOT": {"description": {"text": "the working directory of the run"}}},
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::pascal_case;

    #[test]
    fn names() {
        assert_eq!(
            pascal_case("Container is not privileged"),
            "ContainerIsNotPrivileged"
        );
        assert_eq!(
            pascal_case("No pods/exec or pods/attach"),
            "NoPodsExecOrPodsAttach"
        );
    }
}
