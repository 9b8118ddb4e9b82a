//! Node rules (`type: node`, spec §2.7) run for real on this machine's `/proc/sys` and on temporary files
//! (hash baselines, drift, reset), their loader errors (§2.9), Prometheus rule loader errors (§2.6), and the
//! merge of collector results into a report.
#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use std::collections::BTreeMap;
use std::path::Path;

use ksx_core::ManualClock;
use ksx_inspect::rules::node::{
    BaselineStore, FileBaselines, LocalHost, NodeResults, attach_results, collect,
};
use ksx_inspect::rules::{Rule, load_rules};
use ksx_inspect::{Bundle, Config, Engine, RunOptions};

fn load(text: &str) -> Vec<Rule> {
    load_rules(&[("rules/node.yaml".to_owned(), text.to_owned())]).expect("rules load")
}

fn errors(text: &str) -> Vec<String> {
    load_rules(&[("rules/bad.yaml".to_owned(), text.to_owned())])
        .expect_err("rules must fail")
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn rule(id: &str, selector: &str, node: &str) -> String {
    format!(
        "apiVersion: inspect.ksx.io/v1\nkind: InspectRule\nmetadata: {{name: {id}}}\nspec:\n  id: {id}\n  type: node\n  category: node\n  severity: warning\n{selector}  node:\n{node}"
    )
}

fn linux() -> BTreeMap<String, String> {
    BTreeMap::from([("kubernetes.io/os".to_owned(), "linux".to_owned())])
}

fn items(r: &NodeResults, id: &str) -> Vec<(String, String, String)> {
    r.rules
        .iter()
        .filter(|x| x.rule == id)
        .flat_map(|x| &x.findings)
        .map(|f| (f.check.clone(), f.item.clone(), f.value.clone()))
        .collect()
}

#[test]
fn sysctl_reads_this_machines_proc_sys() {
    let rules = load(&rule(
        "org-sysctl",
        "",
        "    sysctl:\n      - {key: kernel.ostype, equals: Linux}\n      - {key: kernel.ostype, equals: BSD}\n      - {key: kernel.pid_max, gte: 1}\n      - {key: kernel.pid_max, lt: 0}\n      - {key: kernel.ksx_no_such_key}\n      - {key: kernel.ksx_no_such_key, equals: 1, missing: skip}\n",
    )
    .replace("{key: kernel.ksx_no_such_key}", "{key: kernel.ksx_no_such_key, equals: 1}"));
    let mut baselines = ksx_inspect::rules::node::MemoryBaselines::default();
    let r = collect(
        &rules,
        "node-a",
        &linux(),
        &LocalHost::default(),
        &mut baselines,
    );
    let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap();
    assert_eq!(
        items(&r, "org-sysctl"),
        [
            ("sysctl".into(), "kernel.ostype".into(), "Linux".into()),
            (
                "sysctl".into(),
                "kernel.pid_max".into(),
                pid_max.trim().into()
            ),
            (
                "sysctl".into(),
                "kernel.ksx_no_such_key".into(),
                "missing".into()
            ),
        ]
    );
    let f = &r.rules[0].findings[0];
    assert_eq!(
        f.message,
        "node-a: sysctl kernel.ostype is Linux, expected equals BSD"
    );
}

#[test]
fn node_selector_picks_the_rules_of_this_node() {
    let rules = load(&rule(
        "org-gpu-only",
        "  nodeSelector: {role: gpu}\n",
        "    sysctl:\n      - {key: kernel.ostype, equals: BSD}\n",
    ));
    let mut baselines = ksx_inspect::rules::node::MemoryBaselines::default();
    let r = collect(&rules, "n", &linux(), &LocalHost::default(), &mut baselines);
    assert!(r.rules.is_empty());
    let mut gpu = linux();
    gpu.insert("role".into(), "gpu".into());
    let r = collect(&rules, "n", &gpu, &LocalHost::default(), &mut baselines);
    assert_eq!(r.rules.len(), 1);
    assert_eq!(r.rules[0].findings.len(), 1);
}

#[test]
fn systemd_state_is_reported_or_unknown_never_a_failure() {
    let rules = load(&rule(
        "org-units",
        "",
        "    systemd:\n      - {unit: ksx-no-such-unit.service, activeState: active}\n",
    ));
    let mut baselines = ksx_inspect::rules::node::MemoryBaselines::default();
    // The real systemctl: in a container without systemd the state is "unknown", with a note saying why; on a
    // systemd machine the unit is "not-found". Either way it is one finding.
    let r = collect(&rules, "n", &linux(), &LocalHost::default(), &mut baselines);
    let found = items(&r, "org-units");
    assert_eq!(found.len(), 1, "{r:?}");
    assert!(
        ["unknown", "not-found"].contains(&found[0].2.as_str()),
        "{found:?}"
    );
    if found[0].2 == "unknown" {
        assert!(
            r.notes.iter().any(|n| n.contains("state unknown")),
            "{:?}",
            r.notes
        );
    }
    // A stand-in systemctl that answers like systemd does for a stopped, disabled unit.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("systemctl");
    std::fs::write(
        &fake,
        "#!/bin/sh\nprintf 'LoadState=loaded\\nActiveState=inactive\\nUnitFileState=disabled\\n'\n",
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("755")
        .arg(&fake)
        .status()
        .unwrap();
    let rules = load(&rule(
        "org-kubelet",
        "",
        "    systemd:\n      - {unit: kubelet.service, activeState: active, enabled: true}\n",
    ));
    let host = LocalHost {
        systemctl: fake,
        ..LocalHost::default()
    };
    let r = collect(&rules, "n", &linux(), &host, &mut baselines);
    assert_eq!(
        items(&r, "org-kubelet"),
        [
            (
                "systemd".into(),
                "kubelet.service".into(),
                "inactive".into()
            ),
            (
                "systemd".into(),
                "kubelet.service".into(),
                "disabled".into()
            ),
        ]
    );
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn file_hashes_record_a_baseline_then_report_drift_until_reset() {
    let root = tempfile::tempdir().unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    let store = store_dir.path().join("baseline.json");
    write(root.path(), "etc/app.conf", "a = 1\nb = 2\nc = 3\n");
    write(root.path(), "etc/hello", "hello\n");
    let rules = load(&rule(
        "org-drift",
        "",
        // sha256("hello\n") = 5891b5b5…be03.
        "    fileHash:\n      - {path: /etc/app.conf, baseline: first-run}\n      - {path: /etc/hello, sha256: 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03}\n      - {path: /etc/missing, baseline: first-run}\n",
    ));
    let host = LocalHost {
        root: root.path().to_path_buf(),
        ..LocalHost::default()
    };
    let run = || {
        let mut b = FileBaselines::open(&store).unwrap();
        let r = collect(&rules, "node-a", &linux(), &host, &mut b);
        b.save().unwrap();
        r
    };
    // First run: the baseline is recorded; only the missing file is a finding.
    let first = run();
    assert_eq!(
        items(&first, "org-drift"),
        [("fileHash".into(), "/etc/missing".into(), "missing".into())]
    );
    assert!(
        first
            .notes
            .iter()
            .any(|n| n.starts_with("baseline recorded for /etc/app.conf"))
    );
    // Unchanged: still only the missing file.
    assert_eq!(items(&run(), "org-drift").len(), 1);
    // Drift: line 2 changed, line 4 added.
    write(root.path(), "etc/app.conf", "a = 1\nb = 20\nc = 3\nd = 4\n");
    let drift = run();
    let f = drift.rules[0]
        .findings
        .iter()
        .find(|f| f.item == "/etc/app.conf")
        .expect("drift finding");
    assert_eq!(f.changed_lines, ["2: -b = 2", "2: +b = 20", "4: +d = 4"]);
    assert!(
        f.message
            .starts_with("node-a: /etc/app.conf changed: sha256 "),
        "{}",
        f.message
    );
    // The fixed hash of /etc/hello matched all along.
    assert!(
        !drift.rules[0]
            .findings
            .iter()
            .any(|f| f.item == "/etc/hello")
    );
    // Reset re-records: the next run accepts the new content.
    let mut b = FileBaselines::open(&store).unwrap();
    assert_eq!(b.reset("node-a"), 1);
    assert_eq!(b.reset("node-b"), 0);
    b.save().unwrap();
    let after = run();
    assert_eq!(items(&after, "org-drift").len(), 1);
    assert!(
        after
            .notes
            .iter()
            .any(|n| n.starts_with("baseline recorded for /etc/app.conf"))
    );
    // And the JSON the collector prints comes back unchanged.
    let text = serde_json::to_string(&drift).unwrap();
    assert_eq!(serde_json::from_str::<NodeResults>(&text).unwrap(), drift);
}

#[test]
fn collector_results_become_findings_on_the_node() {
    let text = rule(
        "org-sysctl",
        "",
        "    sysctl:\n      - {key: kernel.ostype, equals: BSD}\n",
    ) + "  message: '{{ node }}: {{ item }} is {{ value }}'\n";
    let mut rules = load(&text);
    let mut b = ksx_inspect::rules::node::MemoryBaselines::default();
    let a = collect(&rules, "node-a", &linux(), &LocalHost::default(), &mut b);
    let mut passing = a.clone();
    passing.node = "node-b".into();
    passing.rules[0].findings.clear();
    let mut stray = NodeResults {
        node: "node-c".into(),
        ..NodeResults::default()
    };
    stray.rules.push(ksx_inspect::rules::node::NodeRuleResult {
        rule: "org-unknown".into(),
        findings: Vec::new(),
    });
    let diagnostics = attach_results(&mut rules, &[a, passing, stray]);
    assert_eq!(diagnostics.len(), 1);
    assert!(diagnostics[0].message.contains("org-unknown"));
    let options = RunOptions {
        checks: Some(vec!["org-*".into()]),
        ..RunOptions::default()
    };
    let r = Engine::with_rules(&Config::default(), &options, rules)
        .unwrap()
        .inspect(&Bundle::default(), &ManualClock::at_unix_secs(0));
    assert_eq!(r.findings.len(), 1);
    let f = &r.findings[0];
    assert_eq!(
        (f.resource.kind.as_str(), f.resource.name.as_str()),
        ("Node", "node-a")
    );
    assert_eq!(f.message, "node-a: kernel.ostype is Linux");
    assert_eq!((r.summary.tests.failed, r.summary.tests.passed), (1, 1));
    let info = r.checks.iter().find(|c| c.id == "org-sysctl").unwrap();
    assert_eq!(info.scope, ksx_inspect::model::Scope::Live);
}

#[test]
fn node_rule_loader_errors_name_file_line_and_column() {
    let bad = rule(
        "org-bad-node",
        "",
        "    sysclt: []\n    sysctl:\n      - {key: vm.max_map_count, lessThan: 5}\n    fileHash:\n      - {path: /etc/x}\n",
    );
    assert_eq!(
        errors(&bad),
        [
            "rules/bad.yaml:10:5: rule \"org-bad-node\": unknown field \"spec.node.sysclt\" (did you mean \"sysctl\"?)",
            "rules/bad.yaml:12:10: rule \"org-bad-node\": spec.node.sysctl[0] has no operator; expected one of equals, notEquals, gt, gte, lt, lte, in, notIn, regex",
            "rules/bad.yaml:12:33: rule \"org-bad-node\": unknown field \"spec.node.sysctl[0].lessThan\"",
            "rules/bad.yaml:13:5: rule \"org-bad-node\": spec.node.fileHash[0] needs exactly one of sha256, baseline",
        ]
    );
    let missing = "apiVersion: inspect.ksx.io/v1\nkind: InspectRule\nmetadata: {name: x}\nspec:\n  id: org-no-node\n  type: node\n  category: node\n  severity: info\n";
    assert_eq!(
        errors(missing),
        ["rules/bad.yaml:4:1: rule \"org-no-node\": missing required field \"spec.node\""]
    );
}

#[test]
fn prometheus_rule_loader_errors_name_file_line_and_column() {
    let bad = "apiVersion: inspect.ksx.io/v1\nkind: InspectRule\nmetadata: {name: x}\nspec:\n  id: org-prom\n  type: prometheus\n  category: node\n  severity: warning\n  prometheus:\n    treshold: {op: '>', value: 1}\n    for: 10x\n";
    assert_eq!(
        errors(bad),
        [
            "rules/bad.yaml:9:3: rule \"org-prom\": missing required field \"spec.prometheus.query\"",
            "rules/bad.yaml:10:5: rule \"org-prom\": unknown field \"spec.prometheus.treshold\" (did you mean \"threshold\"?)",
            "rules/bad.yaml:11:5: rule \"org-prom\": invalid duration \"10x\" for spec.prometheus.for (examples: 30s, 10m, 1h)",
        ]
    );
    let op = "apiVersion: inspect.ksx.io/v1\nkind: InspectRule\nmetadata: {name: x}\nspec:\n  id: org-prom-op\n  type: prometheus\n  category: node\n  severity: warning\n  prometheus:\n    query: up\n    threshold: {op: '=>', value: high}\n    resource: {kind: Node, name: '{{ lables.instance }}'}\n";
    assert_eq!(
        errors(op),
        [
            "rules/bad.yaml:11:17: rule \"org-prom-op\": field \"spec.prometheus.threshold.op\" must be one of >, >=, <, <=, ==, !=; got \"=>\"",
            "rules/bad.yaml:11:27: rule \"org-prom-op\": field \"spec.prometheus.threshold.value\" must be a number; got \"high\"",
            "rules/bad.yaml:12:28: rule \"org-prom-op\": unknown template variable \"lables\" in spec.prometheus.resource.name",
        ]
    );
}
