//! `ksx hpa`: the offline HPA commands of the scaling contract (`decide`, `replicas`).

use std::io::Read as _;
use std::path::Path;

use anyhow::Context as _;
use ksx_scaling::hpa::{contract, convert, simulate as sim};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Outcome;
use crate::cli::{
    HpaArgs, HpaCommand, HpaConvertArgs, HpaInputArgs, HpaSimulateArgs, OutputFormat,
};
use crate::output::print_structured;

/// Runs one `ksx hpa` subcommand.
pub(crate) fn run(args: &HpaArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        HpaCommand::Decide(a) => evaluate(a, contract::decide),
        HpaCommand::Replicas(a) => evaluate(a, contract::replicas),
        HpaCommand::Convert(a) => convert(a),
        HpaCommand::Simulate(a) => simulate(a),
    }
}

/// Reads the request, evaluates it and prints the answer. Bad input is an error (exit 2); an evaluation error
/// prints `{"error": …}` and exits 1, as the contract says.
fn evaluate<Req: DeserializeOwned, Resp: Serialize>(
    args: &HpaInputArgs,
    eval: impl Fn(&Req) -> ksx_scaling::Result<Resp>,
) -> anyhow::Result<Outcome> {
    let (name, text) = read_input(&args.input)?;
    let request: Req = ksx_core::manifest::from_yaml_str(&name, &text)?;
    match eval(&request) {
        Ok(response) => {
            print_structured(args.output.output, &response)?;
            Ok(Outcome::Success)
        }
        Err(e) if e.is_evaluation() => {
            print_structured(
                args.output.output,
                &serde_json::json!({"error": e.to_string()}),
            )?;
            #[allow(
                clippy::print_stderr,
                reason = "evaluation errors are reported on standard error as well, per the contract"
            )]
            {
                eprintln!("error: {e}");
            }
            Ok(Outcome::Failed(1))
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("{name}: invalid request"))),
    }
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

/// `ksx hpa convert`: every autoscaling/v1 HPA of the manifests to autoscaling/v2. Documents of other kinds are
/// skipped; a bad document or an HPA that does not convert is bad input (exit 2).
fn convert(args: &HpaConvertArgs) -> anyhow::Result<Outcome> {
    let loaded = ksx_core::manifest::load_paths(&args.files);
    if let Some(d) = loaded.diagnostics.first() {
        anyhow::bail!("{d}");
    }
    let mut converted = Vec::new();
    for doc in &loaded.documents {
        if doc.api_version() != "autoscaling/v1" || doc.kind() != "HorizontalPodAutoscaler" {
            continue;
        }
        let c = convert::v1_to_v2(&doc.value)
            .with_context(|| format!("{}: HorizontalPodAutoscaler {}", doc.source, doc.name()))?;
        converted.push(c);
    }
    if converted.is_empty() {
        anyhow::bail!("no autoscaling/v1 HorizontalPodAutoscaler in the given manifests");
    }
    match args.output.output {
        OutputFormat::Json => {
            let items: Vec<serde_json::Value> = converted
                .iter()
                .map(|c| serde_json::json!({"hpa": c.hpa, "changes": c.changes}))
                .collect();
            print_structured(
                OutputFormat::Json,
                &serde_json::json!({ "converted": items }),
            )?;
        }
        OutputFormat::Table | OutputFormat::Yaml => {
            // The YAML stays appliable: the changes go in comments above each object.
            let mut out = String::new();
            for (i, c) in converted.iter().enumerate() {
                if i > 0 {
                    out.push_str("---\n");
                }
                for change in &c.changes {
                    out.push_str("# ");
                    out.push_str(change);
                    out.push('\n');
                }
                out.push_str(&serde_yaml::to_string(&c.hpa)?);
            }
            out!("{out}");
        }
    }
    Ok(Outcome::Success)
}

/// `ksx hpa simulate`: a load timeline through the engine; a sparkline and a summary for people, the steps as
/// JSON or YAML for machines, and optionally an SVG chart.
fn simulate(args: &HpaSimulateArgs) -> anyhow::Result<Outcome> {
    let (name, text) = read_input(&args.input)?;
    let request: sim::SimulateRequest = ksx_core::manifest::from_yaml_str(&name, &text)?;
    let steps = sim::simulate(&request).with_context(|| format!("{name}: invalid request"))?;
    let replicas: Vec<i32> = steps.iter().map(|s| s.replicas).collect();
    let sparkline = sim::sparkline(&replicas);
    if let Some(path) = &args.svg {
        std::fs::write(path, sim::to_svg(&steps, request.target_per_pod))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let peak = replicas.iter().copied().max().unwrap_or(0);
    let limited = steps
        .iter()
        .filter(|s| s.limit_reason != ksx_scaling::hpa::LimitReason::DesiredWithinRange)
        .count();
    match args.output.output {
        OutputFormat::Table => {
            let first = replicas.first().copied().unwrap_or(0);
            let last = replicas.last().copied().unwrap_or(0);
            outln!("replicas  {sparkline}");
            outln!(
                "syncs {}, start {first}, peak {peak}, end {last}, limited at {limited} syncs ({})",
                steps.len(),
                if request.behavior.is_some() {
                    "behavior"
                } else {
                    "legacy rules"
                }
            );
        }
        format => print_structured(
            format,
            &serde_json::json!({
                "sparkline": sparkline,
                "peakReplicas": peak,
                "limitedSyncs": limited,
                "steps": steps,
            }),
        )?,
    }
    Ok(Outcome::Success)
}
