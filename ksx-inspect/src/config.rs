//! The configuration file (spec §1.4): check selection, severity overrides and per-check options, exemptions,
//! cross-object mode.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::Severity;

/// The inspection configuration (`.ksx-inspect.yaml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Target Kubernetes version (`1.33`); `--kube-version` wins.
    #[serde(default)]
    pub kube_version: Option<String>,
    /// Namespace of objects without one (default `default`).
    #[serde(default)]
    pub default_namespace: Option<String>,
    /// Which checks run and how.
    #[serde(default)]
    pub checks: ChecksConfig,
    /// Exemptions.
    #[serde(default)]
    pub exemptions: Vec<Exemption>,
    /// How reference checks treat a bundle without the referenced kind.
    #[serde(default)]
    pub cross_object: CrossObject,
    /// Whether `ksx.io/exempt` annotations are honoured (default true).
    #[serde(default = "yes")]
    pub allow_annotation_exemptions: bool,
    /// Whether `builtin:system-exemptions` applies (default true).
    #[serde(default = "yes")]
    pub system_exemptions: bool,
}

fn yes() -> bool {
    true
}

impl Default for Config {
    fn default() -> Self {
        Self {
            kube_version: None,
            default_namespace: None,
            checks: ChecksConfig::default(),
            exemptions: Vec::new(),
            cross_object: CrossObject::Strict,
            allow_annotation_exemptions: true,
            system_exemptions: true,
        }
    }
}

impl Config {
    /// Parses a configuration file's text.
    ///
    /// # Errors
    /// [`Error::Config`] naming the file, line and key when the YAML is invalid or holds unknown keys.
    pub fn from_yaml(file: &str, text: &str) -> Result<Self> {
        ksx_core::manifest::from_yaml_str(file, text).map_err(|e| Error::Config {
            file: file.to_owned(),
            message: e.to_string(),
        })
    }
}

/// `crossObject`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CrossObject {
    /// Report references to kinds absent from the bundle.
    #[default]
    Strict,
    /// Skip reference checks when the bundle holds no object of the referenced kind.
    Lenient,
}

/// `checks`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChecksConfig {
    /// Globs of checks to run (default all).
    #[serde(default)]
    pub include: Vec<String>,
    /// Globs of checks not to run.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Per-check severity, options, or `off`.
    #[serde(default)]
    pub overrides: BTreeMap<String, Override>,
}

/// One entry of `checks.overrides`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Override {
    /// `off` (or `false`): the check does not run.
    Flag(OffFlag),
    /// Severity and per-check options.
    Settings(OverrideSettings),
}

/// `off` as text or boolean.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OffFlag {
    /// `off`, `false`, or `on`/`true` (no change).
    Text(String),
    /// YAML 1.1 booleans.
    Bool(bool),
}

impl Override {
    /// Whether this override turns the check off.
    pub fn is_off(&self) -> bool {
        matches!(self, Self::Flag(OffFlag::Text(t)) if t == "off")
            || matches!(self, Self::Flag(OffFlag::Bool(false)))
    }
}

/// Severity and options of an override.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OverrideSettings {
    /// The new severity.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Limit the severity change to these namespaces.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Check options (`strict`, `minReplicas`, `allowedPaths`…).
    #[serde(flatten)]
    pub options: BTreeMap<String, Value>,
}

/// One configured exemption; all given fields must match, list values are alternatives.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Exemption {
    /// Check IDs (empty = all).
    #[serde(default)]
    pub checks: Vec<String>,
    /// Namespaces.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Anchored regex over the namespace.
    #[serde(default)]
    pub namespace_regex: Option<String>,
    /// Kinds.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Names.
    #[serde(default)]
    pub names: Vec<String>,
    /// Anchored regex over the name.
    #[serde(default)]
    pub name_regex: Option<String>,
    /// Only these containers' findings.
    #[serde(default)]
    pub containers: Vec<String>,
    /// Kubernetes label selector over the object's labels.
    #[serde(default)]
    pub label_selector: Option<Value>,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD`; ignored afterwards.
    #[serde(default)]
    pub expires: Option<String>,
}

/// Parses `1.33`, `v1.33` or `1.33.4` into (major, minor).
///
/// # Errors
/// [`Error::InvalidKubeVersion`] otherwise.
pub fn parse_kube_version(text: &str) -> Result<(u64, u64)> {
    let err = || Error::InvalidKubeVersion {
        value: text.to_owned(),
    };
    let t = text.trim().trim_start_matches('v');
    let mut parts = t.split('.');
    let major = parts.next().and_then(|p| p.parse().ok()).ok_or_else(err)?;
    let minor = parts.next().and_then(|p| p.parse().ok()).ok_or_else(err)?;
    match parts.next() {
        None => {}
        Some(p) if p.parse::<u64>().is_ok() => {}
        Some(_) => return Err(err()),
    }
    if parts.next().is_some() {
        return Err(err());
    }
    Ok((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_versions() {
        assert_eq!(parse_kube_version("1.33").unwrap(), (1, 33));
        assert_eq!(parse_kube_version("v1.29").unwrap(), (1, 29));
        assert_eq!(parse_kube_version("1.33.4").unwrap(), (1, 33));
        assert!(parse_kube_version("1").is_err());
        assert!(parse_kube_version("1.x").is_err());
    }

    #[test]
    fn config_parses_overrides_and_rejects_unknown_keys() {
        let c = Config::from_yaml(
            "c.yaml",
            "checks:\n  overrides:\n    eff-cpu-limits: off\n    rel-image-pull-policy: {severity: danger, strict: true}\n",
        )
        .unwrap();
        assert!(c.checks.overrides["eff-cpu-limits"].is_off());
        let e = Config::from_yaml("c.yaml", "chekcs: {}\n").unwrap_err();
        assert!(e.to_string().contains("c.yaml"), "{e}");
    }
}
