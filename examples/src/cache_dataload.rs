//! `ksx cache dataload`: the prefetch plan of a DataLoad over a dataset's object listing (spec §2).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use jiff::Timestamp;
use ksx_cache::dataload::{DataLoad, DataLoadPlan, ListedObject, Policy, plan};
use ksx_cache::model::Dataset;
use ksx_cache::placement::format_bytes;
use ksx_core::manifest::from_yaml_str;
use ksx_core::quantity::Quantity;
use serde::Serialize;

use crate::Outcome;
use crate::cli::{OutputArgs, OutputFormat};
use crate::output::{Table, print_structured};

/// Flags of `ksx cache dataload`.
#[derive(Debug, Clone, Args)]
pub(crate) struct DataLoadArgs {
    /// The DataLoad (YAML).
    #[arg(short = 'f', long = "filename")]
    pub(crate) file: PathBuf,
    /// The Dataset it loads (YAML).
    #[arg(long, value_name = "FILE")]
    pub(crate) dataset: PathBuf,
    /// The dataset's objects: a YAML list of `{path, size}` (paths as the cache sees them, `train/a.jpg`).
    #[arg(long, value_name = "FILE")]
    pub(crate) listing: Option<PathBuf>,
    /// Blocks already cached: a YAML list of `{path, index}`.
    #[arg(long, value_name = "FILE")]
    pub(crate) cached: Option<PathBuf>,
    /// The block size, a quantity (`4Mi`, the data path's default).
    #[arg(long, default_value = "4Mi")]
    pub(crate) block_size: String,
    /// The time the next `Cron` run is computed from (RFC 3339); default now.
    #[arg(long, value_name = "TIME")]
    pub(crate) now: Option<Timestamp>,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// A cached block in `--cached`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CachedBlock {
    path: String,
    index: u64,
}

/// The `-o json|yaml` document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    dataload: String,
    policy: Policy,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_run: Option<String>,
    plan: DataLoadPlan,
}

fn read(path: &std::path::Path) -> anyhow::Result<(String, String)> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {name}"))?;
    Ok((name, text))
}

pub(crate) fn run(args: &DataLoadArgs) -> anyhow::Result<Outcome> {
    let (name, text) = read(&args.file)?;
    let load: DataLoad = from_yaml_str(&name, &text)?;
    let (name, text) = read(&args.dataset)?;
    let dataset: Dataset = from_yaml_str(&name, &text)?;
    let listing: Vec<ListedObject> = match &args.listing {
        Some(path) => {
            let (name, text) = read(path)?;
            from_yaml_str(&name, &text)?
        }
        None => Vec::new(),
    };
    let cached: BTreeSet<(String, u64)> = match &args.cached {
        Some(path) => {
            let (name, text) = read(path)?;
            let blocks: Vec<CachedBlock> = from_yaml_str(&name, &text)?;
            blocks.into_iter().map(|b| (b.path, b.index)).collect()
        }
        None => BTreeSet::new(),
    };
    let block_size = args
        .block_size
        .parse::<Quantity>()
        .ok()
        .and_then(|q| u64::try_from(q.value()).ok())
        .filter(|b| *b > 0)
        .with_context(|| format!("--block-size: {:?} is not a byte quantity", args.block_size))?;
    let plan = plan(&load, &dataset, &listing, block_size, &cached)?;
    let now = args
        .now
        .unwrap_or_else(|| ksx_core::clock::Clock::now(&ksx_core::clock::SystemClock));
    let next_run = load.next_run(now)?.map(|t| t.to_string());
    let report = Report {
        dataload: format!(
            "{}/{}",
            load.metadata.namespace.as_deref().unwrap_or("default"),
            load.metadata.name.as_deref().unwrap_or_default()
        ),
        policy: load.spec.policy,
        next_run,
        plan,
    };
    match args.output.output {
        OutputFormat::Table => out!("{}", render(&report)),
        other => print_structured(other, &report)?,
    }
    Ok(Outcome::Success)
}

fn render(r: &Report) -> String {
    let p = &r.plan;
    let mut out = format!(
        "dataload {} of dataset {}: policy {:?}, next run {}\n",
        r.dataload,
        p.dataset,
        r.policy,
        r.next_run.as_deref().unwrap_or("-")
    );
    let mut table = Table::new([
        "OBJECTS",
        "REQUESTED",
        "TO LOAD",
        "SKIPPED",
        "BLOCKS",
        "BLOCK SIZE",
    ]);
    table.row([
        p.objects.to_string(),
        p.requested_bytes.to_string(),
        p.load_bytes.to_string(),
        p.skipped_bytes.to_string(),
        p.blocks.len().to_string(),
        format_bytes(p.block_size),
    ]);
    out.push_str(&table.render());
    let mut objects = Table::new(["PATH", "BLOCKS", "BYTES", "REPLICAS"]);
    for (path, replicas) in &p.replicas {
        let blocks: Vec<_> = p.blocks.iter().filter(|b| &b.path == path).collect();
        objects.row([
            path.clone(),
            blocks.len().to_string(),
            blocks.iter().map(|b| b.len).sum::<u64>().to_string(),
            replicas.to_string(),
        ]);
    }
    if !p.replicas.is_empty() {
        out.push('\n');
        out.push_str(&objects.render());
    }
    for d in &p.diagnostics {
        let _ = writeln!(out, "note: {d}");
    }
    out
}
