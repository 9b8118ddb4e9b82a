//! Where the recommender keeps its checkpoints between restarts: the [`CheckpointStore`] seam and its
//! implementations, [`FileCheckpointStore`] (a directory, the default), `PostgresCheckpointStore` (feature
//! `postgres`) and [`InMemoryCheckpointStore`] (tests, simulations). Each passes
//! [`conformance::check_checkpoint_store`].
//!
//! A store holds one v3 [`ContainerCheckpoint`] per [`CheckpointKey`] (`<vpaName>-<containerName>` in the VPA's
//! namespace), as upstream's `VerticalPodAutoscalerCheckpoint` objects do. Restoring every checkpoint and
//! recommending gives the recommendation the recommender had before the restart, without replaying samples
//! (spec `scaling.md` §3.5).
//!
//! **Why async.** The PostgreSQL store is a network client, and the controller loop keeps the store as
//! `Arc<dyn CheckpointStore>` chosen at start-up by a flag, so the trait is an object-safe `async-trait`. The
//! file store does plain blocking `std::fs` calls inside its `async fn`s: a checkpoint is a few KiB, written
//! at most once a minute per aggregate, which is cheaper than a hop to a blocking thread pool and keeps this
//! crate free of a runtime dependency.
//!
//! **Versions.** Only [`CHECKPOINT_VERSION`] (`v3`) is written and read. A stored checkpoint of another version is
//! an error naming the file or row, never silently dropped: upstream's v1/v2 histograms are not compatible.
//!
//! **Partial failure.** [`CheckpointStore::load_all`] returns every checkpoint it could read plus one error per
//! one it could not; only a store that cannot be read at all (a missing directory, a database that is down)
//! fails the whole call.
//!
//! ```
//! use std::collections::BTreeSet;
//!
//! use ksx_scaling::vpa::checkpoint::{CHECKPOINT_VERSION, CheckpointKey, ContainerCheckpoint};
//! use ksx_scaling::vpa::store::{CheckpointStore, FileCheckpointStore};
//!
//! # async fn demo() -> ksx_scaling::Result<()> {
//! let dir = std::env::temp_dir().join(format!("ksx-store-doc-{}", std::process::id()));
//! let store = FileCheckpointStore::create(&dir)?;
//! let key = CheckpointKey {
//!     namespace: "shop".into(),
//!     vpa_name: "web".into(),
//!     container_name: "app".into(),
//! };
//! let checkpoint = ContainerCheckpoint { version: CHECKPOINT_VERSION.into(), ..Default::default() };
//! store.save(&key, &checkpoint).await?;
//! assert_eq!(store.load(&key).await?, Some(checkpoint));
//! // The VPA is gone: its checkpoint is an orphan.
//! assert_eq!(store.collect_orphans(&BTreeSet::new()).await?, vec![key]);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
//! ```

use std::collections::BTreeSet;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::vpa::checkpoint::{CHECKPOINT_VERSION, CheckpointKey, ContainerCheckpoint};

pub mod conformance;
mod file;
mod memory;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
mod postgres;

pub use file::FileCheckpointStore;
pub use memory::InMemoryCheckpointStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{DEFAULT_TABLE as DEFAULT_POSTGRES_TABLE, PostgresCheckpointStore};

/// API version of the stored checkpoint object.
pub const CHECKPOINT_API_VERSION: &str = "autoscaling.k8s.io/v1";
/// Kind of the stored checkpoint object.
pub const CHECKPOINT_KIND: &str = "VerticalPodAutoscalerCheckpoint";

/// Persists recommender checkpoints, one per [`CheckpointKey`]. See the [module docs](self).
#[async_trait]
pub trait CheckpointStore: Send + Sync {
    /// Writes (creates or replaces) the checkpoint of `key`. A reader sees the old or the new checkpoint,
    /// never a mix.
    ///
    /// # Errors
    /// A key that the store cannot name, a checkpoint whose version is not v3, or a failing backend.
    async fn save(&self, key: &CheckpointKey, checkpoint: &ContainerCheckpoint) -> Result<()>;

    /// Reads the checkpoint of `key`; `None` when there is none.
    ///
    /// # Errors
    /// A stored checkpoint that does not parse or is not v3 (the error names the file or row), or a failing
    /// backend.
    async fn load(&self, key: &CheckpointKey) -> Result<Option<ContainerCheckpoint>>;

    /// Every stored key, sorted.
    ///
    /// # Errors
    /// A failing backend.
    async fn list(&self) -> Result<Vec<CheckpointKey>>;

    /// Deletes the checkpoint of `key`; `true` when there was one.
    ///
    /// # Errors
    /// A failing backend.
    async fn delete(&self, key: &CheckpointKey) -> Result<bool>;

    /// Every checkpoint that can be read, sorted by key, and one error per checkpoint that cannot.
    ///
    /// # Errors
    /// Only a store that cannot be listed at all.
    async fn load_all(&self) -> Result<LoadedCheckpoints> {
        let mut loaded = LoadedCheckpoints::default();
        for key in self.list().await? {
            match self.load(&key).await {
                Ok(Some(checkpoint)) => loaded.checkpoints.push((key, checkpoint)),
                // Deleted between the listing and the read: nothing to restore.
                Ok(None) => {}
                Err(e) => loaded.errors.push(e),
            }
        }
        Ok(loaded)
    }

    /// Garbage collection: deletes every checkpoint whose key is not in `live` (the (VPA, container) pairs
    /// the recommender still tracks) and returns the deleted keys, sorted.
    ///
    /// # Errors
    /// A failing backend; checkpoints deleted before the failure stay deleted.
    async fn collect_orphans(&self, live: &BTreeSet<CheckpointKey>) -> Result<Vec<CheckpointKey>> {
        let mut deleted = Vec::new();
        for key in self.list().await? {
            if !live.contains(&key) && self.delete(&key).await? {
                deleted.push(key);
            }
        }
        Ok(deleted)
    }
}

/// What [`CheckpointStore::load_all`] could read.
#[derive(Debug, Default)]
pub struct LoadedCheckpoints {
    /// Readable checkpoints, sorted by key.
    pub checkpoints: Vec<(CheckpointKey, ContainerCheckpoint)>,
    /// One error per stored checkpoint that could not be read (corrupt, wrong version), naming it.
    pub errors: Vec<Error>,
}

/// The stored form of a checkpoint: upstream's `VerticalPodAutoscalerCheckpoint` object, so a file can be
/// inspected, or applied to a cluster, as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointObject {
    /// [`CHECKPOINT_API_VERSION`].
    pub api_version: String,
    /// [`CHECKPOINT_KIND`].
    pub kind: String,
    /// Name (`<vpaName>-<containerName>`) and namespace.
    pub metadata: CheckpointMetadata,
    /// Which VPA and container.
    pub spec: CheckpointSpec,
    /// The checkpoint itself.
    pub status: ContainerCheckpoint,
}

/// The metadata a [`CheckpointObject`] carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointMetadata {
    /// `<vpaName>-<containerName>`.
    pub name: String,
    /// The VPA's namespace.
    pub namespace: String,
}

/// `VerticalPodAutoscalerCheckpointSpec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointSpec {
    /// Name of the VPA.
    pub vpa_object_name: String,
    /// Container name.
    pub container_name: String,
}

impl CheckpointObject {
    /// The object for `key` holding `checkpoint`.
    pub fn new(key: &CheckpointKey, checkpoint: ContainerCheckpoint) -> Self {
        Self {
            api_version: CHECKPOINT_API_VERSION.to_owned(),
            kind: CHECKPOINT_KIND.to_owned(),
            metadata: CheckpointMetadata {
                name: key.object_name(),
                namespace: key.namespace.clone(),
            },
            spec: CheckpointSpec {
                vpa_object_name: key.vpa_name.clone(),
                container_name: key.container_name.clone(),
            },
            status: checkpoint,
        }
    }

    /// The key this object names.
    pub fn key(&self) -> CheckpointKey {
        CheckpointKey {
            namespace: self.metadata.namespace.clone(),
            vpa_name: self.spec.vpa_object_name.clone(),
            container_name: self.spec.container_name.clone(),
        }
    }

    /// Parses a stored object. The version is checked before the shape, so a checkpoint of another version is
    /// reported as such rather than as a field that does not fit. `place` names the file or row in errors.
    ///
    /// # Errors
    /// Text that is not a checkpoint object, or a checkpoint whose `status.version` is not v3.
    pub fn parse(place: &str, text: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| parse_error(place, &e))?;
        let version = value
            .pointer("/status/version")
            .and_then(serde_json::Value::as_str);
        check_version(place, "status.version", version)?;
        serde_json::from_value(value).map_err(|e| parse_error(place, &e))
    }
}

/// Refuses any checkpoint version but v3; `field` is the path of the version in `place`.
///
/// # Errors
/// [`ksx_core::Error::InvalidField`] naming `place` and `field` when `version` is missing or not v3.
pub fn check_version(place: &str, field: &str, version: Option<&str>) -> Result<()> {
    match version {
        Some(CHECKPOINT_VERSION) => Ok(()),
        Some(other) => Err(invalid_at(
            place,
            field,
            format!(
                "checkpoint version {other:?} is not supported: only {CHECKPOINT_VERSION} is read (older versions hold \
                 incompatible histograms; let the recommender rebuild them from history)"
            ),
        )),
        None => Err(invalid_at(
            place,
            field,
            format!("missing checkpoint version: expected {CHECKPOINT_VERSION}"),
        )),
    }
}

/// Checks that every part of a key is a Kubernetes-style name a store can use: non-empty, at most 253
/// characters, ASCII letters, digits, `-` and `.`, not starting with `.`. That rules out path separators and the
/// `_` the file store uses between the parts.
///
/// # Errors
/// [`Error::InvalidField`] naming the part at fault.
pub fn validate_key(key: &CheckpointKey) -> Result<()> {
    for (field, value) in [
        ("namespace", &key.namespace),
        ("vpaName", &key.vpa_name),
        ("containerName", &key.container_name),
    ] {
        let reason = if value.is_empty() {
            Some("must not be empty".to_owned())
        } else if value.len() > 253 {
            Some(format!("{} characters, at most 253 allowed", value.len()))
        } else if value.starts_with('.') {
            Some(format!("{value:?} must not start with '.'"))
        } else {
            value
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
                .map(|c| {
                    format!(
                        "{value:?} contains {c:?}: only letters, digits, '-' and '.' are allowed"
                    )
                })
        };
        if let Some(reason) = reason {
            return Err(Error::invalid(format!("checkpoint key.{field}"), reason));
        }
    }
    Ok(())
}

/// A version check before writing: the store never writes what it would refuse to read.
fn check_writable(key: &CheckpointKey, checkpoint: &ContainerCheckpoint) -> Result<()> {
    validate_key(key)?;
    check_version(
        &format!("checkpoint {}/{}", key.namespace, key.object_name()),
        "version",
        Some(&checkpoint.version),
    )
}

fn parse_error(place: &str, e: &serde_json::Error) -> Error {
    Error::Core(ksx_core::Error::Parse {
        location: format!("{place}:{}:{}", e.line(), e.column()),
        reason: format!("not a {CHECKPOINT_KIND}: {e}"),
    })
}

fn invalid_at(place: &str, field: &str, reason: String) -> Error {
    Error::Core(ksx_core::Error::InvalidField {
        object: place.to_owned(),
        field: field.to_owned(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ns: &str, vpa: &str, c: &str) -> CheckpointKey {
        CheckpointKey {
            namespace: ns.into(),
            vpa_name: vpa.into(),
            container_name: c.into(),
        }
    }

    #[test]
    fn keys_must_be_names() {
        assert!(validate_key(&key("shop", "web.v2", "app-1")).is_ok());
        for (bad, field) in [
            (key("", "web", "app"), "namespace"),
            (key("shop", "a/b", "app"), "vpaName"),
            (key("shop", "web", "a_b"), "containerName"),
            (key("shop", "..", "app"), "vpaName"),
            (key("shop", "web", &"x".repeat(254)), "containerName"),
        ] {
            let e = validate_key(&bad).unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
    }

    #[test]
    fn objects_round_trip_and_name_their_key() {
        let k = key("shop", "web", "app");
        let cp = ContainerCheckpoint {
            version: CHECKPOINT_VERSION.into(),
            total_samples_count: 7,
            ..Default::default()
        };
        let obj = CheckpointObject::new(&k, cp.clone());
        assert_eq!(obj.metadata.name, "web-app");
        let text = serde_json::to_string(&obj).unwrap();
        let back = CheckpointObject::parse("f.json", &text).unwrap();
        assert_eq!(back.key(), k);
        assert_eq!(back.status, cp);
    }

    #[test]
    fn other_versions_are_refused_before_the_shape() {
        let text = r#"{"status": {"version": "v2", "cpuHistogram": 3}}"#;
        let e = CheckpointObject::parse("dir/x.json", text)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("dir/x.json") && e.contains("\"v2\"") && e.contains("v3"),
            "{e}"
        );
        let e = CheckpointObject::parse("dir/x.json", "{}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing checkpoint version"), "{e}");
        let e = CheckpointObject::parse("dir/x.json", "{\"status\":")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("dir/x.json:1:"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn parsing_garbage_never_panics(text in ".*") {
            let _ = CheckpointObject::parse("p", &text);
        }
    }
}
