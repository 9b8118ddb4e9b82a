//! Checks Dataset and CacheRuntime specs and derives what the planner uses: parsed mount sources and tiers with
//! per-path quotas and watermarks. Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::model::{CacheRuntime, Dataset, EncryptOption, Medium, Placement, VolumeType};

/// The store behind a mount, parsed from its `mountPoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MountSource {
    /// `s3://bucket/prefix`.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix, without leading or trailing slashes (may be empty).
        prefix: String,
    },
    /// `local:///path`: a local directory, which is how a mounted NFS export is cached.
    Local {
        /// The absolute path.
        path: String,
    },
    /// `pvc://claim/subpath`.
    Pvc {
        /// The claim's name.
        claim: String,
        /// The sub-path inside the volume (may be empty).
        subpath: String,
    },
    /// `http://…` or `https://…`, read-only.
    Http {
        /// The whole URL.
        url: String,
    },
    /// `memory://name`: an in-memory store (tests, demos).
    Memory {
        /// The store's name.
        name: String,
    },
}

/// Parses a `mountPoint`.
///
/// # Errors
/// A message (the caller adds the place) for a point shorter than 5 characters, without `://`, with an
/// unknown scheme, or missing its bucket, path or claim.
pub fn parse_mount_point(point: &str) -> std::result::Result<MountSource, String> {
    if point.chars().count() < 5 {
        return Err(format!("{point:?} is shorter than 5 characters"));
    }
    let Some((scheme, rest)) = point.split_once("://") else {
        return Err(format!(
            "{point:?} has no scheme (expected s3://, local://, pvc://, http(s)://, memory://)"
        ));
    };
    let (head, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let tail = tail.trim_matches('/').to_owned();
    match scheme.to_ascii_lowercase().as_str() {
        "s3" if !head.is_empty() => Ok(MountSource::S3 {
            bucket: head.to_owned(),
            prefix: tail,
        }),
        "s3" => Err(format!("{point:?} names no bucket")),
        "local" if rest.starts_with('/') && rest.len() > 1 => Ok(MountSource::Local {
            path: rest.trim_end_matches('/').to_owned(),
        }),
        "local" => Err(format!("{point:?} needs an absolute path: local:///path")),
        "pvc" if !head.is_empty() => Ok(MountSource::Pvc {
            claim: head.to_owned(),
            subpath: tail,
        }),
        "pvc" => Err(format!("{point:?} names no claim")),
        "http" | "https" if !head.is_empty() => Ok(MountSource::Http {
            url: point.to_owned(),
        }),
        "http" | "https" => Err(format!("{point:?} names no host")),
        "memory" => Ok(MountSource::Memory {
            name: rest.to_owned(),
        }),
        other => Err(format!(
            "unknown mount scheme {other:?} in {point:?} (known: s3, local, pvc, http, https, memory)"
        )),
    }
}

/// A checked mount with its defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedMount {
    /// The mount's name.
    pub name: String,
    /// Where it appears in the dataset (`/{name}` by default).
    pub path: String,
    /// The parsed store.
    pub source: MountSource,
    /// Read-only (always true for `http(s)://`).
    pub read_only: bool,
    /// The dataset's shared options overlaid with the mount's own.
    pub options: BTreeMap<String, String>,
    /// The dataset's shared secret options followed by the mount's own.
    pub encrypt_options: Vec<EncryptOption>,
}

fn invalid(object: &str, field: String, message: String) -> Error {
    Error::Invalid {
        object: object.to_owned(),
        field,
        message,
    }
}

fn object_name(
    kind: &str,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> String {
    format!("{kind} {:?}", meta.name.as_deref().unwrap_or(""))
}

/// Checks a dataset's mounts and applies their defaults.
///
/// # Errors
/// [`Error::Invalid`] naming the dataset and the field (`spec.mounts[1].mountPoint`) for no mounts, a bad mount
/// point, an empty or duplicate name or path, or a relative path.
pub fn resolve_mounts(dataset: &Dataset) -> Result<Vec<ResolvedMount>> {
    let object = object_name("dataset", &dataset.metadata);
    let spec = &dataset.spec;
    if spec.mounts.is_empty() {
        return Err(invalid(
            &object,
            "spec.mounts".into(),
            "at least one mount is required".into(),
        ));
    }
    let mut names = BTreeSet::new();
    let mut paths = BTreeSet::new();
    let mut out = Vec::with_capacity(spec.mounts.len());
    for (i, mount) in spec.mounts.iter().enumerate() {
        let field = |name: &str| format!("spec.mounts[{i}].{name}");
        let source = parse_mount_point(&mount.mount_point)
            .map_err(|m| invalid(&object, field("mountPoint"), m))?;
        if mount.name.is_empty() {
            return Err(invalid(&object, field("name"), "must not be empty".into()));
        }
        if !names.insert(mount.name.as_str()) {
            return Err(invalid(
                &object,
                field("name"),
                format!("duplicate mount name {:?}", mount.name),
            ));
        }
        let path = mount
            .path
            .clone()
            .unwrap_or_else(|| format!("/{}", mount.name));
        if !path.starts_with('/') {
            return Err(invalid(
                &object,
                field("path"),
                format!("{path:?} must be absolute"),
            ));
        }
        if !paths.insert(path.clone()) {
            return Err(invalid(
                &object,
                field("path"),
                format!("duplicate mount path {path:?}"),
            ));
        }
        let mut options = spec.shared_options.clone();
        options.extend(mount.options.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut encrypt_options = spec.shared_encrypt_options.clone();
        encrypt_options.extend(mount.encrypt_options.iter().cloned());
        let read_only = mount.read_only || matches!(source, MountSource::Http { .. });
        out.push(ResolvedMount {
            name: mount.name.clone(),
            path,
            source,
            read_only,
            options,
            encrypt_options,
        });
    }
    Ok(out)
}

/// One directory of a tier and its share of the quota.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TierPath {
    /// The directory.
    pub path: String,
    /// Its quota in bytes.
    pub quota_bytes: u64,
}

/// A checked tier.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tier {
    /// The medium.
    pub medium: Medium,
    /// Host directories or `emptyDir`.
    pub volume_type: VolumeType,
    /// The directories with their quotas.
    pub paths: Vec<TierPath>,
    /// The whole tier's quota in bytes.
    pub quota_bytes: u64,
    /// High watermark: above `high × quota` the tier evicts down to `low × quota`.
    pub high: f64,
    /// Low watermark.
    pub low: f64,
    /// The high watermark as written (engines render it verbatim).
    pub high_text: String,
    /// The low watermark as written.
    pub low_text: String,
}

/// The tiers of a runtime, fastest first, plus diagnostics for what was dropped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResolvedTiers {
    /// MEM, then SSD, then HDD.
    pub tiers: Vec<Tier>,
    /// Non-fatal findings (`spec.tieredstore.levels[2]: duplicate medium SSD dropped`).
    pub diagnostics: Vec<String>,
}

fn bytes_of(q: &ksx_core::quantity::Quantity) -> Option<u64> {
    u64::try_from(q.value()).ok().filter(|&b| b > 0)
}

fn ratio(text: &str) -> Option<f64> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0 && *r <= 1.0)
}

/// Checks a runtime's replicas and tiers: levels sorted MEM < SSD < HDD (a duplicate medium is dropped with a
/// diagnostic), paths split on commas, `quota` divided equally across paths (remainder to the first) or
/// `quotaList` one per path, watermarks `0 < low < high ≤ 1` (defaults `"0.95"` and `"0.7"`).
///
/// # Errors
/// [`Error::Invalid`] naming the runtime and the field (`spec.tieredstore.levels[1].quotaList`).
pub fn resolve_tiers(runtime: &CacheRuntime) -> Result<ResolvedTiers> {
    let object = object_name("runtime", &runtime.metadata);
    let spec = &runtime.spec;
    if spec.replicas < 0 {
        return Err(invalid(
            &object,
            "spec.replicas".into(),
            format!("{} must not be negative", spec.replicas),
        ));
    }
    if spec.data.replicas < 1 {
        return Err(invalid(
            &object,
            "spec.data.replicas".into(),
            format!("{} must be at least 1", spec.data.replicas),
        ));
    }
    if spec.tieredstore.levels.is_empty() {
        return Err(invalid(
            &object,
            "spec.tieredstore.levels".into(),
            "at least one level is required".into(),
        ));
    }
    let mut out = ResolvedTiers::default();
    let mut seen: BTreeMap<Medium, usize> = BTreeMap::new();
    for (i, level) in spec.tieredstore.levels.iter().enumerate() {
        let field = |name: &str| format!("spec.tieredstore.levels[{i}].{name}");
        if let Some(first) = seen.get(&level.mediumtype) {
            out.diagnostics.push(format!(
                "spec.tieredstore.levels[{i}]: duplicate medium {} dropped (levels[{first}] kept)",
                level.mediumtype.name()
            ));
            continue;
        }
        seen.insert(level.mediumtype, i);
        let mut dirs: Vec<String> = Vec::new();
        for dir in level.path.split(',').map(str::trim) {
            if dir.is_empty() || !dir.starts_with('/') {
                return Err(invalid(
                    &object,
                    field("path"),
                    format!(
                        "{:?}: every comma-separated path must be absolute and non-empty",
                        level.path
                    ),
                ));
            }
            if dirs.iter().any(|d| d == dir) {
                return Err(invalid(
                    &object,
                    field("path"),
                    format!("duplicate path {dir:?}"),
                ));
            }
            dirs.push(dir.to_owned());
        }
        let quotas: Vec<u64> = match (&level.quota, &level.quota_list) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    &object,
                    field("quotaList"),
                    "quota and quotaList are exclusive".into(),
                ));
            }
            (None, None) => {
                return Err(invalid(
                    &object,
                    field("quota"),
                    "quota or quotaList is required".into(),
                ));
            }
            (Some(quota), None) => {
                let total = bytes_of(quota).ok_or_else(|| {
                    invalid(&object, field("quota"), format!("{quota} must be positive"))
                })?;
                let n = dirs.len() as u64;
                let (share, rest) = (total / n, total % n);
                (0..dirs.len())
                    .map(|j| if j == 0 { share + rest } else { share })
                    .collect()
            }
            (None, Some(list)) => {
                let mut quotas = Vec::new();
                for part in list.split(',').map(str::trim) {
                    let bytes = part
                        .parse::<ksx_core::quantity::Quantity>()
                        .ok()
                        .as_ref()
                        .and_then(bytes_of)
                        .ok_or_else(|| {
                            invalid(
                                &object,
                                field("quotaList"),
                                format!("{part:?} is not a positive quantity"),
                            )
                        })?;
                    quotas.push(bytes);
                }
                if quotas.len() != dirs.len() {
                    return Err(invalid(
                        &object,
                        field("quotaList"),
                        format!("{} quotas for {} paths", quotas.len(), dirs.len()),
                    ));
                }
                quotas
            }
        };
        let high_text = level.high.clone().unwrap_or_else(|| "0.95".into());
        let low_text = level.low.clone().unwrap_or_else(|| "0.7".into());
        let high = ratio(&high_text).ok_or_else(|| {
            invalid(
                &object,
                field("high"),
                format!("{high_text:?} is not a ratio in (0, 1]"),
            )
        })?;
        let low = ratio(&low_text).ok_or_else(|| {
            invalid(
                &object,
                field("low"),
                format!("{low_text:?} is not a ratio in (0, 1]"),
            )
        })?;
        if low >= high {
            return Err(invalid(
                &object,
                field("low"),
                format!("low {low_text} must be below high {high_text}"),
            ));
        }
        if level.volume_source.is_some() && level.volume_type != VolumeType::EmptyDir {
            return Err(invalid(
                &object,
                field("volumeSource"),
                "only with volumeType emptyDir".into(),
            ));
        }
        let paths: Vec<TierPath> = dirs
            .into_iter()
            .zip(quotas)
            .map(|(path, quota_bytes)| TierPath { path, quota_bytes })
            .collect();
        out.tiers.push(Tier {
            medium: level.mediumtype,
            volume_type: level.volume_type,
            quota_bytes: paths
                .iter()
                .map(|p| p.quota_bytes)
                .fold(0, u64::saturating_add),
            paths,
            high,
            low,
            high_text,
            low_text,
        });
    }
    out.tiers.sort_by_key(|t| t.medium);
    Ok(out)
}

/// Checks that a runtime serves this dataset: same name and namespace.
///
/// # Errors
/// [`Error::Invalid`] naming the runtime when the names or namespaces differ.
pub fn check_binding(dataset: &Dataset, runtime: &CacheRuntime) -> Result<()> {
    let key = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        (
            m.namespace.clone().unwrap_or_else(|| "default".into()),
            m.name.clone().unwrap_or_default(),
        )
    };
    let (d, r) = (key(&dataset.metadata), key(&runtime.metadata));
    if d == r {
        return Ok(());
    }
    Err(invalid(
        &object_name("runtime", &runtime.metadata),
        "metadata".into(),
        format!("serves dataset {}/{}, not {}/{}", r.0, r.1, d.0, d.1),
    ))
}

/// Whether the dataset's workers need nodes of their own.
#[must_use]
pub fn is_exclusive(dataset: &Dataset) -> bool {
    dataset.spec.placement == Placement::Exclusive
}

#[cfg(test)]
mod tests;
