//! The CRD-shaped specs of `cache.ksx.io/v1alpha1`: Dataset and CacheRuntime, with Fluid's field names
//! (`tieredstore`, `mediumtype`). Serde only; [`crate::resolve`] checks them and derives what the planner uses.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EmptyDirVolumeSource, NodeSelector, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use ksx_core::quantity::Quantity;
use serde::{Deserialize, Serialize};

/// The API group and version of the specs.
pub const API_VERSION: &str = "cache.ksx.io/v1alpha1";

fn is_false(b: &bool) -> bool {
    !*b
}

/// A dataset: mounts of an under file system (object storage, NFS paths, PVCs…) to cache, and where it may be
/// cached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dataset {
    /// `cache.ksx.io/v1alpha1`.
    pub api_version: String,
    /// `Dataset`.
    pub kind: String,
    /// Name and namespace; the CacheRuntime of the same name and namespace serves it.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What to cache.
    pub spec: DatasetSpec,
    /// What the controller observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DatasetStatus>,
}

/// The spec of a [`Dataset`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatasetSpec {
    /// The mounts; at least one.
    #[serde(default)]
    pub mounts: Vec<Mount>,
    /// Options applied to every mount (a mount's own options win).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shared_options: BTreeMap<String, String>,
    /// Secret-backed options applied to every mount.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_encrypt_options: Vec<EncryptOption>,
    /// Where the dataset may be cached (also the workers' node affinity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity: Option<CacheableNodeAffinity>,
    /// Tolerations of the cache workers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Access modes (`ReadOnlyMany` when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_modes: Vec<String>,
    /// Whether the workers share nodes with other datasets' workers; empty means `Exclusive`.
    #[serde(default)]
    pub placement: Placement,
}

/// One mount of a [`Dataset`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mount {
    /// `s3://bucket/prefix`, `local:///path` (a mounted NFS export), `pvc://claim/subpath`, `http(s)://…`
    /// (read-only) or `memory://name`; at least 5 characters.
    pub mount_point: String,
    /// The mount's name, unique in the dataset.
    pub name: String,
    /// Where the mount appears in the dataset's namespace; default `/{name}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Store options (for S3 the object_store keys such as `aws_endpoint`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// Secret-backed options (credentials).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub encrypt_options: Vec<EncryptOption>,
    /// Whether the mount is read-only (default false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// Whether the mount is shared (default false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub shared: bool,
}

/// An option whose value comes from a Secret.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EncryptOption {
    /// The option name (`aws_access_key_id`, …).
    pub name: String,
    /// Where the value lives.
    pub value_from: EncryptOptionSource,
}

/// The source of an [`EncryptOption`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EncryptOptionSource {
    /// A key of a Secret in the dataset's namespace.
    pub secret_key_ref: SecretKeyRef,
}

/// A key of a Secret.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeyRef {
    /// The Secret's name.
    pub name: String,
    /// The key in the Secret.
    pub key: String,
}

/// Where a dataset may be cached.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CacheableNodeAffinity {
    /// Required node selector terms (ORed), as in a pod's node affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<NodeSelector>,
}

/// Worker placement of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Placement {
    /// One dataset's workers per node (required anti-affinity); also the meaning of `""`.
    #[default]
    #[serde(alias = "")]
    Exclusive,
    /// Workers may share nodes with other `Shared` datasets (preferred anti-affinity).
    Shared,
}

/// The observed state of a [`Dataset`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatasetStatus {
    /// `Pending`, `Bound`, `NotBound`, `Failed`, `Updating`, `DataMigrating` or empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phase: String,
    /// Total size of the mounts, `"[Calculating]"` while listing.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ufs_total: String,
    /// Number of files of the mounts.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file_num: String,
    /// `cached`, `cacheCapacity`, `cachedPercentage`, hit ratios… as strings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cache_states: BTreeMap<String, String>,
    /// The running data operation per kind (a lock: one per kind and dataset).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub operation_ref: BTreeMap<String, String>,
}

/// A cache runtime: the cache workers of the [`Dataset`] of the same name and namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CacheRuntime {
    /// `cache.ksx.io/v1alpha1`.
    pub api_version: String,
    /// `CacheRuntime`.
    pub kind: String,
    /// Name and namespace: those of the dataset served.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Workers and tiers.
    pub spec: CacheRuntimeSpec,
}

fn one() -> i32 {
    1
}

/// The spec of a [`CacheRuntime`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CacheRuntimeSpec {
    /// Cache workers (a StatefulSet, one per node at most); default 1.
    #[serde(default = "one")]
    pub replicas: i32,
    /// Copies of each cached block.
    #[serde(default)]
    pub data: DataReplication,
    /// The cache tiers.
    pub tieredstore: TieredStore,
    /// Nodes the workers may run on (in addition to the dataset's node affinity).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Cleanup and metadata sync.
    #[serde(default)]
    pub management: Management,
}

/// Cached copies of each block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataReplication {
    /// At least 1 (default 1).
    #[serde(default = "one")]
    pub replicas: i32,
}

impl Default for DataReplication {
    fn default() -> Self {
        Self { replicas: 1 }
    }
}

/// The cache tiers of a runtime.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TieredStore {
    /// The levels, in any order; [`crate::resolve::resolve_tiers`] sorts them MEM < SSD < HDD.
    #[serde(default)]
    pub levels: Vec<TieredLevel>,
}

/// The medium of a cache tier, ordered fastest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Medium {
    /// Memory (a tmpfs or the process's memory).
    #[serde(rename = "MEM")]
    Mem,
    /// Solid-state disks.
    #[serde(rename = "SSD")]
    Ssd,
    /// Hard disks.
    #[serde(rename = "HDD")]
    Hdd,
}

impl Medium {
    /// `MEM`, `SSD` or `HDD`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Mem => "MEM",
            Self::Ssd => "SSD",
            Self::Hdd => "HDD",
        }
    }
}

/// How a tier's directories are provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum VolumeType {
    /// Host directories (default).
    #[default]
    HostPath,
    /// Pod-local `emptyDir` volumes.
    EmptyDir,
}

/// One level of the tiered store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TieredLevel {
    /// `MEM`, `SSD` or `HDD`.
    pub mediumtype: Medium,
    /// `hostPath` (default) or `emptyDir`.
    #[serde(default)]
    pub volume_type: VolumeType,
    /// The `emptyDir` settings when `volumeType` is `emptyDir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_source: Option<EmptyDirVolumeSource>,
    /// Comma-separated directories: `/mnt/cache1,/mnt/cache2`.
    pub path: String,
    /// The quota of the whole level, divided equally across the paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quantity>,
    /// One quota per path, `"100Gi,50Gi"`; not with `quota`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_list: Option<String>,
    /// High watermark ratio as a string (default `"0.95"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<String>,
    /// Low watermark ratio as a string (default `"0.7"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<String>,
}

/// Cleanup and metadata policies of a runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Management {
    /// How cached data is cleaned when a worker goes away.
    #[serde(default)]
    pub clean_cache_policy: CleanCachePolicy,
    /// Whether mounts are listed after binding.
    #[serde(default)]
    pub metadata_sync_policy: MetadataSyncPolicy,
}

/// Cache cleanup settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CleanCachePolicy {
    /// Seconds to wait before cleaning (default 60).
    #[serde(default = "default_grace")]
    pub grace_period_seconds: u32,
    /// Attempts before giving up (default 3).
    #[serde(default = "default_retries")]
    pub max_retry_attempts: u32,
}

fn default_grace() -> u32 {
    60
}

fn default_retries() -> u32 {
    3
}

impl Default for CleanCachePolicy {
    fn default() -> Self {
        Self {
            grace_period_seconds: default_grace(),
            max_retry_attempts: default_retries(),
        }
    }
}

/// Metadata sync settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetadataSyncPolicy {
    /// List the mounts after binding to fill `ufsTotal` and `fileNum` (default true).
    #[serde(default = "yes")]
    pub auto_sync: bool,
}

fn yes() -> bool {
    true
}

impl Default for MetadataSyncPolicy {
    fn default() -> Self {
        Self { auto_sync: true }
    }
}
