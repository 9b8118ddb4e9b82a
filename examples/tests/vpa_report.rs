//! `ksx vpa report` end to end: the `ksx` binary against a real Prometheus backfilled with the synthetic history of
//! `ksx-scaling/tests/support/vpa_prometheus.rs` (whose VPA answers are computed by hand in
//! `ksx-scaling/tests/vpa_history.rs`).
#![cfg(feature = "prometheus")]
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

#[path = "../../ksx-scaling/tests/support/vpa_prometheus.rs"]
mod support;

use std::process::{Command, Output};

use serde_json::Value;

fn ksx(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(args)
        .env_remove("KSX_PROMETHEUS_URL")
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "ksx failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn row<'a>(report: &'a Value, workload: &str) -> &'a Value {
    report["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["workload"] == workload)
        .unwrap_or_else(|| panic!("no row for {workload} in {report:#}"))
}

fn approx(v: &Value, expected: f64) -> bool {
    (v.as_f64().unwrap() - expected).abs() < 1e-6
}

#[test]
fn report_end_to_end() {
    let server = support::serve(&support::fixture());
    let now = support::NOW_SECS.to_string();
    let base = ["vpa", "report", "--prometheus", &server.url, "--now", &now];

    // VPA strategy, JSON. Targets are the hand values of vpa_history.rs.
    let mut args = base.to_vec();
    args.extend(["-o", "json"]);
    let report: Value = serde_json::from_str(&ok(&ksx(&args))).unwrap();
    assert_eq!(report["strategy"], "vpa");
    assert_eq!(report["historySeconds"], 8 * 86_400);
    let workloads: Vec<&str> = report["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["workload"].as_str().unwrap())
        .collect();
    assert_eq!(workloads, ["lonely", "db", "web"]);

    let web = row(&report, "web");
    assert_eq!(web["pods"], 2);
    assert_eq!(web["requests"]["cpuMillicores"], 1000);
    assert_eq!(web["requests"]["memoryBytes"], 1_073_741_824_i64);
    assert_eq!(web["limits"]["cpuMillicores"], 2000);
    assert_eq!(web["recommendation"]["target"]["cpuMillicores"], 296);
    assert_eq!(web["recommendation"]["target"]["memoryBytes"], 587_804_717);
    assert_eq!(web["recommendation"]["lowerBound"]["cpuMillicores"], 290);
    assert_eq!(
        web["recommendation"]["upperBound"]["memoryBytes"],
        6_465_851_887_i64
    );
    // (1000m − 296m) × 2 pods = 1.408 cores; (1073741824 − 587804717) × 2 = 971874214 bytes.
    assert!(approx(&web["savings"]["cpuCores"], 1.408), "{web:#}");
    assert_eq!(web["savings"]["memoryBytes"], 971_874_214);
    assert_eq!(web["oomRisk"], false);
    assert!(approx(&web["throttledRatio"], 0.0));
    assert_eq!(web["throttlingRisk"], false);

    let db = row(&report, "db");
    assert_eq!(db["pods"], 1);
    assert_eq!(db["recommendation"]["target"]["cpuMillicores"], 587);
    assert_eq!(
        db["recommendation"]["target"]["memoryBytes"],
        2_407_501_950_i64
    );
    // Under-provisioned: 250m − 587m and 1 GB − 2407501950 B are negative savings, and the request is below the
    // target (OOM risk), besides the OOMKilled termination; half the CFS periods were throttled.
    assert!(approx(&db["savings"]["cpuCores"], -0.337), "{db:#}");
    assert_eq!(db["savings"]["memoryBytes"], -1_407_501_950_i64);
    assert_eq!(db["oomRisk"], true);
    assert_eq!(db["oomKilled"], true);
    assert!(approx(&db["throttledRatio"], 0.5), "{db:#}");
    assert_eq!(db["throttlingRisk"], true);

    // No requests: no live pods, no savings. 0.1 cores → bucket 8, next start 110.27m → 110 + 16 = 126m; the
    // 126805489-byte memory target is below the minimum share, 250 MiB = 262144000.
    let lonely = row(&report, "lonely");
    assert_eq!(lonely["pods"], 0);
    assert_eq!(lonely["recommendation"]["target"]["cpuMillicores"], 126);
    assert_eq!(
        lonely["recommendation"]["target"]["memoryBytes"],
        262_144_000
    );
    assert!(approx(&lonely["savings"]["cpuCores"], 0.0));

    let totals = &report["totals"];
    assert_eq!(totals["containers"], 3);
    assert_eq!(totals["recommended"], 3);
    assert!(approx(&totals["savings"]["cpuCores"], 1.071), "{totals:#}");
    assert_eq!(
        totals["savings"]["memoryBytes"],
        971_874_214 - 1_407_501_950_i64
    );
    assert_eq!(totals["oomRisk"], 1);
    assert_eq!(totals["throttlingRisk"], 1);

    // One namespace, a table for people and an HTML file.
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let html_arg = html.display().to_string();
    let mut args = base.to_vec();
    args.extend(["--namespace", "shop", "--html", &html_arg]);
    let table = ok(&ksx(&args));
    // Checked by hand: 1e9 B = 953.7Mi, 2407501950 B = 2.2Gi, 587804717 B = 560.6Mi, (1073741824 − 587804717) × 2 =
    // 971874214 B = 926.9Mi, 1e9 − 2407501950 = −1.3Gi; the total −435627736 B = −415.4Mi.
    insta::assert_snapshot!(table, @r"
    NAMESPACE  WORKLOAD  CONTAINER  PODS  CPU REQ  CPU REC  MEM REQ  MEM REC  CPU SAVED  MEM SAVED  RISK
    shop       db        postgres      1     250m     587m  953.7Mi    2.2Gi     -0.337     -1.3Gi  OOMKilled, throttled 50%
    shop       web       app           2        1     296m      1Gi  560.6Mi      1.408    926.9Mi  none
    2 containers, 2 recommended (vpa strategy); savings 1.071 cores, -415.4Mi; 1 at OOM risk, 1 throttled
    ");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("NAMESPACE") && lines[0].contains("CPU REC"),
        "{table}"
    );
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines[1].contains("db") && lines[1].contains("587m") && lines[1].contains("OOMKilled"));
    assert!(lines[1].contains("throttled 50%"), "{table}");
    assert!(lines[2].contains("web") && lines[2].contains("296m") && lines[2].contains("1.408"));
    assert!(lines[2].ends_with("none"), "{table}");
    assert!(
        lines[3].starts_with("2 containers, 2 recommended (vpa strategy)"),
        "{table}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<style>"));
    assert!(page.contains("296m") && !page.contains("lonely"));
    assert!(!page.contains("<script") && !page.contains("http://") && !page.contains("https://"));

    // KRR simple: CPU p95 of the per-pod rate (250m, 500m, 100m) and memory max × 1.15 rounded up to MiB:
    // 500 MB → 549 MiB = 575668224, 2 GB → 2194 MiB = 2300575744, 100 MB → 110 MiB = 115343360.
    let mut args = base.to_vec();
    args.extend(["--strategy", "simple", "-o", "json"]);
    let simple: Value = serde_json::from_str(&ok(&ksx(&args))).unwrap();
    assert_eq!(simple["strategy"], "simple");
    for (workload, cpu, memory) in [
        ("web", 250, 575_668_224_i64),
        ("db", 500, 2_300_575_744),
        ("lonely", 100, 115_343_360),
    ] {
        let r = &row(&simple, workload)["recommendation"];
        assert_eq!(r["target"]["cpuMillicores"], cpu, "{workload}: {r:#}");
        assert_eq!(r["target"]["memoryBytes"], memory, "{workload}: {r:#}");
        assert_eq!(r["limits"]["memoryBytes"], memory);
        assert!(r["limits"].get("cpuMillicores").is_none(), "{r:#}");
    }
    // simple-limit sets a CPU limit (p96) as well.
    let mut args = base.to_vec();
    args.extend(["--strategy", "simple-limit", "-o", "yaml"]);
    let yaml = ok(&ksx(&args));
    let limit: Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(
        row(&limit, "web")["recommendation"]["limits"]["cpuMillicores"],
        250
    );

    drop(server);
}

#[test]
fn an_unreachable_prometheus_is_named() {
    let url = support::dead_url();
    let out = ksx(&["vpa", "report", "--prometheus", &url, "-o", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&url), "{stderr}");
    assert!(out.stdout.is_empty());
}
