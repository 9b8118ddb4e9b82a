//! JUnit XML rendering (spec §6.4): one `<testsuite>` per resource, one `<testcase>` per test (check × resource),
//! passing ones included. A test with an unsuppressed finding at or above the run's `--fail-on` is a
//! `<failure>` listing every finding; below it the testcase passes with the findings in `<system-out>`; a test
//! whose findings are all suppressed is `<skipped message="exempted: …"/>`.
//!
//! Passing tests come from [`Summary::passed_tests`](crate::model::Summary::passed_tests), which a report read back
//! from JSON lacks: such a report renders its failed, below-threshold and exempted tests only.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::model::{Finding, Location, Report, Resource, Severity, Suppressed, SuppressedBy};

/// Escapes text for XML content and attribute values: the five special characters, line breaks and tabs as
/// character references (so attribute values keep them), and characters XML 1.0 cannot carry as U+FFFD.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// Whether XML 1.0 allows `c` (the `Char` production).
fn xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes element text: like [`xml_escape`] but keeps line breaks and tabs readable.
fn text_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\t' => out.push(ch),
            '\r' => out.push_str("&#13;"),
            c if xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// A resource's suite key: sorts like the findings (namespace, kind, name), then tells apart same-named
/// objects of different API versions or input documents.
type SuiteKey = (String, String, String, String, Option<(String, usize)>);

fn suite_key(r: &Resource, location: Option<&Location>) -> SuiteKey {
    (
        r.namespace.clone().unwrap_or_default(),
        r.kind.clone(),
        r.name.clone(),
        r.api_version.clone(),
        location.map(|l| (l.file.clone(), l.document)),
    )
}

#[derive(Default)]
struct Suite<'a> {
    resource: Option<&'a Resource>,
    location: Option<&'a Location>,
    /// Check ID → its findings (empty: passed).
    cases: BTreeMap<&'a str, Vec<&'a Finding>>,
}

enum Outcome {
    Passed,
    /// Unsuppressed findings, none at or above `--fail-on`.
    PassedWithFindings,
    Failed(Severity),
    Exempted,
}

fn outcome(findings: &[&Finding], fail_on: Severity) -> Outcome {
    let worst = findings
        .iter()
        .filter(|f| f.suppressed.is_none())
        .map(|f| f.severity)
        .max();
    match worst {
        None if findings.is_empty() => Outcome::Passed,
        None => Outcome::Exempted,
        Some(s) if s >= fail_on => Outcome::Failed(s),
        Some(_) => Outcome::PassedWithFindings,
    }
}

fn exemption_reason(s: &Suppressed) -> String {
    s.reason
        .clone()
        .or_else(|| s.rule.clone())
        .unwrap_or_else(|| {
            match s.by {
                SuppressedBy::Annotation => "ksx.io/exempt annotation",
                SuppressedBy::Config => "configured exemption",
            }
            .to_owned()
        })
}

/// One finding as lines of a failure or `system-out` body.
fn finding_lines(out: &mut String, f: &Finding) {
    let _ = writeln!(
        out,
        "- container: {}\n  path: {}\n  severity: {}\n  message: {}\n  remediation: {}",
        f.container.as_deref().unwrap_or("-"),
        f.path,
        f.severity,
        f.message,
        f.remediation
    );
    if let Some(s) = &f.suppressed {
        let _ = writeln!(out, "  exempted: {}", exemption_reason(s));
    }
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The JUnit XML document of a report.
pub fn to_junit(report: &Report) -> String {
    let mut suites: BTreeMap<SuiteKey, Suite<'_>> = BTreeMap::new();
    for f in &report.findings {
        let suite = suites
            .entry(suite_key(&f.resource, f.location.as_ref()))
            .or_default();
        suite.resource = Some(&f.resource);
        suite.location = suite.location.or(f.location.as_ref());
        suite.cases.entry(f.check_id.as_str()).or_default().push(f);
    }
    for p in &report.summary.passed_tests {
        let suite = suites
            .entry(suite_key(&p.resource, p.location.as_ref()))
            .or_default();
        suite.resource = Some(&p.resource);
        suite.location = suite.location.or(p.location.as_ref());
        for c in &p.checks {
            suite.cases.entry(c.as_str()).or_default();
        }
    }
    let fail_on = report.run.fail_on;
    let (mut tests, mut failures, mut skipped) = (0usize, 0usize, 0usize);
    let mut body = String::new();
    for suite in suites.values() {
        let Some(r) = suite.resource else {
            continue;
        };
        let (name, classname) = match &r.namespace {
            Some(ns) => (
                format!("{ns}/{}/{}", r.kind, r.name),
                format!("{ns}.{}.{}", r.kind, r.name),
            ),
            None => (
                format!("{}/{}", r.kind, r.name),
                format!("{}.{}", r.kind, r.name),
            ),
        };
        let outcomes: Vec<(&str, &Vec<&Finding>, Outcome)> = suite
            .cases
            .iter()
            .map(|(id, fs)| (*id, fs, outcome(fs, fail_on)))
            .collect();
        let suite_failures = outcomes
            .iter()
            .filter(|o| matches!(o.2, Outcome::Failed(_)))
            .count();
        let suite_skipped = outcomes
            .iter()
            .filter(|o| matches!(o.2, Outcome::Exempted))
            .count();
        tests += outcomes.len();
        failures += suite_failures;
        skipped += suite_skipped;
        let _ = writeln!(
            body,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{suite_failures}\" skipped=\"{suite_skipped}\">",
            xml_escape(&name),
            outcomes.len()
        );
        let place = suite
            .location
            .map(|l| format!(" file=\"{}\" line=\"{}\"", xml_escape(&l.file), l.line))
            .unwrap_or_default();
        for (id, findings, outcome) in &outcomes {
            let open = format!(
                "    <testcase classname=\"{}\" name=\"{}\"{place}",
                xml_escape(&classname),
                xml_escape(id)
            );
            match outcome {
                Outcome::Passed => {
                    let _ = writeln!(body, "{open}/>");
                }
                Outcome::Exempted => {
                    let reason = findings
                        .iter()
                        .find_map(|f| f.suppressed.as_ref())
                        .map(exemption_reason)
                        .unwrap_or_default();
                    let _ = writeln!(
                        body,
                        "{open}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                        xml_escape(&format!("exempted: {reason}"))
                    );
                }
                Outcome::Failed(severity) => {
                    let mut text = String::new();
                    for f in *findings {
                        finding_lines(&mut text, f);
                    }
                    let first = findings
                        .iter()
                        .find(|f| f.suppressed.is_none())
                        .map_or("", |f| f.message.as_str());
                    let _ = writeln!(
                        body,
                        "{open}>\n      <failure type=\"{severity}\" message=\"{}\">{}</failure>\n    </testcase>",
                        xml_escape(first),
                        text_escape(&text)
                    );
                }
                Outcome::PassedWithFindings => {
                    let mut text = String::new();
                    for f in *findings {
                        finding_lines(&mut text, f);
                    }
                    let _ = writeln!(
                        body,
                        "{open}>\n      <system-out>{}</system-out>\n    </testcase>",
                        text_escape(&text)
                    );
                }
            }
        }
        body.push_str("  </testsuite>\n");
    }
    let mut out = String::with_capacity(body.len() + 200);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"ksx-inspect\" tests=\"{tests}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{}\">",
        seconds(report.run.duration_ms)
    );
    out.push_str(&body);
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::{seconds, xml_escape};

    #[test]
    fn escapes() {
        assert_eq!(
            xml_escape("a<b>&\"c\"'\n\u{1}"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;&#10;\u{FFFD}"
        );
        assert_eq!(seconds(80), "0.080");
        assert_eq!(seconds(12_345), "12.345");
    }
}
