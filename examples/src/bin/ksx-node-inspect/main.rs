//! `ksx-node-inspect`: the node collector of `ksx inspect` (spec `inspect.md` §2.7). Runs the `type: node` rules
//! whose `nodeSelector` matches this node on the local machine (sysctl, systemd units, file hashes against a
//! first-run baseline, log scanning) and prints the findings as JSON (`NodeResults`), which the engine merges as
//! findings on `Node/<name>`. The built-in collector checks `node-cert-expiry`, `node-disk-usage` and
//! `node-service-down` (§4.7) run too (`--no-builtin` turns them off); their findings are under the `collector`
//! key (check ID → findings, `value` = severity), the shape of a Node's `/status/collector`.
//! Exit 0 after printing, 2 on bad rules or arguments, 1 when it cannot write.

#[path = "../../bin_support.rs"]
#[allow(
    dead_code,
    reason = "the collector needs only part of the shared helpers"
)]
mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use ksx_inspect::rules::node::{FileBaselines, LocalHost, collect};
use ksx_inspect::rules::node_builtin::{BuiltinOptions, collect_builtin};
use ksx_inspect::rules::{RuleKind, load_rules, read_rule_files};

/// Runs node rules on this machine and prints the findings as JSON.
#[derive(Debug, Parser)]
#[command(name = "ksx-node-inspect", version)]
struct Args {
    /// Rule directories or files (`type: node` rules are run; others are ignored).
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    /// This node's name (default: `NODE_NAME`, else the kernel hostname).
    #[arg(long)]
    node: Option<String>,
    /// A node label `key=value` for `nodeSelector` (repeatable; `kubernetes.io/os=linux` and
    /// `kubernetes.io/hostname=<node>` are always set).
    #[arg(long = "label")]
    labels: Vec<String>,
    /// Where the node's root filesystem is (`/`, or the host root mounted read-only into a collector pod).
    #[arg(long, default_value = "/")]
    root: PathBuf,
    /// The first-run hash baseline file.
    #[arg(long, default_value = ksx_inspect::rules::node::DEFAULT_BASELINE_FILE)]
    baseline: PathBuf,
    /// Skip the built-in collector checks (certificate expiry, disk usage, kubelet/runtime units).
    #[arg(long)]
    no_builtin: bool,
    /// A directory scanned for `*.crt`/`*.pem` certificates (repeatable; default /etc/kubernetes/pki and
    /// /var/lib/kubelet/pki).
    #[arg(long = "cert-dir")]
    cert_dirs: Vec<String>,
    /// Days before expiry from which a certificate is a warning.
    #[arg(long, default_value_t = 30)]
    cert_warning_days: i64,
    /// Days before expiry from which a certificate is a danger.
    #[arg(long, default_value_t = 7)]
    cert_danger_days: i64,
    /// Filesystem usage (blocks or inodes) in percent above which it is a warning.
    #[arg(long, default_value_t = 85)]
    disk_warning_percent: u64,
    /// Filesystem usage (blocks or inodes) in percent above which it is a danger.
    #[arg(long, default_value_t = 95)]
    disk_danger_percent: u64,
    /// Write the JSON here instead of standard output.
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    support::run_main(run(args), |e| {
        if e.to_string().starts_with("cannot write") {
            1
        } else {
            2
        }
    })
}

fn node_name(args: &Args) -> String {
    args.node
        .clone()
        .or_else(|| std::env::var("NODE_NAME").ok().filter(|n| !n.is_empty()))
        .or_else(|| {
            std::fs::read_to_string(args.root.join("proc/sys/kernel/hostname"))
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "localhost".to_owned())
}

async fn run(args: Args) -> anyhow::Result<()> {
    let files = read_rule_files(&args.rules).map_err(|errors| rule_errors(&errors))?;
    let rules = load_rules(&files).map_err(|errors| rule_errors(&errors))?;
    let node = node_name(&args);
    let mut labels = BTreeMap::from([
        ("kubernetes.io/os".to_owned(), "linux".to_owned()),
        ("kubernetes.io/hostname".to_owned(), node.clone()),
    ]);
    for l in &args.labels {
        let (k, v) = l
            .split_once('=')
            .with_context(|| format!("--label {l:?}: expected key=value"))?;
        labels.insert(k.to_owned(), v.to_owned());
    }
    let node_rules = rules
        .iter()
        .filter(|r| matches!(r.kind, RuleKind::Node(_)))
        .count();
    tracing::info!(node = %node, rules = node_rules, "collecting");
    let host = LocalHost {
        root: args.root.clone(),
        ..LocalHost::default()
    };
    let mut baselines = FileBaselines::open(&args.baseline).map_err(anyhow::Error::msg)?;
    let mut results = collect(&rules, &node, &labels, &host, &mut baselines);
    let mut collector = None;
    if !args.no_builtin {
        let mut opts = BuiltinOptions {
            cert_warning_days: args.cert_warning_days,
            cert_danger_days: args.cert_danger_days,
            disk_warning_percent: args.disk_warning_percent,
            disk_danger_percent: args.disk_danger_percent,
            ..BuiltinOptions::default()
        };
        if !args.cert_dirs.is_empty() {
            opts.cert_dirs.clone_from(&args.cert_dirs);
        }
        collector = Some(collect_builtin(
            &host,
            &opts,
            &ksx_core::SystemClock,
            &mut results.notes,
        ));
    }
    baselines
        .save()
        .map_err(|e| anyhow::anyhow!("cannot write the baseline: {e}"))?;
    let mut json = serde_json::to_value(&results)?;
    if let (Some(c), Some(map)) = (collector, json.as_object_mut()) {
        map.insert("collector".to_owned(), serde_json::to_value(c)?);
    }
    let mut text = serde_json::to_string_pretty(&json)?;
    text.push('\n');
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
        None => support::emit(&text),
    }
    Ok(())
}

fn rule_errors(errors: &[ksx_inspect::rules::RuleError]) -> anyhow::Error {
    let mut text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    text.push(format!(
        "{} rule error(s); no inspection was run",
        errors.len()
    ));
    anyhow::anyhow!(text.join("\n"))
}
