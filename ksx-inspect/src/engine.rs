//! The engine: checks compiled once from the configuration, then a pure evaluation of a bundle into a
//! [`Report`] (spec §1.2–§1.5).
//!
//! Objects are evaluated in parallel (`std::thread::scope`, workers taking small batches); every check of an
//! object sees the whole bundle, so cross-object checks work. Each object's findings are sorted by its worker,
//! then merged, so neither document order nor thread scheduling changes the report.
//!
//! **Score** = `floor(100 × Σ weight(passed) / Σ weight(passed + failed))` with weights danger 3, warning 2,
//! info 1 by the check's effective severity; exempted tests are left out; 100 when nothing was evaluated.

use crate::pod::FastPointer as _;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use ksx_core::Clock;
use regex::Regex;
use serde_json::Value;

use crate::bundle::{Bundle, InspectObject, api_group, parallel_map};
use crate::checks::{CATALOGUE, CheckFn, Ctx, Hit};
use crate::config::{Config, CrossObject, Exemption, Override, parse_kube_version};
use crate::error::{Error, Result};
use crate::model::{
    Bucket, Category, CheckInfo, ErrorKind, Finding, Location, PassedTestLog, PassedTests, Report,
    Run, RunError, Scope, Severity, Summary, Suppressed, SuppressedBy, Tool,
};
use crate::pod;
use crate::rules::Rule;
use crate::sha256::hex_digest;

/// The annotation listing exempted checks (`*` = all).
pub const EXEMPT_ANNOTATION: &str = "ksx.io/exempt";
/// The annotation giving the exemption's reason.
pub const EXEMPT_REASON_ANNOTATION: &str = "ksx.io/exempt-reason";

/// Command-line choices that refine the configuration.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--kube-version` (wins over the configuration).
    pub kube_version: Option<String>,
    /// `--checks`: IDs or globs; runs exactly these (default-off ones included).
    pub checks: Option<Vec<String>>,
    /// `--exclude-checks`: IDs or globs.
    pub exclude_checks: Vec<String>,
    /// `--no-annotation-exemptions`.
    pub no_annotation_exemptions: bool,
    /// `--fail-on` (recorded in the report).
    pub fail_on: Option<Severity>,
}

#[derive(Debug, Clone)]
struct CompiledCheck {
    id: String,
    title: String,
    category: Category,
    default_severity: Severity,
    scope: Scope,
    remediation: String,
    references: Vec<String>,
    file: Option<String>,
    eval: Evaluator,
    enabled: bool,
    severity: Option<Severity>,
    severity_namespaces: Vec<String>,
    options: BTreeMap<String, Value>,
}

impl CompiledCheck {
    fn severity_in(&self, ns: &str) -> Severity {
        match self.severity {
            Some(s)
                if self.severity_namespaces.is_empty()
                    || self.severity_namespaces.iter().any(|n| n == ns) =>
            {
                s
            }
            _ => self.default_severity,
        }
    }

    fn has_override_in(&self, ns: &str) -> bool {
        self.severity.is_some()
            && (self.severity_namespaces.is_empty()
                || self.severity_namespaces.iter().any(|n| n == ns))
    }
}

/// How a check is evaluated.
#[derive(Debug, Clone)]
enum Evaluator {
    Builtin(CheckFn),
    Custom(Arc<Rule>),
}

#[derive(Debug, Clone)]
struct CompiledExemption {
    spec: Exemption,
    rule: String,
    namespace_regex: Option<Regex>,
    name_regex: Option<Regex>,
    expires: Option<jiff::Timestamp>,
}

/// Compiled checks and exemptions; build once, inspect many bundles.
#[derive(Debug, Clone)]
pub struct Engine {
    checks: Vec<CompiledCheck>,
    exemptions: Vec<CompiledExemption>,
    kube_version: (u64, u64),
    default_namespace: String,
    lenient: bool,
    annotations_allowed: bool,
    fail_on: Severity,
    rules_digest: String,
    diagnostics: Vec<RunError>,
}

/// Whether `text` matches a glob with `*` wildcards.
pub fn glob_matches(glob: &str, text: &str) -> bool {
    let parts: Vec<&str> = glob.split('*').collect();
    if parts.len() == 1 {
        return glob == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = rest.get(pos + part.len()..).unwrap_or(""),
                None => return false,
            }
        }
    }
    true
}

fn edit_distance(a: &str, b: &str) -> usize {
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

/// The closest built-in check ID to `id`, if reasonably close.
pub fn suggest_check(id: &str) -> Option<String> {
    CATALOGUE
        .iter()
        .map(|c| (edit_distance(id, c.id), c.id))
        .filter(|(d, _)| *d <= 4)
        .min()
        .map(|(_, id)| id.to_owned())
}

fn resolve_globs<'a>(globs: &[String], ids: &[&'a str]) -> Result<BTreeSet<&'a str>> {
    let mut out = BTreeSet::new();
    for g in globs {
        let g = g.trim();
        if g.is_empty() {
            continue;
        }
        let matched: Vec<&'a str> = ids
            .iter()
            .copied()
            .filter(|id| glob_matches(g, id))
            .collect();
        if matched.is_empty() {
            return Err(Error::UnknownCheck {
                id: g.to_owned(),
                suggestion: suggest_check(g),
            });
        }
        out.extend(matched);
    }
    Ok(out)
}

fn compile_regex(field: String, pattern: Option<&String>) -> Result<Option<Regex>> {
    pattern
        .map(|p| {
            Regex::new(&format!("^(?:{p})$")).map_err(|source| Error::InvalidRegex {
                field,
                pattern: p.clone(),
                source,
            })
        })
        .transpose()
}

fn parse_expiry(text: &str) -> Option<jiff::Timestamp> {
    text.parse::<jiff::Timestamp>().ok().or_else(|| {
        text.parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    })
}

fn system_exemption() -> Result<CompiledExemption> {
    let spec = Exemption {
        checks: [
            "sec-host-network",
            "sec-host-pid",
            "sec-host-ipc",
            "sec-host-path",
            "sec-host-port",
            "sec-privileged",
            "sec-privilege-escalation",
            "sec-dangerous-capabilities",
            "sec-added-capabilities",
            "sec-run-as-non-root",
            "sec-high-uid-gid",
            "sec-readonly-root-fs",
            "sec-drop-capabilities",
            "sec-drop-net-raw",
            "sec-linux-hardening",
            "sec-seccomp-profile",
            "sec-automount-sa-token",
        ]
        .map(str::to_owned)
        .to_vec(),
        namespaces: vec!["kube-system".to_owned()],
        name_regex: Some(
            "kube-proxy|coredns|calico-.*|cilium.*|kube-flannel.*|flannel.*|canal|weave-net|kindnet|aws-node|.*csi.*node.*"
                .to_owned(),
        ),
        reason: Some("well-known kube-system component".to_owned()),
        ..Exemption::default()
    };
    Ok(CompiledExemption {
        name_regex: compile_regex(
            "builtin:system-exemptions".to_owned(),
            spec.name_regex.as_ref(),
        )?,
        spec,
        rule: "builtin:system-exemptions".to_owned(),
        namespace_regex: None,
        expires: None,
    })
}

impl Engine {
    /// Compiles the catalogue under `config` and the command-line `options`.
    ///
    /// # Errors
    /// [`Error::UnknownCheck`] for an unknown ID or glob (in `--checks`, include/exclude, overrides,
    /// exemptions), [`Error::InvalidKubeVersion`], [`Error::InvalidRegex`] for a bad exemption regex.
    pub fn new(config: &Config, options: &RunOptions) -> Result<Self> {
        Self::with_rules(config, options, Vec::new())
    }

    /// Compiles the catalogue and custom `rules` (from [`crate::rules::load_rules`]) under `config` and `options`.
    ///
    /// # Errors
    /// As [`Engine::new`].
    pub fn with_rules(config: &Config, options: &RunOptions, rules: Vec<Rule>) -> Result<Self> {
        let mut metas: BTreeMap<String, CompiledCheck> = BTreeMap::new();
        let mut ids_default: Vec<(String, bool)> = Vec::new();
        for def in CATALOGUE {
            ids_default.push((def.id.to_owned(), true));
            metas.insert(
                def.id.to_owned(),
                CompiledCheck {
                    id: def.id.to_owned(),
                    title: def.title.to_owned(),
                    category: def.category,
                    default_severity: def.severity,
                    scope: def.scope,
                    remediation: def.remediation.to_owned(),
                    references: def.references.iter().map(|r| (*r).to_owned()).collect(),
                    file: None,
                    eval: Evaluator::Builtin(def.eval),
                    enabled: true,
                    severity: None,
                    severity_namespaces: Vec::new(),
                    options: BTreeMap::new(),
                },
            );
        }
        for rule in rules {
            ids_default.push((rule.id.clone(), rule.enabled));
            metas.insert(
                rule.id.clone(),
                CompiledCheck {
                    id: rule.id.clone(),
                    title: rule.title.clone(),
                    category: rule.category,
                    default_severity: rule.severity,
                    scope: if matches!(rule.kind, crate::rules::RuleKind::Object) {
                        Scope::Static
                    } else {
                        Scope::Live
                    },
                    remediation: rule.remediation.clone(),
                    references: rule.references.clone(),
                    file: Some(rule.file.clone()),
                    eval: Evaluator::Custom(Arc::new(rule)),
                    enabled: true,
                    severity: None,
                    severity_namespaces: Vec::new(),
                    options: BTreeMap::new(),
                },
            );
        }
        let id_strings: Vec<String> = ids_default.iter().map(|(id, _)| id.clone()).collect();
        let ids: Vec<&str> = id_strings.iter().map(String::as_str).collect();
        let kube_text = options
            .kube_version
            .clone()
            .or_else(|| config.kube_version.clone())
            .unwrap_or_else(|| "1.33".to_owned());
        let kube_version = parse_kube_version(&kube_text)?;
        let selected = match &options.checks {
            Some(list) => Some(resolve_globs(list, &ids)?),
            None if !config.checks.include.is_empty() => {
                Some(resolve_globs(&config.checks.include, &ids)?)
            }
            None => None,
        };
        let mut excluded = resolve_globs(&options.exclude_checks, &ids)?;
        if options.checks.is_none() {
            excluded.extend(resolve_globs(&config.checks.exclude, &ids)?);
        }
        for id in config.checks.overrides.keys() {
            resolve_globs(std::slice::from_ref(id), &ids)?;
        }
        let mut checks = Vec::new();
        for (id, by_default) in &ids_default {
            let id = id.as_str();
            let ov = config.checks.overrides.get(id);
            let off = ov.is_some_and(Override::is_off);
            let enabled = match &selected {
                Some(s) if options.checks.is_some() => s.contains(id),
                Some(s) => s.contains(id) && !excluded.contains(id) && !off && *by_default,
                None => !excluded.contains(id) && !off && *by_default,
            };
            let (severity, severity_namespaces, opts) = match ov {
                Some(Override::Settings(s)) => {
                    (s.severity, s.namespaces.clone(), s.options.clone())
                }
                _ => (None, Vec::new(), BTreeMap::new()),
            };
            let meta = metas.get(id).cloned().ok_or_else(|| Error::UnknownCheck {
                id: id.to_owned(),
                suggestion: None,
            })?;
            checks.push(CompiledCheck {
                enabled,
                severity,
                severity_namespaces,
                options: opts,
                ..meta
            });
        }
        let mut exemptions = Vec::new();
        if config.system_exemptions {
            exemptions.push(system_exemption()?);
        }
        for (i, e) in config.exemptions.iter().enumerate() {
            for id in &e.checks {
                resolve_globs(std::slice::from_ref(id), &ids)?;
            }
            let rule = format!("exemptions[{i}]");
            exemptions.push(CompiledExemption {
                namespace_regex: compile_regex(
                    format!("{rule}.namespaceRegex"),
                    e.namespace_regex.as_ref(),
                )?,
                name_regex: compile_regex(format!("{rule}.nameRegex"), e.name_regex.as_ref())?,
                expires: e.expires.as_deref().and_then(parse_expiry),
                spec: e.clone(),
                rule,
            });
        }
        let mut diagnostics = Vec::new();
        for e in &exemptions {
            if e.spec.expires.is_some() && e.expires.is_none() {
                diagnostics.push(RunError {
                    kind: ErrorKind::Input,
                    message: format!(
                        "{}: unreadable expires {:?}; the exemption stays in force",
                        e.rule,
                        e.spec.expires.as_deref().unwrap_or("")
                    ),
                    file: None,
                    document: None,
                    line: None,
                    column: None,
                });
            }
        }
        let digest_input: Vec<String> = checks
            .iter()
            .filter(|c| c.enabled)
            .map(|c| {
                format!(
                    "{}|{}|{:?}|{}",
                    c.id,
                    c.severity.unwrap_or(c.default_severity),
                    c.severity_namespaces,
                    serde_json::to_string(&c.options).unwrap_or_default()
                )
            })
            .collect();
        Ok(Self {
            checks,
            exemptions,
            kube_version,
            default_namespace: config
                .default_namespace
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
            lenient: config.cross_object == CrossObject::Lenient,
            annotations_allowed: config.allow_annotation_exemptions
                && !options.no_annotation_exemptions,
            fail_on: options.fail_on.unwrap_or(Severity::Danger),
            rules_digest: format!("sha256:{}", hex_digest(digest_input.join("\n").as_bytes())),
            diagnostics,
        })
    }

    /// The namespace given to objects without one.
    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    /// IDs of the checks that run.
    pub fn enabled_checks(&self) -> impl Iterator<Item = &str> + '_ {
        self.checks
            .iter()
            .filter(|c| c.enabled)
            .map(|c| c.id.as_str())
    }

    /// Inspects a bundle. Pure: the only outside input is `clock`, read once.
    pub fn inspect(&self, bundle: &Bundle, clock: &dyn Clock) -> Report {
        let now = clock.now();
        let objects = bundle.objects();
        let mut runs: Vec<ObjectTests> = parallel_map(objects, |obj| {
            // A panicking check would be a bug; the object's tests are dropped rather than taking the run down.
            std::panic::catch_unwind(AssertUnwindSafe(|| self.evaluate(bundle, obj, now)))
                .unwrap_or_default()
        });
        runs.extend(self.evaluate_detached(bundle, now));
        let mut errors = bundle.errors.clone();
        errors.extend(self.diagnostics.iter().cloned());
        for e in &self.exemptions {
            if let Some(exp) = e.expires
                && exp < now
            {
                errors.push(RunError {
                    kind: ErrorKind::Input,
                    message: format!("{} expired at {exp} and is ignored", e.rule),
                    file: None,
                    document: None,
                    line: None,
                    column: None,
                });
            }
        }
        for r in &mut runs {
            errors.append(&mut r.errors);
        }
        errors.sort();
        errors.dedup();
        self.assemble(bundle, runs, errors, now)
    }

    /// Tests of Prometheus and node rules on resources the bundle lacks ([`Rule::detached_objects`]), one
    /// [`ObjectTests`] per test.
    fn evaluate_detached(&self, bundle: &Bundle, now: jiff::Timestamp) -> Vec<ObjectTests> {
        let mut out = Vec::new();
        for (idx, c) in self.checks.iter().enumerate() {
            let Evaluator::Custom(rule) = &c.eval else {
                continue;
            };
            if !c.enabled {
                continue;
            }
            for obj in rule.detached_objects(bundle) {
                if let Some(hits) = rule.evaluate(&obj) {
                    let mut run = ObjectTests {
                        namespace: obj.namespace().to_owned(),
                        ..ObjectTests::default()
                    };
                    run.push_test(
                        idx,
                        hits.into_iter()
                            .map(|h| self.finding(c, &obj, h, None, now)),
                    );
                    run.sort_findings();
                    out.push(run);
                }
            }
        }
        out
    }

    /// The tests of `obj`, an object of `bundle`.
    fn evaluate(&self, bundle: &Bundle, obj: &InspectObject, now: jiff::Timestamp) -> ObjectTests {
        let annotation = annotation_exemption(obj);
        let mut out = ObjectTests {
            namespace: obj.namespace().to_owned(),
            errors: self.unknown_annotation_ids(obj, annotation.as_ref()),
            ..ObjectTests::default()
        };
        let annotation = annotation.filter(|_| self.annotations_allowed);
        let mut passed = Vec::new();
        // Spec §4.0: live, controller-owned Pods are skipped by static checks (reported via their controller).
        let owned_live_pod = crate::live::skipped_by_static_checks(obj);
        for (idx, c) in self.checks.iter().enumerate() {
            if !c.enabled
                || c.scope != Scope::Static && obj.source.is_some()
                || c.scope == Scope::Static && owned_live_pod
            {
                continue;
            }
            let ctx = Ctx {
                bundle,
                options: &c.options,
                kube_version: self.kube_version,
                lenient: self.lenient,
                now,
            };
            let hits = match &c.eval {
                Evaluator::Builtin(f) => f(&ctx, obj),
                Evaluator::Custom(rule) => rule.evaluate(obj),
            };
            let Some(hits) = hits else {
                continue;
            };
            if hits.is_empty() {
                passed.push(c.id.clone());
            }
            out.push_test(
                idx,
                hits.into_iter()
                    .map(|h| self.finding(c, obj, h, annotation.as_ref(), now)),
            );
        }
        if !passed.is_empty() {
            out.passed = Some(PassedTests {
                resource: obj.resource.clone(),
                location: location_of(obj),
                checks: passed,
            });
        }
        out.sort_findings();
        out
    }

    fn finding(
        &self,
        c: &CompiledCheck,
        obj: &InspectObject,
        hit: Hit,
        annotation: Option<&(Vec<String>, Option<String>)>,
        now: jiff::Timestamp,
    ) -> Finding {
        let ns = obj.namespace();
        let severity = if c.has_override_in(ns) {
            c.severity_in(ns)
        } else {
            hit.severity.unwrap_or(c.default_severity)
        };
        let fp_input = format!(
            "{}|{}/{}|{}|{}|{}|{}",
            c.id,
            api_group(&obj.resource.api_version),
            obj.kind(),
            ns,
            obj.name(),
            hit.container.as_deref().unwrap_or(""),
            hit.fingerprint_path
        );
        let suppressed = annotation
            .filter(|(ids, _)| ids.iter().any(|i| i == "*" || *i == c.id))
            .map(|(_, reason)| Suppressed {
                by: SuppressedBy::Annotation,
                reason: reason.clone(),
                rule: None,
            })
            .or_else(|| {
                self.exemptions
                    .iter()
                    .find(|e| exemption_matches(e, &c.id, obj, hit.container.as_deref(), now))
                    .map(|e| Suppressed {
                        by: SuppressedBy::Config,
                        reason: e.spec.reason.clone(),
                        rule: Some(e.rule.clone()),
                    })
            });
        Finding {
            check_id: c.id.clone(),
            severity,
            category: c.category,
            resource: obj.resource.clone(),
            container: hit.container,
            path: hit.path,
            message: hit.message,
            remediation: c.remediation.clone(),
            references: c.references.clone(),
            location: location_of(obj),
            fingerprint: format!("sha256:{}", hex_digest(fp_input.as_bytes())),
            suppressed,
        }
    }

    fn unknown_annotation_ids(
        &self,
        obj: &InspectObject,
        annotation: Option<&(Vec<String>, Option<String>)>,
    ) -> Vec<RunError> {
        let Some((ids, _)) = annotation else {
            return Vec::new();
        };
        ids.iter()
            .filter(|i| *i != "*" && !self.checks.iter().any(|c| c.id == i.as_str()))
            .map(|i| RunError {
                kind: ErrorKind::Input,
                message: format!(
                    "{} {}: unknown check {i:?} in annotation {EXEMPT_ANNOTATION}",
                    obj.kind(),
                    obj.name()
                ),
                file: obj.source.as_ref().map(|s| s.file.clone()),
                document: obj.source.as_ref().map(|s| s.document),
                line: obj.source.as_ref().map(|s| s.line),
                column: None,
            })
            .collect()
    }

    fn assemble(
        &self,
        bundle: &Bundle,
        mut runs: Vec<ObjectTests>,
        errors: Vec<RunError>,
        now: jiff::Timestamp,
    ) -> Report {
        let mut summary = Summary {
            objects: bundle.objects().len() as u64,
            checks: self.checks.iter().filter(|c| c.enabled).count() as u64,
            ..Summary::default()
        };
        let mut overall = Weights::default();
        let mut by_cat: [(Bucket, Weights); Category::ALL.len()] = Default::default();
        let mut by_ns: HashMap<&str, (Bucket, Weights)> = HashMap::new();
        for run in &runs {
            for t in &run.tests {
                let Some(c) = self.checks.get(t.check) else {
                    continue;
                };
                let weight = c.severity_in(&run.namespace).weight();
                let [danger, warning, info] = t.unsuppressed;
                let outcome = if danger + warning + info > 0 {
                    summary.tests.failed += 1;
                    Outcome::Failed
                } else if t.suppressed == 0 {
                    summary.tests.passed += 1;
                    Outcome::Passed
                } else {
                    summary.tests.exempted += 1;
                    Outcome::Exempted
                };
                summary.tests.total += 1;
                overall.add(outcome, weight);
                let ns = by_ns.entry(run.namespace.as_str()).or_default();
                let cat = Category::ALL
                    .iter()
                    .position(|x| *x == c.category)
                    .and_then(|i| by_cat.get_mut(i));
                for (bucket, weights) in cat.into_iter().chain([ns]) {
                    bucket.tests += 1;
                    weights.add(outcome, weight);
                    bucket.danger += danger;
                    bucket.warning += warning;
                    bucket.info += info;
                }
                summary.exempted += t.suppressed;
                summary.findings.danger += danger;
                summary.findings.warning += warning;
                summary.findings.info += info;
            }
        }
        let by_ns: BTreeMap<String, Bucket> = by_ns
            .into_iter()
            .map(|(k, (mut b, w))| {
                b.score = w.score();
                (k.to_owned(), b)
            })
            .collect();
        let findings = merge_findings(&mut runs);
        let passed: Vec<PassedTests> = runs.into_iter().filter_map(|r| r.passed).collect();
        summary.score = overall.score();
        summary.by_category = Category::ALL
            .iter()
            .zip(by_cat)
            .map(|(c, (mut b, w))| {
                b.score = w.score();
                (c.as_str().to_owned(), b)
            })
            .collect();
        summary.by_namespace = by_ns;
        summary.passed_tests = PassedTestLog(sort_passed(passed));
        let checks = self
            .checks
            .iter()
            .map(|c| CheckInfo {
                id: c.id.clone(),
                title: c.title.clone(),
                category: c.category,
                severity: c
                    .severity
                    .filter(|_| c.severity_namespaces.is_empty())
                    .unwrap_or(c.default_severity),
                enabled: c.enabled,
                scope: c.scope,
                source: if c.file.is_some() {
                    "custom"
                } else {
                    "builtin"
                }
                .to_owned(),
                file: c.file.clone(),
            })
            .collect();
        let live = bundle.objects().iter().any(|o| o.source.is_none());
        let files = bundle.objects().iter().any(|o| o.source.is_some());
        let mode = match (files, live) {
            (true, true) => "mixed",
            (false, true) => "cluster",
            _ => "manifests",
        };
        let status = if bundle.objects().is_empty() && !errors.is_empty() {
            "failed"
        } else if errors
            .iter()
            .any(|e| matches!(e.kind, ErrorKind::Parse | ErrorKind::Runtime))
        {
            "partial"
        } else {
            "succeeded"
        };
        let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
        Report {
            api_version: "inspect.ksx.io/v1".to_owned(),
            kind: "InspectReport".to_owned(),
            tool: Tool {
                name: "ksx".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            },
            run: Run {
                id: format!("run-{stamp}"),
                plan: None,
                started_at: now.to_string(),
                finished_at: now.to_string(),
                duration_ms: 0,
                mode: mode.to_owned(),
                kube_version: format!("{}.{}", self.kube_version.0, self.kube_version.1),
                fail_on: self.fail_on,
                inputs: bundle.inputs.clone(),
                rules_digest: self.rules_digest.clone(),
                status: status.to_owned(),
            },
            summary,
            findings,
            checks,
            errors,
        }
    }
}

fn finding_key(f: &Finding) -> (&str, &str, &str, &str, &str, &str, Option<&Location>, &str) {
    (
        f.resource.namespace.as_deref().unwrap_or(""),
        &f.resource.kind,
        &f.resource.name,
        &f.check_id,
        f.container.as_deref().unwrap_or(""),
        &f.path,
        f.location.as_ref(),
        &f.message,
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    Exempted,
}

#[derive(Debug, Clone, Copy, Default)]
struct Weights {
    passed: u64,
    failed: u64,
}

impl Weights {
    fn add(&mut self, outcome: Outcome, weight: u64) {
        match outcome {
            Outcome::Passed => self.passed += weight,
            Outcome::Failed => self.failed += weight,
            Outcome::Exempted => {}
        }
    }

    fn score(self) -> u64 {
        let total = self.passed + self.failed;
        (self.passed * 100).checked_div(total).unwrap_or(100)
    }
}

/// One test (check × object): its findings counted.
#[derive(Debug, Clone)]
struct TestResult {
    check: usize,
    /// Unsuppressed findings per severity: danger, warning, info.
    unsuppressed: [u64; 3],
    /// Suppressed findings.
    suppressed: u64,
}

/// The tests of one object of the bundle, or one test of a detached object (Prometheus and node rules).
#[derive(Debug, Default)]
struct ObjectTests {
    /// The effective namespace of the object.
    namespace: String,
    tests: Vec<TestResult>,
    /// The findings of all its tests, in report order (after [`ObjectTests::sort_findings`]).
    findings: Vec<Finding>,
    /// The checks it passed, when it passed any.
    passed: Option<PassedTests>,
    /// Diagnostics about the object (unknown IDs in its exemption annotation).
    errors: Vec<RunError>,
}

impl ObjectTests {
    fn push_test(&mut self, check: usize, findings: impl Iterator<Item = Finding>) {
        let mut test = TestResult {
            check,
            unsuppressed: [0; 3],
            suppressed: 0,
        };
        for f in findings {
            if f.suppressed.is_some() {
                test.suppressed += 1;
            } else {
                let slot = match f.severity {
                    Severity::Danger => &mut test.unsuppressed[0],
                    Severity::Warning => &mut test.unsuppressed[1],
                    Severity::Info => &mut test.unsuppressed[2],
                };
                *slot += 1;
            }
            self.findings.push(f);
        }
        self.tests.push(test);
    }

    /// Sorts the findings stably in report order, in the worker that made them.
    fn sort_findings(&mut self) {
        self.findings
            .sort_by(|a, b| finding_key(a).cmp(&finding_key(b)));
    }

    /// The namespace, kind and name that all its findings share (each finding is about the object).
    fn resource_key(&self) -> Option<(&str, &str, &str)> {
        self.findings.first().map(|f| {
            let r = &f.resource;
            (
                r.namespace.as_deref().unwrap_or(""),
                r.kind.as_str(),
                r.name.as_str(),
            )
        })
    }
}

/// The findings of all runs in report order: the same order as a stable sort by [`finding_key`] of every finding
/// in run order, since each run is sorted already and its findings share the key's leading namespace, kind and
/// name. Runs are ordered by that resource; the rare runs sharing one (the same object twice in the input) are
/// merged by the full key, keeping run order on ties.
fn merge_findings(runs: &mut [ObjectTests]) -> Vec<Finding> {
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.retain(|&i| runs.get(i).is_some_and(|r| !r.findings.is_empty()));
    order.sort_by(|&a, &b| {
        let key = |i: usize| runs.get(i).and_then(ObjectTests::resource_key);
        key(a).cmp(&key(b))
    });
    // Boundaries of groups of runs about one resource.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for i in 1..=order.len() {
        let key = |n: usize| {
            order
                .get(n)
                .and_then(|&r| runs.get(r))
                .and_then(ObjectTests::resource_key)
        };
        if i == order.len() || key(i) != key(start) {
            groups.push((start, i));
            start = i;
        }
    }
    let total = runs.iter().map(|r| r.findings.len()).sum();
    let mut findings: Vec<Finding> = Vec::with_capacity(total);
    for (from, to) in groups {
        let first = findings.len();
        for &r in order.get(from..to).unwrap_or_default() {
            if let Some(run) = runs.get_mut(r) {
                findings.append(&mut run.findings);
            }
        }
        if to - from > 1
            && let Some(group) = findings.get_mut(first..)
        {
            group.sort_by(|a, b| finding_key(a).cmp(&finding_key(b)));
        }
    }
    findings
}

/// Where `obj` is in the input; `None` for live objects.
fn location_of(obj: &InspectObject) -> Option<Location> {
    obj.source.as_ref().map(|s| Location {
        file: s.file.clone(),
        document: s.document,
        line: s.line,
        column: 1,
        template_source: obj.template_source.clone(),
    })
}

/// The passed tests per object (collected in object order), in report order.
fn sort_passed(mut out: Vec<PassedTests>) -> Vec<PassedTests> {
    fn key(p: &PassedTests) -> (&str, &str, &str, Option<&Location>) {
        let r = &p.resource;
        (
            r.namespace.as_deref().unwrap_or(""),
            &r.kind,
            &r.name,
            p.location.as_ref(),
        )
    }
    out.sort_by(|a, b| key(a).cmp(&key(b)));
    out
}

/// The IDs and reason of the `ksx.io/exempt` annotation on the object or its pod template.
fn annotation_exemption(obj: &InspectObject) -> Option<(Vec<String>, Option<String>)> {
    let mut ids = Vec::new();
    let mut reason = None;
    let mut metas = vec![obj.value.ptr("/metadata/annotations")];
    if let Some(p) = pod::pod_meta_pointer(obj.kind()) {
        metas.push(obj.value.ptr(&format!("{p}/annotations")));
    }
    for m in metas.into_iter().flatten() {
        let map = pod::string_map(m);
        if let Some(list) = map.get(EXEMPT_ANNOTATION) {
            ids.extend(
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
        if reason.is_none() {
            reason = map.get(EXEMPT_REASON_ANNOTATION).cloned();
        }
    }
    (!ids.is_empty()).then_some((ids, reason))
}

fn exemption_matches(
    e: &CompiledExemption,
    check: &str,
    obj: &InspectObject,
    container: Option<&str>,
    now: jiff::Timestamp,
) -> bool {
    let s = &e.spec;
    if e.expires.is_some_and(|x| x < now) {
        return false;
    }
    let ns = obj.namespace();
    (s.checks.is_empty() || s.checks.iter().any(|g| glob_matches(g, check)))
        && (s.namespaces.is_empty() || s.namespaces.iter().any(|n| n == ns))
        && e.namespace_regex.as_ref().is_none_or(|r| r.is_match(ns))
        && (s.kinds.is_empty() || s.kinds.iter().any(|k| k == obj.kind()))
        && (s.names.is_empty() || s.names.iter().any(|n| n == obj.name()))
        && e.name_regex.as_ref().is_none_or(|r| r.is_match(obj.name()))
        && (s.containers.is_empty()
            || container.is_some_and(|c| s.containers.iter().any(|x| x == c)))
        && s.label_selector.as_ref().is_none_or(|sel| {
            let labels = pod::string_map(obj.value.ptr("/metadata/labels").unwrap_or(&Value::Null));
            pod::label_selector_matches(sel, &labels)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_matches("sec-*", "sec-privileged"));
        assert!(glob_matches("*-probe", "rel-liveness-probe"));
        assert!(glob_matches("rel-*-probe", "rel-liveness-probe"));
        assert!(!glob_matches("sec-*", "rel-x"));
        assert!(glob_matches("eff-cpu-limits", "eff-cpu-limits"));
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest_check("sec-privilegd").as_deref(),
            Some("sec-privileged")
        );
        assert!(suggest_check("zzzzzzzzzzzzzzzzzz").is_none());
    }

    #[test]
    fn score_formula() {
        let w = Weights {
            passed: 5,
            failed: 3,
        };
        assert_eq!(w.score(), 62);
        assert_eq!(Weights::default().score(), 100);
    }
}
