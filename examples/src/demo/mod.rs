//! `ksx demo`: the main job. Builds a realistic platform on the embedded in-memory cluster, runs every engine that
//! exists so far, prints a terminal summary and writes a standalone HTML report. The same `--seed` gives the same
//! summary and report.

mod cache;
mod event;
mod generate;
mod hpa;
mod inspect;
mod inventory;
mod report;
mod sched;
mod vpa;

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use k8s_openapi::api::apps::v1::Deployment;
use ksx_core::cluster::{ClusterWriter, Kind, Patch, TypedExt};
use ksx_core::{Clock as _, InMemoryCluster, ManualClock};
use serde::Serialize;

use crate::Outcome;
use crate::cli::{DemoArgs, OutputFormat};
use crate::output::{Table, print_structured};
use inventory::Inventory;
use report::{Report, bars, esc, lines, table};

/// The simulated wall clock starts here (2026-01-01T00:00:00Z) so every run prints the same times.
const START_UNIX_SECS: i64 = 1_767_225_600;

/// Namespace and name of the Deployment whose rolling update the demo shows.
const ROLLOUT_NS: &str = "storefront";
const ROLLOUT_NAME: &str = "frontend";

/// What one rolling update looked like, second by second.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct RolloutTrace {
    deployment: String,
    replicas: i32,
    max_surge: String,
    max_unavailable: String,
    /// Seconds until every replica ran the new template and was available; `None` if it did not finish.
    completed_after_seconds: Option<u64>,
    peak_pods: i32,
    lowest_available: i32,
    total: Vec<i32>,
    updated: Vec<i32>,
    available: Vec<i32>,
}

/// The summary printed on the terminal (and as JSON with `-o json`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    seed: u64,
    simulated_seconds: u64,
    workspaces: usize,
    projects: usize,
    inventory: Inventory,
    rollout: RolloutTrace,
    hpa: hpa::HpaTrace,
    event: event::EventTrace,
    vpa: vpa::VpaTrace,
    sched: sched::SchedTrace,
    inspect: inspect::InspectTrace,
    cache: cache::CacheTrace,
    report: String,
}

/// Runs the demo.
///
/// # Errors
/// Invalid flags, a failing simulated cluster, or a report that cannot be written.
pub(crate) async fn run(args: &DemoArgs) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        args.nodes >= 4,
        "--nodes must be at least 4 (one per pool), got {}",
        args.nodes
    );
    anyhow::ensure!(args.workloads >= 1, "--workloads must be at least 1");
    let show_progress = !args.no_progress
        && args.output.output == OutputFormat::Table
        && std::io::stderr().is_terminal();

    let clock = ManualClock::at_unix_secs(START_UNIX_SECS);
    let cluster = InMemoryCluster::new(clock.clone(), args.seed);
    let platform = generate::generate(args.seed, args.nodes, args.workloads)?;

    let sim_steps = args.minutes * 6;
    let total_work = platform.objects.len() as u64 + 1 + sim_steps;
    let bar = progress_bar(show_progress, total_work);

    bar.set_message("creating objects");
    for object in platform.objects.iter().cloned() {
        cluster.create(object).await?;
        bar.inc(1);
    }
    cluster
        .create(ksx_core::Object::Deployment(rollout_deployment()))
        .await?;
    bar.inc(1);

    bar.set_message("running controllers");
    for _ in 0..sim_steps {
        cluster.advance(Duration::from_secs(10));
        bar.inc(1);
    }

    bar.set_message("rolling update");
    let rollout = rolling_update(&cluster).await?;

    let inventory = inventory::collect(&cluster, &platform.tenancy).await?;
    // After the inventory, so the HPA section's two Deployments do not change the platform's figures.
    bar.set_message("hpa spike and fall");
    let hpa = hpa::run(&cluster).await?;
    bar.set_message("event scaling");
    let event = event::run(&cluster, args.seed).await?;
    bar.set_message("vpa right-sizing");
    let vpa = vpa::run(&cluster, args.seed).await?;
    bar.set_message("gpu scheduling");
    let sched = sched::run(&platform.objects, &platform.tenancy, args.seed)?;
    bar.set_message("inspection");
    let inspect = inspect::run(&cluster, &clock).await?;
    bar.set_message("dataset cache");
    let cache = cache::run(args.seed, &clock).await?;
    bar.finish_and_clear();
    let simulated_seconds = u64::try_from(clock.now().as_second() - START_UNIX_SECS).unwrap_or(0);
    let summary = Summary {
        seed: args.seed,
        simulated_seconds,
        workspaces: platform.tenancy.workspaces.len(),
        projects: platform.tenancy.projects.len(),
        inventory,
        rollout,
        hpa,
        event,
        vpa,
        sched,
        inspect,
        cache,
        report: args.report.display().to_string(),
    };

    let html = render_report(&summary);
    std::fs::write(&args.report, html).map_err(|e| {
        anyhow::anyhow!("cannot write the report to {}: {e}", args.report.display())
    })?;

    match args.output.output {
        OutputFormat::Table => print_summary(&summary),
        other => print_structured(other, &summary)?,
    }
    Ok(Outcome::Success)
}

fn progress_bar(enabled: bool, len: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {msg:<20} [{bar:40}] {pos}/{len} ({elapsed})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The Deployment whose rolling update the demo traces: 20 replicas, maxSurge 25 % (5 pods, rounded up),
/// maxUnavailable 10 % (2 pods, rounded down).
fn rollout_deployment() -> Deployment {
    let json = serde_json::json!({
        "metadata": {"name": ROLLOUT_NAME, "namespace": ROLLOUT_NS, "labels": {"app": ROLLOUT_NAME}},
        "spec": {
            "replicas": 20,
            "selector": {"matchLabels": {"app": ROLLOUT_NAME}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "10%"}},
            "template": {
                "metadata": {"labels": {"app": ROLLOUT_NAME}, "annotations": {generate::STARTUP_ANNOTATION: "8"}},
                "spec": {"containers": [{
                    "name": "main",
                    "image": "registry.example.com/retail/frontend:2.0.0",
                    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}
                }]}
            }
        }
    });
    serde_json::from_value(json).unwrap_or_default()
}

/// Changes the traced Deployment's image and follows the rollout second by second.
async fn rolling_update(cluster: &InMemoryCluster) -> anyhow::Result<RolloutTrace> {
    let patch = Patch::Merge(
        serde_json::json!({"spec": {"template": {"spec": {"containers": [{
            "name": "main",
            "image": "registry.example.com/retail/frontend:2.1.0",
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}
        }]}}}}),
    );
    cluster
        .patch(&Kind::Deployment, Some(ROLLOUT_NS), ROLLOUT_NAME, &patch)
        .await?;
    let mut trace = RolloutTrace {
        deployment: format!("{ROLLOUT_NS}/{ROLLOUT_NAME}"),
        replicas: 20,
        max_surge: "25%".into(),
        max_unavailable: "10%".into(),
        lowest_available: i32::MAX,
        ..RolloutTrace::default()
    };
    for second in 1..=600_u64 {
        cluster.advance(Duration::from_secs(1));
        let Some(d) = cluster
            .get_typed::<Deployment>(Some(ROLLOUT_NS), ROLLOUT_NAME)
            .await?
        else {
            anyhow::bail!(
                "deployment {ROLLOUT_NS}/{ROLLOUT_NAME} disappeared during the demo rollout"
            );
        };
        let status = d.status.unwrap_or_default();
        let (total, updated, available) = (
            status.replicas.unwrap_or(0),
            status.updated_replicas.unwrap_or(0),
            status.available_replicas.unwrap_or(0),
        );
        trace.total.push(total);
        trace.updated.push(updated);
        trace.available.push(available);
        trace.peak_pods = trace.peak_pods.max(total);
        trace.lowest_available = trace.lowest_available.min(available);
        if total == trace.replicas && updated == trace.replicas && available == trace.replicas {
            trace.completed_after_seconds = Some(second);
            break;
        }
    }
    Ok(trace)
}

/// Columns of the node-pool table, shared by the terminal summary and the report.
const POOL_COLUMNS: [&str; 8] = [
    "pool",
    "nodes",
    "pods",
    "cpu req/alloc",
    "cpu",
    "mem req/alloc",
    "mem",
    "gpu req/alloc",
];

/// Columns of the workspace table, shared by the terminal summary and the report.
const WORKSPACE_COLUMNS: [&str; 6] = [
    "workspace",
    "projects",
    "deployments",
    "statefulsets",
    "pods",
    "ready",
];

fn pool_cells(p: &inventory::PoolSummary) -> Vec<String> {
    vec![
        p.pool.clone(),
        p.nodes.to_string(),
        p.pods.to_string(),
        format!(
            "{}/{}",
            cores(p.cpu_requested_millis),
            cores(p.cpu_allocatable_millis)
        ),
        percent(p.cpu_ratio()),
        format!(
            "{}/{}",
            gib(p.memory_requested_bytes),
            gib(p.memory_allocatable_bytes)
        ),
        percent(p.memory_ratio()),
        format!("{}/{}", p.gpus_requested, p.gpus_allocatable),
    ]
}

fn workspace_cells(w: &inventory::WorkspaceSummary) -> Vec<String> {
    vec![
        w.workspace.clone(),
        w.projects.to_string(),
        w.deployments.to_string(),
        w.stateful_sets.to_string(),
        w.pods.to_string(),
        w.ready_pods.to_string(),
    ]
}

fn percent(r: f64) -> String {
    format!("{:.0}%", r * 100.0)
}

fn gib(bytes: i64) -> String {
    format!("{:.0}Gi", bytes as f64 / f64::from(1u32 << 30))
}

fn cores(millis: i64) -> String {
    format!("{:.1}", millis as f64 / 1000.0)
}

fn print_summary(s: &Summary) {
    let inv = &s.inventory;
    outln!(
        "ksx demo (seed {}): {} nodes, {} workspaces, {} projects, {} workloads, {} pods ({} ready) after {}s simulated",
        s.seed,
        inv.nodes,
        s.workspaces,
        s.projects,
        inv.workloads,
        inv.pods,
        inv.ready_pods,
        s.simulated_seconds
    );
    outln!();
    let mut pools = Table::new(POOL_COLUMNS.map(str::to_uppercase));
    for p in &inv.pools {
        pools.row(pool_cells(p));
    }
    out!("{}", pools.render());
    outln!();
    let mut ws = Table::new(WORKSPACE_COLUMNS.map(str::to_uppercase));
    for w in &inv.workspaces {
        ws.row(workspace_cells(w));
    }
    out!("{}", ws.render());
    outln!();
    let states: Vec<String> = inv
        .pod_states
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    outln!("pods: {}", states.join(", "));
    let r = &s.rollout;
    match r.completed_after_seconds {
        Some(secs) => outln!(
            "rolling update of {} ({} replicas, maxSurge {}, maxUnavailable {}): done in {secs}s, at most {} pods, at least {} available",
            r.deployment,
            r.replicas,
            r.max_surge,
            r.max_unavailable,
            r.peak_pods,
            r.lowest_available
        ),
        None => outln!(
            "rolling update of {}: not finished after {}s",
            r.deployment,
            r.total.len()
        ),
    }
    hpa::print_summary(&s.hpa);
    event::print_summary(&s.event);
    vpa::print_summary(&s.vpa);
    sched::print_summary(&s.sched);
    inspect::print_summary(&s.inspect);
    cache::print_summary(&s.cache);
    outln!("report: {}", s.report);
}

fn render_report(s: &Summary) -> String {
    let inv = &s.inventory;
    let mut r = Report::new(
        "ksx demo report",
        &format!(
            "Seed {}, {} simulated seconds on the embedded in-memory cluster (KubeSphere v4.2.1 feature set)",
            s.seed, s.simulated_seconds
        ),
    );
    r.card("nodes", &inv.nodes);
    r.card("workspaces", &s.workspaces);
    r.card("projects", &s.projects);
    r.card("workloads", &inv.workloads);
    r.card("pods", &inv.pods);
    r.card("ready pods", &inv.ready_pods);

    let rows: Vec<Vec<String>> = inv.pools.iter().map(pool_cells).collect();
    let mut body = table(&POOL_COLUMNS, &rows);
    body.push_str("<h3>CPU requested per pool</h3>");
    body.push_str(&bars(
        &inv.pools
            .iter()
            .map(|p| (p.pool.clone(), p.cpu_ratio(), percent(p.cpu_ratio())))
            .collect::<Vec<_>>(),
    ));
    body.push_str("<h3>Memory requested per pool</h3>");
    body.push_str(&bars(
        &inv.pools
            .iter()
            .map(|p| (p.pool.clone(), p.memory_ratio(), percent(p.memory_ratio())))
            .collect::<Vec<_>>(),
    ));
    r.section("nodes", "Node pools", body);

    let rows: Vec<Vec<String>> = inv.workspaces.iter().map(workspace_cells).collect();
    r.section("workspaces", "Workspaces", table(&WORKSPACE_COLUMNS, &rows));

    let states: Vec<Vec<String>> = inv
        .pod_states
        .iter()
        .map(|(k, v)| vec![k.clone(), v.to_string()])
        .collect();
    let events: Vec<Vec<String>> = inv
        .events
        .iter()
        .map(|(k, v)| vec![k.clone(), v.to_string()])
        .collect();
    r.section(
        "pods",
        "Pods and events",
        format!(
            "{}{}",
            table(&["pod state", "pods"], &states),
            table(&["event type/reason", "count"], &events)
        ),
    );

    let t = &s.rollout;
    let to_f = |v: &[i32]| v.iter().map(|x| f64::from(*x)).collect::<Vec<_>>();
    let mut body = format!(
        "<p>Deployment <b>{}</b>, {} replicas, maxSurge {} (rounded up), maxUnavailable {} (rounded down): {}; \
         at most {} pods existed and at least {} stayed available.</p>",
        esc(&t.deployment),
        t.replicas,
        esc(&t.max_surge),
        esc(&t.max_unavailable),
        t.completed_after_seconds.map_or_else(
            || "did not finish".to_owned(),
            |s| format!("finished in {s} s")
        ),
        t.peak_pods,
        t.lowest_available
    );
    body.push_str(&lines(
        "seconds since the template changed",
        &[
            ("total pods", "#243b53", to_f(&t.total)),
            ("updated", "#3b82c4", to_f(&t.updated)),
            ("available", "#2f9e44", to_f(&t.available)),
        ],
    ));
    r.section("rollout", "Rolling update", body);
    r.section("hpa", "HPA: spike and fall", hpa::section(&s.hpa));
    r.section(
        "event",
        "Event-driven scaling: a queue, 0 → N → 0",
        event::section(&s.event),
    );
    r.section(
        "vpa",
        "VPA: right-sizing a badly requested Deployment",
        vpa::section(&s.vpa),
    );
    r.section(
        "sched",
        "GPU scheduling: node groups, a training job and vGPU inference",
        sched::section(&s.sched),
    );
    r.section(
        "inspect",
        "Inspection: the built-in catalogue over the whole cluster",
        inspect::section(&s.inspect),
    );
    r.section(
        "cache",
        "Dataset cache: a training job's dataset prefetched and read through the block cache",
        cache::section(&s.cache),
    );
    r.render()
}
