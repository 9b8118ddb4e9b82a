//! Runs the real `event-scaler` binary against the real Redis on 127.0.0.1:6379 (`KSX_REDIS` overrides it):
//! scale from zero and the HPA's step to ceil(N / listLength), a failing trigger beside a healthy object, an
//! idle object jumping straight to zero, and bad manifests refused with exit code 2.
#![cfg(feature = "scalers")]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn redis_addr() -> String {
    std::env::var("KSX_REDIS").unwrap_or_else(|_| "127.0.0.1:6379".to_owned())
}

fn redis() -> redis::Connection {
    redis::Client::open(format!("redis://{}/0", redis_addr()))
        .expect("redis client")
        .get_connection()
        .unwrap_or_else(|e| panic!("Redis at {} must answer: {e}", redis_addr()))
}

/// A key no other run or test uses.
fn unique(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "ksx-event-scaler-test-{what}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A list of `n` items, deleted when dropped (even after a failed assertion).
struct List(String);

impl List {
    fn new(n: usize) -> Self {
        let key = unique("list");
        let mut c = redis();
        let _: () = redis::cmd("DEL").arg(&key).query(&mut c).expect("DEL");
        if n > 0 {
            let items: Vec<String> = (0..n).map(|i| format!("job-{i}")).collect();
            let len: usize = redis::cmd("RPUSH")
                .arg(&key)
                .arg(&items)
                .query(&mut c)
                .expect("RPUSH");
            assert_eq!(len, n);
        }
        Self(key)
    }
}

impl Drop for List {
    fn drop(&mut self) {
        if let Ok(client) = redis::Client::open(format!("redis://{}/0", redis_addr()))
            && let Ok(mut c) = client.get_connection()
        {
            let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(&self.0).query(&mut c);
        }
    }
}

fn event_scaler(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_event-scaler"))
        .args(args)
        .current_dir(dir)
        .env_remove("KSX_LOG")
        .output()
        .expect("run event-scaler")
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone())
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn scaled_object(name: &str, extra: &str, address: &str, list: &str, list_length: &str) -> String {
    format!(
        "apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {{name: {name}, namespace: queue}}
spec:
  scaleTargetRef: {{name: {name}}}
{extra}  triggers:
  - type: redis
    metadata: {{address: \"{address}\", listName: \"{list}\", listLength: \"{list_length}\"}}
"
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write manifest");
    path.display().to_string()
}

#[test]
fn scales_from_zero_then_to_the_list_length_over_the_target() {
    let dir = tempfile::tempdir().unwrap();
    // 17 items at 5 per pod: KEDA takes 0 → max(minReplicaCount 0, 1) = 1, then the HPA (legacy scale-up limit
    // max(2 × 1, 4) = 4 from one pod) asks for ceil(17 / 5) = 4, within maxReplicaCount 10.
    let list = List::new(17);
    let manifest = write(
        dir.path(),
        "so.yaml",
        &scaled_object(
            "worker",
            "  maxReplicaCount: 10\n",
            &redis_addr(),
            &list.0,
            "5",
        ),
    );
    let out = event_scaler(&["-f", &manifest, "--once", "-o", "json"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let l = &lines[0];
    assert_eq!(l["name"], "worker");
    assert_eq!(l["target"], "Deployment/worker");
    assert_eq!(l["action"], "ScaleFromZero");
    assert_eq!(l["active"], true);
    assert_eq!(l["currentReplicas"], 0);
    assert_eq!(l["activationReplicas"], 1);
    assert_eq!(l["desiredReplicas"], 4);
    assert_eq!(l["hpa"], "scaled");
    let t = &l["triggers"][0];
    assert_eq!(t["value"], 17.0);
    assert_eq!(t["target"], 5.0);
    assert_eq!(t["active"], true);
    assert_eq!(t["errors"], 0);
    assert!(l.get("error").is_none(), "{l}");
    let ready = l["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["status"], "True");
}

#[test]
fn the_hpa_is_capped_at_max_and_min_replica_count_is_the_floor() {
    let dir = tempfile::tempdir().unwrap();
    // 40 items at 2 per pod ask for 20; minReplicaCount 3 makes KEDA scale 0 → 3, and from 3 the legacy limit
    // max(2 × 3, 4) = 6 stays under maxReplicaCount 8.
    let list = List::new(40);
    let manifest = write(
        dir.path(),
        "so.yaml",
        &scaled_object(
            "capped",
            "  minReplicaCount: 3\n  maxReplicaCount: 8\n",
            &redis_addr(),
            &list.0,
            "2",
        ),
    );
    let out = event_scaler(&["-f", &manifest, "--once", "-o", "json"], dir.path());
    assert!(out.status.success());
    let l = &json_lines(&out)[0];
    assert_eq!(l["activationReplicas"], 3);
    assert_eq!(l["desiredReplicas"], 6);
    let limited = l["hpaConditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "ScalingLimited")
        .unwrap();
    assert_eq!(limited["status"], "True", "{l}");
}

#[test]
fn a_wrong_redis_address_is_that_objects_error_and_the_other_still_scales() {
    let dir = tempfile::tempdir().unwrap();
    let list = List::new(12);
    // Port 1 refuses connections at once.
    let text = format!(
        "{}---\n{}",
        scaled_object("broken", "", "127.0.0.1:1", &unique("none"), "5"),
        scaled_object("healthy", "", &redis_addr(), &list.0, "5")
    );
    let manifest = write(dir.path(), "two.yaml", &text);
    let out = event_scaler(&["-f", &manifest, "--once", "-o", "json"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{lines:?}");
    // Lines come sorted by namespace and name.
    let (broken, healthy) = (&lines[0], &lines[1]);
    assert_eq!(broken["name"], "broken");
    assert_eq!(broken["action"], "TriggerError");
    assert_eq!(broken["desiredReplicas"], 0);
    let err = broken["error"].as_str().unwrap();
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert_eq!(broken["triggers"][0]["errors"], 1);
    assert!(broken["triggers"][0].get("value").is_none());
    let ready = broken["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "TriggerError");
    assert_eq!(healthy["name"], "healthy");
    assert_eq!(healthy["action"], "ScaleFromZero");
    // ceil(12 / 5) = 3.
    assert_eq!(healthy["desiredReplicas"], 3);
    assert!(healthy.get("error").is_none(), "{healthy}");
}

#[test]
fn an_idle_object_above_zero_jumps_to_zero_and_manifest_workloads_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let list = List::new(0);
    // The Deployment comes from the manifest at 6 replicas. The object was never active and its
    // initialCooldownPeriod (60 s) after creationTimestamp (2020) is long over, so KEDA jumps 6 → 0 in one step;
    // the HPA's scale-down behavior plays no part.
    let text = format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: idle, namespace: queue, labels: {{app: idle}}}}
spec:
  replicas: 6
  selector: {{matchLabels: {{app: idle}}}}
  template:
    metadata: {{labels: {{app: idle}}}}
    spec: {{containers: [{{name: main, image: registry.example.com/idle:1}}]}}
---
{}",
        scaled_object(
            "idle",
            "  initialCooldownPeriod: 60\n",
            &redis_addr(),
            &list.0,
            "5"
        )
        .replace(
            "metadata: {name: idle, namespace: queue}",
            "metadata: {name: idle, namespace: queue, creationTimestamp: \"2020-01-01T00:00:00Z\"}"
        )
    );
    let manifest = write(dir.path(), "idle.yaml", &text);
    let out = event_scaler(&["-f", &manifest, "--once", "-o", "json"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = &json_lines(&out)[0];
    assert_eq!(l["triggers"][0]["value"], 0.0);
    assert_eq!(l["active"], false);
    assert_eq!(l["action"], "ScaleToIdle");
    assert_eq!(l["currentReplicas"], 6);
    assert_eq!(l["desiredReplicas"], 0);
    assert_eq!(l["hpa"], "scalingDisabled");
}

#[test]
fn a_scaled_job_creates_jobs_for_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let list = List::new(7);
    // §5.5, default strategy: queue 7 at listLength 5 gives maxValue min(7 / 5, 100) = 1.4, maxScale ceil = 2,
    // scaleTo ceil(7) = 7, effectiveMaxScale 2 − 0 running = 2: create min(7, 2) = 2 jobs.
    let text = format!(
        "apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata: {{name: batch, namespace: queue}}
spec:
  jobTargetRef: {{template: {{spec: {{containers: [{{name: main, image: registry.example.com/batch:1}}]}}}}}}
  triggers:
  - type: redis
    metadata: {{address: \"{}\", listName: \"{}\", listLength: \"5\"}}
",
        redis_addr(),
        list.0
    );
    let manifest = write(dir.path(), "sj.yaml", &text);
    let out = event_scaler(&["-f", &manifest, "--once", "-o", "json"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = &json_lines(&out)[0];
    assert_eq!(l["kind"], "ScaledJob");
    assert_eq!(l["action"], "CreateJobs");
    assert_eq!(l["jobsCreated"], 2);
    assert_eq!(l["currentReplicas"], 0);
    assert_eq!(l["desiredReplicas"], 2);
    assert_eq!(l["triggers"][0]["value"], 7.0);
}

#[test]
fn bad_manifests_exit_2_naming_file_document_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let text = "apiVersion: v1
kind: Namespace
metadata: {name: queue}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: bad, namespace: queue}
spec:
  scaleTargetRef: {name: bad}
  minReplicaCount: 5
  maxReplicaCount: 2
  triggers:
  - type: redis
    metadata: {listName: jobs}
";
    let manifest = write(dir.path(), "bad.yaml", text);
    let out = event_scaler(&["-f", &manifest, "--once"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:5: document 2: ScaledObject bad: spec.minReplicaCount:"),
        "{err}"
    );

    // A valid object whose scaler cannot be built names the trigger and the metadata key.
    let text = scaled_object("nolist", "", &redis_addr(), "", "5");
    let manifest = write(dir.path(), "nolist.yaml", &text);
    let out = event_scaler(&["-f", &manifest, "--once"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "ScaledObject nolist: spec.triggers[0] (redis): metadata.listName is required"
        ),
        "{err}"
    );

    let out = event_scaler(&["-f", "missing.yaml", "--once"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yaml"));
}

/// Per-trigger poll counters and latency on `--metrics-addr` (feature `runtime`).
#[cfg(feature = "runtime")]
#[test]
fn metrics_count_polls_per_trigger_and_result() {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};

    let dir = tempfile::tempdir().unwrap();
    let list = List::new(3);
    let text = format!(
        "{}---\n{}",
        scaled_object(
            "down",
            "  pollingInterval: 1\n",
            "127.0.0.1:1",
            &unique("none"),
            "5"
        ),
        scaled_object("up", "  pollingInterval: 1\n", &redis_addr(), &list.0, "5")
    );
    let manifest = write(dir.path(), "m.yaml", &text);
    let mut child = Command::new(env!("CARGO_BIN_EXE_event-scaler"))
        .args([
            "-f",
            &manifest,
            "--duration",
            "20s",
            "-o",
            "json",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .rsplit("http://")
        .next()
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_owned();
    // The first cycle's lines are printed after its polls are counted, so the counters are there once they are.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for _ in 0..2 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert!(line.starts_with('{'), "{line}");
    }
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        conn,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    conn.read_to_string(&mut body).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(
        body.contains(
            r#"ksx_event_scaler_polls_total{namespace="queue",scaled_object="down",metric="s0-redis-"#
        ) && body.contains(r#"result="error"} "#),
        "{body}"
    );
    let up = format!(
        r#"ksx_event_scaler_polls_total{{namespace="queue",scaled_object="up",metric="s0-redis-{}",result="success"}} "#,
        list.0
    );
    assert!(body.contains(&up), "{body}");
    assert!(
        body.contains("ksx_event_scaler_poll_duration_seconds_count{"),
        "{body}"
    );
}
