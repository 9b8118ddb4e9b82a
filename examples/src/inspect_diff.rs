//! `ksx inspect diff OLD NEW`: findings new, fixed and unchanged between two results (spec `inspect.md` §3).
//!
//! OLD and NEW are files (an `InspectResult` or a JSON `InspectReport`) or result ids in the store; `--plan P`
//! compares P's two latest results. Exit 3 when a new finding is at or above `--fail-on`, else 0; 2 for bad
//! input (unknown id, unreadable file).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use ksx_inspect::Severity;
use ksx_inspect::diff::{DiffFormat, Snapshot, diff, render};
use ksx_inspect::plan::result::plan_of_id;

use crate::Outcome;
use crate::inspect::{FailOn, warn};
use crate::inspect_plan::{StoreArgs, open_store};

/// Formats of `ksx inspect diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum DiffFormatArg {
    /// Sections of new, fixed, unchanged and suppressed findings.
    #[default]
    Table,
    /// The `InspectDiff` JSON document.
    Json,
    /// GitHub-flavoured Markdown.
    Markdown,
    /// One self-contained HTML page with new/fixed/unchanged tabs.
    Html,
}

/// Flags of `ksx inspect diff`.
#[derive(Debug, Clone, Args)]
pub(crate) struct DiffArgs {
    /// The older result: a result id or a JSON file (InspectResult or InspectReport).
    pub(crate) old: Option<String>,
    /// The newer result: a result id or a JSON file.
    pub(crate) new: Option<String>,
    /// Compare the two latest results of this plan instead of OLD and NEW.
    #[arg(long, conflicts_with_all = ["old", "new"])]
    pub(crate) plan: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormatArg::Table)]
    pub(crate) format: DiffFormatArg,
    /// Exit 3 when a new finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Danger)]
    pub(crate) fail_on: FailOn,
    /// Write the diff to this file instead of standard output.
    #[arg(short = 'o', long = "output")]
    pub(crate) output: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// Runs `ksx inspect diff`.
pub(crate) fn run(args: &DiffArgs) -> anyhow::Result<Outcome> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| handle.block_on(run_async(args)))
}

async fn side(arg: &str, args: &DiffArgs) -> anyhow::Result<Snapshot> {
    let path = Path::new(arg);
    if path.is_file() {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {arg}"))?;
        return Ok(Snapshot::from_json(arg, &text)?);
    }
    if plan_of_id(arg).is_none() {
        anyhow::bail!("{arg}: neither a file nor a result id (<plan>-<yyyymmddThhmmssZ>)");
    }
    let store = open_store(&args.store).await?;
    match store.get(arg).await? {
        Some(result) => Ok(Snapshot::from_result(result)),
        None => anyhow::bail!("no result {arg} in the store"),
    }
}

async fn run_async(args: &DiffArgs) -> anyhow::Result<Outcome> {
    let (old, new) = match (&args.plan, &args.old, &args.new) {
        (Some(plan), None, None) => {
            let store = open_store(&args.store).await?;
            let (old, new) = store.latest_two(plan).await?;
            (Snapshot::from_result(old), Snapshot::from_result(new))
        }
        (None, Some(old), Some(new)) => (side(old, args).await?, side(new, args).await?),
        _ => anyhow::bail!("give OLD and NEW, or --plan P for the plan's two latest results"),
    };
    let d = diff(&old, &new);
    let format = match args.format {
        DiffFormatArg::Table => DiffFormat::Table,
        DiffFormatArg::Json => DiffFormat::Json,
        DiffFormatArg::Markdown => DiffFormat::Markdown,
        DiffFormatArg::Html => DiffFormat::Html,
    };
    let text = render(&d, format);
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, text) {
                warn(&format!("error: cannot write {}: {e}", path.display()));
                return Ok(Outcome::Failed(1));
            }
        }
        None => out!("{text}"),
    }
    let fail_on = match args.fail_on {
        FailOn::Warning => Severity::Warning,
        FailOn::Danger => Severity::Danger,
    };
    if d.fails_at(fail_on) {
        Ok(Outcome::Failed(3))
    } else {
        Ok(Outcome::Success)
    }
}
