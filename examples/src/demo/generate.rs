//! Generates the demo platform from a seed: workspaces and projects, node pools, workloads.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, Namespace, Node, NodeCondition, NodeSpec, NodeStatus, PodSpec,
    PodTemplateSpec, ResourceRequirements, Service, ServicePort, ServiceSpec, Taint, Toleration,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use ksx_core::Object;
use ksx_core::tenancy::{Role, RoleBinding, Scope, Tenancy, WORKSPACE_LABEL};
use rand::{RngExt as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The label that names a node's pool.
pub(crate) const POOL_LABEL: &str = "node.ksx.io/pool";
/// The annotation the simulator reads for a pod's start-up delay.
pub(crate) const STARTUP_ANNOTATION: &str = "sim.ksx.io/startup-delay-seconds";
/// The annotation that makes the simulator's containers crash.
pub(crate) const FAIL_ANNOTATION: &str = "sim.ksx.io/fail";

/// Workspaces and their projects.
const WORKSPACES: [(&str, &[&str]); 4] = [
    ("finance", &["payments", "ledger", "billing"]),
    ("research", &["ml-training", "notebooks", "data-lake"]),
    ("retail", &["storefront", "catalog", "checkout", "search"]),
    ("platform", &["observability", "ingress", "ci"]),
];

const APPS: [&str; 16] = [
    "api",
    "web",
    "worker",
    "cache",
    "gateway",
    "auth",
    "reporting",
    "scheduler",
    "indexer",
    "notifier",
    "etl",
    "export",
    "render",
    "queue",
    "sync",
    "audit",
];

/// A node pool: how many nodes of which shape.
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    pub(crate) name: &'static str,
    pub(crate) share_percent: usize,
    pub(crate) cpu: &'static str,
    pub(crate) memory: &'static str,
    pub(crate) gpus: u32,
    pub(crate) taint: Option<(&'static str, &'static str)>,
}

/// The pools of the demo platform.
pub(crate) fn pools() -> Vec<Pool> {
    vec![
        Pool {
            name: "general",
            share_percent: 50,
            cpu: "16",
            memory: "64Gi",
            gpus: 0,
            taint: None,
        },
        Pool {
            name: "highmem",
            share_percent: 15,
            cpu: "32",
            memory: "256Gi",
            gpus: 0,
            taint: None,
        },
        Pool {
            name: "gpu",
            share_percent: 15,
            cpu: "48",
            memory: "384Gi",
            gpus: 8,
            taint: Some(("nvidia.com/gpu", "present")),
        },
        Pool {
            name: "edge",
            share_percent: 20,
            cpu: "4",
            memory: "8Gi",
            gpus: 0,
            taint: Some(("node-role.kubernetes.io/edge", "")),
        },
    ]
}

/// Everything the demo creates, in creation order.
#[derive(Debug, Default)]
pub(crate) struct Platform {
    pub(crate) tenancy: Tenancy,
    pub(crate) objects: Vec<Object>,
    pub(crate) workloads: usize,
}

fn meta(name: &str, namespace: Option<&str>, labels: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(Into::into),
        labels: (!labels.is_empty()).then(|| {
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        }),
        ..ObjectMeta::default()
    }
}

fn quantities(pairs: &[(&str, String)]) -> BTreeMap<String, K8sQuantity> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), K8sQuantity(v.clone())))
        .collect()
}

/// Builds the platform for a seed.
///
/// # Errors
/// Only on an internal inconsistency of the generator (names that are not DNS labels).
pub(crate) fn generate(seed: u64, nodes: usize, workloads: usize) -> anyhow::Result<Platform> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut p = Platform::default();

    for (ws, projects) in WORKSPACES {
        p.tenancy.add_workspace(ws)?;
        p.tenancy.bind(RoleBinding::new(
            format!("{ws}-admin"),
            Role::WorkspaceAdmin,
            Scope::workspace(ws),
        ));
        for project in projects {
            p.tenancy.add_project(project, ws)?;
            p.objects.push(Object::Namespace(Namespace {
                metadata: meta(project, None, &[(WORKSPACE_LABEL, ws)]),
                ..Namespace::default()
            }));
        }
    }
    p.tenancy.bind(RoleBinding::new(
        "admin",
        Role::PlatformAdmin,
        Scope::Platform,
    ));

    let pools = pools();
    let mut made = 0;
    for (i, pool) in pools.iter().enumerate() {
        let count = if i + 1 == pools.len() {
            nodes.saturating_sub(made)
        } else {
            (nodes * pool.share_percent).div_ceil(100)
        };
        for n in 0..count {
            p.objects.push(Object::Node(node(pool, n, &mut rng)));
        }
        made += count;
    }

    let projects: Vec<(&str, &str)> = WORKSPACES
        .iter()
        .flat_map(|(ws, ps)| ps.iter().map(move |p| (*ws, *p)))
        .collect();
    for i in 0..workloads {
        let (ws, project) = projects[rng.random_range(0..projects.len())];
        let app = APPS[rng.random_range(0..APPS.len())];
        let name = format!("{app}-{i:03}");
        let stateful = rng.random_bool(0.2);
        let spec = WorkloadShape::random(&mut rng, ws, project, app);
        let template = spec.template(&name, ws);
        let selector = LabelSelector {
            match_labels: Some([("app".to_owned(), name.clone())].into()),
            match_expressions: None,
        };
        if stateful {
            p.objects.push(Object::StatefulSet(StatefulSet {
                metadata: meta(
                    &name,
                    Some(project),
                    &[("app", &name), (WORKSPACE_LABEL, ws)],
                ),
                spec: Some(StatefulSetSpec {
                    replicas: Some(spec.replicas.min(3)),
                    selector: selector.clone(),
                    service_name: Some(name.clone()),
                    template,
                    ..StatefulSetSpec::default()
                }),
                status: None,
            }));
            p.objects
                .push(Object::PodDisruptionBudget(PodDisruptionBudget {
                    metadata: meta(&name, Some(project), &[("app", &name)]),
                    spec: Some(PodDisruptionBudgetSpec {
                        max_unavailable: Some(IntOrString::Int(1)),
                        selector: Some(selector),
                        ..PodDisruptionBudgetSpec::default()
                    }),
                    status: None,
                }));
        } else {
            p.objects.push(Object::Deployment(Deployment {
                metadata: meta(
                    &name,
                    Some(project),
                    &[("app", &name), (WORKSPACE_LABEL, ws)],
                ),
                spec: Some(DeploymentSpec {
                    replicas: Some(spec.replicas),
                    selector,
                    template,
                    strategy: Some(DeploymentStrategy {
                        type_: Some("RollingUpdate".into()),
                        rolling_update: Some(RollingUpdateDeployment {
                            max_surge: Some(IntOrString::String("25%".into())),
                            max_unavailable: Some(IntOrString::String("25%".into())),
                        }),
                    }),
                    ..DeploymentSpec::default()
                }),
                status: None,
            }));
        }
        p.objects.push(Object::Service(Service {
            metadata: meta(&name, Some(project), &[("app", &name)]),
            spec: Some(ServiceSpec {
                selector: Some([("app".to_owned(), name.clone())].into()),
                ports: Some(vec![ServicePort {
                    port: 80,
                    target_port: Some(IntOrString::Int(8080)),
                    ..ServicePort::default()
                }]),
                ..ServiceSpec::default()
            }),
            status: None,
        }));
        p.workloads += 1;
    }
    Ok(p)
}

fn node(pool: &Pool, index: usize, rng: &mut ChaCha8Rng) -> Node {
    let name = format!("{}-{index:02}", pool.name);
    let zone = ["zone-a", "zone-b", "zone-c"][index % 3];
    let mut labels = vec![
        (POOL_LABEL, pool.name),
        ("topology.kubernetes.io/zone", zone),
        ("kubernetes.io/os", "linux"),
    ];
    if pool.gpus > 0 {
        labels.push(("nvidia.com/gpu.product", "NVIDIA-A100-SXM4-80GB"));
    }
    let mut meta = meta(&name, None, &labels);
    meta.labels
        .get_or_insert_default()
        .insert("kubernetes.io/hostname".into(), name.clone());
    let mut resources = vec![
        ("cpu", pool.cpu.to_owned()),
        ("memory", pool.memory.to_owned()),
        ("pods", "110".to_owned()),
    ];
    if pool.gpus > 0 {
        resources.push(("nvidia.com/gpu", pool.gpus.to_string()));
    }
    // A few nodes run hot on kernel updates: vary the kubelet version a little, as real fleets do.
    let patch = if rng.random_bool(0.1) {
        "1.33.4"
    } else {
        "1.33.5"
    };
    Node {
        metadata: meta,
        spec: Some(NodeSpec {
            taints: pool.taint.map(|(key, value)| {
                vec![Taint {
                    key: key.into(),
                    value: (!value.is_empty()).then(|| value.into()),
                    effect: "NoSchedule".into(),
                    time_added: None,
                }]
            }),
            ..NodeSpec::default()
        }),
        status: Some(NodeStatus {
            capacity: Some(quantities(&resources)),
            allocatable: Some(quantities(&resources)),
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: Some("KubeletReady".into()),
                ..NodeCondition::default()
            }]),
            node_info: Some(k8s_openapi::api::core::v1::NodeSystemInfo {
                kubelet_version: format!("v{patch}"),
                architecture: "amd64".into(),
                operating_system: "linux".into(),
                ..Default::default()
            }),
            ..NodeStatus::default()
        }),
    }
}

/// The random shape of one workload.
struct WorkloadShape {
    replicas: i32,
    cpu: &'static str,
    memory: &'static str,
    gpus: u32,
    pool: Option<&'static str>,
    toleration: Option<&'static str>,
    startup_secs: u32,
    fails: bool,
    image: String,
}

impl WorkloadShape {
    fn random(rng: &mut ChaCha8Rng, ws: &str, project: &str, app: &str) -> Self {
        let training = project == "ml-training" && rng.random_bool(0.7);
        let edge = project == "storefront" && rng.random_bool(0.5);
        let (pool, toleration, gpus) = if training {
            (
                Some("gpu"),
                Some("nvidia.com/gpu"),
                [1, 2, 4][rng.random_range(0..3)],
            )
        } else if edge {
            (Some("edge"), Some("node-role.kubernetes.io/edge"), 0)
        } else {
            (None, None, 0)
        };
        let cpu = if edge {
            ["100m", "250m"][rng.random_range(0..2)]
        } else {
            ["100m", "250m", "500m", "1", "2"][rng.random_range(0..5)]
        };
        let memory = if edge {
            ["128Mi", "256Mi"][rng.random_range(0..2)]
        } else {
            ["128Mi", "256Mi", "512Mi", "1Gi", "2Gi", "4Gi"][rng.random_range(0..6)]
        };
        Self {
            replicas: rng.random_range(1..=5),
            cpu,
            memory,
            gpus,
            pool,
            toleration,
            startup_secs: rng.random_range(2..=40),
            fails: rng.random_bool(0.03),
            image: format!(
                "registry.example.com/{ws}/{app}:1.{}.{}",
                rng.random_range(0..9),
                rng.random_range(0..20)
            ),
        }
    }

    fn template(&self, name: &str, ws: &str) -> PodTemplateSpec {
        let mut requests = vec![
            ("cpu", self.cpu.to_owned()),
            ("memory", self.memory.to_owned()),
        ];
        if self.gpus > 0 {
            requests.push(("nvidia.com/gpu", self.gpus.to_string()));
        }
        let mut annotations =
            BTreeMap::from([(STARTUP_ANNOTATION.to_owned(), self.startup_secs.to_string())]);
        if self.fails {
            annotations.insert(FAIL_ANNOTATION.to_owned(), "true".to_owned());
        }
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(
                    [
                        ("app".to_owned(), name.to_owned()),
                        (WORKSPACE_LABEL.to_owned(), ws.to_owned()),
                    ]
                    .into(),
                ),
                annotations: Some(annotations),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "main".into(),
                    image: Some(self.image.clone()),
                    ports: Some(vec![ContainerPort {
                        container_port: 8080,
                        ..ContainerPort::default()
                    }]),
                    resources: Some(ResourceRequirements {
                        requests: Some(quantities(&requests)),
                        limits: Some(quantities(&requests)),
                        ..ResourceRequirements::default()
                    }),
                    ..Container::default()
                }],
                node_selector: self
                    .pool
                    .map(|p| [(POOL_LABEL.to_owned(), p.to_owned())].into()),
                tolerations: self.toleration.map(|key| {
                    vec![Toleration {
                        key: Some(key.into()),
                        operator: Some("Exists".into()),
                        effect: Some("NoSchedule".into()),
                        ..Toleration::default()
                    }]
                }),
                ..PodSpec::default()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_platform() {
        let a = generate(7, 60, 220).unwrap();
        let b = generate(7, 60, 220).unwrap();
        assert_eq!(a.objects, b.objects);
        let c = generate(8, 60, 220).unwrap();
        assert_ne!(a.objects, c.objects);
    }

    #[test]
    fn sizes_meet_the_demo_floor() {
        let p = generate(1, 60, 220).unwrap();
        let nodes = p
            .objects
            .iter()
            .filter(|o| matches!(o, Object::Node(_)))
            .count();
        assert_eq!(nodes, 60);
        assert_eq!(p.workloads, 220);
        assert!(p.tenancy.workspaces.len() >= 3);
    }
}
