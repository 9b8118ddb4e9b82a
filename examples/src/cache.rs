//! `ksx cache`: the eviction-policy simulator, the trace generator and the worker planner.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use ksx_cache::PolicyKind;
use ksx_cache::engine::{Engine, engine_properties};
use ksx_cache::model::{CacheRuntime, Dataset};
use ksx_cache::placement::{CachePlan, Inventory, NodeInventory, NodeView, format_bytes, plan};
use ksx_cache::resolve::{check_binding, resolve_mounts};
use ksx_cache::sim::{SimulationReport, simulate};
use ksx_cache::trace::{GeneratorConfig, Trace, TraceKind, generate};
use ksx_core::manifest::{from_value_at, from_yaml_str};
use serde::{Deserialize as _, Serialize};

use crate::Outcome;
use crate::cli::{OutputArgs, OutputFormat};
use crate::output::{Table, print_structured};

#[cfg(feature = "cache-s3")]
#[path = "cache_bench.rs"]
mod bench;
#[path = "cache_dataload.rs"]
mod dataload;

/// Flags of `ksx cache`.
#[derive(Debug, Args)]
pub(crate) struct CacheArgs {
    #[command(subcommand)]
    pub(crate) command: CacheCommand,
}

/// Subcommands of `ksx cache`.
#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// Replay a trace through eviction policies and compare their hit ratios with Belady's optimum.
    Simulate(SimulateArgs),
    /// Write a generated trace (one key per line) to standard output.
    Trace(TraceArgs),
    /// Plan cache workers for Datasets and their CacheRuntimes on an inventory of nodes.
    Plan(PlanArgs),
    /// Plan the blocks a DataLoad prefetches from a dataset's object listing, and its next `Cron` run.
    Dataload(dataload::DataLoadArgs),
    /// Measure cold and warm read throughput through the block cache over an S3 endpoint, and read-ahead.
    #[cfg(feature = "cache-s3")]
    Bench(bench::BenchArgs),
}

/// Flags of `ksx cache plan`.
#[derive(Debug, Clone, Args)]
pub(crate) struct PlanArgs {
    /// YAML files with Dataset and CacheRuntime documents (a runtime serves the dataset of the same name).
    #[arg(short = 'f', long = "filename", required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// The node inventory: `nodes: [{name, labels, memory, memoryRequested, disks: {SSD, HDD}, workers}]`.
    #[arg(long, value_name = "FILE")]
    pub(crate) nodes: PathBuf,
    /// Also render the properties of this engine: ksx, alluxio, jindo or juicefs.
    #[arg(long, default_value = "ksx", value_parser = parse_engine)]
    pub(crate) engine: Engine,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// Where the requests come from: exactly one of `--trace` and `--zipf`.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct TraceSource {
    /// A trace file: one key per line, optionally a space and a size in bytes (`-` reads standard input).
    #[arg(long, value_name = "FILE")]
    pub(crate) trace: Option<PathBuf>,
    /// Generate a Zipf trace with this exponent instead (see --keys, --requests, --seed).
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    pub(crate) zipf: Option<f64>,
}

/// The `--policy` list: names separated by commas, or `all`.
#[derive(Debug, Clone)]
pub(crate) struct PolicyList(Vec<PolicyKind>);

fn parse_policies(s: &str) -> Result<PolicyList, String> {
    PolicyKind::parse_list(s)
        .map(PolicyList)
        .map_err(|e| e.to_string())
}

/// Flags of `ksx cache simulate`.
#[derive(Debug, Clone, Args)]
pub(crate) struct SimulateArgs {
    #[command(flatten)]
    pub(crate) source: TraceSource,
    /// Cache capacity: objects for a trace without sizes, bytes for one with sizes.
    #[arg(long, value_name = "N")]
    pub(crate) capacity: u64,
    /// Policies in output order, comma-separated (lru, fifo, clock, sieve, s3fifo, arc, wtinylfu, belady) or `all`.
    #[arg(long, default_value = "all", value_parser = parse_policies)]
    pub(crate) policy: PolicyList,
    /// Distinct keys of a generated trace.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) keys: usize,
    /// Requests of a generated trace.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) requests: usize,
    /// Seed of a generated trace.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// Flags of `ksx cache trace`.
#[derive(Debug, Clone, Args)]
pub(crate) struct TraceArgs {
    /// The generator: zipf, scan-mixed, loop or epochs.
    #[arg(long, value_parser = parse_kind)]
    pub(crate) kind: TraceKind,
    /// Distinct keys (Zipf ranks, loop length, dataset size).
    #[arg(long, default_value_t = 10_000)]
    pub(crate) keys: usize,
    /// Requests (`epochs` makes keys × epochs instead).
    #[arg(long, default_value_t = 100_000)]
    pub(crate) requests: usize,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Zipf exponent of `zipf` and `scan-mixed`.
    #[arg(
        long,
        value_name = "S",
        default_value_t = 0.9,
        allow_negative_numbers = true
    )]
    pub(crate) zipf: f64,
    /// Zipf requests between two scans of `scan-mixed`.
    #[arg(long, default_value_t = 5_000)]
    pub(crate) scan_every: usize,
    /// Fresh one-time keys per scan of `scan-mixed`.
    #[arg(long, default_value_t = 2_000)]
    pub(crate) scan_length: usize,
    /// Epochs of `epochs`.
    #[arg(long, default_value_t = 5)]
    pub(crate) epochs: usize,
}

fn parse_engine(s: &str) -> Result<Engine, String> {
    s.parse().map_err(|e: ksx_cache::Error| e.to_string())
}

fn parse_kind(s: &str) -> Result<TraceKind, String> {
    s.parse().map_err(|e: ksx_cache::Error| e.to_string())
}

/// Runs `ksx cache …`.
pub(crate) fn run(args: &CacheArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        CacheCommand::Simulate(args) => run_simulate(args),
        CacheCommand::Trace(args) => run_trace(args),
        CacheCommand::Plan(args) => run_plan(args),
        CacheCommand::Dataload(args) => dataload::run(args),
        #[cfg(feature = "cache-s3")]
        CacheCommand::Bench(args) => {
            // The dispatcher is synchronous; `block_in_place` runs the bench on the CLI's runtime.
            let handle = tokio::runtime::Handle::try_current()
                .context("`ksx cache bench` needs the CLI's async runtime")?;
            tokio::task::block_in_place(|| handle.block_on(bench::run(args)))
        }
    }
}

fn load_trace(args: &SimulateArgs) -> anyhow::Result<(String, Trace)> {
    if let Some(path) = &args.source.trace {
        let name = path.display().to_string();
        let bytes = if name == "-" {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read the trace from standard input")?;
            buf
        } else {
            std::fs::read(path).with_context(|| format!("cannot read trace file {name}"))?
        };
        let trace = Trace::parse(&name, &bytes)?;
        return Ok((name, trace));
    }
    let s = args.source.zipf.unwrap_or(0.9);
    let config = GeneratorConfig {
        keys: args.keys,
        requests: args.requests,
        seed: args.seed,
        zipf_s: s,
        ..GeneratorConfig::default()
    };
    let trace = generate(TraceKind::Zipf, &config)?;
    Ok((format!("zipf s={s} seed={}", args.seed), trace))
}

fn run_simulate(args: &SimulateArgs) -> anyhow::Result<Outcome> {
    let (name, trace) = load_trace(args)?;
    let report = simulate(&trace, args.capacity, &args.policy.0)?;
    match args.output.output {
        OutputFormat::Table => {
            let unit = if trace.is_sized() { "bytes" } else { "objects" };
            outln!(
                "trace {name}: {} requests, {} keys; capacity {} {unit}\n",
                trace.len(),
                trace.keys().len(),
                args.capacity
            );
            out!("{}", render_table(&report));
        }
        other => print_structured(other, &report)?,
    }
    Ok(Outcome::Success)
}

/// Width of the hit-ratio bar in columns.
const BAR_WIDTH: usize = 40;

/// The table of `ksx cache simulate`: one row per policy with a 40-column bar of its hit ratio.
fn render_table(report: &SimulationReport) -> String {
    let mut table = Table::new(["POLICY", "HITS", "MISSES", "HIT RATIO", "CHART"]);
    for p in &report.policies {
        table.row([
            p.policy.name().to_owned(),
            p.hits.to_string(),
            p.misses.to_string(),
            format!("{:.4}", p.hit_ratio),
            bar(p.hit_ratio),
        ]);
    }
    table.render()
}

fn bar(ratio: f64) -> String {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "the value is clamped to 0..=40 first"
    )]
    let filled = (ratio.clamp(0.0, 1.0) * BAR_WIDTH as f64).round() as usize;
    let filled = filled.min(BAR_WIDTH);
    format!("{}{}", "█".repeat(filled), "·".repeat(BAR_WIDTH - filled))
}

fn run_trace(args: &TraceArgs) -> anyhow::Result<Outcome> {
    let config = GeneratorConfig {
        keys: args.keys,
        requests: args.requests,
        seed: args.seed,
        zipf_s: args.zipf,
        scan_every: args.scan_every,
        scan_length: args.scan_length,
        epochs: args.epochs,
    };
    let trace = generate(args.kind, &config)?;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(trace.to_text().as_bytes())
        .and_then(|()| stdout.flush())
    {
        // A reader that stops early (`| head`) is not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write the trace"))
        }
        _ => Ok(Outcome::Success),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_forty_columns() {
        assert_eq!(bar(0.0), "·".repeat(40));
        assert_eq!(bar(1.0), "█".repeat(40));
        assert_eq!(bar(0.5).chars().filter(|&c| c == '█').count(), 20);
        assert_eq!(bar(f64::NAN).chars().count(), 40);
    }
}

/// The plans of `ksx cache plan -o json`.
#[derive(Debug, Serialize)]
struct Plans {
    plans: Vec<CachePlan>,
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Reads every Dataset and CacheRuntime of the files; errors name file, document and field.
fn load_specs(files: &[PathBuf]) -> anyhow::Result<(Vec<Dataset>, Vec<CacheRuntime>)> {
    let (mut datasets, mut runtimes) = (Vec::new(), Vec::new());
    for path in files {
        let name = path.display().to_string();
        let text = read_text(path)?;
        for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            let location = format!("{name}: document {}", i + 1);
            let value = serde_json::Value::deserialize(doc)
                .with_context(|| format!("{location}: not valid YAML"))?;
            if value.is_null() {
                continue;
            }
            match value.get("kind").and_then(serde_json::Value::as_str) {
                Some("Dataset") => datasets.push(from_value_at::<Dataset>(&value, &location)?),
                Some("CacheRuntime") => {
                    runtimes.push(from_value_at::<CacheRuntime>(&value, &location)?);
                }
                other => anyhow::bail!(
                    "{location}: kind {:?} is neither Dataset nor CacheRuntime",
                    other.unwrap_or("")
                ),
            }
        }
    }
    anyhow::ensure!(!datasets.is_empty(), "no Dataset in the given files");
    Ok((datasets, runtimes))
}

fn run_plan(args: &PlanArgs) -> anyhow::Result<Outcome> {
    let (datasets, runtimes) = load_specs(&args.files)?;
    let nodes_name = args.nodes.display().to_string();
    let inventory: Inventory = from_yaml_str(&nodes_name, &read_text(&args.nodes)?)?;
    let views: Vec<NodeView> = inventory.nodes.iter().map(NodeInventory::to_view).collect();
    let mut plans = Vec::new();
    for dataset in &datasets {
        resolve_mounts(dataset)?;
        let runtime = runtimes
            .iter()
            .find(|r| check_binding(dataset, r).is_ok())
            .with_context(|| {
                format!(
                    "dataset {:?} has no CacheRuntime of the same name and namespace",
                    dataset.metadata.name.as_deref().unwrap_or("")
                )
            })?;
        let mut plan = plan(dataset, runtime, &views)?;
        plan.engine_properties = engine_properties(args.engine, &plan.tiers);
        plans.push(plan);
    }
    match args.output.output {
        OutputFormat::Table => out!("{}", render_plans(&plans)),
        other => print_structured(
            other,
            &Plans {
                plans: plans.clone(),
            },
        )?,
    }
    if plans.iter().any(|p| p.unplaced > 0) {
        return Ok(Outcome::Failed(1));
    }
    Ok(Outcome::Success)
}

fn render_plans(plans: &[CachePlan]) -> String {
    let mut out = String::new();
    for p in plans {
        let _ = writeln!(
            out,
            "dataset {}: {} workers, {} placed, {} unplaced",
            p.dataset,
            p.replicas,
            p.placements.len(),
            p.unplaced
        );
        let labels: Vec<String> = p
            .worker_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(out, "worker labels: {}", labels.join(", "));
        let mut tiers = Table::new(["TIER", "QUOTA", "PATHS", "HIGH", "LOW"]);
        for t in &p.tiers {
            let paths: Vec<String> = t
                .paths
                .iter()
                .map(|d| format!("{}={}", d.path, format_bytes(d.quota_bytes)))
                .collect();
            tiers.row([
                t.medium.name().to_owned(),
                format_bytes(t.quota_bytes),
                paths.join(","),
                t.high_text.clone(),
                t.low_text.clone(),
            ]);
        }
        out.push_str(&tiers.render());
        let mut workers = Table::new(["NODE", "SCORE", "REASONS"]);
        for w in &p.placements {
            workers.row([w.node.clone(), w.score.to_string(), w.reasons.join("; ")]);
        }
        out.push_str(&workers.render());
        if !p.rejected.is_empty() {
            let mut rejected = Table::new(["REJECTED", "WHY", "DETAIL"]);
            for r in &p.rejected {
                rejected.row([r.node.clone(), format!("{:?}", r.kind), r.reason.clone()]);
            }
            out.push_str(&rejected.render());
        }
        for (k, v) in &p.engine_properties {
            let _ = writeln!(out, "{k}={v}");
        }
        for d in &p.diagnostics {
            let _ = writeln!(out, "note: {d}");
        }
        out.push('\n');
    }
    out
}
