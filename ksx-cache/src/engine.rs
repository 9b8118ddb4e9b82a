//! Engine properties rendered from checked tiers (spec §1.3), so a plan can be applied to Alluxio, Jindo or
//! JuiceFS workers as well as to ksx's own.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::resolve::Tier;

/// A cache engine whose configuration a plan can render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Engine {
    /// ksx's own workers: the tiers are the configuration, no extra properties.
    #[default]
    Ksx,
    /// Alluxio worker tiered store.
    Alluxio,
    /// JindoFS / JindoCache storage.
    Jindo,
    /// JuiceFS client cache.
    JuiceFs,
}

impl Engine {
    /// The name on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Ksx => "ksx",
            Self::Alluxio => "alluxio",
            Self::Jindo => "jindo",
            Self::JuiceFs => "juicefs",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Engine {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        [Self::Ksx, Self::Alluxio, Self::Jindo, Self::JuiceFs]
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| Error::InvalidParameter {
                field: "engine",
                message: format!("unknown engine {s:?} (known: ksx, alluxio, jindo, juicefs)"),
            })
    }
}

fn joined(tier: &Tier, sep: &str, f: impl Fn(&crate::resolve::TierPath) -> String) -> String {
    tier.paths.iter().map(f).collect::<Vec<_>>().join(sep)
}

/// The engine's properties for these tiers (fastest first, as [`crate::resolve::resolve_tiers`] returns them).
///
/// - Alluxio: `alluxio.worker.tieredstore.levels`, and per level N `…levelN.alias`, `…levelN.dirs.path`,
///   `…levelN.dirs.quota` (bytes) and `…levelN.watermark.{high,low}.ratio` (verbatim).
/// - Jindo: `storage.watermark.{high,low}.ratio` from the first level, `storage.data-dirs` and
///   `storage.data-dirs.capacities` (bytes) from its paths.
/// - JuiceFS (one cache level: the first): `cache-dir` (paths joined with `:`), `cache-size` in MiB
///   (`bytes >> 20`), `free-space-ratio` = `low` verbatim.
/// - ksx: nothing.
#[must_use]
pub fn engine_properties(engine: Engine, tiers: &[Tier]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |k: String, v: String| {
        out.insert(k, v);
    };
    match engine {
        Engine::Ksx => {}
        Engine::Alluxio => {
            put(
                "alluxio.worker.tieredstore.levels".into(),
                tiers.len().to_string(),
            );
            for (n, tier) in tiers.iter().enumerate() {
                let prefix = format!("alluxio.worker.tieredstore.level{n}");
                put(format!("{prefix}.alias"), tier.medium.name().into());
                put(
                    format!("{prefix}.dirs.path"),
                    joined(tier, ",", |p| p.path.clone()),
                );
                put(
                    format!("{prefix}.dirs.quota"),
                    joined(tier, ",", |p| p.quota_bytes.to_string()),
                );
                put(
                    format!("{prefix}.watermark.high.ratio"),
                    tier.high_text.clone(),
                );
                put(
                    format!("{prefix}.watermark.low.ratio"),
                    tier.low_text.clone(),
                );
            }
        }
        Engine::Jindo => {
            if let Some(tier) = tiers.first() {
                put(
                    "storage.watermark.high.ratio".into(),
                    tier.high_text.clone(),
                );
                put("storage.watermark.low.ratio".into(), tier.low_text.clone());
                put(
                    "storage.data-dirs".into(),
                    joined(tier, ",", |p| p.path.clone()),
                );
                put(
                    "storage.data-dirs.capacities".into(),
                    joined(tier, ",", |p| p.quota_bytes.to_string()),
                );
            }
        }
        Engine::JuiceFs => {
            if let Some(tier) = tiers.first() {
                put("cache-dir".into(), joined(tier, ":", |p| p.path.clone()));
                put("cache-size".into(), (tier.quota_bytes >> 20).to_string());
                put("free-space-ratio".into(), tier.low_text.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use ksx_core::manifest::from_yaml_str;

    use super::*;
    use crate::model::CacheRuntime;
    use crate::resolve::resolve_tiers;

    fn tiers() -> Vec<Tier> {
        let text = "apiVersion: cache.ksx.io/v1alpha1\nkind: CacheRuntime\nmetadata: {name: r}\nspec:\n  tieredstore:\n    levels:\n      - {mediumtype: SSD, path: '/mnt/a,/mnt/b', quotaList: '100Gi,50Gi', low: '0.6'}\n      - {mediumtype: MEM, path: /dev/shm, quota: 2Gi, high: '0.9'}\n";
        let runtime: CacheRuntime = from_yaml_str("r.yaml", text).unwrap();
        resolve_tiers(&runtime).unwrap().tiers
    }

    #[test]
    fn alluxio_levels_with_watermarks() {
        let p = engine_properties(Engine::Alluxio, &tiers());
        assert_eq!(p["alluxio.worker.tieredstore.levels"], "2");
        assert_eq!(p["alluxio.worker.tieredstore.level0.alias"], "MEM");
        assert_eq!(
            p["alluxio.worker.tieredstore.level0.watermark.high.ratio"],
            "0.9"
        );
        assert_eq!(
            p["alluxio.worker.tieredstore.level0.watermark.low.ratio"],
            "0.7"
        );
        assert_eq!(
            p["alluxio.worker.tieredstore.level1.dirs.path"],
            "/mnt/a,/mnt/b"
        );
        assert_eq!(
            p["alluxio.worker.tieredstore.level1.dirs.quota"],
            format!("{},{}", 100_u64 << 30, 50_u64 << 30)
        );
        assert_eq!(
            p["alluxio.worker.tieredstore.level1.watermark.low.ratio"],
            "0.6"
        );
    }

    #[test]
    fn jindo_and_juicefs_use_the_first_level() {
        let j = engine_properties(Engine::Jindo, &tiers());
        assert_eq!(j["storage.watermark.high.ratio"], "0.9");
        assert_eq!(j["storage.data-dirs"], "/dev/shm");
        let f = engine_properties(Engine::JuiceFs, &tiers()[1..]);
        assert_eq!(f["cache-dir"], "/mnt/a:/mnt/b");
        assert_eq!(f["cache-size"], (150 * 1024).to_string());
        assert_eq!(f["free-space-ratio"], "0.6");
        assert!(engine_properties(Engine::Ksx, &tiers()).is_empty());
        assert!(engine_properties(Engine::JuiceFs, &[]).is_empty());
        assert_eq!("juicefs".parse::<Engine>().unwrap(), Engine::JuiceFs);
        assert!("fluid".parse::<Engine>().is_err());
    }
}
