//! The command tree of `ksx`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// ksx: KubeSphere platform features as a Rust SDK, on the embedded in-memory cluster or a real one.
#[derive(Debug, Parser)]
#[command(name = "ksx", version, propagate_version = true, max_term_width = 110)]
pub(crate) struct Cli {
    /// More log output on standard error (-v info, -vv debug, -vvv trace); `KSX_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Output formats shared by every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum OutputFormat {
    /// A table for people.
    #[default]
    Table,
    /// One JSON document on standard output, for machines.
    Json,
    /// YAML.
    Yaml,
}

/// The `-o` flag.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct OutputArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub(crate) output: OutputFormat,
}

/// Input flags shared by the offline commands: `--input FILE` (a JSON/YAML request, `-` for stdin) and `-f PATH…`
/// (manifests: files, directories, `-`).
#[derive(Debug, Clone, Args)]
pub(crate) struct InputArgs {
    /// A request document (JSON or YAML); `-` reads standard input.
    #[arg(long)]
    pub(crate) input: Option<PathBuf>,
    /// Manifests: files, directories (recursive) or `-` for standard input.
    #[arg(short = 'f', long = "filename")]
    pub(crate) files: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print the version of ksx and of the Kubernetes API it is built against.
    Version(OutputArgs),
    /// Build a realistic cluster in memory, run every engine on it, print a summary and write an HTML report.
    Demo(DemoArgs),
    /// HPA v2: replica decisions, simulation, v1→v2 conversion.
    Hpa(HpaArgs),
    /// VPA: recommendations and right-sizing reports.
    Vpa(crate::vpa::VpaArgs),
    /// Inspect manifests or a cluster for risks and misconfiguration.
    Inspect(Box<crate::inspect::InspectArgs>),
    /// Event-driven scaling and the autoscaling conflict check.
    Scale(crate::scale::ScaleArgs),
    /// The ksx scheduler: scores, placement, node groups, GPUs.
    Sched(crate::sched::SchedArgs),
    /// Dataset cache: planning and the eviction-policy simulator.
    Cache(crate::cache::CacheArgs),
    /// Gateways: hierarchy, smooth upgrades, fault diagnosis.
    Gateway(InputArgs),
    /// Multi-cluster fleet state and upgrade plans.
    Fleet(InputArgs),
}

/// Flags of `ksx hpa`.
#[derive(Debug, Clone, Args)]
pub(crate) struct HpaArgs {
    #[command(subcommand)]
    pub(crate) command: HpaCommand,
}

/// Subcommands of `ksx hpa`.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum HpaCommand {
    /// Normalize a replica proposal as the HPA controller does (stabilization, policies, min/max).
    Decide(HpaInputArgs),
    /// Compute one metric's replica proposal as the HPA replica calculator does.
    Replicas(HpaInputArgs),
    /// Convert autoscaling/v1 HPAs (with their annotations) to autoscaling/v2 and list what changed.
    Convert(HpaConvertArgs),
    /// Replay a load timeline through the engine and draw the replicas over time (sparkline, SVG).
    Simulate(HpaSimulateArgs),
}

/// Flags of `ksx hpa simulate`.
#[derive(Debug, Clone, Args)]
pub(crate) struct HpaSimulateArgs {
    /// The simulation request (JSON or YAML); `-` reads standard input.
    #[arg(long)]
    pub(crate) input: PathBuf,
    /// Also write an SVG chart of load and replicas here.
    #[arg(long)]
    pub(crate) svg: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// Flags of `ksx hpa convert`.
#[derive(Debug, Clone, Args)]
pub(crate) struct HpaConvertArgs {
    /// Manifests holding autoscaling/v1 HPAs: files, directories or `-` for standard input.
    #[arg(short = 'f', long = "filename", required = true)]
    pub(crate) files: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// Flags of `ksx hpa decide` and `ksx hpa replicas`.
#[derive(Debug, Clone, Args)]
pub(crate) struct HpaInputArgs {
    /// The request document (JSON or YAML); `-` reads standard input.
    #[arg(long)]
    pub(crate) input: PathBuf,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// Flags of `ksx demo`.
#[derive(Debug, Clone, Args)]
pub(crate) struct DemoArgs {
    /// Seed of the generated cluster: the same seed gives the same cluster, summary and report.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Where to write the HTML report.
    #[arg(long, default_value = "ksx-demo-report.html")]
    pub(crate) report: PathBuf,
    /// Number of nodes (at least 50 gives every pool a realistic size).
    #[arg(long, default_value_t = 60)]
    pub(crate) nodes: usize,
    /// Number of workloads (Deployments and StatefulSets).
    #[arg(long, default_value_t = 240)]
    pub(crate) workloads: usize,
    /// Simulated minutes to run after creating the workloads.
    #[arg(long, default_value_t = 5)]
    pub(crate) minutes: u64,
    /// Never show a progress bar, even on a terminal.
    #[arg(long)]
    pub(crate) no_progress: bool,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}
