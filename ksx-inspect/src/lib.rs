//! `ksx-inspect`: the KubeEye-style inspection engine of ksx.
//!
//! It checks Kubernetes objects (manifests or live objects) against a built-in catalogue of security,
//! reliability, efficiency, networking and RBAC checks with fixed IDs, and produces a [`Report`] with findings,
//! a score and counts (spec `inspect.md`).
//!
//! - [`model`]: checks, findings, summaries and the report, serialised as the stable JSON of the spec.
//! - [`config`]: the configuration file: check selection, severity overrides, options, exemptions.
//! - [`bundle`]: the objects inspected together and their per-namespace index.
//! - [`checks`]: the built-in catalogue ([`checks::CATALOGUE`]), pure functions over one object and the bundle.
//! - [`engine`]: [`Engine`] compiles once and inspects bundles in parallel; pure apart from the [`Clock`] read.
//! - [`rules`]: custom rules in YAML (`kind: InspectRule`): JSONPath-subset paths, conditions, exact quantity
//!   comparisons and message templates, validated with file:line:column errors before anything runs.
//!   `rules::prometheus` evaluates `type: prometheus` rules through a PromQL seam (the Prometheus HTTP API with
//!   feature `prometheus`); `rules::node` is the node collector behind `ksx-node-inspect` (`type: node`: sysctl,
//!   systemd, file hashes against a first-run baseline, log scanning). Their results ride on the rules as
//!   observations, so the engine counts them like any other test.
//! - [`report`]: table, JSON, Markdown, SARIF 2.1.0, JUnit XML and standalone HTML renderings.
//! - [`plan`]: inspection plans (`kind: InspectPlan`): cron schedules in a time zone, scheduling decisions,
//!   stored results (`InspectResult`) with retention, in files or PostgreSQL (feature `postgres`).
//! - [`diff`]: new, fixed and unchanged findings between two results, matched by fingerprint.
//! - [`live`]: bundles read from a live cluster through the `ksx-core` cluster seam (namespace filter).
//! - [`preset`]: the §4.9 presets (`builtin:pss-baseline`, …) as configuration adjustments.
//! - [`pod`]: pod-spec helpers shared by checks (container sets, effective security context, selectors).
//!
//! ```
//! use ksx_core::ManualClock;
//! use ksx_core::manifest::parse_str;
//! use ksx_inspect::{Bundle, Config, Engine, RunOptions, Severity};
//!
//! let yaml = r#"
//! apiVersion: v1
//! kind: Pod
//! metadata: {name: web, namespace: shop}
//! spec:
//!   containers:
//!     - name: web
//!       image: nginx:latest
//!       securityContext: {privileged: true}
//! "#;
//! let bundle = Bundle::from_loaded(&parse_str("pod.yaml", yaml), "default");
//! let options = RunOptions { checks: Some(vec!["sec-privileged".into(), "rel-image-tag".into()]), ..RunOptions::default() };
//! let engine = Engine::new(&Config::default(), &options)?;
//! let report = engine.inspect(&bundle, &ManualClock::at_unix_secs(1_767_225_600));
//! assert_eq!(report.findings.len(), 2);
//! assert_eq!(report.findings[0].check_id, "rel-image-tag");
//! assert_eq!(report.findings[1].path, "/spec/containers/0/securityContext/privileged");
//! assert!(report.fails_at(Severity::Danger));
//! assert_eq!(report.summary.score, 0);
//! # Ok::<(), ksx_inspect::Error>(())
//! ```
//!
//! Custom rules compile once and run next to the built-in checks:
//!
//! ```
//! use ksx_core::ManualClock;
//! use ksx_core::manifest::parse_str;
//! use ksx_inspect::rules::load_rules;
//! use ksx_inspect::{Bundle, Config, Engine, RunOptions};
//!
//! let rule = r#"
//! apiVersion: inspect.ksx.io/v1
//! kind: InspectRule
//! metadata: {name: memory-ceiling}
//! spec:
//!   id: org-memory-ceiling
//!   category: efficiency
//!   severity: warning
//!   match: {kinds: [workloads]}
//!   forEach: containers
//!   expect: {path: '@.resources.limits.memory', lte: 4Gi}
//!   message: '{{ container.name }} may use {{ value }}'
//! "#;
//! let rules = load_rules(&[("rules.yaml".to_owned(), rule.to_owned())]).expect("valid rule");
//! let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: app, image: app:1, resources: {limits: {memory: 5G}}}\n";
//! let bundle = Bundle::from_loaded(&parse_str("pod.yaml", pod), "default");
//! let options = RunOptions { checks: Some(vec!["org-*".into()]), ..RunOptions::default() };
//! let report = Engine::with_rules(&Config::default(), &options, rules)?.inspect(&bundle, &ManualClock::at_unix_secs(0));
//! assert_eq!(report.findings[0].message, "app may use 5G");
//! # Ok::<(), ksx_inspect::Error>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod bundle;
pub mod checks;
pub mod config;
pub mod diff;
pub mod engine;
pub mod error;
pub mod live;
pub mod model;
pub mod plan;
pub mod pod;
pub mod preset;
pub mod report;
pub mod rules;
mod sha256;

pub use bundle::{Bundle, InspectObject};
pub use config::Config;
pub use engine::{Engine, RunOptions};
pub use error::{Error, Result};
pub use ksx_core::Clock;
pub use model::{Category, Finding, Report, Severity};
