//! Reading ScaledObjects, ScaledJobs and their target workloads from manifests. Every fault names the file, the
//! line, the document and the field; any fault stops the binary with exit code 2 before anything is polled.

use std::fmt;
use std::path::PathBuf;

use ksx_core::cluster::{Kind, Object};
use ksx_core::manifest::{Document, from_value_at, load_paths};
use ksx_scaling::event::model::{
    API_VERSION, SCALED_JOB_KIND, SCALED_OBJECT_KIND, ScaledJob, ScaledObject,
};

/// Bad input: printed as it is, exit code 2.
#[derive(Debug)]
pub(crate) struct InputError(pub(crate) Vec<String>);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

impl std::error::Error for InputError {}

/// A loaded ScaledObject or ScaledJob with where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Loaded<T> {
    /// `file:line`.
    pub(crate) place: String,
    /// The namespace (`default` when unset).
    pub(crate) namespace: String,
    /// The object.
    pub(crate) object: T,
}

/// Everything the manifests hold that the binary uses.
#[derive(Debug, Default)]
pub(crate) struct Manifests {
    pub(crate) scaled_objects: Vec<Loaded<ScaledObject>>,
    pub(crate) scaled_jobs: Vec<Loaded<ScaledJob>>,
    /// Deployments, StatefulSets, ReplicaSets and Namespaces, created on the in-memory cluster.
    pub(crate) workloads: Vec<Object>,
}

/// `file:line: document N`.
fn place(doc: &Document) -> String {
    format!(
        "{}:{}: document {}",
        doc.source.file, doc.source.line, doc.source.document
    )
}

/// The cluster kind behind a scale target, or why it is not one.
pub(crate) fn target_kind(api_version: &str, kind: &str) -> Result<Kind, String> {
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    match (group, kind) {
        ("apps", "Deployment") => Ok(Kind::Deployment),
        ("apps", "StatefulSet") => Ok(Kind::StatefulSet),
        ("apps", "ReplicaSet") => Ok(Kind::ReplicaSet),
        _ => Err(format!(
            "{api_version} {kind} is not supported: event-scaler scales apps/v1 Deployments, StatefulSets and \
             ReplicaSets"
        )),
    }
}

/// Loads and validates every path.
///
/// # Errors
/// [`InputError`] with one line per fault.
pub(crate) fn load(paths: &[PathBuf]) -> Result<Manifests, InputError> {
    let loaded = load_paths(paths);
    let mut errors: Vec<String> = loaded.diagnostics.iter().map(ToString::to_string).collect();
    let mut out = Manifests::default();
    for doc in &loaded.documents {
        let at = place(doc);
        let is_keda = doc.api_version() == API_VERSION;
        match (is_keda, doc.kind()) {
            (true, SCALED_OBJECT_KIND) => match from_value_at::<ScaledObject>(&doc.value, &at) {
                Ok(so) => {
                    let name = format!("{SCALED_OBJECT_KIND} {}", so.name());
                    let mut faults: Vec<String> = so
                        .validate()
                        .into_iter()
                        .map(|e| format!("{at}: {name}: {e}"))
                        .collect();
                    let target = &so.spec.scale_target_ref;
                    if let Err(why) = target_kind(target.api_version(), target.kind()) {
                        faults.push(format!("{at}: {name}: spec.scaleTargetRef.kind: {why}"));
                    }
                    if faults.is_empty() {
                        out.scaled_objects.push(Loaded {
                            place: at,
                            namespace: namespace_of(doc),
                            object: so,
                        });
                    }
                    errors.extend(faults);
                }
                Err(e) => errors.push(e.to_string()),
            },
            (true, SCALED_JOB_KIND) => match from_value_at::<ScaledJob>(&doc.value, &at) {
                Ok(sj) => {
                    let name = format!("{SCALED_JOB_KIND} {}", sj.name());
                    let faults: Vec<String> = sj
                        .validate()
                        .into_iter()
                        .map(|e| format!("{at}: {name}: {e}"))
                        .collect();
                    if faults.is_empty() {
                        out.scaled_jobs.push(Loaded {
                            place: at,
                            namespace: namespace_of(doc),
                            object: sj,
                        });
                    }
                    errors.extend(faults);
                }
                Err(e) => errors.push(e.to_string()),
            },
            _ => {
                if let Some(object) = &doc.object
                    && matches!(
                        object.kind(),
                        Kind::Deployment | Kind::StatefulSet | Kind::ReplicaSet | Kind::Namespace
                    )
                {
                    out.workloads.push(object.clone());
                }
            }
        }
    }
    if errors.is_empty() && out.scaled_objects.is_empty() && out.scaled_jobs.is_empty() {
        let files: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        errors.push(format!(
            "{}: no {API_VERSION} ScaledObject or ScaledJob found",
            files.join(", ")
        ));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(InputError(errors))
    }
}

fn namespace_of(doc: &Document) -> String {
    doc.namespace()
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
        .to_owned()
}
