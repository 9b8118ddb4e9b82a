//! The data model of an inspection: checks, findings, summaries and the report (spec §1 and §6.2).
//!
//! Everything here is plain serde data in the JSON shape of the spec: camelCase keys, every key present
//! (`null` when not applicable) and `BTreeMap`s for anything keyed, so output is deterministic.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// How bad a finding is; orders `Info < Warning < Danger`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Should be fixed.
    Warning,
    /// Must be fixed.
    Danger,
}

impl Severity {
    /// The weight of a test of this severity in the score (danger 3, warning 2, info 1).
    pub fn weight(self) -> u64 {
        match self {
            Self::Danger => 3,
            Self::Warning => 2,
            Self::Info => 1,
        }
    }

    /// The lowercase name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Danger => "danger",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }

    /// Parses `danger`, `warning` or `info`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "danger" => Some(Self::Danger),
            "warning" => Some(Self::Warning),
            "info" => Some(Self::Info),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The area a check belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Pod security, secrets, privileges.
    Security,
    /// Availability, probes, disruption budgets, images.
    Reliability,
    /// Resource requests and limits.
    Efficiency,
    /// Services, Ingresses, NetworkPolicies.
    Networking,
    /// Roles and bindings.
    Rbac,
    /// Nodes.
    Node,
}

impl Category {
    /// All six categories, in report order.
    pub const ALL: [Self; 6] = [
        Self::Security,
        Self::Reliability,
        Self::Efficiency,
        Self::Networking,
        Self::Rbac,
        Self::Node,
    ];

    /// The lowercase name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Security => "security",
            Self::Reliability => "reliability",
            Self::Efficiency => "efficiency",
            Self::Networking => "networking",
            Self::Rbac => "rbac",
            Self::Node => "node",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a check works on manifests or needs live state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Works on manifests.
    Static,
    /// Needs status, events, the node collector or Prometheus.
    Live,
}

/// The API identity of an inspected object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// `apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
    /// `kind`, e.g. `Deployment`.
    pub kind: String,
    /// The effective namespace; `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
}

/// Where in the input a finding sits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// The file, or `-` for standard input.
    pub file: String,
    /// 1-based document index in the file.
    pub document: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The Helm `# Source:` of the document, when known.
    pub template_source: Option<String>,
}

/// Who silenced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuppressedBy {
    /// The `ksx.io/exempt` annotation on the object or its pod template.
    Annotation,
    /// An exemption of the configuration.
    Config,
}

/// Why a finding is suppressed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suppressed {
    /// Annotation or configuration.
    pub by: SuppressedBy,
    /// The reason given, if any.
    pub reason: Option<String>,
    /// The exemption rule (`builtin:system-exemptions`, `config[2]`…), if any.
    pub rule: Option<String>,
}

/// One violation of one check by one object (container, field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The check that failed.
    pub check_id: String,
    /// Severity after overrides.
    pub severity: Severity,
    /// The check's category.
    pub category: Category,
    /// The offending object.
    pub resource: Resource,
    /// The container's name, when the finding is about one.
    pub container: Option<String>,
    /// RFC 6901 JSON pointer from the object root to the offending (or missing) field.
    pub path: String,
    /// What is wrong, naming the offending value.
    pub message: String,
    /// What to set instead.
    pub remediation: String,
    /// Documentation links.
    pub references: Vec<String>,
    /// Where the object is in the input; `None` for live objects.
    pub location: Option<Location>,
    /// `sha256:<hex>` of `checkId|group/kind|namespace|name|container|path`.
    pub fingerprint: String,
    /// Set when an exemption silences this finding.
    pub suppressed: Option<Suppressed>,
}

/// A check as listed in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckInfo {
    /// The check ID.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// Category.
    pub category: Category,
    /// Effective default severity.
    pub severity: Severity,
    /// Whether it ran.
    pub enabled: bool,
    /// Static or live.
    pub scope: Scope,
    /// `builtin` or `custom`.
    pub source: String,
    /// The rule file of a custom check.
    pub file: Option<String>,
}

/// Test and finding counts of one category or namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    /// Unsuppressed danger findings.
    pub danger: u64,
    /// Unsuppressed warning findings.
    pub warning: u64,
    /// Unsuppressed info findings.
    pub info: u64,
    /// Tests (passed, failed and exempted).
    pub tests: u64,
    /// Score of the bucket, 0–100.
    pub score: u64,
}

/// Test counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestCounts {
    /// All tests.
    pub total: u64,
    /// Tests without unsuppressed findings and not exempted.
    pub passed: u64,
    /// Tests with at least one unsuppressed finding.
    pub failed: u64,
    /// Tests whose findings are all suppressed.
    pub exempted: u64,
}

/// Unsuppressed finding counts per severity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeverityCounts {
    /// Danger findings.
    pub danger: u64,
    /// Warning findings.
    pub warning: u64,
    /// Info findings.
    pub info: u64,
}

/// The run summary (spec §1.5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// 0–100, see [`crate::engine`].
    pub score: u64,
    /// Objects inspected.
    pub objects: u64,
    /// Checks run.
    pub checks: u64,
    /// Test counts.
    pub tests: TestCounts,
    /// Unsuppressed findings per severity.
    pub findings: SeverityCounts,
    /// Suppressed findings.
    pub exempted: u64,
    /// Per category (all six present).
    pub by_category: BTreeMap<String, Bucket>,
    /// Per namespace (`""` = cluster-scoped).
    pub by_namespace: BTreeMap<String, Bucket>,
    /// The tests each object passed, in report order. Not part of the JSON: with the findings (failed and
    /// exempted tests) they make the whole list of tests that the JUnit rendering needs for its passing
    /// testcases; a report read back from JSON has none.
    #[serde(skip)]
    pub passed_tests: PassedTestLog,
}

/// The passed tests of a run, per object. Like the JSON, which leaves them out, equality ignores them: two
/// reports are equal when their JSON is, whatever input lines their passed tests point at.
#[derive(Debug, Clone, Default)]
pub struct PassedTestLog(pub Vec<PassedTests>);

impl PartialEq for PassedTestLog {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for PassedTestLog {}

impl<'a> IntoIterator for &'a PassedTestLog {
    type Item = &'a PassedTests;
    type IntoIter = std::slice::Iter<'a, PassedTests>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl std::ops::Deref for PassedTestLog {
    type Target = Vec<PassedTests>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The checks one object passed (spec §1.2: a test is one applicable check × object pair).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassedTests {
    /// The object.
    pub resource: Resource,
    /// Where it is in the input; `None` for live objects.
    pub location: Option<Location>,
    /// IDs of the checks it passed, in the engine's check order.
    pub checks: Vec<String>,
}

/// The kind of a run error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// A document did not parse.
    Parse,
    /// A file or path could not be read, or a document was skipped.
    Input,
    /// A custom rule is malformed.
    Rule,
    /// Evaluation failed.
    Runtime,
}

/// A diagnostic of the run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunError {
    /// What kind of problem.
    pub kind: ErrorKind,
    /// The message, without location prefix.
    pub message: String,
    /// The file, when known.
    pub file: Option<String>,
    /// 1-based document index, when known.
    pub document: Option<usize>,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if let Some(doc) = self.document {
            write!(f, "document {doc}: ")?;
        }
        if let Some(line) = self.line {
            write!(f, "line {line}")?;
            if let Some(col) = self.column {
                write!(f, ", column {col}")?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

/// The tool that produced a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    /// Always `ksx`.
    pub name: String,
    /// The crate version.
    pub version: String,
}

/// Metadata of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// Run ID.
    pub id: String,
    /// The plan, for scheduled runs.
    pub plan: Option<String>,
    /// RFC 3339 start time.
    pub started_at: String,
    /// RFC 3339 end time.
    pub finished_at: String,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// `manifests`, `cluster` or `mixed`.
    pub mode: String,
    /// Target Kubernetes version `MAJOR.MINOR`.
    pub kube_version: String,
    /// `warning` or `danger`.
    pub fail_on: Severity,
    /// Input paths.
    pub inputs: Vec<String>,
    /// `sha256:<hex>` of the enabled checks and their configuration.
    pub rules_digest: String,
    /// `succeeded`, `partial`, `failed` or `timedOut`.
    pub status: String,
}

/// The whole result of an inspection (spec §6.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `inspect.ksx.io/v1`.
    pub api_version: String,
    /// `InspectReport`.
    pub kind: String,
    /// The producing tool.
    pub tool: Tool,
    /// Run metadata.
    pub run: Run,
    /// Counts and score.
    pub summary: Summary,
    /// Findings in report order: namespace, kind, name, check, container, path.
    pub findings: Vec<Finding>,
    /// Every known check, with whether it ran.
    pub checks: Vec<CheckInfo>,
    /// Diagnostics of the run.
    pub errors: Vec<RunError>,
}

impl Report {
    /// Whether an unsuppressed finding is at or above `fail_on` (exit code 3 of the CLI).
    pub fn fails_at(&self, fail_on: Severity) -> bool {
        self.findings
            .iter()
            .any(|f| f.suppressed.is_none() && f.severity >= fail_on)
    }
}
