//! [`CacheConfig`]: block size, tiers, metadata TTL, read-ahead and their checks (spec §4.2–§4.4).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::policy::PolicyKind;

/// The default block size, 4 MiB (JuiceFS's block).
pub const DEFAULT_BLOCK_SIZE: u64 = 4 << 20;
/// The smallest block size accepted, 64 KiB.
pub const MIN_BLOCK_SIZE: u64 = 64 << 10;
/// The largest block size accepted, 64 MiB.
pub const MAX_BLOCK_SIZE: u64 = 64 << 20;

/// When a block reaches the disk tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DiskWriteMode {
    /// Every block read from the store is also written to disk, in the background (bounded queue).
    #[default]
    OnInsert,
    /// A block is written to disk when the memory tier evicts it (foyer's default).
    OnEviction,
}

/// How long HEAD results stay in the metadata cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MetadataTtl {
    /// Entries expire after this long (default 60 s).
    Ttl(#[serde(with = "secs")] Duration),
    /// Read-only datasets: entries never expire by time (writes through this store still invalidate them).
    Immutable,
}

impl Default for MetadataTtl {
    fn default() -> Self {
        Self::Ttl(Duration::from_secs(60))
    }
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

/// One directory of a disk tier and its quota in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiskDir {
    /// The cache directory; the cache lives under `<path>/ksx-cache/v1/<store-id>/`.
    pub path: PathBuf,
    /// The bytes of block data this directory may hold.
    pub quota_bytes: u64,
}

/// A disk tier (`SSD` or `HDD`): one or more directories, one eviction policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiskTierConfig {
    /// The tier's name in metrics and stats (`ssd`, `hdd`).
    pub name: String,
    /// The directories; blocks are spread over them by rendezvous hashing weighted by quota.
    pub dirs: Vec<DiskDir>,
    /// The eviction policy, by simulator name (`s3fifo`, `lru`, …).
    pub policy: String,
}

/// The configuration of a [`super::CachedStore`].
///
/// `Default` is the spec's defaults: 4 MiB blocks, 256 MiB of memory, no disk tier, metadata TTL 60 s, read-ahead
/// up to 8 blocks with 4 prefetches at once, 10 % of each disk kept free, S3-FIFO everywhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Block size in bytes: a power of two from 64 KiB to 64 MiB.
    pub block_size: u64,
    /// The memory tier's budget in bytes (0 disables the memory tier).
    pub memory_bytes: u64,
    /// The memory tier's eviction policy, by simulator name.
    pub memory_policy: String,
    /// Disk tiers, fastest first (`SSD` before `HDD`).
    pub disk_tiers: Vec<DiskTierConfig>,
    /// When blocks reach disk.
    pub disk_write_mode: DiskWriteMode,
    /// Disk writes queued at most; beyond it a block is not written to disk (it stays in memory).
    pub disk_write_queue: usize,
    /// How long HEAD results are trusted.
    pub metadata_ttl: MetadataTtl,
    /// Metadata entries kept at most.
    pub metadata_capacity: u64,
    /// The largest read-ahead window in blocks (0 disables read-ahead).
    pub max_readahead: u64,
    /// Background block loads at most at once.
    pub prefetch_concurrency: usize,
    /// The share of each cache directory's file system kept free (`0 ≤ r < 1`).
    pub min_free_ratio: f64,
    /// The store's identity in block keys and on-disk paths; default: a hash of the inner store's `Display`
    /// (`AmazonS3(bucket)`, `LocalFileSystem(file:///…)`). Set it when two stores that print the same share a
    /// cache directory.
    pub store_id: Option<String>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            block_size: DEFAULT_BLOCK_SIZE,
            memory_bytes: 256 << 20,
            memory_policy: "s3fifo".into(),
            disk_tiers: Vec::new(),
            disk_write_mode: DiskWriteMode::OnInsert,
            disk_write_queue: 64,
            metadata_ttl: MetadataTtl::default(),
            metadata_capacity: 100_000,
            max_readahead: 8,
            prefetch_concurrency: 4,
            min_free_ratio: 0.1,
            store_id: None,
        }
    }
}

impl CacheConfig {
    /// Checks every field and returns the policies by tier (memory first, then each disk tier).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the field: a block size that is not a power of two in 64 KiB–64 MiB,
    /// an unknown or offline policy, a disk tier without directories or with a zero quota, a free ratio outside
    /// `0..1`, zero prefetch concurrency, a store id that is not a plain file name.
    pub fn validate(&self) -> Result<Vec<PolicyKind>> {
        if !self.block_size.is_power_of_two()
            || !(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&self.block_size)
        {
            return Err(invalid(
                "blockSize",
                format!(
                    "{} is not a power of two from 65536 (64 KiB) to 67108864 (64 MiB)",
                    self.block_size
                ),
            ));
        }
        let mut policies = vec![policy("memoryPolicy", &self.memory_policy)?];
        for tier in &self.disk_tiers {
            policies.push(policy("diskTiers.policy", &tier.policy)?);
            if tier.name.is_empty() || !tier.name.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(invalid(
                    "diskTiers.name",
                    format!("{:?} must be a non-empty alphanumeric name", tier.name),
                ));
            }
            if tier.dirs.is_empty() {
                return Err(invalid(
                    "diskTiers.dirs",
                    format!("tier {:?} has no directory", tier.name),
                ));
            }
            if let Some(d) = tier.dirs.iter().find(|d| d.quota_bytes == 0) {
                return Err(invalid(
                    "diskTiers.dirs.quotaBytes",
                    format!(
                        "directory {} of tier {:?} has quota 0",
                        d.path.display(),
                        tier.name
                    ),
                ));
            }
        }
        if !(0.0..1.0).contains(&self.min_free_ratio) {
            return Err(invalid(
                "minFreeRatio",
                format!("{} is not in 0 ≤ ratio < 1", self.min_free_ratio),
            ));
        }
        if self.prefetch_concurrency == 0 {
            return Err(invalid("prefetchConcurrency", "must be at least 1".into()));
        }
        if let Some(id) = &self.store_id
            && (id.is_empty()
                || id.starts_with('.')
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(invalid(
                "storeId",
                format!("{id:?} must be a file name of letters, digits, '-', '_' or '.'"),
            ));
        }
        Ok(policies)
    }
}

fn policy(field: &'static str, name: &str) -> Result<PolicyKind> {
    let kind: PolicyKind = name.parse()?;
    if !kind.is_online() {
        return Err(invalid(
            field,
            format!("{name:?} needs the future and only runs in the simulator"),
        ));
    }
    Ok(kind)
}

fn invalid(field: &'static str, message: String) -> Error {
    Error::InvalidParameter { field, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_spec_values() {
        let c = CacheConfig::default();
        assert_eq!(c.block_size, 4 * 1024 * 1024);
        assert_eq!(c.metadata_ttl, MetadataTtl::Ttl(Duration::from_secs(60)));
        assert_eq!((c.max_readahead, c.prefetch_concurrency), (8, 4));
        assert_eq!(
            c.validate().expect("defaults are valid"),
            [PolicyKind::S3Fifo]
        );
    }

    #[test]
    fn deserializes_camel_case_and_rejects_unknown_fields() {
        let c: CacheConfig = serde_json::from_str(
            r#"{"blockSize": 1048576, "metadataTtl": "immutable",
                "diskTiers": [{"name": "ssd", "policy": "lru", "dirs": [{"path": "/c", "quotaBytes": 10}]}]}"#,
        )
        .expect("valid config");
        assert_eq!(
            (c.block_size, c.metadata_ttl),
            (1 << 20, MetadataTtl::Immutable)
        );
        assert_eq!(c.max_readahead, 8, "unset fields keep their defaults");
        let err = serde_json::from_str::<CacheConfig>(r#"{"blocksize": 1}"#).expect_err("typo");
        assert!(
            err.to_string().contains("unknown field `blocksize`"),
            "{err}"
        );
    }

    #[test]
    fn block_size_must_be_a_power_of_two_in_range() {
        for bad in [0, 1000, 32 * 1024, 128 << 20, (4 << 20) + 1] {
            let c = CacheConfig {
                block_size: bad,
                ..CacheConfig::default()
            };
            let err = c.validate().expect_err("invalid block size").to_string();
            assert!(err.starts_with("invalid blockSize: "), "{err}");
        }
        for good in [64 << 10, 1 << 20, 64 << 20] {
            let c = CacheConfig {
                block_size: good,
                ..CacheConfig::default()
            };
            assert!(c.validate().is_ok(), "{good}");
        }
    }

    #[test]
    fn policies_and_ratios_are_checked() {
        let c = CacheConfig {
            memory_policy: "belady".into(),
            ..CacheConfig::default()
        };
        assert!(c.validate().is_err());
        let c = CacheConfig {
            memory_policy: "nope".into(),
            ..CacheConfig::default()
        };
        assert!(
            c.validate()
                .expect_err("unknown")
                .to_string()
                .contains("unknown eviction policy")
        );
        let c = CacheConfig {
            min_free_ratio: 1.0,
            ..CacheConfig::default()
        };
        assert!(c.validate().is_err());
        let c = CacheConfig {
            store_id: Some("../x".into()),
            ..CacheConfig::default()
        };
        assert!(c.validate().is_err());
    }
}
