//! `ksx sched`: the offline scheduler commands of the scheduler contract (`score`, `place`, `schema`).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use ksx_gpu::{place, score};

use crate::Outcome;
use crate::cli::OutputArgs;
use crate::output::print_structured;

/// Flags of `ksx sched`.
#[derive(Debug, Args)]
pub(crate) struct SchedArgs {
    #[command(subcommand)]
    pub(crate) command: SchedCommand,
}

/// Subcommands of `ksx sched`.
#[derive(Debug, Subcommand)]
pub(crate) enum SchedCommand {
    /// Filter one pod against nodes and give the raw scores of the named plugins (kube-scheduler semantics).
    Score(SchedInputArgs),
    /// Schedule a batch of pending pods with node groups, GPU devices and queues; print the bindings.
    Place(SchedInputArgs),
    /// Print the JSON Schemas of the scheduler's inputs (score request, node groups, plugin args).
    Schema(OutputArgs),
}

/// Flags of `ksx sched score`.
#[derive(Debug, Clone, Args)]
pub(crate) struct SchedInputArgs {
    /// The request document (JSON or YAML); `-` reads standard input.
    #[arg(long)]
    pub(crate) input: PathBuf,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// Runs `ksx sched …`.
pub(crate) fn run(args: &SchedArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        SchedCommand::Score(a) => run_score(a),
        SchedCommand::Place(a) => run_place(a),
        SchedCommand::Schema(out) => {
            let mut schemas = score::schemas();
            schemas.extend(place::schemas());
            print_structured(out.output, &schemas)?;
            Ok(Outcome::Success)
        }
    }
}

/// Every error here is bad input (exit 2): the request, the objects in it or the plugin args.
fn run_score(args: &SchedInputArgs) -> anyhow::Result<Outcome> {
    let (name, text) = read_input(&args.input)?;
    let request: score::ScoreRequest = ksx_core::manifest::from_yaml_str(&name, &text)?;
    let response = score::score(&request).with_context(|| format!("{name}: invalid request"))?;
    print_structured(args.output.output, &response)?;
    Ok(Outcome::Success)
}

/// Every error here is bad input (exit 2): the request, the objects in it, the profile, queues or node groups.
fn run_place(args: &SchedInputArgs) -> anyhow::Result<Outcome> {
    let (name, text) = read_input(&args.input)?;
    let request: place::PlaceRequest = ksx_core::manifest::from_yaml_str(&name, &text)?;
    let response = place::place(&request).with_context(|| format!("{name}: invalid request"))?;
    print_structured(args.output.output, &response)?;
    Ok(Outcome::Success)
}

fn read_input(path: &Path) -> anyhow::Result<(String, String)> {
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
