//! The built-in catalogue (spec §4): every check's fixed ID, category, severity, title, remediation and
//! references, and the pure function that evaluates it on one object of a bundle.
//!
//! A check function returns `None` when the check does not apply to the object (no test), otherwise the
//! findings of its test (empty = passed). Functions read the object and, for cross-object checks, the bundle
//! index; they never do I/O.

mod efficiency;
pub(crate) mod live;
mod networking;
mod node;
mod rbac;
mod rel_hpa_vpa_conflict;
mod reliability;
mod security;
mod tls;

use crate::pod::FastPointer as _;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::bundle::{Bundle, InspectObject};
use crate::model::{Category, Scope, Severity};
use crate::pod::{self, Container, ContainerSet};

/// What a check sees besides the object.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// Every object of the inspection.
    pub bundle: &'a Bundle,
    /// Per-check options from the configuration (`strict`, `minReplicas`…).
    pub options: &'a BTreeMap<String, Value>,
    /// Target Kubernetes version (major, minor).
    pub kube_version: (u64, u64),
    /// `crossObject: lenient`: skip reference checks when the bundle holds no object of the referenced kind.
    pub lenient: bool,
    /// The time of the run (certificate expiry).
    pub now: jiff::Timestamp,
}

impl Ctx<'_> {
    /// A boolean option, `default` when unset.
    pub fn opt_bool(&self, key: &str, default: bool) -> bool {
        pod::as_bool(self.options.get(key)).unwrap_or(default)
    }

    /// An integer option, `default` when unset.
    pub fn opt_i64(&self, key: &str, default: i64) -> i64 {
        pod::as_i64(self.options.get(key)).unwrap_or(default)
    }

    /// A list-of-strings option.
    pub fn opt_strings(&self, key: &str) -> Option<Vec<String>> {
        self.options
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(pod::scalar_string).collect::<Vec<_>>())
    }

    /// Whether a reference to `kind` should be checked (always when strict; when lenient only if the bundle
    /// holds some object of that kind).
    pub fn checks_refs_to(&self, kind: &str) -> bool {
        !self.lenient || self.bundle.has_kind(kind)
    }
}

/// One violation found by a check function, before overrides, exemptions and fingerprints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The container's name, if about one.
    pub container: Option<String>,
    /// JSON pointer with container indexes.
    pub path: String,
    /// The pointer with container names in place of indexes (for the fingerprint).
    pub fingerprint_path: String,
    /// What is wrong.
    pub message: String,
    /// A severity other than the check's (w/d checks crossing the harder limit).
    pub severity: Option<Severity>,
}

impl Hit {
    /// A finding on the object at `path`.
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        let path = path.into();
        Self {
            container: None,
            fingerprint_path: path.clone(),
            path,
            message: message.into(),
            severity: None,
        }
    }

    /// A finding on a container at `suffix` below it.
    pub fn container(c: &Container<'_>, suffix: &str, message: impl Into<String>) -> Self {
        Self {
            container: c.name.clone(),
            path: format!("{}{suffix}", c.path),
            fingerprint_path: format!("{}{suffix}", c.name_path),
            message: message.into(),
            severity: None,
        }
    }

    /// A container finding whose path is an absolute pointer (e.g. the pod-level field it inherits).
    pub fn container_abs(c: &Container<'_>, path: String, message: impl Into<String>) -> Self {
        let fingerprint_path = path
            .strip_prefix(&c.path)
            .map_or_else(|| path.clone(), |rest| format!("{}{rest}", c.name_path));
        Self {
            container: c.name.clone(),
            path,
            fingerprint_path,
            message: message.into(),
            severity: None,
        }
    }

    /// The same finding with another severity.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }
}

/// The signature of a check function.
pub type CheckFn = fn(&Ctx<'_>, &InspectObject) -> Option<Vec<Hit>>;

/// A built-in check.
#[derive(Debug, Clone, Copy)]
pub struct CheckDef {
    /// The fixed public ID.
    pub id: &'static str,
    /// Category.
    pub category: Category,
    /// Default severity (w/d checks: warning; findings crossing the harder limit carry danger).
    pub severity: Severity,
    /// Static or live.
    pub scope: Scope,
    /// One-line title.
    pub title: &'static str,
    /// The field and value to set.
    pub remediation: &'static str,
    /// Documentation links.
    pub references: &'static [&'static str],
    /// The evaluation.
    pub eval: CheckFn,
}

const PSS: &str = "https://kubernetes.io/docs/concepts/security/pod-security-standards/";
const SEC_CTX: &str = "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/";
const RES: &str = "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/";
const PROBES: &str = "https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/";
const RBAC: &str = "https://kubernetes.io/docs/reference/access-authn-authz/rbac/";
const RBAC_GOOD: &str = "https://kubernetes.io/docs/concepts/security/rbac-good-practices/";
const PDB: &str = "https://kubernetes.io/docs/tasks/run-application/configure-pdb/";
const HPA: &str = "https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/";
const IMAGES: &str = "https://kubernetes.io/docs/concepts/containers/images/";
const SVC: &str = "https://kubernetes.io/docs/concepts/services-networking/service/";
const NETPOL: &str = "https://kubernetes.io/docs/concepts/services-networking/network-policies/";
const INGRESS: &str = "https://kubernetes.io/docs/concepts/services-networking/ingress/";
const SPREAD: &str =
    "https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/";
const AFFINITY: &str = "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/";
const DEPRECATION: &str = "https://kubernetes.io/docs/reference/using-api/deprecation-guide/";
const SECRETS: &str = "https://kubernetes.io/docs/concepts/configuration/secret/";
const SA: &str =
    "https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/";
const NS: &str = "https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/";
const JOBS: &str = "https://kubernetes.io/docs/concepts/workloads/controllers/job/";
const CRONJOBS: &str = "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/";
const STS: &str = "https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/";
const PRIORITY: &str =
    "https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/";
const DEPLOY_DOC: &str =
    "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status";
const EVENTS_DOC: &str =
    "https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/";
const SKEW_DOC: &str = "https://kubernetes.io/releases/version-skew-policy/";
const NODE_DOC: &str = "https://kubernetes.io/docs/concepts/architecture/nodes/#condition";
const CERTS_DOC: &str = "https://kubernetes.io/docs/setup/best-practices/certificates/";
const DISK_DOC: &str =
    "https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/";
const POD_LIFECYCLE: &str = "https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/";
const PVC_DOC: &str = "https://kubernetes.io/docs/concepts/storage/persistent-volumes/";
const SYSCTL: &str = "https://kubernetes.io/docs/tasks/administer-cluster/sysctl-cluster/";
const LABELS: &str = "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/";
const VPA_LIMITS: &str = "https://github.com/kubernetes/autoscaler/blob/master/vertical-pod-autoscaler/docs/known-limitations.md";

macro_rules! check {
    ($id:literal, $cat:ident, $sev:ident, $title:literal, $rem:literal, [$($r:expr),*], $f:path) => {
        CheckDef {
            id: $id,
            category: Category::$cat,
            severity: Severity::$sev,
            scope: Scope::Static,
            title: $title,
            remediation: $rem,
            references: &[$($r),*],
            eval: $f,
        }
    };
}

macro_rules! live {
    ($id:literal, $cat:ident, $sev:ident, $title:literal, $rem:literal, [$($r:expr),*], $f:path) => {
        CheckDef {
            id: $id,
            category: Category::$cat,
            severity: Severity::$sev,
            scope: Scope::Live,
            title: $title,
            remediation: $rem,
            references: &[$($r),*],
            eval: $f,
        }
    };
}

/// Every built-in check, sorted by ID.
pub static CATALOGUE: &[CheckDef] = &[
    live!(
        "deployment-unavailable",
        Reliability,
        Danger,
        "Deployment is available",
        "Inspect the Deployment's conditions and its newest ReplicaSet's pods (kubectl describe) and fix what keeps replicas unavailable.",
        [DEPLOY_DOC],
        live::deployment_unavailable
    ),
    check!(
        "eff-cpu-limits",
        Efficiency,
        Warning,
        "CPU limit is set",
        "Set resources.limits.cpu on the container (or spec.resources at pod level) to a non-zero quantity.",
        [RES],
        efficiency::cpu_limits
    ),
    check!(
        "eff-cpu-requests",
        Efficiency,
        Warning,
        "CPU request is set",
        "Set resources.requests.cpu on the container (or spec.resources at pod level) to a non-zero quantity.",
        [RES],
        efficiency::cpu_requests
    ),
    check!(
        "eff-ephemeral-storage",
        Efficiency,
        Warning,
        "Ephemeral storage request and limit are set",
        "Set resources.requests.ephemeral-storage and resources.limits.ephemeral-storage to non-zero quantities.",
        [RES],
        efficiency::ephemeral_storage
    ),
    check!(
        "eff-memory-limits",
        Efficiency,
        Warning,
        "Memory limit is set",
        "Set resources.limits.memory on the container (or spec.resources at pod level) to a non-zero quantity.",
        [RES],
        efficiency::memory_limits
    ),
    check!(
        "eff-memory-requests",
        Efficiency,
        Warning,
        "Memory request is set",
        "Set resources.requests.memory on the container (or spec.resources at pod level) to a non-zero quantity.",
        [RES],
        efficiency::memory_requests
    ),
    check!(
        "eff-request-above-limit",
        Efficiency,
        Danger,
        "Requests do not exceed limits",
        "Lower resources.requests.<resource> to at most resources.limits.<resource>.",
        [RES],
        efficiency::request_above_limit
    ),
    live!(
        "event-warnings",
        Reliability,
        Info,
        "No recent Warning events",
        "Look at the involved object's Warning events (kubectl events --for) and fix their cause.",
        [EVENTS_DOC],
        live::event_warnings
    ),
    live!(
        "job-failed",
        Reliability,
        Warning,
        "Job has not failed recently",
        "Read the failed pods' logs, fix the cause and re-run the Job; raise backoffLimit or activeDeadlineSeconds if they were too tight.",
        [JOBS],
        live::job_failed
    ),
    check!(
        "net-ingress-backend-exists",
        Networking,
        Danger,
        "Ingress backends exist",
        "Point the backend's service.name and service.port at an existing Service and one of its ports.",
        [INGRESS],
        networking::ingress_backend_exists
    ),
    check!(
        "net-ingress-tls",
        Networking,
        Warning,
        "Ingress serves TLS",
        "Add spec.tls with a Secret covering every rule host.",
        [INGRESS],
        networking::ingress_tls
    ),
    check!(
        "net-netpol-selects-pods",
        Networking,
        Warning,
        "NetworkPolicy selects pods",
        "Fix spec.podSelector so it matches the labels of the pods it should protect.",
        [NETPOL],
        networking::netpol_selects_pods
    ),
    check!(
        "net-network-policy-coverage",
        Networking,
        Warning,
        "Pods are covered by NetworkPolicies in both directions",
        "Add a NetworkPolicy selecting these pods with policyTypes: [Ingress, Egress].",
        [NETPOL],
        networking::network_policy_coverage
    ),
    live!(
        "net-service-endpoints-empty",
        Networking,
        Warning,
        "Service has ready endpoints",
        "Make the selected pods ready (probes, crashes) or fix spec.selector so that it selects running pods.",
        [SVC],
        live::service_endpoints_empty
    ),
    check!(
        "net-service-nodeport",
        Networking,
        Warning,
        "Service is not a NodePort",
        "Set spec.type to ClusterIP (behind an Ingress or Gateway) or LoadBalancer.",
        [SVC],
        networking::service_nodeport
    ),
    check!(
        "net-service-selects-pods",
        Networking,
        Danger,
        "Service selects pods",
        "Fix spec.selector so it matches the pod template labels of the workload it fronts.",
        [SVC],
        networking::service_selects_pods
    ),
    check!(
        "net-service-target-port",
        Networking,
        Warning,
        "Named targetPort exists in selected pods",
        "Set spec.ports[].targetPort to a ports[].name of the selected containers, or to a port number.",
        [SVC],
        networking::service_target_port
    ),
    live!(
        "node-cert-expiry",
        Node,
        Warning,
        "Node certificates are not about to expire",
        "Renew the certificate (kubeadm certs renew, or kubelet serverTLSBootstrap/rotateCertificates) and restart the component using it.",
        [CERTS_DOC],
        crate::rules::node_builtin::cert_expiry
    ),
    live!(
        "node-disk-usage",
        Node,
        Warning,
        "Node filesystems have free blocks and inodes",
        "Free space on the node (prune unused images and containers, rotate logs, clean /var/lib/kubelet) or grow the filesystem.",
        [DISK_DOC],
        crate::rules::node_builtin::disk_usage
    ),
    live!(
        "node-kubelet-version-skew",
        Node,
        Warning,
        "Kubelet version is within the supported skew",
        "Upgrade the node's kubelet to the API server's minor version (never newer than the API server).",
        [SKEW_DOC],
        node::kubelet_version_skew
    ),
    live!(
        "node-not-ready",
        Node,
        Danger,
        "Node is Ready",
        "Check the kubelet and container runtime on the node (journalctl -u kubelet) and its network to the API server.",
        [NODE_DOC],
        node::node_not_ready
    ),
    live!(
        "node-pressure",
        Node,
        Warning,
        "Node has no resource pressure",
        "Free memory, disk or PIDs on the node (evict or move workloads, clean images) or fix its network plugin.",
        [NODE_DOC],
        node::node_pressure
    ),
    live!(
        "node-problem-condition",
        Node,
        Warning,
        "Node reports no problem condition",
        "Investigate the problem node-problem-detector reports (kernel, filesystem, runtime) and drain the node if needed.",
        [NODE_DOC],
        node::node_problem_condition
    ),
    live!(
        "node-service-down",
        Node,
        Danger,
        "Kubelet and container runtime units are active",
        "Start the unit (systemctl start kubelet / containerd) and read its journal (journalctl -u <unit>) for the failure.",
        [NODE_DOC],
        crate::rules::node_builtin::service_down
    ),
    live!(
        "pod-crashloop",
        Reliability,
        Danger,
        "Pod is not crash-looping",
        "Read the previous container's logs (kubectl logs --previous) and fix the crash, its probes or its resources.",
        [POD_LIFECYCLE],
        live::pod_crashloop
    ),
    live!(
        "pod-image-pull-error",
        Reliability,
        Danger,
        "Pod images can be pulled",
        "Fix the image reference or tag, or give the pod imagePullSecrets for the registry.",
        [IMAGES],
        live::pod_image_pull_error
    ),
    live!(
        "pod-oomkilled",
        Reliability,
        Warning,
        "Pod was not OOMKilled recently",
        "Raise resources.limits.memory of the container or reduce its memory use.",
        [RES],
        live::pod_oomkilled
    ),
    live!(
        "pod-pending-long",
        Reliability,
        Warning,
        "Pod is not stuck Pending",
        "Read the PodScheduled condition and events: free or add capacity, or fix nodeSelector, affinity, taints or volume claims.",
        [POD_LIFECYCLE],
        live::pod_pending_long
    ),
    live!(
        "pvc-pending",
        Reliability,
        Warning,
        "PersistentVolumeClaim is bound",
        "Check the StorageClass and its provisioner, or create a matching PersistentVolume; restore a Lost claim's volume.",
        [PVC_DOC],
        live::pvc_pending
    ),
    check!(
        "rbac-cluster-admin-binding",
        Rbac,
        Danger,
        "No binding to cluster-admin",
        "Bind a narrowly scoped Role instead of cluster-admin or a wildcard role.",
        [RBAC, RBAC_GOOD],
        rbac::cluster_admin_binding
    ),
    check!(
        "rbac-default-sa-bound",
        Rbac,
        Warning,
        "Default ServiceAccount has no role",
        "Create a dedicated ServiceAccount and bind the role to it instead of `default`.",
        [RBAC_GOOD, SA],
        rbac::default_sa_bound
    ),
    check!(
        "rbac-escalation-verbs",
        Rbac,
        Danger,
        "No escalate, bind or impersonate",
        "Remove the escalate, bind and impersonate verbs from the role's rules.",
        [RBAC_GOOD],
        rbac::escalation_verbs
    ),
    check!(
        "rbac-pod-exec-attach",
        Rbac,
        Danger,
        "No pods/exec or pods/attach",
        "Remove create and get on pods/exec and pods/attach, or bind a role without them.",
        [RBAC_GOOD],
        rbac::pod_exec_attach
    ),
    check!(
        "rbac-secrets-read",
        Rbac,
        Warning,
        "Role does not read Secrets",
        "Remove get, list and watch on secrets, or restrict the rule with resourceNames.",
        [RBAC_GOOD],
        rbac::secrets_read
    ),
    check!(
        "rbac-wildcard-rules",
        Rbac,
        Warning,
        "Role has no wildcards",
        "Replace `*` in apiGroups, resources, verbs and nonResourceURLs with explicit values.",
        [RBAC_GOOD],
        rbac::wildcard_rules
    ),
    check!(
        "rel-cronjob-deadline",
        Reliability,
        Warning,
        "CronJob sets startingDeadlineSeconds",
        "Set spec.startingDeadlineSeconds (for example 300).",
        [CRONJOBS],
        reliability::cronjob_deadline
    ),
    check!(
        "rel-deprecated-api",
        Reliability,
        Warning,
        "API version is not deprecated or removed",
        "Migrate the object to the replacement apiVersion named in the message.",
        [DEPRECATION],
        reliability::deprecated_api
    ),
    check!(
        "rel-hpa-duplicate",
        Reliability,
        Danger,
        "One HPA per workload",
        "Keep one HorizontalPodAutoscaler per workload: merge every metric into one autoscaling/v2 HPA (convert an autoscaling/v1 one with `ksx hpa convert`) and delete the others.",
        [HPA],
        reliability::hpa_duplicate
    ),
    check!(
        "rel-hpa-replicas",
        Reliability,
        Warning,
        "HPA keeps at least two replicas",
        "Set spec.minReplicas to 2 or more.",
        [HPA],
        reliability::hpa_replicas
    ),
    check!(
        "rel-hpa-replicas-conflict",
        Reliability,
        Warning,
        "Workload scaled by an HPA does not set replicas",
        "Remove spec.replicas from the workload; the HPA owns the replica count.",
        [HPA],
        reliability::hpa_replicas_conflict
    ),
    check!(
        "rel-hpa-target-exists",
        Reliability,
        Danger,
        "HPA target exists and can scale",
        "Point spec.scaleTargetRef at an existing Deployment, StatefulSet or ReplicaSet in the same namespace.",
        [HPA],
        reliability::hpa_target_exists
    ),
    check!(
        "rel-hpa-vpa-conflict",
        Reliability,
        Danger,
        "No VPA on the resource the HPA scales on",
        "Let the VPA control only the other resource (resourcePolicy.containerPolicies[].controlledResources: [memory] beside a CPU HPA), scale the HPA on AverageValue, or set the VPA's updatePolicy.updateMode to Off.",
        [HPA, VPA_LIMITS],
        rel_hpa_vpa_conflict::hpa_vpa_conflict
    ),
    check!(
        "rel-image-pull-policy",
        Reliability,
        Warning,
        "Image pull policy is Always",
        "Set imagePullPolicy: Always.",
        [IMAGES],
        reliability::image_pull_policy
    ),
    check!(
        "rel-image-tag",
        Reliability,
        Danger,
        "Image has a fixed tag",
        "Pin the image to a version tag or a digest instead of latest.",
        [IMAGES],
        reliability::image_tag
    ),
    check!(
        "rel-job-restart-policy",
        Reliability,
        Danger,
        "Job restart policy is OnFailure or Never",
        "Set the pod template's restartPolicy to OnFailure or Never.",
        [JOBS],
        reliability::job_restart_policy
    ),
    check!(
        "rel-liveness-probe",
        Reliability,
        Warning,
        "Liveness probe is set",
        "Add a livenessProbe to the container.",
        [PROBES],
        reliability::liveness_probe
    ),
    check!(
        "rel-pdb-missing",
        Reliability,
        Warning,
        "Multi-replica workload has a PodDisruptionBudget",
        "Add a PodDisruptionBudget in the same namespace whose selector matches the pod template labels.",
        [PDB],
        reliability::pdb_missing
    ),
    check!(
        "rel-pdb-valid",
        Reliability,
        Warning,
        "PodDisruptionBudget allows evictions",
        "Set exactly one of minAvailable and maxUnavailable to a value that leaves at least one pod evictable.",
        [PDB],
        reliability::pdb_valid
    ),
    check!(
        "rel-pod-anti-affinity",
        Reliability,
        Warning,
        "Replicas spread over nodes",
        "Add a podAntiAffinity term or a topologySpreadConstraint on kubernetes.io/hostname matching the pod labels.",
        [AFFINITY, SPREAD],
        reliability::pod_anti_affinity
    ),
    check!(
        "rel-priority-class",
        Reliability,
        Info,
        "Priority class is set",
        "Set spec.priorityClassName.",
        [PRIORITY],
        reliability::priority_class
    ),
    check!(
        "rel-probe-port",
        Reliability,
        Warning,
        "Probe ports exist",
        "Use a ports[].name of the same container, or a port number, in the probe.",
        [PROBES],
        reliability::probe_port
    ),
    check!(
        "rel-probes-identical",
        Reliability,
        Warning,
        "Readiness and liveness probes differ",
        "Give livenessProbe a cheaper handler than readinessProbe (a different path, port or command).",
        [PROBES],
        reliability::probes_identical
    ),
    check!(
        "rel-readiness-probe",
        Reliability,
        Warning,
        "Readiness probe is set",
        "Add a readinessProbe to the container.",
        [PROBES],
        reliability::readiness_probe
    ),
    check!(
        "rel-replicas",
        Reliability,
        Warning,
        "Workload runs at least two replicas",
        "Set spec.replicas to 2 or more, or scale it with an HPA.",
        [PDB],
        reliability::replicas
    ),
    check!(
        "rel-selector-mismatch",
        Reliability,
        Danger,
        "Selector selects the pod template",
        "Make spec.selector match spec.template.metadata.labels.",
        [LABELS],
        reliability::selector_mismatch
    ),
    check!(
        "rel-statefulset-service-name",
        Reliability,
        Danger,
        "StatefulSet has its headless Service",
        "Set spec.serviceName to a headless Service (clusterIP: None) in the namespace that selects the pods.",
        [STS],
        reliability::statefulset_service_name
    ),
    check!(
        "rel-topology-spread",
        Reliability,
        Warning,
        "Topology spread constraints are valid",
        "Add valid topologySpreadConstraints (maxSkew ≥ 1, topologyKey, whenUnsatisfiable, labelSelector).",
        [SPREAD],
        reliability::topology_spread
    ),
    check!(
        "sec-added-capabilities",
        Security,
        Warning,
        "No capabilities beyond the baseline",
        "Remove the named capabilities from securityContext.capabilities.add.",
        [PSS, SEC_CTX],
        security::added_capabilities
    ),
    check!(
        "sec-apparmor-unconfined",
        Security,
        Warning,
        "AppArmor is not unconfined",
        "Set securityContext.appArmorProfile.type to RuntimeDefault or Localhost.",
        [PSS],
        security::apparmor_unconfined
    ),
    check!(
        "sec-automount-sa-token",
        Security,
        Warning,
        "Service account token is not mounted",
        "Set automountServiceAccountToken: false on the pod spec or its ServiceAccount.",
        [SA],
        security::automount_sa_token
    ),
    check!(
        "sec-dangerous-capabilities",
        Security,
        Danger,
        "No dangerous capabilities",
        "Remove the named capabilities from securityContext.capabilities.add.",
        [PSS, SEC_CTX],
        security::dangerous_capabilities
    ),
    check!(
        "sec-default-namespace",
        Security,
        Warning,
        "Object is not in the default namespace",
        "Set metadata.namespace to a dedicated namespace.",
        [NS],
        security::default_namespace
    ),
    check!(
        "sec-docker-socket",
        Security,
        Danger,
        "Container runtime socket is not mounted",
        "Remove the hostPath volume exposing the container runtime socket.",
        [PSS],
        security::docker_socket
    ),
    check!(
        "sec-drop-capabilities",
        Security,
        Warning,
        "Capabilities are dropped",
        "Set securityContext.capabilities.drop: [ALL].",
        [PSS, SEC_CTX],
        security::drop_capabilities
    ),
    check!(
        "sec-drop-net-raw",
        Security,
        Warning,
        "NET_RAW is dropped",
        "Add NET_RAW (or ALL) to securityContext.capabilities.drop and do not add it back.",
        [SEC_CTX],
        security::drop_net_raw
    ),
    check!(
        "sec-high-uid-gid",
        Security,
        Warning,
        "Runs with a high UID and GID",
        "Set securityContext.runAsUser and runAsGroup to 10000 or more.",
        [SEC_CTX],
        security::high_uid_gid
    ),
    check!(
        "sec-host-ipc",
        Security,
        Danger,
        "Host IPC namespace is not shared",
        "Remove hostIPC or set it to false.",
        [PSS],
        security::host_ipc
    ),
    check!(
        "sec-host-network",
        Security,
        Danger,
        "Host network is not shared",
        "Remove hostNetwork or set it to false.",
        [PSS],
        security::host_network
    ),
    check!(
        "sec-host-path",
        Security,
        Warning,
        "No hostPath volumes",
        "Replace the hostPath volume with a PersistentVolumeClaim, ConfigMap, Secret or emptyDir.",
        [PSS],
        security::host_path
    ),
    check!(
        "sec-host-pid",
        Security,
        Danger,
        "Host PID namespace is not shared",
        "Remove hostPID or set it to false.",
        [PSS],
        security::host_pid
    ),
    check!(
        "sec-host-port",
        Security,
        Warning,
        "No host ports",
        "Remove ports[].hostPort; expose the port through a Service.",
        [PSS],
        security::host_port
    ),
    check!(
        "sec-image-digest",
        Security,
        Info,
        "Image is pinned by digest",
        "Reference the image by digest (image@sha256:…).",
        [IMAGES],
        security::image_digest
    ),
    check!(
        "sec-linux-hardening",
        Security,
        Warning,
        "A Linux hardening mechanism is set",
        "Set securityContext.seccompProfile.type: RuntimeDefault (or SELinux, AppArmor, or drop capabilities).",
        [PSS, SEC_CTX],
        security::linux_hardening
    ),
    check!(
        "sec-privilege-escalation",
        Security,
        Danger,
        "Privilege escalation is disabled",
        "Set securityContext.allowPrivilegeEscalation: false (and do not run privileged or add SYS_ADMIN).",
        [PSS, SEC_CTX],
        security::privilege_escalation
    ),
    check!(
        "sec-privileged",
        Security,
        Danger,
        "Container is not privileged",
        "Remove securityContext.privileged or set it to false.",
        [PSS, SEC_CTX],
        security::privileged
    ),
    check!(
        "sec-proc-mount",
        Security,
        Warning,
        "procMount is Default",
        "Remove securityContext.procMount or set it to Default.",
        [PSS],
        security::proc_mount
    ),
    check!(
        "sec-readonly-root-fs",
        Security,
        Warning,
        "Root filesystem is read-only",
        "Set securityContext.readOnlyRootFilesystem: true and mount writable paths as emptyDir.",
        [SEC_CTX],
        security::readonly_root_fs
    ),
    check!(
        "sec-run-as-non-root",
        Security,
        Danger,
        "Runs as non-root",
        "Set securityContext.runAsNonRoot: true and runAsUser to a non-zero UID.",
        [PSS, SEC_CTX],
        security::run_as_non_root
    ),
    check!(
        "sec-seccomp-profile",
        Security,
        Warning,
        "Seccomp profile is set",
        "Set securityContext.seccompProfile.type: RuntimeDefault (or Localhost).",
        [PSS, SEC_CTX],
        security::seccomp_profile
    ),
    check!(
        "sec-secret-in-env",
        Security,
        Warning,
        "Secrets are not passed in environment variables",
        "Mount the Secret as a volume and read it from a file instead of env or envFrom.",
        [SECRETS],
        security::secret_in_env
    ),
    check!(
        "sec-selinux-options",
        Security,
        Warning,
        "SELinux options are allowed",
        "Remove seLinuxOptions.user and role, and use a container_t type.",
        [PSS],
        security::selinux_options
    ),
    check!(
        "sec-sensitive-configmap",
        Security,
        Danger,
        "ConfigMap holds no secrets",
        "Move the sensitive key or private key into a Secret.",
        [SECRETS],
        security::sensitive_configmap
    ),
    check!(
        "sec-sensitive-env-literal",
        Security,
        Danger,
        "No secrets as env literals",
        "Read the value from a Secret (valueFrom.secretKeyRef or a mounted file) instead of a literal value.",
        [SECRETS],
        security::sensitive_env_literal
    ),
    check!(
        "sec-tls-secret-expiry",
        Security,
        Warning,
        "TLS certificate is not about to expire",
        "Renew the certificate in data[\"tls.crt\"] (cert-manager can rotate it before expiry).",
        [SECRETS],
        tls::tls_secret_expiry
    ),
    check!(
        "sec-unsafe-sysctls",
        Security,
        Danger,
        "Only safe sysctls",
        "Remove the unsafe sysctl from spec.securityContext.sysctls.",
        [PSS, SYSCTL],
        security::unsafe_sysctls
    ),
    check!(
        "sec-windows-host-process",
        Security,
        Danger,
        "No Windows HostProcess containers",
        "Remove windowsOptions.hostProcess or set it to false.",
        [PSS],
        security::windows_host_process
    ),
    live!(
        "workload-unavailable",
        Reliability,
        Danger,
        "StatefulSet or DaemonSet is fully available",
        "Inspect the unready or unavailable pods (kubectl describe) and fix their scheduling, probes or crashes.",
        [STS],
        live::workload_unavailable
    ),
];

/// Looks a built-in check up by ID.
pub fn builtin(id: &str) -> Option<&'static CheckDef> {
    CATALOGUE.iter().find(|c| c.id == id)
}

/// Runs `f` on every container of `set` of a workload; `None` for non-workloads (and, with `linux_only`, for
/// Windows pods).
pub(crate) fn per_container(
    obj: &InspectObject,
    set: ContainerSet,
    linux_only: bool,
    mut f: impl FnMut(&Value, &'static str, &Container<'_>, &mut Vec<Hit>),
) -> Option<Vec<Hit>> {
    let (spec, ptr) = pod::pod_spec(obj)?;
    if linux_only && pod::is_windows(spec) {
        return None;
    }
    let mut hits = Vec::new();
    for c in pod::containers(spec, ptr, set) {
        f(spec, ptr, &c, &mut hits);
    }
    Some(hits)
}

/// Runs `f` on the pod spec of a workload; `None` for non-workloads.
pub(crate) fn per_pod(
    obj: &InspectObject,
    f: impl FnOnce(&Value, &'static str, &mut Vec<Hit>),
) -> Option<Vec<Hit>> {
    let (spec, ptr) = pod::pod_spec(obj)?;
    let mut hits = Vec::new();
    f(spec, ptr, &mut hits);
    Some(hits)
}

/// HPAs of the object's namespace whose `scaleTargetRef` names it (kind, name, group when given).
pub(crate) fn hpas_targeting<'a>(
    bundle: &'a Bundle,
    obj: &'a InspectObject,
) -> impl Iterator<Item = &'a InspectObject> + 'a {
    bundle
        .hpas_for(obj.namespace(), obj.kind(), obj.name())
        .into_iter()
        .filter(move |h| {
            let r = h.value.ptr("/spec/scaleTargetRef");
            let s = |k: &str| r.and_then(|r| r.get(k)).and_then(Value::as_str);
            s("kind") == Some(obj.kind())
                && s("name") == Some(obj.name())
                && s("apiVersion").is_none_or(|av| crate::bundle::api_group(av) == obj.group())
        })
}

/// Multi-replica (MR): Deployment/StatefulSet with `replicas` absent or ≥ 2, or targeted by an HPA with
/// `minReplicas` ≥ 2.
pub(crate) fn is_multi_replica(bundle: &Bundle, obj: &InspectObject) -> bool {
    if !matches!(obj.kind(), "Deployment" | "StatefulSet") {
        return false;
    }
    match pod::as_i64(obj.value.ptr("/spec/replicas")) {
        None => true,
        Some(r) if r >= 2 => true,
        Some(_) => hpas_targeting(bundle, obj)
            .any(|h| pod::as_i64(h.value.ptr("/spec/minReplicas")).unwrap_or(1) >= 2),
    }
}

#[cfg(test)]
mod tests {
    use super::CATALOGUE;

    #[test]
    fn ids_are_sorted_unique_kebab() {
        let ids: Vec<&str> = CATALOGUE.iter().map(|c| c.id).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(ids, sorted);
        for id in ids {
            assert!(
                id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{id}"
            );
        }
    }
}
