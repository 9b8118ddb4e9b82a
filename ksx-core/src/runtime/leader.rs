//! Leader election on a `coordination.k8s.io/v1` Lease, with kube-lease-manager.
//!
//! Several replicas of a controller run [`LeaderElector::run_as_leader`] with the same Lease; one holds it and
//! runs the work, the others wait. The holder renews the Lease every [`renew interval`](LeaderElector::renew_interval);
//! when it fails to, the Lease expires after the [`lease duration`](LeaderElector::lease_duration) and another
//! replica takes over. A replica that sees it lost the Lease drops (cancels) its work at once and waits again,
//! so two replicas act together for at most the clock skew the renew margin tolerates.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::pin::{Pin, pin};
use std::time::Duration;

use ::kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseManagerError, LeaseParams};
use tokio::select;

use super::ControllerMetrics;
use crate::error::{Error, Result, object_key};

/// Default time a Lease stays valid after its last renewal.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);

/// Default time between renewals by the holder.
pub const DEFAULT_RENEW_INTERVAL: Duration = Duration::from_secs(5);

/// First wait before retrying after an API error; it doubles up to [`MAX_RETRY_WAIT`].
const MIN_RETRY_WAIT: Duration = Duration::from_secs(1);

/// Longest wait between retries after API errors.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// Lease-based leader election for one controller.
///
/// ```
/// use std::time::Duration;
/// use ksx_core::runtime::LeaderElector;
///
/// let elector = LeaderElector::new("ksx-scaler", "ksx-system")
///     .with_identity("scaler-0")
///     .with_lease_duration(Duration::from_secs(20))
///     .with_renew_interval(Duration::from_secs(5));
/// assert_eq!(elector.identity(), "scaler-0");
/// elector.validate()?;
/// # Ok::<(), ksx_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LeaderElector {
    lease_name: String,
    namespace: String,
    identity: String,
    lease_duration: Duration,
    renew_interval: Duration,
    metrics: Option<ControllerMetrics>,
}

/// How one round of leadership ended.
enum Round<T> {
    /// The shutdown future resolved.
    Shutdown,
    /// The work finished while this replica led.
    Finished(T),
    /// Another replica holds the Lease now.
    Lost,
    /// The Lease API failed.
    Failed(LeaseManagerError),
}

impl LeaderElector {
    /// An elector for the Lease `lease_name` in `namespace`, with the identity from [`default_identity`] and the
    /// default duration and renew interval.
    pub fn new(lease_name: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self {
            lease_name: lease_name.into(),
            namespace: namespace.into(),
            identity: default_identity(),
            lease_duration: DEFAULT_LEASE_DURATION,
            renew_interval: DEFAULT_RENEW_INTERVAL,
            metrics: None,
        }
    }

    /// Sets the holder identity written into the Lease. It must differ between replicas.
    #[must_use]
    pub fn with_identity(self, identity: impl Into<String>) -> Self {
        Self {
            identity: identity.into(),
            ..self
        }
    }

    /// Sets how long the Lease stays valid after its last renewal (whole seconds).
    #[must_use]
    pub fn with_lease_duration(self, lease_duration: Duration) -> Self {
        Self {
            lease_duration,
            ..self
        }
    }

    /// Sets how often the holder renews the Lease (whole seconds, shorter than the lease duration).
    #[must_use]
    pub fn with_renew_interval(self, renew_interval: Duration) -> Self {
        Self {
            renew_interval,
            ..self
        }
    }

    /// Reports leadership in the `ksx_leader` gauge of `metrics`.
    #[must_use]
    pub fn with_metrics(self, metrics: ControllerMetrics) -> Self {
        Self {
            metrics: Some(metrics),
            ..self
        }
    }

    /// The Lease's name.
    pub fn lease_name(&self) -> &str {
        &self.lease_name
    }

    /// The Lease's namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The holder identity this replica writes into the Lease.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// How long the Lease stays valid after its last renewal.
    pub fn lease_duration(&self) -> Duration {
        self.lease_duration
    }

    /// How often the holder renews the Lease.
    pub fn renew_interval(&self) -> Duration {
        self.renew_interval
    }

    /// Checks the configuration: names and identity set, the renew interval at least one second and shorter than
    /// the lease duration (both count in whole seconds, as the Lease does).
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming the field at fault.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field: &str, reason: String| Error::InvalidField {
            object: format!("leader election Lease {}", self.key()),
            field: field.into(),
            reason,
        };
        if self.lease_name.is_empty() {
            return Err(invalid("leaseName", "must not be empty".into()));
        }
        if self.namespace.is_empty() {
            return Err(invalid("namespace", "must not be empty".into()));
        }
        if self.identity.is_empty() {
            return Err(invalid("identity", "must not be empty".into()));
        }
        let renew = self.renew_interval.as_secs();
        let duration = self.lease_duration.as_secs();
        if renew == 0 {
            return Err(invalid("renewInterval", "must be at least 1s".into()));
        }
        if renew >= duration {
            return Err(invalid(
                "renewInterval",
                format!("must be shorter than the lease duration ({duration}s), got {renew}s"),
            ));
        }
        Ok(())
    }

    /// `namespace/name` of the Lease.
    fn key(&self) -> String {
        object_key(Some(&self.namespace), &self.lease_name)
    }

    /// The kube-lease-manager parameters: it renews `grace` seconds before expiry, so grace is the lease
    /// duration minus the renew interval. Only call after [`validate`](Self::validate).
    fn lease_params(&self) -> LeaseParams {
        let duration = self.lease_duration.as_secs();
        let grace = duration.saturating_sub(self.renew_interval.as_secs());
        LeaseParams::new(self.identity.clone(), duration, grace)
    }

    /// Waits until this replica holds the Lease, then runs `work()` while it does.
    ///
    /// - When the Lease is lost (another replica took it, or a renewal failed), the work future is dropped, which
    ///   cancels it at its current `.await`, and the elector waits for the Lease again; a later win calls `work`
    ///   again for a fresh future.
    /// - When the work finishes, the Lease is released and its output returned as `Some`.
    /// - When `shutdown` resolves, the work is dropped, the Lease released so another replica takes over at once,
    ///   and `None` returned.
    ///
    /// API errors are logged and retried with a backoff from 1 s to 30 s; a lost renewal counts as a lost Lease.
    /// The Lease is created when it does not exist.
    ///
    /// # Errors
    /// [`Error::InvalidField`] for an invalid configuration (see [`validate`](Self::validate)), and
    /// [`Error::Kube`] when the API refuses access to the Lease (401, 403): retrying cannot fix that.
    pub async fn run_as_leader<F, Fut, S>(
        self,
        client: Client,
        shutdown: S,
        mut work: F,
    ) -> Result<Option<Fut::Output>>
    where
        F: FnMut() -> Fut,
        Fut: Future,
        S: Future<Output = ()>,
    {
        self.validate()?;
        let mut shutdown = pin!(shutdown);
        let mut wait = MIN_RETRY_WAIT;
        loop {
            let built = select! {
                biased;
                () = shutdown.as_mut() => return Ok(None),
                built = self.build(client.clone()) => built,
            };
            let error = match built {
                Ok(manager) => match self.lead(&manager, shutdown.as_mut(), &mut work).await {
                    Round::Shutdown => {
                        self.release(&manager).await;
                        return Ok(None);
                    }
                    Round::Finished(output) => {
                        self.release(&manager).await;
                        return Ok(Some(output));
                    }
                    Round::Lost => {
                        tracing::info!(lease = %self.key(), identity = %self.identity, "lost leadership");
                        wait = MIN_RETRY_WAIT;
                        continue;
                    }
                    Round::Failed(error) => {
                        // The manager's idea of who leads may be stale now; a fresh one starts from the Lease.
                        self.release(&manager).await;
                        error
                    }
                },
                Err(error) => error,
            };
            if is_permanent(&error) {
                return Err(self.error(error));
            }
            tracing::warn!(lease = %self.key(), error = %error, retry_in = ?wait, "leader election failed");
            select! {
                biased;
                () = shutdown.as_mut() => return Ok(None),
                () = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(MAX_RETRY_WAIT);
        }
    }

    /// Builds a lease manager, creating the Lease when it does not exist.
    async fn build(&self, client: Client) -> Result<LeaseManager, LeaseManagerError> {
        LeaseManagerBuilder::new(client, self.lease_name.clone())
            .with_namespace(self.namespace.clone())
            .with_parameters(self.lease_params())
            .build()
            .await
    }

    /// One round: wait for the Lease, then run the work until it finishes or the Lease is lost.
    async fn lead<F, Fut>(
        &self,
        manager: &LeaseManager,
        mut shutdown: Pin<&mut impl Future<Output = ()>>,
        work: &mut F,
    ) -> Round<Fut::Output>
    where
        F: FnMut() -> Fut,
        Fut: Future,
    {
        loop {
            let changed = select! {
                biased;
                () = shutdown.as_mut() => return Round::Shutdown,
                changed = manager.changed() => changed,
            };
            match changed {
                Ok(true) => break,
                Ok(false) => {}
                Err(error) => return Round::Failed(error),
            }
        }
        tracing::info!(lease = %self.key(), identity = %self.identity, "acquired leadership");
        self.set_leader(true);
        // `changed` keeps renewing while it runs and returns when the state flips, so it runs beside the work.
        let lost = async {
            loop {
                match manager.changed().await {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(error) => return Some(error),
                }
            }
        };
        let round = select! {
            biased;
            () = shutdown.as_mut() => Round::Shutdown,
            lost = lost => lost.map_or(Round::Lost, Round::Failed),
            output = work() => Round::Finished(output),
        };
        self.set_leader(false);
        round
    }

    /// Releases the Lease if this replica holds it; failures only delay the next holder until expiry.
    async fn release(&self, manager: &LeaseManager) {
        if let Err(error) = manager.release().await {
            tracing::warn!(lease = %self.key(), error = %error, "cannot release the Lease; it expires on its own");
        }
    }

    fn set_leader(&self, leading: bool) {
        if let Some(metrics) = &self.metrics {
            metrics.set_leader(leading);
        }
    }

    /// Maps a kube-lease-manager error to a ksx error about this Lease.
    fn error(&self, error: LeaseManagerError) -> Error {
        let object = self.key();
        match error {
            LeaseManagerError::KubeError(source) => Error::Kube {
                action: "lock",
                kind: "Lease".into(),
                object,
                source: Box::new(source),
            },
            LeaseManagerError::LeaseAlreadyExists(_) => Error::AlreadyExists {
                kind: "Lease".into(),
                object,
            },
            LeaseManagerError::NonexistentLease(_) => Error::NotFound {
                kind: "Lease".into(),
                object,
            },
            other => Error::Invalid {
                kind: "Lease".into(),
                object,
                reason: other.to_string(),
            },
        }
    }
}

/// Whether retrying cannot help: the API refuses this client access to Leases.
fn is_permanent(error: &LeaseManagerError) -> bool {
    matches!(error, LeaseManagerError::KubeError(::kube::Error::Api(status)) if status.code == 401 || status.code == 403)
}

/// The default holder identity: `POD_NAME` (set it from the downward API; pod names are unique in a namespace),
/// else `HOSTNAME` plus a random suffix, else `ksx-` plus a random suffix. The suffix keeps two processes on one
/// host from both believing they hold the Lease.
pub fn default_identity() -> String {
    let suffix = format!("{:016x}", RandomState::new().hash_one(std::process::id()));
    identity_from(
        std::env::var("POD_NAME").ok(),
        std::env::var("HOSTNAME").ok(),
        &suffix,
    )
}

/// [`default_identity`] without the environment: empty values count as unset.
fn identity_from(pod_name: Option<String>, hostname: Option<String>, suffix: &str) -> String {
    let pod_name = pod_name.filter(|name| !name.is_empty());
    let hostname = hostname.filter(|name| !name.is_empty());
    match (pod_name, hostname) {
        (Some(pod), _) => pod,
        (None, Some(host)) => format!("{host}-{suffix}"),
        (None, None) => format!("ksx-{suffix}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let elector = LeaderElector::new("ksx-scaler", "ksx-system");
        assert_eq!(elector.lease_name(), "ksx-scaler");
        assert_eq!(elector.namespace(), "ksx-system");
        assert_eq!(elector.lease_duration(), Duration::from_secs(15));
        assert_eq!(elector.renew_interval(), Duration::from_secs(5));
        assert!(!elector.identity().is_empty());
        elector.validate().unwrap();
        let params = elector.with_identity("a").lease_params();
        assert_eq!(params, LeaseParams::new("a", 15, 10));
    }

    #[test]
    fn identity_prefers_pod_name_then_hostname() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(identity_from(some("web-0"), some("node-1"), "x"), "web-0");
        assert_eq!(identity_from(None, some("node-1"), "x"), "node-1-x");
        assert_eq!(identity_from(some(""), some("node-1"), "x"), "node-1-x");
        assert_eq!(identity_from(None, some(""), "x"), "ksx-x");
        assert_eq!(identity_from(None, None, "x"), "ksx-x");
    }

    #[test]
    fn default_identities_differ_without_pod_name() {
        // Two electors in one process must not share an identity unless POD_NAME pins it.
        if std::env::var_os("POD_NAME").is_none() {
            assert_ne!(default_identity(), default_identity());
        }
    }

    #[test]
    fn validate_names_the_field_at_fault() {
        let check = |elector: LeaderElector, field: &str| match elector.validate() {
            Err(Error::InvalidField { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected an invalid {field}, got {other:?}"),
        };
        let base = LeaderElector::new("lease", "ns").with_identity("me");
        check(
            base.clone().with_renew_interval(Duration::from_millis(500)),
            "renewInterval",
        );
        check(
            base.clone().with_renew_interval(Duration::from_secs(15)),
            "renewInterval",
        );
        check(
            base.clone()
                .with_lease_duration(Duration::from_secs(4))
                .with_renew_interval(Duration::from_secs(5)),
            "renewInterval",
        );
        check(base.clone().with_identity(""), "identity");
        check(LeaderElector::new("", "ns"), "leaseName");
        check(LeaderElector::new("lease", ""), "namespace");
        let err = base
            .with_renew_interval(Duration::from_secs(20))
            .validate()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "leader election Lease ns/lease: field renewInterval: must be shorter than the lease duration (15s), got 20s"
        );
    }

    #[tokio::test]
    async fn invalid_config_fails_before_any_request() {
        // The mock service is never answered: validation must fail first.
        let (service, _handle) = tower_test::mock::pair::<
            http::Request<::kube::client::Body>,
            http::Response<::kube::client::Body>,
        >();
        let client = Client::new(service, "default");
        let elector = LeaderElector::new("lease", "ns").with_renew_interval(Duration::ZERO);
        let result = elector
            .run_as_leader(client, std::future::pending(), || async {})
            .await;
        assert!(
            matches!(result, Err(Error::InvalidField { .. })),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn shutdown_before_leadership_returns_none() {
        let (service, _handle) = tower_test::mock::pair::<
            http::Request<::kube::client::Body>,
            http::Response<::kube::client::Body>,
        >();
        let client = Client::new(service, "default");
        let elector = LeaderElector::new("lease", "ns").with_identity("me");
        let result = elector
            .run_as_leader(client, async {}, || async { 1 })
            .await;
        assert!(matches!(result, Ok(None)), "{result:?}");
    }
}
