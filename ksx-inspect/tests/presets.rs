//! Presets (spec §4.9): each preset's exact check set, written out by hand from the spec, the union of several
//! presets, `sec-seccomp-profile` with `unconfinedOnly` under the baseline, system exemptions, and the error for
//! an unknown preset.
#![allow(clippy::expect_used, reason = "tests")]

use std::collections::BTreeSet;

use ksx_core::ManualClock;
use ksx_core::manifest::parse_str;
use ksx_inspect::checks::CATALOGUE;
use ksx_inspect::config::Override;
use ksx_inspect::preset::{UnknownPreset, apply_presets, resolve};
use ksx_inspect::{Bundle, Config, Engine, Report, RunOptions};

/// §4.9 `builtin:pss-baseline`, spelled out.
const BASELINE: &[&str] = &[
    "sec-host-network",
    "sec-host-pid",
    "sec-host-ipc",
    "sec-privileged",
    "sec-added-capabilities",
    "sec-dangerous-capabilities",
    "sec-host-path",
    "sec-host-port",
    "sec-apparmor-unconfined",
    "sec-selinux-options",
    "sec-proc-mount",
    "sec-unsafe-sysctls",
    "sec-windows-host-process",
    "sec-seccomp-profile",
];

/// §4.9 `builtin:pss-restricted` = baseline + these (sec-seccomp-profile already in the baseline).
const RESTRICTED_EXTRA: &[&str] = &[
    "sec-privilege-escalation",
    "sec-run-as-non-root",
    "sec-seccomp-profile",
    "sec-drop-capabilities",
];

/// §4.6 and §4.7 (Node objects and the node collector).
const LIVE_HEALTH: &[&str] = &[
    "pod-crashloop",
    "pod-image-pull-error",
    "pod-oomkilled",
    "pod-pending-long",
    "deployment-unavailable",
    "workload-unavailable",
    "job-failed",
    "pvc-pending",
    "event-warnings",
    "node-not-ready",
    "node-pressure",
    "node-problem-condition",
    "node-kubelet-version-skew",
    "node-cert-expiry",
    "node-disk-usage",
    "node-service-down",
];

fn set(ids: &[&[&str]]) -> BTreeSet<String> {
    ids.iter()
        .flat_map(|l| l.iter())
        .map(|s| (*s).to_owned())
        .collect()
}

fn enabled_with(names: &[&str], config: &mut Config, options: &RunOptions) -> BTreeSet<String> {
    apply_presets(names, config).expect("known presets");
    Engine::new(config, options)
        .expect("engine compiles")
        .enabled_checks()
        .map(str::to_owned)
        .collect()
}

fn enabled(names: &[&str]) -> BTreeSet<String> {
    enabled_with(names, &mut Config::default(), &RunOptions::default())
}

#[test]
fn baseline_runs_exactly_the_listed_checks() {
    let got = enabled(&["builtin:pss-baseline"]);
    assert_eq!(got.len(), 14);
    assert_eq!(got, set(&[BASELINE]));
}

#[test]
fn restricted_is_baseline_plus_four() {
    let got = enabled(&["builtin:pss-restricted"]);
    assert_eq!(got.len(), 17, "14 baseline + 3 new (seccomp already in)");
    assert_eq!(got, set(&[BASELINE, RESTRICTED_EXTRA]));
}

#[test]
fn live_health_runs_the_live_and_node_checks() {
    let got = enabled(&["builtin:live-health"]);
    assert_eq!(got.len(), 16);
    assert_eq!(got, set(&[LIVE_HEALTH]));
}

#[test]
fn default_runs_every_builtin_check() {
    let all: BTreeSet<String> = CATALOGUE.iter().map(|d| d.id.to_owned()).collect();
    assert_eq!(enabled(&["builtin:default"]), all);
    // default absorbs any other preset.
    assert_eq!(enabled(&["builtin:pss-baseline", "builtin:default"]), all);
    // No check-bearing preset: the selection is left alone.
    assert_eq!(enabled(&["builtin:system-exemptions"]), all);
    assert_eq!(enabled(&[]), all);
}

#[test]
fn presets_combine_as_a_union() {
    let got = enabled(&["builtin:pss-baseline", "builtin:live-health"]);
    assert_eq!(got.len(), 30);
    assert_eq!(got, set(&[BASELINE, LIVE_HEALTH]));
    let got = enabled(&[
        "builtin:pss-baseline",
        "builtin:pss-restricted",
        "builtin:system-exemptions",
    ]);
    assert_eq!(got, set(&[BASELINE, RESTRICTED_EXTRA]));
}

#[test]
fn configured_excludes_still_apply_and_checks_flag_wins() {
    let mut config = Config::default();
    config.checks.exclude.push("sec-host-path".to_owned());
    let got = enabled_with(
        &["builtin:pss-baseline"],
        &mut config,
        &RunOptions::default(),
    );
    assert!(!got.contains("sec-host-path"));
    assert_eq!(got.len(), 13);

    // `--checks` runs exactly its checks, whatever the presets say.
    let options = RunOptions {
        checks: Some(vec![
            "rel-image-tag".to_owned(),
            "eff-cpu-limits".to_owned(),
        ]),
        ..RunOptions::default()
    };
    let got = enabled_with(&["builtin:pss-baseline"], &mut Config::default(), &options);
    assert_eq!(got, set(&[&["rel-image-tag", "eff-cpu-limits"]]));
}

#[test]
fn baseline_sets_unconfined_only_and_stricter_presets_drop_it() {
    let sel = resolve(&["builtin:pss-baseline"]).expect("known");
    assert_eq!(
        sel.options
            .get("sec-seccomp-profile")
            .and_then(|o| o.get("unconfinedOnly")),
        Some(&serde_json::Value::Bool(true))
    );
    assert_eq!(sel.options.len(), 1);
    for other in ["builtin:pss-restricted", "builtin:default"] {
        let sel = resolve(&["builtin:pss-baseline", other]).expect("known");
        assert!(sel.options.is_empty(), "{other}: {:?}", sel.options);
    }
    // An option already configured wins over the preset's.
    let mut config = Config::from_yaml(
        "c.yaml",
        "checks:\n  overrides:\n    sec-seccomp-profile: {unconfinedOnly: false}\n",
    )
    .expect("valid config");
    apply_presets(&["builtin:pss-baseline"], &mut config).expect("known");
    match config.checks.overrides.get("sec-seccomp-profile") {
        Some(Override::Settings(s)) => assert_eq!(
            s.options.get("unconfinedOnly"),
            Some(&serde_json::Value::Bool(false))
        ),
        other => panic!("unexpected override {other:?}"),
    }
}

const SECCOMP_PODS: &str = r"
apiVersion: v1
kind: Pod
metadata: {name: runtime-default, namespace: shop}
spec:
  securityContext: {seccompProfile: {type: RuntimeDefault}}
  containers: [{name: app, image: app:1}]
---
apiVersion: v1
kind: Pod
metadata: {name: localhost, namespace: shop}
spec:
  containers:
    - name: app
      image: app:1
      securityContext: {seccompProfile: {type: Localhost, localhostProfile: profiles/app.json}}
---
apiVersion: v1
kind: Pod
metadata: {name: unconfined, namespace: shop}
spec:
  containers:
    - name: app
      image: app:1
      securityContext: {seccompProfile: {type: Unconfined}}
---
apiVersion: v1
kind: Pod
metadata: {name: missing, namespace: shop}
spec:
  containers: [{name: app, image: app:1}]
";

fn inspect(names: &[&str], yaml: &str) -> Report {
    let mut config = Config::default();
    apply_presets(names, &mut config).expect("known presets");
    let engine = Engine::new(&config, &RunOptions::default()).expect("engine compiles");
    let bundle = Bundle::from_loaded(&parse_str("pods.yaml", yaml), "default");
    engine.inspect(&bundle, &ManualClock::at_unix_secs(1_767_225_600))
}

fn seccomp_failures(report: &Report) -> Vec<String> {
    let mut names: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.check_id == "sec-seccomp-profile")
        .map(|f| f.resource.name.clone())
        .collect();
    names.sort();
    names
}

#[test]
fn baseline_fails_only_unconfined_seccomp() {
    let report = inspect(&["builtin:pss-baseline"], SECCOMP_PODS);
    assert_eq!(seccomp_failures(&report), ["unconfined"]);
}

#[test]
fn restricted_also_fails_a_missing_profile() {
    let report = inspect(&["builtin:pss-restricted"], SECCOMP_PODS);
    assert_eq!(seccomp_failures(&report), ["missing", "unconfined"]);
    let report = inspect(
        &["builtin:pss-baseline", "builtin:pss-restricted"],
        SECCOMP_PODS,
    );
    assert_eq!(seccomp_failures(&report), ["missing", "unconfined"]);
}

#[test]
fn system_exemptions_preset_turns_them_on() {
    let mut config = Config {
        system_exemptions: false,
        ..Config::default()
    };
    let sel = apply_presets(
        &["builtin:pss-baseline", "builtin:system-exemptions"],
        &mut config,
    )
    .expect("known");
    assert!(sel.system_exemptions);
    assert!(config.system_exemptions);

    let proxy = "apiVersion: v1\nkind: Pod\nmetadata: {name: kube-proxy, namespace: kube-system}\nspec:\n  hostNetwork: true\n  containers: [{name: p, image: proxy:1}]\n";
    let report = inspect(
        &["builtin:pss-baseline", "builtin:system-exemptions"],
        proxy,
    );
    let f = report
        .findings
        .iter()
        .find(|f| f.check_id == "sec-host-network")
        .expect("hostNetwork finding");
    let rule = f.suppressed.as_ref().and_then(|s| s.rule.as_deref());
    assert_eq!(rule, Some("builtin:system-exemptions"));
}

#[test]
fn unknown_preset_is_named_with_the_known_ones() {
    let mut config = Config::default();
    let err = apply_presets(&["builtin:pss-baseline", "builtin:pss-strict"], &mut config)
        .expect_err("unknown preset");
    assert_eq!(
        err,
        UnknownPreset {
            name: "builtin:pss-strict".to_owned()
        }
    );
    let text = err.to_string();
    assert!(text.contains("\"builtin:pss-strict\""), "{text}");
    for known in [
        "builtin:default",
        "builtin:pss-baseline",
        "builtin:pss-restricted",
        "builtin:live-health",
        "builtin:system-exemptions",
    ] {
        assert!(text.contains(known), "{text}");
    }
    assert!(
        config.checks.exclude.is_empty(),
        "config unchanged on error"
    );
    assert!(resolve(&["rules/org/"]).is_err());
}
