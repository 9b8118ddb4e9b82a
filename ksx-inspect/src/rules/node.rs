//! Node rules (`type: node`, spec §2.7): kernel parameters, systemd units, file drift against a baseline and
//! log scanning, checked on a node by the collector `ksx-node-inspect`.
//!
//! [`collect`] runs every node rule whose `nodeSelector` matches the node's labels against a [`NodeHost`] (the
//! local machine through [`LocalHost`], rooted at `/` or at the host's mounted root) and a [`BaselineStore`]
//! (the first-run file hashes; [`FileBaselines`] keeps them in a JSON file), and returns [`NodeResults`], the
//! JSON the collector prints. [`attach_results`] turns those results into observations on `Node/<name>` that the
//! engine counts like any other test. Only [`LocalHost`] and [`FileBaselines`] do I/O.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::prometheus::ErrSink;
use super::{Observation, Rule, RuleKind};
use crate::checks::Hit;
use crate::model::{ErrorKind, Resource, RunError};
use crate::sha256::hex_digest;

/// The largest text file whose changed lines are reported (and whose text the baseline keeps).
pub const MAX_DIFF_BYTES: usize = 1024 * 1024;
/// At most this many changed lines are reported.
pub const MAX_CHANGED_LINES: usize = 50;
/// The baseline file used when none is named.
pub const DEFAULT_BASELINE_FILE: &str = ".ksx-node-baseline.json";

/// A sysctl comparison.
#[derive(Debug, Clone)]
pub enum SysctlOp {
    /// `equals`: numerically when both sides are integers, else as whitespace-normalised text.
    Equals(String),
    /// `notEquals`.
    NotEquals(String),
    /// `gt`/`gte`/`lt`/`lte` on integers: the operator name and the bound.
    Compare(&'static str, i128),
    /// `in`.
    In(Vec<String>),
    /// `notIn`.
    NotIn(Vec<String>),
    /// `regex` (on the normalised text).
    Regex(Regex),
}

/// `node.sysctl[]`.
#[derive(Debug, Clone)]
pub struct SysctlCheck {
    /// The key, dotted (`net.ipv4.ip_forward`).
    pub key: String,
    /// The comparison.
    pub op: SysctlOp,
    /// `missing: skip`: a missing key is no finding.
    pub skip_missing: bool,
}

/// `node.systemd[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemdCheck {
    /// The unit (`kubelet.service`).
    pub unit: String,
    /// The required `ActiveState`.
    pub active_state: Option<String>,
    /// Whether `UnitFileState` must be enabled (`true`) or not (`false`).
    pub enabled: Option<bool>,
}

/// What a file's hash is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashExpect {
    /// A fixed lowercase hex SHA-256.
    Sha256(String),
    /// The hash recorded on the first run (`baseline: first-run`).
    FirstRun,
}

/// `node.fileHash[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHashCheck {
    /// The absolute path on the node.
    pub path: String,
    /// The expected hash.
    pub expect: HashExpect,
}

/// `node.fileContent[]`.
#[derive(Debug, Clone)]
pub struct FileContentCheck {
    /// The absolute path on the node.
    pub path: String,
    /// A finding when it matches a line.
    pub regex: Regex,
    /// How many matching lines are quoted (default 10).
    pub max_matches: usize,
}

/// The `node` part of a rule.
#[derive(Debug, Clone, Default)]
pub struct NodeRule {
    /// Labels the node must carry.
    pub node_selector: BTreeMap<String, String>,
    /// Kernel parameters.
    pub sysctl: Vec<SysctlCheck>,
    /// systemd units.
    pub systemd: Vec<SystemdCheck>,
    /// File hashes.
    pub file_hash: Vec<FileHashCheck>,
    /// Log scanning.
    pub file_content: Vec<FileContentCheck>,
}

const NODE_KEYS: &[&str] = &["sysctl", "systemd", "fileHash", "fileContent", "command"];
const SYSCTL_OPS: &[&str] = &[
    "equals",
    "notEquals",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "notIn",
    "regex",
];

fn shown(v: &Value) -> String {
    crate::pod::scalar_string(v).unwrap_or_else(|| v.to_string())
}

fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn items<'v>(
    err: &mut ErrSink<'_>,
    node: &'v Map<String, Value>,
    key: &'static str,
) -> Vec<(usize, &'v Map<String, Value>)> {
    match node.get(key) {
        None => Vec::new(),
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for (i, v) in a.iter().enumerate() {
                match v.as_object() {
                    Some(m) => out.push((i, m)),
                    None => err(
                        &["spec", "node", key],
                        None,
                        format!("field \"spec.node.{key}[{i}]\" must be a mapping"),
                    ),
                }
            }
            out
        }
        Some(_) => {
            err(
                &["spec", "node", key],
                None,
                format!("field \"spec.node.{key}\" must be a list"),
            );
            Vec::new()
        }
    }
}

fn unknown_keys(
    err: &mut ErrSink<'_>,
    m: &Map<String, Value>,
    field: &str,
    key: &'static str,
    known: &[&str],
) -> bool {
    let mut ok = true;
    for k in m.keys() {
        if !known.contains(&k.as_str()) {
            let problem = super::load::unknown_field(&format!("{field}.{k}"), k, known);
            err(&["spec", "node", key, k], None, problem);
            ok = false;
        }
    }
    ok
}

fn required_string(
    err: &mut ErrSink<'_>,
    m: &Map<String, Value>,
    field: &str,
    key: &'static str,
    name: &str,
) -> Option<String> {
    match m
        .get(name)
        .and_then(crate::pod::scalar_string)
        .filter(|s| !s.is_empty())
    {
        Some(s) => Some(s),
        None => {
            err(
                &["spec", "node", key],
                None,
                format!("missing required field \"{field}.{name}\""),
            );
            None
        }
    }
}

fn parse_sysctl(err: &mut ErrSink<'_>, i: usize, m: &Map<String, Value>) -> Option<SysctlCheck> {
    let field = format!("spec.node.sysctl[{i}]");
    let mut known = vec!["key", "missing"];
    known.extend_from_slice(SYSCTL_OPS);
    let mut ok = unknown_keys(err, m, &field, "sysctl", &known);
    let key = required_string(err, m, &field, "sysctl", "key");
    let ops: Vec<&str> = m
        .keys()
        .map(String::as_str)
        .filter(|k| SYSCTL_OPS.contains(k))
        .collect();
    let op = match ops.as_slice() {
        [one] => {
            let arg = m.get(*one).cloned().unwrap_or(Value::Null);
            let text = shown(&arg);
            match *one {
                "equals" => Some(SysctlOp::Equals(normalise(&text))),
                "notEquals" => Some(SysctlOp::NotEquals(normalise(&text))),
                "in" | "notIn" => match arg.as_array() {
                    Some(a) => {
                        let list = a.iter().map(|v| normalise(&shown(v))).collect();
                        Some(if *one == "in" {
                            SysctlOp::In(list)
                        } else {
                            SysctlOp::NotIn(list)
                        })
                    }
                    None => {
                        err(
                            &["spec", "node", "sysctl", one],
                            None,
                            format!("operator {one} needs a list; got {text}"),
                        );
                        None
                    }
                },
                "regex" => match Regex::new(&text) {
                    Ok(r) => Some(SysctlOp::Regex(r)),
                    Err(e) => {
                        err(
                            &["spec", "node", "sysctl", one],
                            None,
                            format!(
                                "invalid regex '{text}': {}",
                                e.to_string()
                                    .lines()
                                    .rfind(|l| !l.trim().is_empty())
                                    .unwrap_or("")
                                    .trim()
                                    .trim_start_matches("error: ")
                            ),
                        );
                        None
                    }
                },
                name => match text.trim().parse::<i128>() {
                    Ok(n) => Some(SysctlOp::Compare(
                        match name {
                            "gt" => "gt",
                            "gte" => "gte",
                            "lt" => "lt",
                            _ => "lte",
                        },
                        n,
                    )),
                    Err(_) => {
                        err(
                            &["spec", "node", "sysctl", name],
                            None,
                            format!("operator {name} needs an integer; got {text}"),
                        );
                        None
                    }
                },
            }
        }
        [] => {
            err(
                &["spec", "node", "sysctl", "key"],
                None,
                format!(
                    "{field} has no operator; expected one of {}",
                    SYSCTL_OPS.join(", ")
                ),
            );
            None
        }
        many => {
            err(
                &["spec", "node", "sysctl", many.get(1).copied().unwrap_or("")],
                None,
                format!(
                    "condition has {} operators ({}); exactly one is allowed",
                    many.len(),
                    many.join(", ")
                ),
            );
            None
        }
    };
    let skip_missing = match m.get("missing").map(shown).as_deref() {
        None | Some("finding") => false,
        Some("skip") => true,
        Some(other) => {
            err(
                &["spec", "node", "sysctl", "missing"],
                None,
                format!("field \"{field}.missing\" must be one of skip, finding; got \"{other}\""),
            );
            ok = false;
            false
        }
    };
    let (key, op) = (key?, op?);
    ok.then_some(SysctlCheck {
        key,
        op,
        skip_missing,
    })
}

fn parse_systemd(err: &mut ErrSink<'_>, i: usize, m: &Map<String, Value>) -> Option<SystemdCheck> {
    let field = format!("spec.node.systemd[{i}]");
    let mut ok = unknown_keys(
        err,
        m,
        &field,
        "systemd",
        &["unit", "activeState", "enabled"],
    );
    let unit = required_string(err, m, &field, "systemd", "unit");
    let enabled = match m.get("enabled") {
        None => None,
        Some(v) => {
            let b = crate::pod::as_bool(Some(v));
            if b.is_none() {
                err(
                    &["spec", "node", "systemd", "enabled"],
                    None,
                    format!(
                        "field \"{field}.enabled\" must be true or false; got {}",
                        shown(v)
                    ),
                );
                ok = false;
            }
            b
        }
    };
    let active_state = m.get("activeState").map(shown);
    ok.then_some(SystemdCheck {
        unit: unit?,
        active_state,
        enabled,
    })
}

fn parse_file_hash(
    err: &mut ErrSink<'_>,
    i: usize,
    m: &Map<String, Value>,
) -> Option<FileHashCheck> {
    let field = format!("spec.node.fileHash[{i}]");
    let ok = unknown_keys(err, m, &field, "fileHash", &["path", "sha256", "baseline"]);
    let path = required_string(err, m, &field, "fileHash", "path");
    let expect = match (m.get("sha256"), m.get("baseline")) {
        (Some(h), None) => {
            let hex = shown(h).to_ascii_lowercase();
            if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
                Some(HashExpect::Sha256(hex))
            } else {
                err(
                    &["spec", "node", "fileHash", "sha256"],
                    None,
                    format!(
                        "field \"{field}.sha256\" must be 64 hex digits; got \"{}\"",
                        shown(h)
                    ),
                );
                None
            }
        }
        (None, Some(b)) if shown(b) == "first-run" => Some(HashExpect::FirstRun),
        (None, Some(b)) => {
            err(
                &["spec", "node", "fileHash", "baseline"],
                None,
                format!(
                    "field \"{field}.baseline\" must be first-run; got \"{}\"",
                    shown(b)
                ),
            );
            None
        }
        _ => {
            err(
                &["spec", "node", "fileHash"],
                None,
                format!("{field} needs exactly one of sha256, baseline"),
            );
            None
        }
    };
    if let Some(p) = &path
        && !p.starts_with('/')
    {
        err(
            &["spec", "node", "fileHash", "path"],
            None,
            format!("field \"{field}.path\" must be an absolute path; got \"{p}\""),
        );
        return None;
    }
    let (path, expect) = (path?, expect?);
    ok.then_some(FileHashCheck { path, expect })
}

fn parse_file_content(
    err: &mut ErrSink<'_>,
    i: usize,
    m: &Map<String, Value>,
) -> Option<FileContentCheck> {
    let field = format!("spec.node.fileContent[{i}]");
    let ok = unknown_keys(
        err,
        m,
        &field,
        "fileContent",
        &["path", "regex", "maxMatches"],
    );
    let path = required_string(err, m, &field, "fileContent", "path");
    let regex = required_string(err, m, &field, "fileContent", "regex").and_then(|r| {
        match Regex::new(&r) {
            Ok(re) => Some(re),
            Err(e) => {
                err(
                    &["spec", "node", "fileContent", "regex"],
                    None,
                    format!(
                        "invalid regex '{r}': {}",
                        e.to_string()
                            .lines()
                            .rfind(|l| !l.trim().is_empty())
                            .unwrap_or("")
                            .trim()
                            .trim_start_matches("error: ")
                    ),
                );
                None
            }
        }
    });
    let max_matches = match m.get("maxMatches") {
        None => Some(10),
        Some(v) => {
            let n = crate::pod::as_i64(Some(v))
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n > 0);
            if n.is_none() {
                err(
                    &["spec", "node", "fileContent", "maxMatches"],
                    None,
                    format!(
                        "field \"{field}.maxMatches\" must be a positive integer; got {}",
                        shown(v)
                    ),
                );
            }
            n
        }
    };
    let (path, regex, max_matches) = (path?, regex?, max_matches?);
    ok.then_some(FileContentCheck {
        path,
        regex,
        max_matches,
    })
}

/// Parses `spec.node` and `spec.nodeSelector`; problems go to `err` in the loader's wording.
pub(crate) fn parse(spec: &Map<String, Value>, err: &mut ErrSink<'_>) -> Option<NodeRule> {
    for key in ["match", "forEach", "when", "expect", "prometheus"] {
        if spec.contains_key(key) {
            err(
                &["spec", key],
                None,
                format!("field \"spec.{key}\" is not allowed in a rule of type node"),
            );
        }
    }
    let Some(node) = spec.get("node") else {
        err(
            &["spec"],
            None,
            "missing required field \"spec.node\"".to_owned(),
        );
        return None;
    };
    let Some(node) = node.as_object() else {
        err(
            &["spec", "node"],
            None,
            "field \"spec.node\" must be a mapping".to_owned(),
        );
        return None;
    };
    let mut ok = true;
    for key in node.keys() {
        if !NODE_KEYS.contains(&key.as_str()) {
            let problem = super::load::unknown_field(&format!("spec.node.{key}"), key, NODE_KEYS);
            err(&["spec", "node", key], None, problem);
            ok = false;
        }
    }
    if node.contains_key("command") {
        err(
            &["spec", "node", "command"],
            None,
            "field \"spec.node.command\" is not supported by this collector (commands are never run)".to_owned(),
        );
        ok = false;
    }
    let mut rule = NodeRule {
        node_selector: crate::pod::string_map(spec.get("nodeSelector").unwrap_or(&Value::Null)),
        ..NodeRule::default()
    };
    for (i, m) in items(err, node, "sysctl") {
        match parse_sysctl(err, i, m) {
            Some(c) => rule.sysctl.push(c),
            None => ok = false,
        }
    }
    for (i, m) in items(err, node, "systemd") {
        match parse_systemd(err, i, m) {
            Some(c) => rule.systemd.push(c),
            None => ok = false,
        }
    }
    for (i, m) in items(err, node, "fileHash") {
        match parse_file_hash(err, i, m) {
            Some(c) => rule.file_hash.push(c),
            None => ok = false,
        }
    }
    for (i, m) in items(err, node, "fileContent") {
        match parse_file_content(err, i, m) {
            Some(c) => rule.file_content.push(c),
            None => ok = false,
        }
    }
    let empty = rule.sysctl.is_empty()
        && rule.systemd.is_empty()
        && rule.file_hash.is_empty()
        && rule.file_content.is_empty();
    if ok && empty {
        err(
            &["spec", "node"],
            None,
            "field \"spec.node\" needs at least one of sysctl, systemd, fileHash, fileContent"
                .to_owned(),
        );
        return None;
    }
    ok.then_some(rule)
}

/// The state of a systemd unit as the collector saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitState {
    /// systemd answered.
    Known {
        /// `LoadState` (`loaded`, `not-found`, …).
        load_state: String,
        /// `ActiveState` (`active`, `inactive`, `failed`, …).
        active_state: String,
        /// `UnitFileState` (`enabled`, `disabled`, `static`, …; empty when none).
        unit_file_state: String,
    },
    /// systemd could not be asked (not installed, not PID 1 in a container); the reason.
    Unknown(String),
}

/// What the collector reads on a node.
pub trait NodeHost {
    /// The bytes of the file at the absolute node path `path`.
    ///
    /// # Errors
    /// The file is missing or unreadable.
    fn read(&self, path: &str) -> std::io::Result<Vec<u8>>;

    /// The state of a systemd unit.
    fn unit(&self, unit: &str) -> UnitState;
}

/// The local machine, with node paths resolved under `root` (`/`, or where the host's root is mounted).
#[derive(Debug, Clone)]
pub struct LocalHost {
    /// Prefix for every node path.
    pub root: PathBuf,
    /// The `systemctl` program (`systemctl show` is the fallback the spec allows; D-Bus is not used).
    pub systemctl: PathBuf,
}

impl Default for LocalHost {
    fn default() -> Self {
        Self {
            root: PathBuf::from("/"),
            systemctl: PathBuf::from("systemctl"),
        }
    }
}

impl NodeHost for LocalHost {
    fn read(&self, path: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.root.join(path.trim_start_matches('/')))
    }

    fn unit(&self, unit: &str) -> UnitState {
        let output = std::process::Command::new(&self.systemctl)
            .args([
                "show",
                unit,
                "--property=LoadState,ActiveState,UnitFileState",
                "--no-pager",
            ])
            .stdin(std::process::Stdio::null())
            .output();
        let output = match output {
            Ok(o) => o,
            Err(e) => {
                return UnitState::Unknown(format!("cannot run {}: {e}", self.systemctl.display()));
            }
        };
        if !output.status.success() {
            let text = String::from_utf8_lossy(&output.stderr);
            let reason = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no message")
                .trim()
                .to_owned();
            return UnitState::Unknown(format!(
                "systemctl show failed ({}): {reason}",
                output.status
            ));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let props: BTreeMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
        match (props.get("LoadState"), props.get("ActiveState")) {
            (Some(load), Some(active)) => UnitState::Known {
                load_state: (*load).to_owned(),
                active_state: (*active).to_owned(),
                unit_file_state: props.get("UnitFileState").copied().unwrap_or("").to_owned(),
            },
            _ => UnitState::Unknown("systemctl show gave no LoadState/ActiveState".to_owned()),
        }
    }
}

/// A recorded file hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// The text, for UTF-8 files up to [`MAX_DIFF_BYTES`] (to show changed lines later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Where first-run hashes are kept, per (node, path).
pub trait BaselineStore {
    /// The recorded baseline.
    fn get(&self, node: &str, path: &str) -> Option<Baseline>;
    /// Records a baseline.
    fn put(&mut self, node: &str, path: &str, baseline: Baseline);
    /// Forgets every baseline of `node`; returns how many there were.
    fn reset(&mut self, node: &str) -> usize;
}

/// Baselines in memory: `node → path → baseline`; [`FileBaselines`] persists the same map.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryBaselines {
    /// The map.
    pub nodes: BTreeMap<String, BTreeMap<String, Baseline>>,
}

impl BaselineStore for MemoryBaselines {
    fn get(&self, node: &str, path: &str) -> Option<Baseline> {
        self.nodes.get(node).and_then(|m| m.get(path)).cloned()
    }

    fn put(&mut self, node: &str, path: &str, baseline: Baseline) {
        self.nodes
            .entry(node.to_owned())
            .or_default()
            .insert(path.to_owned(), baseline);
    }

    fn reset(&mut self, node: &str) -> usize {
        self.nodes.remove(node).map_or(0, |m| m.len())
    }
}

/// Baselines kept in one JSON file (written by [`FileBaselines::save`]).
#[derive(Debug, Clone)]
pub struct FileBaselines {
    /// The file.
    pub path: PathBuf,
    /// The contents.
    pub map: MemoryBaselines,
}

impl FileBaselines {
    /// Opens `path`; a missing file is an empty store.
    ///
    /// # Errors
    /// The file exists but cannot be read or is not the store's JSON (naming the file).
    pub fn open(path: &Path) -> Result<Self, String> {
        let map = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("{}: not a baseline file: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => MemoryBaselines::default(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(Self {
            path: path.to_path_buf(),
            map,
        })
    }

    /// Writes the store back (to a temporary file renamed over the old one).
    ///
    /// # Errors
    /// The file cannot be written (naming it).
    pub fn save(&self) -> Result<(), String> {
        let text = serde_json::to_string_pretty(&self.map).map_err(|e| e.to_string())?;
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

impl BaselineStore for FileBaselines {
    fn get(&self, node: &str, path: &str) -> Option<Baseline> {
        self.map.get(node, path)
    }

    fn put(&mut self, node: &str, path: &str, baseline: Baseline) {
        self.map.put(node, path, baseline);
    }

    fn reset(&mut self, node: &str) -> usize {
        self.map.reset(node)
    }
}

/// One finding of a node rule, as the collector reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeFinding {
    /// What was checked: `sysctl`, `systemd`, `fileHash` or `fileContent`.
    pub check: String,
    /// The key, unit or path.
    pub item: String,
    /// The value seen (`missing`, `unknown`, a hash, …).
    pub value: String,
    /// The rendered message.
    pub message: String,
    /// Changed lines of a text file against its baseline (`-old` / `+new`), at most [`MAX_CHANGED_LINES`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_lines: Vec<String>,
}

/// The result of one node rule on one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRuleResult {
    /// The rule's ID.
    pub rule: String,
    /// Its findings; empty when the node passed.
    pub findings: Vec<NodeFinding>,
}

/// What `ksx-node-inspect` prints for one node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeResults {
    /// The node's name.
    pub node: String,
    /// One entry per node rule whose `nodeSelector` matched.
    pub rules: Vec<NodeRuleResult>,
    /// Notes of the run (baselines recorded, systemd unavailable, …).
    #[serde(default)]
    pub notes: Vec<String>,
}

fn sysctl_value_ok(op: &SysctlOp, actual: &str) -> bool {
    let int = |s: &str| s.trim().parse::<i128>().ok();
    let same = |want: &str| match (int(want), int(actual)) {
        (Some(a), Some(b)) => a == b,
        _ => want == actual,
    };
    match op {
        SysctlOp::Equals(w) => same(w),
        SysctlOp::NotEquals(w) => !same(w),
        SysctlOp::In(list) => list.iter().any(|w| same(w)),
        SysctlOp::NotIn(list) => !list.iter().any(|w| same(w)),
        SysctlOp::Regex(r) => r.is_match(actual),
        SysctlOp::Compare(name, bound) => int(actual).is_some_and(|v| match *name {
            "gt" => v > *bound,
            "gte" => v >= *bound,
            "lt" => v < *bound,
            _ => v <= *bound,
        }),
    }
}

fn describe(op: &SysctlOp) -> String {
    match op {
        SysctlOp::Equals(w) => format!("equals {w}"),
        SysctlOp::NotEquals(w) => format!("notEquals {w}"),
        SysctlOp::In(l) => format!("in [{}]", l.join(", ")),
        SysctlOp::NotIn(l) => format!("notIn [{}]", l.join(", ")),
        SysctlOp::Regex(r) => format!("regex {}", r.as_str()),
        SysctlOp::Compare(n, b) => format!("{n} {b}"),
    }
}

/// The `-old`/`+new` lines that differ, position by position, at most [`MAX_CHANGED_LINES`].
pub fn changed_lines(old: &str, new: &str) -> Vec<String> {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let mut out = Vec::new();
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i), b.get(i));
        if x == y {
            continue;
        }
        if let Some(x) = x {
            out.push(format!("{}: -{x}", i + 1));
        }
        if let Some(y) = y {
            out.push(format!("{}: +{y}", i + 1));
        }
        if out.len() >= MAX_CHANGED_LINES {
            out.truncate(MAX_CHANGED_LINES);
            break;
        }
    }
    out
}

fn text_of(bytes: &[u8]) -> Option<String> {
    (bytes.len() <= MAX_DIFF_BYTES)
        .then(|| std::str::from_utf8(bytes).ok().map(str::to_owned))
        .flatten()
}

struct Collector<'a> {
    rule: &'a Rule,
    node: &'a str,
    findings: Vec<NodeFinding>,
}

impl Collector<'_> {
    fn add(
        &mut self,
        check: &str,
        item: &str,
        value: &str,
        default_message: String,
        changed: Vec<String>,
    ) {
        let message = match &self.rule.message {
            Some(t) => t.render(&BTreeMap::from([
                ("node", Value::String(self.node.to_owned())),
                ("item", Value::String(item.to_owned())),
                ("value", Value::String(value.to_owned())),
                ("path", Value::String(item.to_owned())),
                ("kind", Value::String("Node".to_owned())),
                ("name", Value::String(self.node.to_owned())),
            ])),
            None => default_message,
        };
        self.findings.push(NodeFinding {
            check: check.to_owned(),
            item: item.to_owned(),
            value: value.to_owned(),
            message,
            changed_lines: changed,
        });
    }
}

/// Runs every node rule whose `nodeSelector` matches `labels` on `host`, recording and comparing first-run
/// hashes in `baselines`.
pub fn collect(
    rules: &[Rule],
    node: &str,
    labels: &BTreeMap<String, String>,
    host: &dyn NodeHost,
    baselines: &mut dyn BaselineStore,
) -> NodeResults {
    let mut results = NodeResults {
        node: node.to_owned(),
        ..NodeResults::default()
    };
    for rule in rules {
        let RuleKind::Node(spec) = &rule.kind else {
            continue;
        };
        if !spec
            .node_selector
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
        {
            continue;
        }
        let mut c = Collector {
            rule,
            node,
            findings: Vec::new(),
        };
        for s in &spec.sysctl {
            let path = format!("/proc/sys/{}", s.key.replace('.', "/"));
            match host.read(&path) {
                Ok(bytes) => {
                    let actual = normalise(&String::from_utf8_lossy(&bytes));
                    if !sysctl_value_ok(&s.op, &actual) {
                        let msg = format!(
                            "{node}: sysctl {} is {actual}, expected {}",
                            s.key,
                            describe(&s.op)
                        );
                        c.add("sysctl", &s.key, &actual, msg, Vec::new());
                    }
                }
                Err(_) if s.skip_missing => {}
                Err(e) => {
                    let msg = format!("{node}: sysctl {} is missing ({path}: {e})", s.key);
                    c.add("sysctl", &s.key, "missing", msg, Vec::new());
                }
            }
        }
        for u in &spec.systemd {
            match host.unit(&u.unit) {
                UnitState::Unknown(reason) => {
                    let note = format!("systemd unit {}: state unknown: {reason}", u.unit);
                    if !results.notes.contains(&note) {
                        results.notes.push(note);
                    }
                    let msg = format!("{node}: unit {} state is unknown ({reason})", u.unit);
                    c.add("systemd", &u.unit, "unknown", msg, Vec::new());
                }
                UnitState::Known { load_state, .. } if load_state == "not-found" => {
                    let msg = format!("{node}: unit {} is unknown to systemd", u.unit);
                    c.add("systemd", &u.unit, "not-found", msg, Vec::new());
                }
                UnitState::Known {
                    active_state,
                    unit_file_state,
                    ..
                } => {
                    if let Some(want) = &u.active_state
                        && *want != active_state
                    {
                        let msg =
                            format!("{node}: unit {} is {active_state}, expected {want}", u.unit);
                        c.add("systemd", &u.unit, &active_state, msg, Vec::new());
                    }
                    if let Some(want) = u.enabled {
                        let is_enabled = matches!(
                            unit_file_state.as_str(),
                            "enabled" | "enabled-runtime" | "static" | "alias" | "generated"
                        );
                        if is_enabled != want {
                            let shown = if unit_file_state.is_empty() {
                                "none"
                            } else {
                                unit_file_state.as_str()
                            };
                            let msg = format!(
                                "{node}: unit {} has UnitFileState {shown}, expected {}",
                                u.unit,
                                if want { "enabled" } else { "not enabled" }
                            );
                            c.add("systemd", &u.unit, shown, msg, Vec::new());
                        }
                    }
                }
            }
        }
        for f in &spec.file_hash {
            let bytes = match host.read(&f.path) {
                Ok(b) => b,
                Err(e) => {
                    let msg = format!("{node}: {} cannot be read: {e}", f.path);
                    c.add("fileHash", &f.path, "missing", msg, Vec::new());
                    continue;
                }
            };
            let hash = hex_digest(&bytes);
            match &f.expect {
                HashExpect::Sha256(want) => {
                    if *want != hash {
                        let msg = format!("{node}: {} has sha256 {hash}, expected {want}", f.path);
                        c.add("fileHash", &f.path, &hash, msg, Vec::new());
                    }
                }
                HashExpect::FirstRun => match baselines.get(node, &f.path) {
                    None => {
                        baselines.put(
                            node,
                            &f.path,
                            Baseline {
                                sha256: hash.clone(),
                                text: text_of(&bytes),
                            },
                        );
                        results
                            .notes
                            .push(format!("baseline recorded for {} (sha256 {hash})", f.path));
                    }
                    Some(old) if old.sha256 == hash => {}
                    Some(old) => {
                        let changed = match (&old.text, text_of(&bytes)) {
                            (Some(a), Some(b)) => changed_lines(a, &b),
                            _ => Vec::new(),
                        };
                        let msg = format!(
                            "{node}: {} changed: sha256 {} -> {hash}",
                            f.path, old.sha256
                        );
                        c.add("fileHash", &f.path, &hash, msg, changed);
                    }
                },
            }
        }
        for f in &spec.file_content {
            match host.read(&f.path) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    let hits: Vec<String> = text
                        .lines()
                        .enumerate()
                        .filter(|(_, l)| f.regex.is_match(l))
                        .map(|(i, l)| format!("{}: {l}", i + 1))
                        .collect();
                    if !hits.is_empty() {
                        let msg = format!(
                            "{node}: {} has {} line(s) matching {}",
                            f.path,
                            hits.len(),
                            f.regex.as_str()
                        );
                        let quoted: Vec<String> = hits.into_iter().take(f.max_matches).collect();
                        let value = quoted.first().cloned().unwrap_or_default();
                        c.add("fileContent", &f.path, &value, msg, quoted);
                    }
                }
                Err(e) => {
                    let msg = format!("{node}: {} cannot be read: {e}", f.path);
                    c.add("fileContent", &f.path, "missing", msg, Vec::new());
                }
            }
        }
        results.rules.push(NodeRuleResult {
            rule: rule.id.clone(),
            findings: c.findings,
        });
    }
    results
}

/// Attaches collector results to the node rules as observations on `Node/<name>` (replacing earlier ones);
/// returns diagnostics for results naming no loaded node rule.
pub fn attach_results(rules: &mut [Rule], results: &[NodeResults]) -> Vec<RunError> {
    let mut errors = Vec::new();
    for rule in rules.iter_mut() {
        if matches!(rule.kind, RuleKind::Node(_)) {
            rule.observations.clear();
        }
    }
    for r in results {
        for rr in &r.rules {
            let Some(rule) = rules
                .iter_mut()
                .find(|x| x.id == rr.rule && matches!(x.kind, RuleKind::Node(_)))
            else {
                errors.push(RunError {
                    kind: ErrorKind::Input,
                    message: format!(
                        "node {}: results for unknown node rule {:?} ignored",
                        r.node, rr.rule
                    ),
                    file: None,
                    document: None,
                    line: None,
                    column: None,
                });
                continue;
            };
            let hits = rr
                .findings
                .iter()
                .map(|f| Hit {
                    container: None,
                    path: String::new(),
                    fingerprint_path: format!("{}:{}", f.check, f.item),
                    message: if f.changed_lines.is_empty() {
                        f.message.clone()
                    } else {
                        format!("{}\n{}", f.message, f.changed_lines.join("\n"))
                    },
                    severity: None,
                })
                .collect();
            rule.observations.push(Observation {
                resource: Resource {
                    api_version: "v1".to_owned(),
                    kind: "Node".to_owned(),
                    namespace: None,
                    name: r.node.clone(),
                },
                hits,
            });
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_lines_pair_old_and_new_by_position() {
        assert_eq!(
            changed_lines("a\nb\nc\n", "a\nB\nc\nd\n"),
            ["2: -b", "2: +B", "4: +d"]
        );
        assert!(changed_lines("same\n", "same\n").is_empty());
    }

    #[test]
    fn sysctl_values_compare_numerically_when_both_are_integers() {
        assert!(sysctl_value_ok(&SysctlOp::Equals("1".into()), "01"));
        assert!(!sysctl_value_ok(&SysctlOp::Equals("1".into()), "0"));
        assert!(sysctl_value_ok(
            &SysctlOp::Compare("gte", 262_144),
            "262144"
        ));
        assert!(!sysctl_value_ok(
            &SysctlOp::Compare("gte", 262_144),
            "65530"
        ));
        assert!(!sysctl_value_ok(&SysctlOp::Compare("gt", 1), "abc"));
        assert!(sysctl_value_ok(
            &SysctlOp::Equals("4096 87380 6291456".into()),
            "4096 87380 6291456"
        ));
    }
}
