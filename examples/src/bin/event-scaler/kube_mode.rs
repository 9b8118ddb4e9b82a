//! Against a real cluster (feature `kube`, flag `--kube`): the targets are read and scaled through
//! `ksx_core::cluster::kube::KubeCluster`; nothing is created.

use std::sync::Arc;

use ksx_core::SystemClock;
use ksx_core::cluster::kube::KubeCluster;

use crate::Printer;
use crate::driver::{Driver, LoopSettings};
use crate::load::Manifests;
use crate::metrics::PollMetrics;

pub(crate) async fn run(
    manifests: &Manifests,
    settings: LoopSettings,
    metrics: PollMetrics,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let cluster = Arc::new(KubeCluster::try_default().await?);
    let mut driver = Driver::new(cluster, None, Arc::new(SystemClock), manifests, metrics)?;
    driver.run(settings, |lines| printer.print(lines)).await
}
