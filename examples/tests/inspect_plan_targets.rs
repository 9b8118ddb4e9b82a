//! `ksx inspect plan run` with live targets (spec `inspect.md` §3): `targets.prometheus` through the code path of
//! `ksx inspect --prometheus`, `targets.cluster` through that of `--cluster`, `targets.nodes` refused with a hint.
//! A target that cannot be reached is recorded in the result's errors and makes the run `partial`; the findings
//! of the other targets are kept.
//!
//! Expectations by hand. Every plan runs `sec-privileged` (danger) and the custom rules `org-*` on
//! `manifests/app.yaml`, one privileged Pod `shop/web`: 1 danger finding. The Prometheus rule `org-fs-full`
//! (warning) flags every `fs_used` series above 0.9 at the run instant; the private Prometheus (started like the
//! other Prometheus tests, install it with `scripts/prometheus.sh`) holds one hour of a gauge that is 0.95 on
//! `node-a:9100` and 0.5 on `node-b:9100`, so the rule finds `Node/node-a` (the port dropped, spec §2.6) once.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const APP: &str = "apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  containers:
    - name: web
      image: nginx:1.27
      securityContext: {privileged: true}
";

/// A plan on `targets`; with `rules`, it also runs the custom rules of `rules/` (`org-*`).
fn plan(name: &str, targets: &str, rules: bool) -> String {
    let (sets, checks) = if rules {
        ("[builtin:default, rules/]", "[sec-privileged, org-*]")
    } else {
        ("[builtin:default]", "[sec-privileged]")
    };
    format!(
        "apiVersion: inspect.ksx.io/v1
kind: InspectPlan
metadata: {{name: {name}}}
spec:
  schedule: '@daily'
  ruleSets: {sets}
  checks: {{include: {checks}}}
  targets:
{targets}"
    )
}

fn rule(metric: &str) -> String {
    format!(
        "apiVersion: inspect.ksx.io/v1
kind: InspectRule
metadata: {{name: fs-full}}
spec:
  id: org-fs-full
  type: prometheus
  category: node
  severity: warning
  prometheus:
    query: '{metric}'
    threshold: {{op: '>', value: 0.9}}
  message: '{{{{ labels.instance }}}} is {{{{ value | round(2) }}}} full'
"
    )
}

/// A work directory: `plans/<name>.yaml` for each plan, `plans/manifests/app.yaml`, and `plans/rules/fs.yaml`
/// when a metric is given (else the rule directory is empty).
fn work(plans: &[(&str, String)], metric: Option<&str>) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plans");
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    if let Some(metric) = metric {
        std::fs::write(dir.join("rules/fs.yaml"), rule(metric)).unwrap();
    }
    std::fs::write(dir.join("manifests/app.yaml"), APP).unwrap();
    for (name, text) in plans {
        std::fs::write(dir.join(format!("{name}.yaml")), text).unwrap();
    }
    tmp
}

fn run(work: &Path, name: &str, now: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ksx"));
    cmd.args([
        "inspect", "plan", "run", name, "--plans", "plans", "--store", "results", "--now", now,
    ])
    .current_dir(work)
    .env_remove("KSX_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The stored result of `name` at `stamp` (`yyyymmddThhmmssZ`).
fn result(work: &Path, name: &str, stamp: &str) -> Value {
    let path = work.join(format!("results/{name}/{name}-{stamp}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// `(checkId, kind/namespace/name)` of every finding, sorted.
fn findings(result: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = result["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let r = &f["resource"];
            (
                f["checkId"].as_str().unwrap().to_owned(),
                format!(
                    "{}/{}/{}",
                    r["kind"].as_str().unwrap(),
                    r["namespace"].as_str().unwrap_or("-"),
                    r["name"].as_str().unwrap()
                ),
            )
        })
        .collect();
    out.sort();
    out
}

fn errors(result: &Value) -> Vec<String> {
    result["report"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e["kind"].as_str().unwrap(),
                e["message"].as_str().unwrap()
            )
        })
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

fn privileged_web() -> (String, String) {
    ("sec-privileged".to_owned(), "Pod/shop/web".to_owned())
}

#[test]
fn an_unreachable_cluster_makes_the_run_partial_and_keeps_the_manifest_findings() {
    // A kubeconfig whose only cluster listens nowhere: with the kube feature the connection fails, without it the
    // build says it cannot read clusters. Either way the run is partial and the error names the target.
    let tmp = work(
        &[(
            "live",
            plan(
                "live",
                "    manifests: [manifests/]\n    cluster: {namespaces: {include: ['*'], exclude: [kube-system]}}\n",
                false,
            ),
        )],
        None,
    );
    let kubeconfig = tmp.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1
kind: Config
clusters: [{{name: dead, cluster: {{server: 'https://127.0.0.1:{}', insecure-skip-tls-verify: true}}}}]
users: [{{name: me, user: {{token: t}}}}]
contexts: [{{name: dead, context: {{cluster: dead, user: me}}}}]
current-context: dead
",
            dead_port()
        ),
    )
    .unwrap();
    let out = run(
        tmp.path(),
        "live",
        "2026-01-05T08:00:00Z",
        &[("KUBECONFIG", kubeconfig.to_str().unwrap())],
    );
    let stdout = text(&out.stdout);
    // The manifest's danger finding decides the exit code (failOn danger).
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.starts_with("plan live: result live-20260105T080000Z partial\n"),
        "{stdout}"
    );
    let r = result(tmp.path(), "live", "20260105T080000Z");
    assert_eq!(r["status"], "partial");
    assert_eq!(r["report"]["run"]["status"], "partial");
    assert_eq!(findings(&r), [privileged_web()]);
    let errs = errors(&r);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("runtime: targets.cluster: "),
        "{errs:?}"
    );
    assert!(
        text(&out.stderr).contains("targets.cluster: "),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_nodes_target_is_refused_with_a_hint_and_the_run_is_partial() {
    let tmp = work(
        &[(
            "nodes",
            plan(
                "nodes",
                "    manifests: [manifests/]\n    nodes: {nodeSelector: {role: worker}}\n",
                false,
            ),
        )],
        None,
    );
    let out = run(tmp.path(), "nodes", "2026-01-05T08:00:00Z", &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let r = result(tmp.path(), "nodes", "20260105T080000Z");
    assert_eq!(r["status"], "partial");
    assert_eq!(findings(&r), [privileged_web()]);
    let errs = errors(&r);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("input: targets.nodes: not supported by `ksx inspect plan run`")
            && errs[0].contains("ksx-node-inspect")
            && errs[0].contains("--node-results"),
        "{errs:?}"
    );
}

#[cfg(feature = "prometheus")]
#[path = "../../ksx-scaling/tests/support/vpa_prometheus.rs"]
mod support;

#[cfg(feature = "prometheus")]
mod prometheus {
    use std::collections::BTreeMap;

    use jiff::Timestamp;
    use ksx_core::metrics::conformance::{Family, FamilyKind, Fixture};
    use ksx_core::metrics::{Sample, Series};

    use super::{errors, findings, plan, privileged_web, result, run, support, text, work};

    const T0: i64 = 1_735_689_600;
    /// The last scrape and the run instant: 2025-01-01T01:00:00Z.
    const NOW: &str = "2025-01-01T01:00:00Z";
    const STAMP: &str = "20250101T010000Z";

    /// One hour of `metric` every minute: 0.95 on node-a:9100, 0.5 on node-b:9100.
    fn fixture(metric: &str) -> Fixture {
        let at = |s: i64| Timestamp::from_second(s).unwrap();
        let series = |instance: &str, value: f64| {
            let mut labels = BTreeMap::new();
            labels.insert("__name__".to_owned(), metric.to_owned());
            labels.insert("instance".to_owned(), instance.to_owned());
            Series {
                labels,
                samples: (0..=60)
                    .map(|k| Sample {
                        timestamp: at(T0 + k * 60),
                        value,
                    })
                    .collect(),
            }
        };
        Fixture {
            start: at(T0),
            end: at(T0 + 3_600),
            now: at(T0 + 3_600),
            namespace: "shop".to_owned(),
            other_namespace: "other".to_owned(),
            pods: Vec::new(),
            families: vec![Family {
                name: metric.to_owned(),
                kind: FamilyKind::Gauge,
                series: vec![series("node-a:9100", 0.95), series("node-b:9100", 0.5)],
            }],
        }
    }

    fn metric() -> String {
        format!(
            "ksx_plan_fs_used_{}_{}",
            std::process::id(),
            ksx_core::Clock::now(&ksx_core::SystemClock).as_nanosecond() % 1_000_000_000
        )
    }

    #[test]
    fn a_prometheus_target_is_queried_and_an_unreachable_one_makes_the_run_partial() {
        let metric = metric();
        let server = support::serve(&fixture(&metric));
        let dead = support::dead_url();
        let target = |url: &str| {
            format!("    manifests: [manifests/]\n    prometheus: {{endpoint: '{url}'}}\n")
        };
        let tmp = work(
            &[
                ("prom", plan("prom", &target(&server.url), true)),
                ("dead", plan("dead", &target(&dead), true)),
                (
                    "only",
                    plan(
                        "only",
                        &format!("    prometheus: {{endpoint: '{}'}}\n", server.url),
                        true,
                    ),
                ),
            ],
            Some(&metric),
        );

        // Reachable: the manifest finding and the Prometheus one, nothing else, succeeded.
        let out = run(tmp.path(), "prom", NOW, &[]);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{}\n{}",
            text(&out.stderr),
            server.log_tail()
        );
        let r = result(tmp.path(), "prom", STAMP);
        assert_eq!(r["status"], "succeeded", "{:?}", errors(&r));
        assert_eq!(
            findings(&r),
            [
                ("org-fs-full".to_owned(), "Node/-/node-a".to_owned()),
                privileged_web()
            ]
        );
        let fs = r["report"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["checkId"] == "org-fs-full")
            .unwrap();
        assert_eq!(fs["message"], "node-a:9100 is 0.95 full");
        assert_eq!(fs["severity"], "warning");
        assert!(errors(&r).is_empty());

        // Unreachable: the query error is recorded, the manifest finding kept, the run partial.
        let out = run(tmp.path(), "dead", NOW, &[]);
        assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
        let r = result(tmp.path(), "dead", STAMP);
        assert_eq!(r["status"], "partial");
        assert_eq!(findings(&r), [privileged_web()]);
        let errs = errors(&r);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("runtime: rule \"org-fs-full\": query failed"),
            "{errs:?}"
        );

        // Prometheus only: no object, but the rule's tests ran, so the run checked something; the warning
        // finding is below failOn danger: exit 0.
        let out = run(tmp.path(), "only", NOW, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let r = result(tmp.path(), "only", STAMP);
        assert_eq!(r["status"], "succeeded", "{:?}", errors(&r));
        assert_eq!(
            findings(&r),
            [("org-fs-full".to_owned(), "Node/-/node-a".to_owned())]
        );
    }
}

/// `targets.cluster` against a tiny fake API server (plain HTTP/1.1 on 127.0.0.1, answering cluster-wide lists):
/// the same code path as `ksx inspect --cluster`, with the plan's namespace globs and `--context`.
#[cfg(feature = "kube")]
mod cluster {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::{errors, findings, plan, privileged_web, result, text, work};

    fn pod(ns: &str, name: &str) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{ns}-{name}"), "resourceVersion": "1"},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27", "securityContext": {"privileged": true}}]}
        })
    }

    fn namespace(name: &str) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "uid": format!("uid-{name}"), "resourceVersion": "1"}
        })
    }

    /// The answer to `GET path`: Namespaces shop and kube-system, a privileged Pod in each, every other list
    /// empty.
    fn answer(path: &str) -> serde_json::Value {
        let path = path.split('?').next().unwrap_or_default();
        let items = match path {
            "/api/v1/namespaces" => vec![namespace("shop"), namespace("kube-system")],
            "/api/v1/pods" => vec![pod("shop", "web"), pod("kube-system", "proxy")],
            _ => Vec::new(),
        };
        serde_json::json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items})
    }

    /// Serves [`answer`] until the test ends; returns the URL and the request paths seen.
    fn serve() -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut writer = stream;
                    loop {
                        let mut request = String::new();
                        if reader.read_line(&mut request).unwrap_or(0) == 0 {
                            return;
                        }
                        loop {
                            let mut header = String::new();
                            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                                return;
                            }
                            if header == "\r\n" {
                                break;
                            }
                        }
                        let path = request.split(' ').nth(1).unwrap_or("/").to_owned();
                        log.lock().unwrap().push(path.clone());
                        let body = answer(&path).to_string();
                        let response = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if writer.write_all(response.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (url, seen)
    }

    #[test]
    fn a_cluster_target_reads_the_context_named_by_context_within_the_plan_namespaces() {
        let (url, seen) = serve();
        let tmp = work(
            &[(
                "live",
                plan(
                    "live",
                    "    cluster: {namespaces: {include: ['*'], exclude: [kube-system]}}\n",
                    false,
                ),
            )],
            None,
        );
        // The current context points nowhere; `--context fake` picks the fake API server.
        let kubeconfig = tmp.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1
kind: Config
clusters:
- {{name: dead, cluster: {{server: 'http://127.0.0.1:{}'}}}}
- {{name: fake, cluster: {{server: '{url}'}}}}
users: [{{name: me, user: {{token: t}}}}]
contexts:
- {{name: dead, context: {{cluster: dead, user: me}}}}
- {{name: fake, context: {{cluster: fake, user: me}}}}
current-context: dead
",
                super::dead_port()
            ),
        )
        .unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ksx"));
        let out = cmd
            .args([
                "inspect",
                "plan",
                "run",
                "live",
                "--plans",
                "plans",
                "--store",
                "results",
                "--context",
                "fake",
                "--now",
                "2026-01-05T08:00:00Z",
            ])
            .current_dir(tmp.path())
            .env("KUBECONFIG", &kubeconfig)
            .env_remove("KSX_LOG")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(3),
            "{}\n{}\nrequests: {:?}",
            text(&out.stdout),
            text(&out.stderr),
            seen.lock().unwrap()
        );
        let r = result(tmp.path(), "live", "20260105T080000Z");
        assert_eq!(r["status"], "succeeded", "{:?}", errors(&r));
        assert_eq!(r["report"]["run"]["mode"], "cluster");
        // kube-system and its Pod are excluded by the plan; shop's privileged Pod is found.
        assert_eq!(findings(&r), [privileged_web()]);
        let inventory: Vec<String> = r["inventory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                format!(
                    "{}/{}",
                    x["kind"].as_str().unwrap(),
                    x["name"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(inventory, ["Namespace/shop", "Pod/web"]);
        assert!(
            seen.lock()
                .unwrap()
                .iter()
                .any(|p| p.starts_with("/api/v1/pods")),
            "{:?}",
            seen.lock().unwrap()
        );
    }
}
