//! The `ksx` command-line tool: offline decisions, inspections and the demo, on the embedded in-memory cluster
//! by default.

#[macro_use]
mod output;

mod cache;
mod cli;
mod demo;
mod hpa;
mod inspect;
mod inspect_checks;
mod inspect_diff;
mod inspect_plan;
mod inspect_rules;
mod scale;
mod sched;
mod vpa;
mod vpa_report;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// mimalloc instead of the system allocator: `ksx inspect` builds and frees millions of small YAML values, and
/// glibc's malloc, free and fresh-page faults were a quarter of its CPU (benches/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How a command ended, mapped to the process exit code in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Everything succeeded: exit 0.
    Success,
    /// A check or decision failed (findings at or above `--fail-on`, conflicts…): exit 1 or the command's own code.
    Failed(u8),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return report_error(&anyhow::Error::new(e).context("cannot start the async runtime"));
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failed(code)) => ExitCode::from(code),
        Err(e) => report_error(&e),
    }
}

/// Usage and input errors exit with 2, after printing the whole cause chain on standard error.
fn report_error(e: &anyhow::Error) -> ExitCode {
    #[allow(
        clippy::print_stderr,
        reason = "the single place where errors reach the user"
    )]
    {
        eprintln!("error: {e}");
        for cause in e.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
    }
    ExitCode::from(2)
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KSX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Version(args) => {
            output::print_version(args.output)?;
            Ok(Outcome::Success)
        }
        Command::Demo(args) => demo::run(&args).await,
        Command::Hpa(args) => hpa::run(&args),
        Command::Vpa(args) => vpa::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Scale(args) => scale::run(&args),
        Command::Sched(args) => sched::run(&args),
        Command::Cache(args) => cache::run(&args),
        Command::Gateway(_) => pending("gateway", 0),
        Command::Fleet(_) => pending("fleet", 0),
    }
}

/// A command group whose engine has not landed yet: say so plainly and exit with the usage code.
fn pending(group: &str, issue: u32) -> anyhow::Result<Outcome> {
    if issue == 0 {
        anyhow::bail!("`ksx {group}` is not available in this build yet: its engine has not landed")
    }
    anyhow::bail!(
        "`ksx {group}` is not available in this build yet: its engine lands with issue #{issue}"
    )
}
