//! Replays `tests/data/checks/<check-id>/{fail,pass}.yaml` for every built-in check: the failing bundle gives at
//! least one finding of that check, the passing one a test of that check without findings.

use std::path::{Path, PathBuf};

use ksx_core::ManualClock;
use ksx_core::manifest::load_paths;
use ksx_inspect::checks::CATALOGUE;
use ksx_inspect::{Bundle, Config, Engine, Report, RunOptions};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn inspect(path: &Path, checks: Option<Vec<String>>) -> Report {
    let loaded = load_paths(&[path]);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}: {:?}",
        path.display(),
        loaded.diagnostics
    );
    let mut bundle = Bundle::from_loaded(&loaded, "default");
    // Live checks act on live objects only: their fixtures are replayed as objects read from a cluster.
    let live = |id: &String| {
        ksx_inspect::checks::builtin(id).is_some_and(|d| d.scope == ksx_inspect::model::Scope::Live)
    };
    if checks.as_ref().is_some_and(|c| c.iter().all(live)) {
        let objects = bundle.objects().iter().cloned().map(|mut o| {
            o.source = None;
            o
        });
        bundle = Bundle::from_objects(objects.collect());
    }
    let options = RunOptions {
        checks,
        ..RunOptions::default()
    };
    let engine = Engine::new(&Config::default(), &options).expect("engine");
    // 2030-01-01: the short-lived test certificate has expired, the long-lived one has not.
    engine.inspect(&bundle, &ManualClock::at_unix_secs(1_893_456_000))
}

#[test]
fn every_check_has_a_failing_and_a_passing_case() {
    let mut failures = Vec::new();
    for check in CATALOGUE {
        let dir = data(&format!("checks/{}", check.id));
        let fail = dir.join("fail.yaml");
        let pass = dir.join("pass.yaml");
        if !fail.exists() || !pass.exists() {
            failures.push(format!("{}: missing fail.yaml or pass.yaml", check.id));
            continue;
        }
        let only = Some(vec![check.id.to_owned()]);
        let r = inspect(&fail, only.clone());
        if !r
            .findings
            .iter()
            .any(|f| f.check_id == check.id && f.suppressed.is_none())
        {
            failures.push(format!("{}: fail.yaml gave no finding", check.id));
        }
        let r = inspect(&pass, only);
        if r.summary.tests.total == 0 {
            failures.push(format!("{}: pass.yaml created no test", check.id));
        }
        if let Some(f) = r.findings.first() {
            failures.push(format!(
                "{}: pass.yaml gave {} at {}: {}",
                check.id, f.check_id, f.path, f.message
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_clean_bundle_passes_every_check() {
    let r = inspect(&data("clean.yaml"), None);
    let found: Vec<String> = r
        .findings
        .iter()
        .map(|f| format!("{} {} {}", f.check_id, f.path, f.message))
        .collect();
    assert!(found.is_empty(), "{}", found.join("\n"));
    assert_eq!(r.summary.score, 100);
    assert!(r.summary.tests.passed > 40);
}

#[test]
fn findings_carry_location_and_fingerprint() {
    let r = inspect(
        &data("checks/sec-privileged/fail.yaml"),
        Some(vec!["sec-privileged".into()]),
    );
    let f = &r.findings[0];
    assert_eq!(f.container.as_deref(), Some("web"));
    assert_eq!(
        f.path,
        "/spec/template/spec/containers/0/securityContext/privileged"
    );
    let loc = f.location.as_ref().expect("location");
    assert!(loc.file.ends_with("fail.yaml"));
    assert_eq!((loc.document, loc.line), (1, 1));
    assert!(f.fingerprint.starts_with("sha256:") && f.fingerprint.len() == 71);
}

#[test]
fn hpa_duplicate_flags_every_hpa_of_a_mixed_or_same_version_pair() {
    let r = inspect(
        &data("checks/rel-hpa-duplicate/fail.yaml"),
        Some(vec!["rel-hpa-duplicate".into()]),
    );
    let mut flagged: Vec<&str> = r
        .findings
        .iter()
        .map(|f| f.resource.name.as_str())
        .collect();
    flagged.sort_unstable();
    assert_eq!(flagged, ["api-cpu", "api-queue", "web", "web-v1"]);
    assert_eq!((r.summary.tests.total, r.summary.tests.failed), (4, 4));
    for f in &r.findings {
        assert_eq!(f.path, "/spec/scaleTargetRef");
        assert_eq!(f.severity.to_string(), "danger");
        let mixed = f.resource.name.starts_with("web");
        assert_eq!(
            f.message.contains("ksx hpa convert"),
            mixed,
            "{}",
            f.message
        );
    }
}
