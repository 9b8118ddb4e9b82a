//! Against a real cluster (feature `kube`): usage from Prometheus (feature `prometheus`), with an optional
//! `--history-days` bootstrap of the aggregates from the Prometheus history.

use std::sync::Arc;

use anyhow::Context as _;
use kube::config::{KubeConfigOptions, Kubeconfig};

use ksx_core::cluster::kube::KubeCluster;
use ksx_core::metrics::MetricsSource;
use ksx_core::{Clock as _, SystemClock};
use ksx_scaling::vpa::config::RecommenderConfig;
use ksx_scaling::vpa::store::CheckpointStore;
use ksx_scaling::vpa::updater::RateLimiter;

use crate::recommender::{Recommender, nanos};
use crate::{Args, Line, Printer, updater_config, updates};

pub(super) async fn run(
    args: &Args,
    store: &dyn CheckpointStore,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let cluster = match &args.kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read the kubeconfig {}", path.display()))?;
            let config = kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .with_context(|| format!("cannot use the kubeconfig {}", path.display()))?;
            KubeCluster::new(kube::Client::try_from(config)?)
        }
        None => KubeCluster::try_default().await?,
    };
    let metrics = metrics_source(args)?;
    let cfg = RecommenderConfig::default();
    let mut recommender = Recommender::new(cfg);
    let restored = recommender.restore(store).await?;
    let line = serde_json::json!({
        "kind": "restore",
        "message": format!("restored {} checkpoints", restored.loaded),
        "loaded": restored.loaded,
        "errors": restored.errors,
    });
    printer.print(&[Line::Other(&line)])?;
    let clock = SystemClock;
    let start = nanos(clock.now());
    #[cfg(feature = "prometheus")]
    if args.history_days > 0 {
        let seeded = bootstrap(args, &cluster, metrics.as_ref(), &mut recommender, start).await?;
        let line = serde_json::json!({
            "kind": "history",
            "message": format!("history of {} days seeded {seeded} aggregates", args.history_days),
            "aggregates": seeded,
        });
        printer.print(&[Line::Other(&line)])?;
    }
    let config = updater_config(args);
    let mut limiter = RateLimiter::new(args.eviction_rate_limit, args.eviction_rate_burst);
    let mut rec_ticker = tokio::time::interval(args.recommender_interval);
    rec_ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut upd_ticker = tokio::time::interval(args.updater_interval);
    upd_ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut loops = 0_u64;
    loop {
        tokio::select! {
            _ = rec_ticker.tick() => {
                let now = nanos(clock.now());
                match recommender.step(&cluster, metrics.as_ref(), now, start).await {
                    Ok(lines) => printer.print(&lines.iter().map(Line::Recommendation).collect::<Vec<_>>())?,
                    Err(e) => tracing::warn!(error = %e, "recommender loop failed"),
                }
                if let Err(e) = recommender.checkpoint(store, now).await {
                    tracing::warn!(error = %e, "cannot save checkpoints");
                }
                loops += 1;
                if loops.is_multiple_of(10)
                    && let Err(e) = recommender.collect_orphans(store).await
                {
                    tracing::warn!(error = %e, "cannot collect orphan checkpoints");
                }
            }
            _ = upd_ticker.tick() => {
                let now = nanos(clock.now());
                match updates::step(&cluster, &config, &mut limiter, now, start).await {
                    Ok(lines) => printer.print(&lines.iter().map(Line::Update).collect::<Vec<_>>())?,
                    Err(e) => tracing::warn!(error = %e, "updater loop failed"),
                }
            }
        }
    }
}

/// Seeds every VPA's aggregates with `--history-days` of Prometheus history; returns how many were seeded.
#[cfg(feature = "prometheus")]
async fn bootstrap(
    args: &Args,
    cluster: &KubeCluster,
    metrics: &dyn MetricsSource,
    recommender: &mut Recommender,
    now: i64,
) -> anyhow::Result<usize> {
    use ksx_core::cluster::Object;
    use ksx_core::cluster::selector::LabelSelector;
    use ksx_scaling::vpa::history::{HistoryConfig, load_history, load_pod_labels};
    let hcfg = HistoryConfig {
        length: std::time::Duration::from_secs(u64::from(args.history_days) * 24 * 3600),
        ..HistoryConfig::default()
    };
    let history = load_history(metrics, &hcfg, now).await?;
    let labels = load_pod_labels(metrics, &hcfg, now).await?;
    let input = ksx_scaling::vpa::updater::gather(cluster, None).await?;
    let cfg = RecommenderConfig::default();
    let mut seeded = 0;
    for target in &input.targets {
        let selector = match &target.workload {
            Some(Object::Deployment(d)) => d.spec.as_ref().map(|s| &s.selector),
            Some(Object::StatefulSet(s)) => s.spec.as_ref().map(|s| &s.selector),
            _ => None,
        };
        let Some(selector) = selector else { continue };
        let selector = LabelSelector::from_k8s(selector)?;
        let ns = target.vpa.metadata.namespace.clone().unwrap_or_default();
        let name = target.vpa.metadata.name.clone().unwrap_or_default();
        for (container, state) in history.aggregate_by_selector(&cfg, &ns, &selector, &labels) {
            recommender.seed(&ns, &name, &container, &state);
            seeded += 1;
        }
    }
    Ok(seeded)
}

fn metrics_source(args: &Args) -> anyhow::Result<Arc<dyn MetricsSource>> {
    #[cfg(feature = "prometheus")]
    if let Some(url) = &args.prometheus {
        let source = ksx_core::metrics::prometheus::PrometheusMetrics::new(url)?;
        return Ok(Arc::new(source));
    }
    let _ = args;
    anyhow::bail!(
        "--kube needs a metrics source: build with the `prometheus` feature and pass --prometheus URL"
    )
}
