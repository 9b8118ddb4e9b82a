//! `ksx inspect rules validate DIR` and `ksx inspect baseline reset --node N` (spec `inspect.md` §2, §7), and
//! what `ksx inspect` gathers beyond manifests: the live cluster bundle (`--cluster`), Prometheus rule results
//! (`--prometheus`) and node-collector results (`--node-results`).

#[cfg(any(feature = "kube", feature = "prometheus"))]
use std::future::Future;
use std::path::PathBuf;

use clap::Subcommand;
use ksx_inspect::Bundle;
use ksx_inspect::model::RunError;
use ksx_inspect::rules::node::{
    BaselineStore as _, DEFAULT_BASELINE_FILE, FileBaselines, NodeResults,
};
use ksx_inspect::rules::{Rule, RuleKind};

use crate::Outcome;
use crate::inspect::{InspectArgs, warn};

/// The subcommands of `ksx inspect rules`.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum RulesCommand {
    /// Load rule files and report every problem without running them.
    Validate {
        /// Rule directories or files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

/// The subcommands of `ksx inspect baseline`.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum BaselineCommand {
    /// Forget a node's file-hash baseline so the next run records a new one.
    Reset {
        /// The node's name.
        #[arg(long)]
        node: String,
        /// The baseline file of the node collector (`ksx-node-inspect --baseline`).
        #[arg(long, default_value = DEFAULT_BASELINE_FILE)]
        baseline: PathBuf,
    },
}

/// Bad input of `ksx inspect` found while gathering (exit 2 rather than 1).
#[derive(Debug)]
pub(crate) struct InputError(pub(crate) String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// Runs `ksx inspect rules …`.
pub(crate) fn run_rules(command: &RulesCommand) -> anyhow::Result<Outcome> {
    let RulesCommand::Validate { paths } = command;
    let loaded = ksx_inspect::rules::read_rule_files(paths)
        .and_then(|files| ksx_inspect::rules::load_rules(&files));
    match loaded {
        Ok(rules) => {
            let count = |f: fn(&RuleKind) -> bool| rules.iter().filter(|r| f(&r.kind)).count();
            let object = count(|k| matches!(k, RuleKind::Object));
            let prometheus = count(|k| matches!(k, RuleKind::Prometheus(_)));
            let node = count(|k| matches!(k, RuleKind::Node(_)));
            outln!(
                "{} rule(s) valid: {object} object, {prometheus} prometheus, {node} node",
                rules.len()
            );
            Ok(Outcome::Success)
        }
        Err(errors) => {
            for e in &errors {
                warn(&e.to_string());
            }
            warn(&format!(
                "{} rule error(s); no inspection was run",
                errors.len()
            ));
            Ok(Outcome::Failed(2))
        }
    }
}

/// Runs `ksx inspect baseline …`.
pub(crate) fn run_baseline(command: &BaselineCommand) -> anyhow::Result<Outcome> {
    let BaselineCommand::Reset { node, baseline } = command;
    let mut store = match FileBaselines::open(baseline) {
        Ok(s) => s,
        Err(e) => {
            warn(&format!("error: {e}"));
            return Ok(Outcome::Failed(2));
        }
    };
    let removed = store.reset(node);
    if let Err(e) = store.save() {
        warn(&format!("error: cannot write the baseline: {e}"));
        return Ok(Outcome::Failed(1));
    }
    outln!(
        "node {node}: {removed} baseline hash(es) forgotten in {}; the next collector run records new ones",
        baseline.display()
    );
    Ok(Outcome::Success)
}

#[cfg(any(feature = "kube", feature = "prometheus"))]
fn block_on<F: Future>(future: F) -> F::Output {
    // `ksx` runs its commands on a multi-thread runtime; the inspection itself is synchronous.
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

#[cfg(not(feature = "prometheus"))]
fn runtime_error(message: String) -> RunError {
    RunError {
        kind: ksx_inspect::model::ErrorKind::Runtime,
        message,
        file: None,
        document: None,
        line: None,
        column: None,
    }
}

/// Evaluates the Prometheus rules and attaches the node-collector results; returns the run diagnostics.
///
/// # Errors
/// An unreadable or malformed `--node-results` file ([`InputError`]).
pub(crate) fn gather(
    args: &InspectArgs,
    rules: &mut [Rule],
    now: jiff::Timestamp,
    collector: &mut Vec<(String, serde_json::Value)>,
) -> anyhow::Result<Vec<RunError>> {
    gather_from(
        args.prometheus.as_deref(),
        &args.node_results,
        rules,
        now,
        collector,
    )
}

/// [`gather`] from its parts: the default Prometheus server and the node-results files (`ksx inspect plan run`
/// passes its plan's `targets.prometheus`).
///
/// # Errors
/// An unreadable or malformed node-results file ([`InputError`]).
pub(crate) fn gather_from(
    prometheus_url: Option<&str>,
    node_results: &[PathBuf],
    rules: &mut [Rule],
    now: jiff::Timestamp,
    collector: &mut Vec<(String, serde_json::Value)>,
) -> anyhow::Result<Vec<RunError>> {
    let mut errors = Vec::new();
    if rules
        .iter()
        .any(|r| matches!(r.kind, RuleKind::Prometheus(_)))
    {
        errors.extend(prometheus(prometheus_url, rules, now));
    }
    let mut results: Vec<NodeResults> = Vec::new();
    for path in node_results {
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError(format!("{}: {e}", path.display())))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| InputError(format!("{}: not JSON: {e}", path.display())))?;
        let items = match value {
            serde_json::Value::Array(a) => a,
            other => vec![other],
        };
        for (i, mut item) in items.into_iter().enumerate() {
            // The built-in collector checks travel under `collector`, beside the node rules' `rules`.
            let built_in = item
                .as_object_mut()
                .and_then(|o| o.remove("collector"))
                .filter(|c| !c.is_null());
            let r: NodeResults = serde_json::from_value(item).map_err(|e| {
                InputError(format!(
                    "{}: item {}: not ksx-node-inspect output: {e}",
                    path.display(),
                    i + 1
                ))
            })?;
            if let Some(c) = built_in {
                collector.push((r.node.clone(), c));
            }
            results.push(r);
        }
    }
    if !results.is_empty() {
        errors.extend(ksx_inspect::rules::node::attach_results(rules, &results));
    }
    Ok(errors)
}

#[cfg(feature = "prometheus")]
fn prometheus(url: Option<&str>, rules: &mut [Rule], now: jiff::Timestamp) -> Vec<RunError> {
    let source = ksx_inspect::rules::prometheus::PrometheusQueries {
        default_url: url.map(str::to_owned),
        bearer_token: None,
    };
    block_on(ksx_inspect::rules::prometheus::evaluate_rules(
        rules, &source, now,
    ))
}

#[cfg(not(feature = "prometheus"))]
fn prometheus(url: Option<&str>, rules: &mut [Rule], _now: jiff::Timestamp) -> Vec<RunError> {
    let _ = url;
    rules
        .iter()
        .filter(|r| matches!(r.kind, RuleKind::Prometheus(_)))
        .map(|r| {
            runtime_error(format!(
                "rule \"{}\": not evaluated: ksx was built without the prometheus feature",
                r.id
            ))
        })
        .collect()
}

/// Reads the live bundle of `--cluster`.
///
/// # Errors
/// No cluster can be reached (or this build has no kube support).
pub(crate) fn cluster_bundle(args: &InspectArgs) -> anyhow::Result<Bundle> {
    let filter = ksx_inspect::live::NamespaceFilter {
        include: args.namespaces.clone(),
        exclude: args.exclude_namespaces.clone(),
    };
    read_cluster(args.context.as_deref(), &filter)
}

/// Reads the live bundle of the kubeconfig `context` (default: the current one) in the namespaces `filter` allows
/// (`ksx inspect --cluster`, and `ksx inspect plan run` for a plan's `targets.cluster`).
///
/// # Errors
/// No cluster can be reached (or this build has no kube support).
#[cfg(feature = "kube")]
pub(crate) fn read_cluster(
    context: Option<&str>,
    filter: &ksx_inspect::live::NamespaceFilter,
) -> anyhow::Result<Bundle> {
    use anyhow::Context as _;
    block_on(async {
        let options = kube::config::KubeConfigOptions {
            context: context.map(str::to_owned),
            ..kube::config::KubeConfigOptions::default()
        };
        let config = match context {
            Some(_) => kube::Config::from_kubeconfig(&options)
                .await
                .context("cannot load the kubeconfig context")?,
            None => kube::Config::infer().await.context(
                "no Kubernetes cluster configured (KUBECONFIG, ~/.kube/config or in-cluster)",
            )?,
        };
        let client = kube::Client::try_from(config).context("cannot build a Kubernetes client")?;
        let cluster = ksx_core::cluster::kube::KubeCluster::new(client);
        let mut kinds = ksx_inspect::live::default_kinds();
        kinds.extend(ksx_inspect::live::optional_kinds());
        ksx_inspect::live::bundle_from_cluster(&cluster, filter, &kinds)
            .await
            .context("cannot read the cluster")
    })
}

/// Reads the live bundle of the kubeconfig `context`: without the `kube` feature, always an error saying so.
///
/// # Errors
/// Always: this build has no kube support.
#[cfg(not(feature = "kube"))]
pub(crate) fn read_cluster(
    context: Option<&str>,
    _filter: &ksx_inspect::live::NamespaceFilter,
) -> anyhow::Result<Bundle> {
    let _ = context;
    anyhow::bail!(
        "--cluster needs a Kubernetes cluster, and this ksx was built without the kube feature (rebuild with --features kube)"
    )
}

/// Puts the built-in collector results of `ksx-node-inspect` on the bundle's Nodes (`/status/collector`, where the
/// node-cert-expiry, node-disk-usage and node-service-down checks read them); a node the bundle lacks is added
/// as a live Node that carries only its name and those results.
pub(crate) fn attach_collector(
    bundle: Bundle,
    collector: &[(String, serde_json::Value)],
) -> Bundle {
    if collector.is_empty() {
        return bundle;
    }
    let mut objects = bundle.objects().to_vec();
    for (node, results) in collector {
        let found = objects
            .iter_mut()
            .find(|o| o.resource.kind == "Node" && o.resource.name == *node);
        match found {
            Some(o) => {
                if let Some(obj) = o.value.as_object_mut() {
                    let status = obj.entry("status").or_insert_with(|| serde_json::json!({}));
                    if let Some(status) = status.as_object_mut() {
                        status.insert("collector".to_owned(), results.clone());
                    }
                }
            }
            None => objects.push(ksx_inspect::InspectObject::new(
                serde_json::json!({
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": node},
                    "status": {"collector": results}
                }),
                None,
                "default",
            )),
        }
    }
    let mut out = Bundle::from_objects(objects);
    out.errors = bundle.errors;
    out.inputs = bundle.inputs;
    out
}
