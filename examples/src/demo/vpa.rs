//! The demo's VPA section, on its own small in-memory cluster that starts at the platform's simulated "now" (hours
//! of the whole platform's controllers would dominate the demo's run time): a Deployment whose two containers are
//! badly requested gets a VPA in `Auto` mode; a few simulated hours of usage feed the recommender loop (the same
//! code as `vpa-controller`, one loop a minute, checkpoints to an in-memory store), and the updater patches the
//! pod template so the Deployment's
//! rolling update applies the recommendation. The section traces the pods of each template revision over time,
//! the requests before and after, and what the requests cost.

#[path = "../bin/vpa-controller/recommender.rs"]
#[allow(
    dead_code,
    reason = "shared with the vpa-controller binary, which also restores checkpoints and collects orphans"
)]
mod recommender;
#[path = "../bin/vpa-controller/updates.rs"]
mod updates;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Pod};
use ksx_core::cluster::{CustomObject, Kind, ListOptions, Object};
use ksx_core::metrics::ContainerUsage;
use ksx_core::quantity::Quantity;
use ksx_core::{Clock as _, InMemoryCluster, InMemoryMetrics, ManualClock};
use ksx_scaling::vpa::config::RecommenderConfig;
use ksx_scaling::vpa::store::InMemoryCheckpointStore;
use ksx_scaling::vpa::updater::{RateLimiter, UpdaterConfig, vpa_kind};
use serde::Serialize;

use super::report::{esc, lines, table};
use recommender::{Recommender, nanos};

/// Where the section's Deployment lives.
const NAMESPACE: &str = "storefront";
/// The Deployment and its VPA.
const NAME: &str = "ledger";
/// Replicas of the Deployment.
const REPLICAS: i32 = 4;
/// Simulated hours of usage.
const HOURS: i64 = 3;
/// Seconds between recommender (and updater) loops.
const LOOP_SECS: i64 = 60;
/// Seconds between timeline samples.
const SAMPLE_SECS: i64 = 15;
/// Seconds pods take to become Ready.
const STARTUP_SECS: u32 = 10;

/// One container's requests before and after, with the recommendation at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainerChange {
    pub(crate) name: String,
    pub(crate) cpu_before: String,
    pub(crate) cpu_after: String,
    pub(crate) memory_before: String,
    pub(crate) memory_after: String,
    /// The final recommendation: target and range.
    pub(crate) target: String,
    pub(crate) range: String,
    /// What the container used (CPU p90-ish swing, flat memory), for the reader.
    pub(crate) usage: String,
}

/// One template patch of the updater.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateEvent {
    pub(crate) at_seconds: i64,
    pub(crate) reason: String,
    pub(crate) changes: Vec<String>,
}

/// What the VPA section found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VpaTrace {
    pub(crate) deployment: String,
    pub(crate) replicas: i32,
    pub(crate) update_mode: String,
    pub(crate) simulated_seconds: i64,
    pub(crate) recommender_interval_seconds: i64,
    pub(crate) containers: Vec<ContainerChange>,
    pub(crate) updates: Vec<UpdateEvent>,
    /// Template revisions the pods ran (the first included).
    pub(crate) revisions: usize,
    /// Every live pod runs the final template, Ready.
    pub(crate) all_pods_updated: bool,
    pub(crate) cpu_requested_before_millis: i64,
    pub(crate) cpu_requested_after_millis: i64,
    pub(crate) memory_requested_before_bytes: i64,
    pub(crate) memory_requested_after_bytes: i64,
    /// Checkpoints saved in the last loop (one per container).
    pub(crate) checkpoints: usize,
    pub(crate) timeline_step_seconds: i64,
    /// Live pods per template revision (in order of appearance), one value per timeline step.
    pub(crate) pods_per_revision: Vec<Vec<i32>>,
}

/// Usage of one pod at Unix second `t`: `api` swings ±0.1 core around 0.3 over 90 minutes with noise and holds
/// 600Mi; `cache` burns about 40m and holds 300Mi.
fn usage(seed: u64, t: i64) -> [ContainerUsage; 2] {
    let minute = t.div_euclid(60);
    #[allow(
        clippy::cast_precision_loss,
        reason = "seconds of a simulated run, far below 2^52"
    )]
    let phase = (t.rem_euclid(5400) as f64 / 5400.0) * std::f64::consts::TAU;
    [
        ContainerUsage {
            name: "api".to_owned(),
            cpu_cores: 0.1f64.mul_add(phase.sin(), 0.3) + 0.03 * noise(seed, minute, 1),
            memory_bytes: 600.0 * 1024.0 * 1024.0,
        },
        ContainerUsage {
            name: "cache".to_owned(),
            cpu_cores: 0.02f64.mul_add(noise(seed, minute, 2), 0.03),
            memory_bytes: 300.0 * 1024.0 * 1024.0,
        },
    ]
}

/// SplitMix64 of the seed, the minute and a stream: noise in [0, 1) that is the same on every run.
fn noise(seed: u64, minute: i64, stream: u64) -> f64 {
    let mut z = seed
        .wrapping_add(minute.cast_unsigned().wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(stream.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    #[allow(
        clippy::cast_precision_loss,
        reason = "53 high bits into a fraction in [0, 1)"
    )]
    let fraction = (z >> 11) as f64 / (1_u64 << 53) as f64;
    fraction
}

fn objects() -> anyhow::Result<Vec<Object>> {
    let deployment = serde_json::json!({
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {"app": NAME}},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": {"app": NAME}},
            "template": {
                "metadata": {"labels": {"app": NAME},
                    "annotations": {ksx_core::cluster::memory::STARTUP_DELAY_ANNOTATION: STARTUP_SECS.to_string()}},
                "spec": {"containers": [
                    {"name": "api", "image": "registry.example.com/payments/ledger:4.2",
                     "resources": {"requests": {"cpu": "2", "memory": "256Mi"}}},
                    {"name": "cache", "image": "registry.example.com/payments/cache:7.2",
                     "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}}}
                ]}
            }
        }
    });
    let mut vpa: CustomObject = serde_json::from_value(serde_json::json!({
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
            "updatePolicy": {"updateMode": "Auto"}
        }
    }))?;
    vpa.kind = vpa_kind();
    Ok(vec![
        Object::from_json(&Kind::Deployment, deployment)?,
        Object::Custom(vpa),
    ])
}

/// Runs the section on its own in-memory cluster from the platform's current time, with usage noise and pod
/// names from `seed`; the platform's clock does not move.
///
/// # Errors
/// The cluster or the recommender failing.
pub(crate) async fn run(platform: &InMemoryCluster, seed: u64) -> anyhow::Result<VpaTrace> {
    // Hours of the whole platform's controllers would dominate the demo's run time: the section gets its own
    // in-memory cluster (two nodes of the platform's general pool size), starting at the platform's "now".
    let cluster = &InMemoryCluster::new(
        ManualClock::at_unix_secs(platform.clock().now().as_second()),
        seed,
    );
    cluster.add_node("vpa-node-a", "16", "64Gi")?;
    cluster.add_node("vpa-node-b", "16", "64Gi")?;
    cluster.apply(Object::from_json(
        &Kind::Namespace,
        serde_json::json!({"metadata": {"name": NAMESPACE}}),
    )?)?;
    for object in objects()? {
        cluster.apply(object)?;
    }
    cluster.set_tick(Duration::from_secs(5));
    cluster.advance(Duration::from_secs(30));
    let before = template(cluster)?;
    let metrics = InMemoryMetrics::default()
        .with_clock(Arc::new(cluster.clock().clone()))
        .with_usage_window(Duration::from_secs(30));
    let store = InMemoryCheckpointStore::default();
    let mut recommender = Recommender::new(RecommenderConfig::default());
    let mut limiter = RateLimiter::default();
    let config = UpdaterConfig::default();
    let start = nanos(cluster.clock().now());
    let mut revisions: Vec<String> = Vec::new();
    let mut timeline: Vec<BTreeMap<usize, i32>> = Vec::new();
    let mut updates = Vec::new();
    let mut last_recs = Vec::new();
    let mut checkpoints = 0;
    let loops = HOURS * 3600 / LOOP_SECS;
    for i in 0..=loops {
        let now = nanos(cluster.clock().now());
        let now_secs = cluster.clock().now().as_second();
        for pod in pods(cluster)? {
            let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
            let Some(name) = pod.metadata.name.as_deref() else {
                continue;
            };
            if running && pod.metadata.deletion_timestamp.is_none() {
                if let Some(labels) = &pod.metadata.labels {
                    metrics.set_pod_labels(NAMESPACE, name, labels.clone());
                }
                metrics.record_pod_usage(
                    NAMESPACE,
                    name,
                    cluster.clock().now(),
                    &usage(seed, now_secs),
                );
            }
        }
        let recs = recommender.step(cluster, &metrics, now, start).await?;
        checkpoints = recommender.checkpoint(&store, now).await?;
        let decided = updates::step(cluster, &config, &mut limiter, now, start).await?;
        for u in decided.iter().filter(|u| u.applied) {
            updates.push(UpdateEvent {
                at_seconds: u.elapsed_seconds,
                reason: u.reason.clone(),
                changes: u
                    .changes
                    .iter()
                    .map(|c| {
                        format!(
                            "{} {}.{}: {} → {}",
                            c.container,
                            c.field,
                            c.resource,
                            c.from.as_deref().unwrap_or("unset"),
                            c.to
                        )
                    })
                    .collect(),
            });
        }
        last_recs = recs;
        if i == loops {
            break;
        }
        for _ in 0..LOOP_SECS / SAMPLE_SECS {
            cluster.advance(Duration::from_secs(SAMPLE_SECS.unsigned_abs()));
            timeline.push(per_revision(cluster, &mut revisions)?);
        }
    }
    // Let the last rollout, if any, finish.
    cluster.advance(Duration::from_secs(120));
    let after = template(cluster)?;
    let live: Vec<Pod> = pods(cluster)?
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let all_pods_updated = live.len() == usize::try_from(REPLICAS).unwrap_or(0)
        && live.iter().all(|p| {
            p.spec.as_ref().map(|s| requests(&s.containers)) == Some(after.clone()) && is_ready(p)
        });
    let containers = after
        .keys()
        .map(|name| {
            let get = |m: &Requests, r: &str| {
                m.get(name)
                    .and_then(|x| x.get(r))
                    .map_or_else(|| "unset".to_owned(), ToString::to_string)
            };
            let rec = last_recs.iter().find(|r| &r.container == name);
            let show = |l: &ksx_scaling::vpa::crd::ResourceList| {
                format!(
                    "{} / {}",
                    l.get("cpu").map_or_else(String::new, ToString::to_string),
                    l.get("memory")
                        .map_or_else(String::new, ToString::to_string)
                )
            };
            ContainerChange {
                name: name.clone(),
                cpu_before: get(&before, "cpu"),
                cpu_after: get(&after, "cpu"),
                memory_before: get(&before, "memory"),
                memory_after: get(&after, "memory"),
                target: rec.map_or_else(String::new, |r| show(&r.target)),
                range: rec.map_or_else(String::new, |r| {
                    format!("{} … {}", show(&r.lower_bound), show(&r.upper_bound))
                }),
                usage: if name == "api" {
                    "0.2–0.43 core, 600Mi".to_owned()
                } else {
                    "0.03–0.05 core, 300Mi".to_owned()
                },
            }
        })
        .collect();
    let total = |m: &Requests, r: &str| -> i64 {
        let per_pod: i64 = m
            .values()
            .filter_map(|x| x.get(r))
            .map(|q| {
                if r == "cpu" {
                    q.milli_value()
                } else {
                    q.value()
                }
            })
            .sum();
        per_pod * i64::from(REPLICAS)
    };
    let width = revisions.len();
    let pods_per_revision = (0..width)
        .map(|rev| {
            timeline
                .iter()
                .map(|t| t.get(&rev).copied().unwrap_or(0))
                .collect()
        })
        .collect();
    Ok(VpaTrace {
        deployment: format!("{NAMESPACE}/{NAME}"),
        replicas: REPLICAS,
        update_mode: "Auto".to_owned(),
        simulated_seconds: HOURS * 3600,
        recommender_interval_seconds: LOOP_SECS,
        containers,
        updates,
        revisions: width,
        all_pods_updated,
        cpu_requested_before_millis: total(&before, "cpu"),
        cpu_requested_after_millis: total(&after, "cpu"),
        memory_requested_before_bytes: total(&before, "memory"),
        memory_requested_after_bytes: total(&after, "memory"),
        checkpoints,
        timeline_step_seconds: SAMPLE_SECS,
        pods_per_revision,
    })
}

/// Requests per container name.
type Requests = BTreeMap<String, BTreeMap<String, Quantity>>;

fn requests(containers: &[Container]) -> Requests {
    containers
        .iter()
        .map(|c| {
            let r = c
                .resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .map(|r| {
                    r.iter()
                        .filter_map(|(k, v)| Quantity::parse(&v.0).ok().map(|q| (k.clone(), q)))
                        .collect()
                })
                .unwrap_or_default();
            (c.name.clone(), r)
        })
        .collect()
}

fn template(cluster: &InMemoryCluster) -> anyhow::Result<Requests> {
    match cluster.get_sync(&Kind::Deployment, Some(NAMESPACE), NAME) {
        Some(Object::Deployment(Deployment {
            spec: Some(spec), ..
        })) => Ok(spec
            .template
            .spec
            .as_ref()
            .map(|s| requests(&s.containers))
            .unwrap_or_default()),
        _ => anyhow::bail!("deployment {NAMESPACE}/{NAME} disappeared during the VPA section"),
    }
}

fn pods(cluster: &InMemoryCluster) -> anyhow::Result<Vec<Pod>> {
    Ok(cluster
        .list_sync(
            &Kind::Pod,
            Some(NAMESPACE),
            &ListOptions::labels(format!("app={NAME}")),
        )?
        .into_iter()
        .filter_map(|o| match o {
            Object::Pod(p) => Some(p),
            _ => None,
        })
        .collect())
}

/// Live pods per template revision; revisions are numbered by first appearance of their `pod-template-hash`.
fn per_revision(
    cluster: &InMemoryCluster,
    revisions: &mut Vec<String>,
) -> anyhow::Result<BTreeMap<usize, i32>> {
    let mut out = BTreeMap::new();
    for pod in pods(cluster)? {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let hash = pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("pod-template-hash"))
            .cloned()
            .unwrap_or_default();
        let index = if let Some(i) = revisions.iter().position(|h| *h == hash) {
            i
        } else {
            revisions.push(hash);
            revisions.len() - 1
        };
        *out.entry(index).or_insert(0) += 1;
    }
    Ok(out)
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn cores(millis: i64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "display only")]
    let c = millis as f64 / 1000.0;
    format!("{c:.2}")
}

fn gib(bytes: i64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "display only")]
    let g = bytes as f64 / f64::from(1_u32 << 30);
    format!("{g:.2}Gi")
}

fn change(before: i64, after: i64) -> String {
    if before == 0 {
        return "n/a".to_owned();
    }
    #[allow(clippy::cast_precision_loss, reason = "display only")]
    let pct = (after - before) as f64 / before as f64 * 100.0;
    format!("{pct:+.0}%")
}

/// Terminal lines of the section.
pub(crate) fn print_summary(v: &VpaTrace) {
    outln!(
        "vpa {} ({} replicas, {} mode, {} h of usage): {} template update(s), {} revision(s), all pods updated: {}",
        v.deployment,
        v.replicas,
        v.update_mode,
        v.simulated_seconds / 3600,
        v.updates.len(),
        v.revisions,
        v.all_pods_updated
    );
    outln!(
        "vpa requests: cpu {} → {} cores ({}), memory {} → {} ({})",
        cores(v.cpu_requested_before_millis),
        cores(v.cpu_requested_after_millis),
        change(v.cpu_requested_before_millis, v.cpu_requested_after_millis),
        gib(v.memory_requested_before_bytes),
        gib(v.memory_requested_after_bytes),
        change(
            v.memory_requested_before_bytes,
            v.memory_requested_after_bytes
        )
    );
    for c in &v.containers {
        outln!(
            "vpa   {}: cpu {} → {}, memory {} → {} (target {}, range {})",
            c.name,
            c.cpu_before,
            c.cpu_after,
            c.memory_before,
            c.memory_after,
            c.target,
            c.range
        );
    }
}

/// The HTML body of the report's VPA section.
pub(crate) fn section(v: &VpaTrace) -> String {
    let mut body = format!(
        "<p>On a small in-memory cluster of its own: Deployment <b>{}</b>, {} replicas, two containers requested far from what they use: <i>api</i> asks \
         for 2 cores and 256Mi but works on about 0.3 core and 600Mi, \
         <i>cache</i> asks for 500m and 2Gi but uses about 40m and 300Mi. Its VerticalPodAutoscaler runs in \
         <b>{}</b> mode (deprecated alias of Recreate). The recommender loop of <code>vpa-controller</code> runs every \
         {} s over {} hours of simulated usage (upstream histograms, 24 h half-life, percentiles 0.5/0.9/0.95 \
         plus a 15 % margin) and checkpoints each loop; the updater patches the pod template whenever the pods' \
         requests leave the recommended range, and the Deployment's rolling update (maxSurge 25 %, \
         maxUnavailable 25 %) replaces the pods. Early bounds are wide (confidence grows with the history), so the \
         first update moves the requests straight to the target and later loops find them in range.</p>",
        esc(&v.deployment),
        v.replicas,
        esc(&v.update_mode),
        v.recommender_interval_seconds,
        v.simulated_seconds / 3600
    );
    let rows: Vec<Vec<String>> = v
        .containers
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.usage.clone(),
                format!("{} / {}", c.cpu_before, c.memory_before),
                format!("{} / {}", c.cpu_after, c.memory_after),
                c.target.clone(),
                c.range.clone(),
            ]
        })
        .collect();
    body.push_str(&table(
        &[
            "container",
            "usage",
            "requests before (cpu / memory)",
            "requests after",
            "final target",
            "final range (lower … upper)",
        ],
        &rows,
    ));
    body.push_str(&table(
        &["requested by the Deployment", "before", "after", "change"],
        &[
            vec![
                "CPU (cores)".to_owned(),
                cores(v.cpu_requested_before_millis),
                cores(v.cpu_requested_after_millis),
                change(v.cpu_requested_before_millis, v.cpu_requested_after_millis),
            ],
            vec![
                "memory".to_owned(),
                gib(v.memory_requested_before_bytes),
                gib(v.memory_requested_after_bytes),
                change(
                    v.memory_requested_before_bytes,
                    v.memory_requested_after_bytes,
                ),
            ],
        ],
    ));
    let rows: Vec<Vec<String>> = v
        .updates
        .iter()
        .map(|u| {
            vec![
                format!("{} s", u.at_seconds),
                u.changes.join("; "),
                u.reason.clone(),
            ]
        })
        .collect();
    body.push_str("<h3>Template updates</h3>");
    body.push_str(&table(&["at", "changes", "why"], &rows));
    body.push_str(&format!(
        "<h3>Live pods per template revision</h3><p>Sampled every {} s; {} revision(s); every pod runs the \
         final template: {}.</p>",
        v.timeline_step_seconds,
        v.revisions,
        if v.all_pods_updated { "yes" } else { "no" }
    ));
    const COLOURS: [&str; 6] = [
        "#d9822b", "#3b82c4", "#2f9e44", "#9c36b5", "#e03131", "#495057",
    ];
    let names: Vec<String> = (1..=v.pods_per_revision.len())
        .map(|i| format!("revision {i}"))
        .collect();
    let series: Vec<(&str, &str, Vec<f64>)> = v
        .pods_per_revision
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                names.get(i).map_or("", String::as_str),
                COLOURS.get(i % COLOURS.len()).copied().unwrap_or("#495057"),
                s.iter().map(|x| f64::from(*x)).collect(),
            )
        })
        .collect();
    body.push_str(&lines(
        &format!("timeline steps ({} s each)", v.timeline_step_seconds),
        &series,
    ));
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_recommendation_is_rolled_out_and_cuts_the_requests() {
        let platform = InMemoryCluster::new(ManualClock::at_unix_secs(1_767_225_600), 3);
        let v = run(&platform, 3).await.unwrap();
        // The platform's clock does not move.
        assert_eq!(platform.clock().now().as_second(), 1_767_225_600);
        assert!(!v.updates.is_empty());
        assert!(v.all_pods_updated);
        // One revision per applied update, plus the first.
        assert_eq!(v.revisions, v.updates.len() + 1);
        // 4 × (2 + 0.5) cores requested before; usage is about 0.35 core per pod in all.
        assert_eq!(v.cpu_requested_before_millis, 10_000);
        assert!(v.cpu_requested_after_millis < 4_000, "{v:?}");
        // 4 × (256Mi + 2Gi) before; `api` needs more than its 256Mi, `cache` far less than its 2Gi.
        assert_eq!(
            v.memory_requested_before_bytes,
            4 * (256 + 2048) * 1024 * 1024
        );
        assert!(v.memory_requested_after_bytes < v.memory_requested_before_bytes);
        let api = v.containers.iter().find(|c| c.name == "api").unwrap();
        assert!(
            Quantity::parse(&api.memory_after).unwrap().value() > 600 * 1024 * 1024,
            "{api:?}"
        );
        // At the end only the last revision has pods, all of them.
        let steps = v.pods_per_revision[0].len();
        assert_eq!(steps, usize::try_from(HOURS * 3600 / SAMPLE_SECS).unwrap());
        for (i, series) in v.pods_per_revision.iter().enumerate() {
            let last = *series.last().unwrap();
            if i + 1 == v.revisions {
                assert_eq!(last, REPLICAS);
            } else {
                assert_eq!(last, 0);
            }
        }
        let html = section(&v);
        assert!(html.contains("<svg") && html.contains("revision 2"));
    }
}
