//! `ksx vpa`: the offline VPA commands of the scaling contract (`recommend`).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use ksx_scaling::vpa::contract;

use crate::Outcome;
use crate::cli::OutputArgs;
use crate::output::print_structured;

/// Flags of `ksx vpa`.
#[derive(Debug, Clone, Args)]
pub(crate) struct VpaArgs {
    #[command(subcommand)]
    pub(crate) command: VpaCommand,
}

/// Subcommands of `ksx vpa`.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum VpaCommand {
    /// Recommend container requests from usage samples exactly as the VPA recommender does.
    Recommend(VpaRecommendArgs),
    /// Right-size every container from Prometheus history: requests, recommendation, savings, OOM and
    /// throttling risk (table, JSON, YAML, HTML).
    Report(crate::vpa_report::ReportArgs),
}

/// Flags of `ksx vpa recommend`.
#[derive(Debug, Clone, Args)]
pub(crate) struct VpaRecommendArgs {
    /// The request document (JSON or YAML); `-` reads standard input.
    #[arg(long)]
    pub(crate) input: PathBuf,
    /// Output format (`table` prints the contract's JSON too).
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// Runs one `ksx vpa` subcommand.
pub(crate) fn run(args: &VpaArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        VpaCommand::Recommend(a) => recommend(a),
        VpaCommand::Report(a) => crate::vpa_report::run(a),
    }
}

/// `ksx vpa recommend`: reads the request, evaluates it and prints the answer. Every error is bad input
/// (exit 2), named by file and field.
fn recommend(args: &VpaRecommendArgs) -> anyhow::Result<Outcome> {
    let (name, text) = read_input(&args.input)?;
    let request: contract::RecommendRequest = ksx_core::manifest::from_yaml_str(&name, &text)?;
    let response =
        contract::recommend(&request).with_context(|| format!("{name}: invalid request"))?;
    print_structured(args.output.output, &response)?;
    Ok(Outcome::Success)
}

/// The text of `path`, or of standard input for `-`, with the name to use in messages.
pub(crate) fn read_input(path: &Path) -> anyhow::Result<(String, String)> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        return Ok(("-".to_owned(), text));
    }
    let text = ksx_core::manifest::read_file(path)?;
    Ok((path.display().to_string(), text))
}
