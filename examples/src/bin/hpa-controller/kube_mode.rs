//! Against a real cluster (feature `kube`): metrics from Prometheus (feature `prometheus`), and with the
//! `runtime` feature health endpoints and Lease leader election.

use std::sync::Arc;

use anyhow::Context as _;
use kube::config::{KubeConfigOptions, Kubeconfig};

use ksx_core::cluster::kube::KubeCluster;
use ksx_core::metrics::MetricsSource;
use ksx_core::{Clock, SystemClock};

use crate::controller::{Controller, DecisionLine, now_nanos};
use crate::{Args, Printer, Settings};

pub(super) async fn run(args: &Args) -> anyhow::Result<()> {
    let cluster = Arc::new(match &args.kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read the kubeconfig {}", path.display()))?;
            let config = kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .with_context(|| format!("cannot use the kubeconfig {}", path.display()))?;
            KubeCluster::new(kube::Client::try_from(config)?)
        }
        None => KubeCluster::try_default().await?,
    });
    let metrics = metrics_source(args)?;
    let controller = Arc::new(Controller::new(
        Arc::clone(&cluster),
        metrics,
        Settings::from_args(args),
    ));
    #[cfg(feature = "runtime")]
    let mut registry = prometheus_client::registry::Registry::default();
    #[cfg(feature = "runtime")]
    let reconcile_metrics = ksx_core::runtime::ControllerMetrics::register(&mut registry);
    let record: Recorder = {
        #[cfg(feature = "runtime")]
        {
            let m = reconcile_metrics.clone();
            Arc::new(move |line: &DecisionLine| {
                let result = if line.error.is_some() {
                    ksx_core::runtime::ReconcileResult::Error
                } else {
                    ksx_core::runtime::ReconcileResult::Success
                };
                m.record_reconcile("hpa-controller", result, line.took);
            })
        }
        #[cfg(not(feature = "runtime"))]
        {
            Arc::new(|_: &DecisionLine| {})
        }
    };
    let work = || {
        let controller = Arc::clone(&controller);
        let record = Arc::clone(&record);
        let (sync, workers, format) = (args.sync_period, args.workers, args.output);
        async move { reconcile_forever(&controller, sync, workers, format, &*record).await }
    };
    #[cfg(feature = "runtime")]
    {
        use futures::FutureExt as _;
        use ksx_core::runtime::{Health, LeaderElector, serve, shutdown_signal};
        let shutdown = shutdown_signal().shared();
        let health = Health::default();
        let server = tokio::spawn(serve(
            args.health_addr,
            health.clone(),
            Arc::new(registry),
            shutdown.clone(),
        ));
        health.set_ready(true);
        let result = if args.lease_namespace.is_empty() {
            tokio::select! {
                r = work() => Some(r),
                () = shutdown.clone() => None,
            }
        } else {
            LeaderElector::new("hpa-controller", args.lease_namespace.clone())
                .with_metrics(reconcile_metrics)
                .run_as_leader(cluster.client().clone(), shutdown.clone(), work)
                .await?
        };
        server.await??;
        if let Some(r) = result {
            r?;
        }
        Ok(())
    }
    #[cfg(not(feature = "runtime"))]
    {
        work().await
    }
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

/// What is done with each reconcile's outcome besides printing it: `ksx_reconcile_*` with the `runtime` feature.
type Recorder = Arc<dyn Fn(&DecisionLine) + Send + Sync>;

async fn reconcile_forever(
    controller: &Arc<Controller<KubeCluster>>,
    sync: std::time::Duration,
    workers: u16,
    format: crate::OutputFormat,
    record: &(dyn Fn(&DecisionLine) + Send + Sync),
) -> anyhow::Result<()> {
    let clock = SystemClock;
    let start = now_nanos(&clock);
    let mut printer = Printer {
        format,
        header: false,
    };
    let mut ticker = tokio::time::interval(sync);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match controller
            .sync(now_nanos(&clock as &dyn Clock), start, workers)
            .await
        {
            Ok(lines) => {
                lines.iter().for_each(record);
                printer.print(&lines)?;
            }
            Err(e) => tracing::warn!(error = %e, "cannot list HorizontalPodAutoscalers"),
        }
    }
}
