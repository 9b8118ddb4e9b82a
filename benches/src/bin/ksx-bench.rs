//! `ksx-bench <area> --json`: runs a benchmark area once with fixed seeds and prints one JSON object of figures
//! (flat snake_case keys ending in their unit).
#![allow(clippy::print_stdout, reason = "the figures are the program's output")]
#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark measures wall time on purpose; engines never do"
)]

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use ksx_benches::{
    cluster_with_deployment, cluster_with_pods, list_all_pods, quantity_inputs, rolling_update,
};
use ksx_core::quantity::Quantity;

/// Prints benchmark figures as JSON.
#[derive(Debug, Parser)]
#[command(name = "ksx-bench", version)]
struct Args {
    /// The area to measure.
    #[arg(value_enum)]
    area: Area,
    /// Print JSON (the only format; accepted for symmetry with the `ksx` CLI).
    #[arg(long)]
    json: bool,
    /// Repetitions of each measurement; the best is reported.
    #[arg(long, default_value_t = 3)]
    repeat: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Area {
    /// Quantity parsing/printing and the in-memory cluster.
    Core,
}

fn best_secs(repeat: u32, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        f()?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn core(repeat: u32) -> anyhow::Result<BTreeMap<&'static str, f64>> {
    let mut out = BTreeMap::new();
    let inputs = quantity_inputs(200_000, 7);
    let secs = best_secs(repeat, || {
        let ok = inputs
            .iter()
            .filter(|s| s.parse::<Quantity>().is_ok())
            .count();
        anyhow::ensure!(
            ok == inputs.len(),
            "only {ok} of {} inputs parsed",
            inputs.len()
        );
        Ok(())
    })?;
    out.insert("quantity_parse_per_sec", inputs.len() as f64 / secs);
    let parsed: Vec<Quantity> = inputs.iter().filter_map(|s| s.parse().ok()).collect();
    let secs = best_secs(repeat, || {
        let len: usize = parsed.iter().map(|q| q.to_string().len()).sum();
        anyhow::ensure!(len > 0, "empty output");
        Ok(())
    })?;
    out.insert("quantity_format_per_sec", parsed.len() as f64 / secs);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let start = Instant::now();
    let cluster = rt.block_on(cluster_with_pods(10_000))?;
    out.insert(
        "cluster_create_10k_pods_ms",
        start.elapsed().as_secs_f64() * 1e3,
    );
    let secs = best_secs(repeat, || {
        let n = rt.block_on(list_all_pods(&cluster))?;
        anyhow::ensure!(n == 10_000, "listed {n} pods");
        Ok(())
    })?;
    out.insert("cluster_list_10k_pods_ms", secs * 1e3);

    let deployment = rt.block_on(cluster_with_deployment(1000))?;
    let mut version = 1;
    let mut simulated = 0.0;
    let secs = best_secs(repeat, || {
        version += 1;
        simulated =
            rt.block_on(rolling_update(&deployment, 1000, &format!("web:{version}")))? as f64;
        Ok(())
    })?;
    out.insert("cluster_rolling_update_1k_replicas_ms", secs * 1e3);
    out.insert(
        "cluster_rolling_update_1k_replicas_simulated_secs",
        simulated,
    );
    Ok(out)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let figures = match args.area {
        Area::Core => core(args.repeat),
    };
    match figures.and_then(|f| Ok(serde_json::to_string_pretty(&f)?)) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            #[allow(clippy::print_stderr, reason = "the one error path of the binary")]
            {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(2)
        }
    }
}
