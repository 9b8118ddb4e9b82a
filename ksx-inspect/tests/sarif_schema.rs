//! The SARIF rendering validates against the official SARIF 2.1.0 JSON schema (spec §6.3), vendored in
//! `tests/data/sarif-schema-2.1.0.json` (origin and licence in `sarif-schema-2.1.0.md`), for several reports:
//! clean, findings with parse errors, exemptions by annotation and configuration, custom rules, live objects
//! (no physical location) and absolute input paths. Broken logs are rejected, so the validator is really on.

use std::path::Path;

use ksx_core::ManualClock;
use ksx_core::manifest::{load_paths, parse_str};
use ksx_inspect::report::{SARIF_SCHEMA, to_sarif};
use ksx_inspect::rules::{load_rules, read_rule_files};
use ksx_inspect::{Bundle, Config, Engine, Report, RunOptions};
use serde_json::Value;

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(data("sarif-schema-2.1.0.json")).expect("vendored schema");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles")
}

/// Schema errors of a log, as `instance path: message` lines.
fn errors(validator: &jsonschema::Validator, log: &Value) -> Vec<String> {
    validator
        .iter_errors(log)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn assert_valid(name: &str, report: &Report) -> Value {
    let log = to_sarif(report);
    let problems = errors(&validator(), &log);
    assert!(
        problems.is_empty(),
        "{name}: SARIF does not validate:\n{}",
        problems.join("\n")
    );
    log
}

fn inspect(bundle: &Bundle, config: &Config, options: &RunOptions) -> Report {
    Engine::new(config, options)
        .expect("engine")
        .inspect(bundle, &ManualClock::at_unix_secs(1_767_225_600))
}

fn golden(relative: bool) -> Report {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/tests/golden/inspect/findings"
    );
    let mut loaded = load_paths(&[format!("{dir}/bundle")]);
    if relative {
        for d in &mut loaded.documents {
            d.source.file = d.source.file.replace(dir, ".");
        }
        for d in &mut loaded.diagnostics {
            d.file = d.file.replace(dir, ".");
        }
    }
    let bundle = Bundle::from_loaded(&loaded, "default");
    inspect(&bundle, &Config::default(), &RunOptions::default())
}

#[test]
fn clean_report_validates() {
    let bundle = Bundle::from_loaded(&load_paths(&[data("clean.yaml")]), "default");
    let report = inspect(&bundle, &Config::default(), &RunOptions::default());
    assert!(report.summary.objects > 0);
    let log = assert_valid("clean", &report);
    assert_eq!(log["$schema"], SARIF_SCHEMA);
    assert_eq!(log["version"], "2.1.0");
}

#[test]
fn findings_with_parse_errors_validate() {
    let report = golden(true);
    assert!(!report.findings.is_empty());
    assert!(
        !report.errors.is_empty(),
        "the golden bundle has a parse error"
    );
    let log = assert_valid("findings", &report);
    let run = &log["runs"][0];
    assert_eq!(
        run["results"].as_array().map(Vec::len),
        Some(report.findings.len())
    );
    assert!(
        run["invocations"][0]["toolExecutionNotifications"]
            .as_array()
            .is_some_and(|n| !n.is_empty())
    );
}

#[test]
fn absolute_paths_validate() {
    let log = assert_valid("absolute paths", &golden(false));
    let uri = log["runs"][0]["artifacts"][0]["location"]["uri"]
        .as_str()
        .expect("artifact uri");
    assert!(uri.starts_with("file:///"), "{uri}");
}

#[test]
fn live_objects_without_locations_validate() {
    let mut report = golden(true);
    for f in &mut report.findings {
        f.location = None;
    }
    report.errors.clear();
    let log = assert_valid("live", &report);
    let location = &log["runs"][0]["results"][0]["locations"][0];
    assert!(location.get("physicalLocation").is_none());
    assert_eq!(location["logicalLocations"][0]["kind"], "resource");
}

#[test]
fn exempted_findings_validate() {
    let pods = r#"apiVersion: v1
kind: Pod
metadata:
  name: agent
  namespace: ops
  annotations: {ksx.io/exempt: "sec-privileged", ksx.io/exempt-reason: node agent}
spec:
  containers:
    - {name: agent, image: "registry.example.com/agent:2", securityContext: {privileged: true}}
---
apiVersion: v1
kind: Pod
metadata: {name: cni, namespace: kube-net}
spec:
  hostNetwork: true
  containers:
    - {name: cni, image: "registry.example.com/cni:1", securityContext: {privileged: true}}
"#;
    let config = Config::from_yaml(
        "config.yaml",
        "exemptions:\n  - {checks: [sec-host-network], namespaces: [kube-net]}\n  - {checks: [sec-privileged], names: [cni], reason: CNI plugin}\n",
    )
    .expect("config");
    let bundle = Bundle::from_loaded(&parse_str("pods.yaml", pods), "default");
    let options = RunOptions {
        checks: Some(vec!["sec-privileged".into(), "sec-host-network".into()]),
        ..RunOptions::default()
    };
    let report = inspect(&bundle, &config, &options);
    let suppressed = report
        .findings
        .iter()
        .filter(|f| f.suppressed.is_some())
        .count();
    assert_eq!(suppressed, 3, "{:#?}", report.findings);
    let log = assert_valid("exempted", &report);
    let kinds: Vec<&str> = log["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["suppressions"][0]["kind"].as_str())
        .collect();
    // Findings in report order: kube-net/cni (host network, privileged: config), ops/agent (annotation).
    assert_eq!(kinds, ["external", "external", "inSource"]);
}

#[test]
fn custom_rules_validate() {
    let files = read_rule_files(&[data("rules/good")]).expect("read rules");
    let rules = load_rules(&files).expect("valid rules");
    let bundle = Bundle::from_loaded(&load_paths(&[data("rules/bundle.yaml")]), "default");
    let options = RunOptions {
        checks: Some(vec!["org-*".into(), "sec-privileged".into()]),
        ..RunOptions::default()
    };
    let report = Engine::with_rules(&Config::default(), &options, rules)
        .expect("engine")
        .inspect(&bundle, &ManualClock::at_unix_secs(0));
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.check_id.starts_with("org-")),
        "custom rules found nothing"
    );
    let log = assert_valid("custom rules", &report);
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    assert!(rules.iter().any(|r| r["id"] == "sec-privileged"));
    assert!(
        rules
            .iter()
            .any(|r| r["id"].as_str().is_some_and(|i| i.starts_with("org-")))
    );
}

#[test]
fn broken_logs_are_rejected() {
    let validator = validator();
    let log = to_sarif(&golden(true));
    let mut bad_level = log.clone();
    bad_level["runs"][0]["results"][0]["level"] = Value::String("danger".to_owned());
    assert!(!errors(&validator, &bad_level).is_empty());
    let mut no_version = log.clone();
    if let Some(o) = no_version.as_object_mut() {
        o.remove("version");
    }
    assert!(!errors(&validator, &no_version).is_empty());
    let mut bad_line = log;
    bad_line["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        Value::from(0);
    assert!(!errors(&validator, &bad_line).is_empty());
}
