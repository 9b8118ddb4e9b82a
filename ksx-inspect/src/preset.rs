//! Inspection presets (spec §4.9): named sets of built-in checks, per-check options and exemptions, used by
//! plans' `ruleSets` and `ksx inspect --preset`.
//!
//! - `builtin:default`: every default check.
//! - `builtin:pss-baseline`: the Pod Security Standards baseline checks; `sec-seccomp-profile` runs with
//!   `unconfinedOnly: true` (only an explicit `Unconfined` profile fails).
//! - `builtin:pss-restricted`: the baseline plus sec-privilege-escalation, sec-run-as-non-root,
//!   sec-seccomp-profile (full form) and sec-drop-capabilities.
//! - `builtin:live-health`: the live workload-health (§4.6) and node (§4.7) checks.
//! - `builtin:system-exemptions`: the well-known `kube-system` exemptions of §1.3 (no checks of its own).
//!
//! Several presets combine as the union of their checks. When a check is in more than one preset, the
//! strictest form wins: it runs without preset options as soon as one preset runs it without options (so
//! `pss-restricted` or `default` next to `pss-baseline` runs the full `sec-seccomp-profile`). A list without
//! any check-bearing preset (only `builtin:system-exemptions`, or none) leaves the check selection alone.
//!
//! [`apply_presets`] turns preset names into [`Config`] adjustments: the checks outside the union are added to
//! `checks.exclude` (so `--checks`, which ignores the configured excludes, still wins, and custom rules are
//! untouched), preset options are merged into `checks.overrides` (options already configured win, and a check
//! configured `off` stays off), and `builtin:system-exemptions` turns `systemExemptions` on.
//!
//! ```
//! use ksx_inspect::preset::apply_presets;
//! use ksx_inspect::{Config, Engine, RunOptions};
//!
//! let mut config = Config::default();
//! apply_presets(&["builtin:pss-restricted"], &mut config)?;
//! let engine = Engine::new(&config, &RunOptions::default())?;
//! assert_eq!(engine.enabled_checks().count(), 17);
//! assert!(apply_presets(&["builtin:nope"], &mut Config::default()).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::checks::CATALOGUE;
use crate::config::{Config, Override, OverrideSettings};

/// `builtin:default`.
pub const DEFAULT: &str = "builtin:default";
/// `builtin:pss-baseline`.
pub const PSS_BASELINE: &str = "builtin:pss-baseline";
/// `builtin:pss-restricted`.
pub const PSS_RESTRICTED: &str = "builtin:pss-restricted";
/// `builtin:live-health`.
pub const LIVE_HEALTH: &str = "builtin:live-health";
/// `builtin:system-exemptions`.
pub const SYSTEM_EXEMPTIONS: &str = "builtin:system-exemptions";

/// Every known preset name, in documentation order.
pub const KNOWN: &[&str] = &[
    DEFAULT,
    PSS_BASELINE,
    PSS_RESTRICTED,
    LIVE_HEALTH,
    SYSTEM_EXEMPTIONS,
];

/// The checks of `builtin:pss-baseline` (§4.9); `sec-seccomp-profile` runs with `unconfinedOnly: true`.
pub const PSS_BASELINE_CHECKS: &[&str] = &[
    "sec-host-network",
    "sec-host-pid",
    "sec-host-ipc",
    "sec-privileged",
    "sec-added-capabilities",
    "sec-dangerous-capabilities",
    "sec-host-path",
    "sec-host-port",
    "sec-apparmor-unconfined",
    "sec-selinux-options",
    "sec-proc-mount",
    "sec-unsafe-sysctls",
    "sec-windows-host-process",
    "sec-seccomp-profile",
];

/// The checks `builtin:pss-restricted` adds to the baseline (§4.9); its `sec-seccomp-profile` is the full check.
pub const PSS_RESTRICTED_EXTRA_CHECKS: &[&str] = &[
    "sec-privilege-escalation",
    "sec-run-as-non-root",
    "sec-seccomp-profile",
    "sec-drop-capabilities",
];

/// The checks of `builtin:live-health`: live workload health (§4.6) and node health (§4.7: the Node-object checks
/// and the node collector's).
pub const LIVE_HEALTH_CHECKS: &[&str] = &[
    "pod-crashloop",
    "pod-image-pull-error",
    "pod-oomkilled",
    "pod-pending-long",
    "deployment-unavailable",
    "workload-unavailable",
    "job-failed",
    "pvc-pending",
    "event-warnings",
    "node-not-ready",
    "node-pressure",
    "node-problem-condition",
    "node-kubelet-version-skew",
    "node-cert-expiry",
    "node-disk-usage",
    "node-service-down",
];

/// A preset name that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown preset {name:?} (known presets: {})", KNOWN.join(", "))]
pub struct UnknownPreset {
    /// The name as given.
    pub name: String,
}

/// Per-check options, as in `checks.overrides.<id>`.
pub type CheckOptions = BTreeMap<String, Value>;

/// What a list of presets selects, before it is applied to a [`Config`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// Built-in checks to run (the union of the presets); `None`: the selection is left alone (every default
    /// check, or whatever the configuration says).
    pub checks: Option<BTreeSet<String>>,
    /// Per-check options the presets set (only checks that run with options in every preset naming them).
    pub options: BTreeMap<String, CheckOptions>,
    /// Whether `builtin:system-exemptions` was named.
    pub system_exemptions: bool,
}

impl Selection {
    /// Applies the selection to `config` (see the module documentation).
    pub fn apply(&self, config: &mut Config) {
        if let Some(checks) = &self.checks {
            for def in CATALOGUE {
                if !checks.contains(def.id) && !config.checks.exclude.iter().any(|e| e == def.id) {
                    config.checks.exclude.push(def.id.to_owned());
                }
            }
        }
        for (id, opts) in &self.options {
            match config.checks.overrides.get_mut(id) {
                None => {
                    config.checks.overrides.insert(
                        id.clone(),
                        Override::Settings(OverrideSettings {
                            options: opts.clone(),
                            ..OverrideSettings::default()
                        }),
                    );
                }
                Some(Override::Settings(s)) => {
                    for (k, v) in opts {
                        s.options.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                Some(Override::Flag(_)) => {}
            }
        }
        if self.system_exemptions {
            config.system_exemptions = true;
        }
    }
}

/// Whether `name` is a preset reference (`builtin:…`) rather than a rule directory.
pub fn is_preset(name: &str) -> bool {
    name.starts_with("builtin:")
}

/// The checks of one preset with their options; `None` for a preset without checks.
fn preset_checks(name: &str) -> Result<Option<Vec<(&'static str, CheckOptions)>>, UnknownPreset> {
    let plain = |ids: &[&'static str]| ids.iter().map(|id| (*id, CheckOptions::new())).collect();
    let baseline = || {
        PSS_BASELINE_CHECKS
            .iter()
            .map(|id| {
                let mut opts = CheckOptions::new();
                if *id == "sec-seccomp-profile" {
                    opts.insert("unconfinedOnly".to_owned(), Value::Bool(true));
                }
                (*id, opts)
            })
            .collect::<Vec<_>>()
    };
    Ok(Some(match name {
        DEFAULT => CATALOGUE
            .iter()
            .map(|d| (d.id, CheckOptions::new()))
            .collect(),
        PSS_BASELINE => baseline(),
        PSS_RESTRICTED => {
            let mut all: Vec<_> = baseline()
                .into_iter()
                .filter(|(id, _)| !PSS_RESTRICTED_EXTRA_CHECKS.contains(id))
                .collect();
            all.extend(plain(PSS_RESTRICTED_EXTRA_CHECKS));
            all
        }
        LIVE_HEALTH => plain(LIVE_HEALTH_CHECKS),
        SYSTEM_EXEMPTIONS => return Ok(None),
        _ => {
            return Err(UnknownPreset {
                name: name.to_owned(),
            });
        }
    }))
}

/// Resolves preset names into a [`Selection`]: the union of their checks, the strictest form of each check.
///
/// # Errors
/// [`UnknownPreset`] for the first name that is no known preset; its message lists the known ones.
pub fn resolve<S: AsRef<str>>(names: &[S]) -> Result<Selection, UnknownPreset> {
    let mut checks: Option<BTreeMap<String, Option<CheckOptions>>> = None;
    let mut system_exemptions = false;
    for name in names {
        let name = name.as_ref().trim();
        if name == SYSTEM_EXEMPTIONS {
            system_exemptions = true;
        }
        let Some(list) = preset_checks(name)? else {
            continue;
        };
        let union = checks.get_or_insert_with(BTreeMap::new);
        for (id, opts) in list {
            // `None` records that some preset runs the check without options (the strict form).
            let opts = (!opts.is_empty()).then_some(opts);
            match union.get_mut(id) {
                None => {
                    union.insert(id.to_owned(), opts);
                }
                Some(existing) => {
                    if opts.is_none() {
                        *existing = None;
                    }
                }
            }
        }
    }
    let mut selection = Selection {
        system_exemptions,
        ..Selection::default()
    };
    if let Some(union) = checks {
        let mut ids = BTreeSet::new();
        for (id, opts) in union {
            if let Some(opts) = opts {
                selection.options.insert(id.clone(), opts);
            }
            ids.insert(id);
        }
        selection.checks = Some(ids);
    }
    Ok(selection)
}

/// Resolves `names` and applies them to `config`; returns the selection applied.
///
/// # Errors
/// [`UnknownPreset`] as [`resolve`]; `config` is unchanged then.
pub fn apply_presets<S: AsRef<str>>(
    names: &[S],
    config: &mut Config,
) -> Result<Selection, UnknownPreset> {
    let selection = resolve(names)?;
    selection.apply(config);
    Ok(selection)
}
