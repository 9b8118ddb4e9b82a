//! Tenancy: workspaces, projects, roles and the scope check.
//!
//! KubeSphere divides a platform into **workspaces**; each workspace owns **projects**, which are namespaces
//! labelled `kubesphere.io/workspace=<workspace>`. People get a **role** in a **scope**: `platform-admin` on the
//! platform, `workspace-admin` on a workspace (and so on its projects), `project-admin` on a project, `viewer`
//! anywhere for read-only access. Gateways, node groups and cost reports all ask the same question through
//! [`Tenancy::check`]: may this subject do this in that scope?
//!
//! ```
//! use ksx_core::tenancy::{Access, Role, RoleBinding, Scope, Tenancy};
//!
//! let mut t = Tenancy::default();
//! t.add_workspace("finance")?;
//! t.add_project("payments", "finance")?;
//! t.bind(RoleBinding::new("alice", Role::WorkspaceAdmin, Scope::workspace("finance")));
//! assert!(t.check("alice", Access::Write, &Scope::project("payments")).is_ok());
//! assert!(t.check("alice", Access::Read, &Scope::Platform).is_err());
//! # Ok::<(), ksx_core::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::api::core::v1::Namespace;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The label that ties a namespace (project) to its workspace.
pub const WORKSPACE_LABEL: &str = "kubesphere.io/workspace";

/// Where a role applies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type", content = "name")]
pub enum Scope {
    /// The whole platform.
    Platform,
    /// One workspace and every project in it.
    Workspace(String),
    /// One project (namespace).
    Project(String),
}

impl Scope {
    /// The scope of a workspace.
    pub fn workspace(name: impl Into<String>) -> Self {
        Self::Workspace(name.into())
    }

    /// The scope of a project.
    pub fn project(name: impl Into<String>) -> Self {
        Self::Project(name.into())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Platform => f.write_str("the platform"),
            Self::Workspace(w) => write!(f, "workspace {w}"),
            Self::Project(p) => write!(f, "project {p}"),
        }
    }
}

/// The built-in roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Everything, everywhere.
    PlatformAdmin,
    /// Read and write in a workspace and its projects.
    WorkspaceAdmin,
    /// Read and write in one project.
    ProjectAdmin,
    /// Read only, in the scope it is bound to.
    Viewer,
}

impl Role {
    /// Whether the role grants the access (within the scope it is bound to).
    pub fn grants(self, access: Access) -> bool {
        match self {
            Self::PlatformAdmin | Self::WorkspaceAdmin | Self::ProjectAdmin => true,
            Self::Viewer => access == Access::Read,
        }
    }

    /// The role's name as KubeSphere spells it (`workspace-admin`).
    pub fn name(self) -> &'static str {
        match self {
            Self::PlatformAdmin => "platform-admin",
            Self::WorkspaceAdmin => "workspace-admin",
            Self::ProjectAdmin => "project-admin",
            Self::Viewer => "viewer",
        }
    }
}

/// What an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Access {
    /// Get, list, watch.
    Read,
    /// Create, update, patch, delete.
    Write,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Read => "read",
            Self::Write => "write",
        })
    }
}

/// A role given to a subject in a scope.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleBinding {
    /// User, group or service account name.
    pub subject: String,
    /// The role.
    pub role: Role,
    /// Where it applies.
    pub scope: Scope,
}

impl RoleBinding {
    /// A binding.
    pub fn new(subject: impl Into<String>, role: Role, scope: Scope) -> Self {
        Self {
            subject: subject.into(),
            role,
            scope,
        }
    }
}

/// A workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Workspace {
    /// Name, unique on the platform.
    pub name: String,
    /// Projects (namespaces) of the workspace, sorted.
    #[serde(default)]
    pub projects: BTreeSet<String>,
}

/// Workspaces, projects and role bindings of a platform.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tenancy {
    /// Workspaces by name.
    #[serde(default)]
    pub workspaces: BTreeMap<String, Workspace>,
    /// The workspace of each project.
    #[serde(default)]
    pub projects: BTreeMap<String, String>,
    /// Role bindings.
    #[serde(default)]
    pub bindings: Vec<RoleBinding>,
}

impl Tenancy {
    /// Adds an empty workspace.
    ///
    /// # Errors
    /// [`Error::AlreadyExists`] when a workspace of that name exists, [`Error::InvalidField`] for an invalid name.
    pub fn add_workspace(&mut self, name: &str) -> Result<()> {
        check_dns_label("workspace", name)?;
        if self.workspaces.contains_key(name) {
            return Err(Error::AlreadyExists {
                kind: "Workspace".into(),
                object: name.into(),
            });
        }
        self.workspaces.insert(
            name.into(),
            Workspace {
                name: name.into(),
                projects: BTreeSet::new(),
            },
        );
        Ok(())
    }

    /// Adds a project to a workspace.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown workspace, [`Error::AlreadyExists`] when the project already belongs to
    /// a workspace, [`Error::InvalidField`] for an invalid name.
    pub fn add_project(&mut self, project: &str, workspace: &str) -> Result<()> {
        check_dns_label("project", project)?;
        let ws = self
            .workspaces
            .get_mut(workspace)
            .ok_or_else(|| Error::not_found("Workspace", None, workspace))?;
        if let Some(owner) = self.projects.get(project) {
            return Err(Error::AlreadyExists {
                kind: "Project".into(),
                object: format!("{project} (in workspace {owner})"),
            });
        }
        ws.projects.insert(project.into());
        self.projects.insert(project.into(), workspace.into());
        Ok(())
    }

    /// Adds a role binding.
    pub fn bind(&mut self, binding: RoleBinding) {
        if !self.bindings.contains(&binding) {
            self.bindings.push(binding);
            self.bindings.sort();
        }
    }

    /// Builds tenancy from namespaces: each namespace labelled with [`WORKSPACE_LABEL`] becomes a project of that
    /// workspace; namespaces without the label stay outside any workspace.
    ///
    /// # Errors
    /// [`Error::InvalidField`] for a namespace or workspace name that is not a DNS label.
    pub fn from_namespaces<'a>(
        namespaces: impl IntoIterator<Item = &'a Namespace>,
    ) -> Result<Self> {
        let mut t = Self::default();
        for ns in namespaces {
            let Some(name) = ns.metadata.name.as_deref() else {
                continue;
            };
            let Some(ws) = ns
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(WORKSPACE_LABEL))
            else {
                continue;
            };
            if !t.workspaces.contains_key(ws) {
                t.add_workspace(ws)?;
            }
            t.add_project(name, ws)?;
        }
        Ok(t)
    }

    /// The workspace a project belongs to.
    pub fn workspace_of(&self, project: &str) -> Option<&str> {
        self.projects.get(project).map(String::as_str)
    }

    /// Whether `outer` contains `inner`: the platform contains everything; a workspace contains itself and its
    /// projects; a project contains only itself.
    pub fn contains(&self, outer: &Scope, inner: &Scope) -> bool {
        match (outer, inner) {
            (Scope::Platform, _) => true,
            (Scope::Workspace(w), Scope::Workspace(x)) => w == x,
            (Scope::Workspace(w), Scope::Project(p)) => self.workspace_of(p) == Some(w.as_str()),
            (Scope::Project(p), Scope::Project(q)) => p == q,
            _ => false,
        }
    }

    /// Whether the subject may act in the scope.
    pub fn allows(&self, subject: &str, access: Access, scope: &Scope) -> bool {
        self.bindings
            .iter()
            .filter(|b| b.subject == subject && b.role.grants(access))
            .any(|b| self.contains(&b.scope, scope))
    }

    /// Checks that the subject may act in the scope.
    ///
    /// # Errors
    /// [`Error::Forbidden`] naming subject, access and scope.
    pub fn check(&self, subject: &str, access: Access, scope: &Scope) -> Result<()> {
        if self.allows(subject, access, scope) {
            Ok(())
        } else {
            Err(Error::Forbidden {
                subject: subject.into(),
                verb: access.to_string(),
                scope: scope.to_string(),
            })
        }
    }

    /// The projects a subject can read, sorted.
    pub fn readable_projects(&self, subject: &str) -> Vec<&str> {
        self.projects
            .keys()
            .filter(|p| self.allows(subject, Access::Read, &Scope::Project((*p).clone())))
            .map(String::as_str)
            .collect()
    }
}

/// Checks an RFC 1123 DNS label: 1–63 lowercase alphanumerics or '-', starting and ending alphanumeric.
fn check_dns_label(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidField {
            object: format!("{what} {name:?}"),
            field: "metadata.name".into(),
            reason: "must be a DNS label: 1-63 lowercase letters, digits or '-', starting and ending with a letter \
                     or digit"
                .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform() -> Tenancy {
        let mut t = Tenancy::default();
        t.add_workspace("finance").unwrap();
        t.add_workspace("research").unwrap();
        t.add_project("payments", "finance").unwrap();
        t.add_project("ledger", "finance").unwrap();
        t.add_project("lab", "research").unwrap();
        t.bind(RoleBinding::new(
            "root",
            Role::PlatformAdmin,
            Scope::Platform,
        ));
        t.bind(RoleBinding::new(
            "wsa",
            Role::WorkspaceAdmin,
            Scope::workspace("finance"),
        ));
        t.bind(RoleBinding::new(
            "pa",
            Role::ProjectAdmin,
            Scope::project("lab"),
        ));
        t.bind(RoleBinding::new(
            "view",
            Role::Viewer,
            Scope::workspace("finance"),
        ));
        t
    }

    #[test]
    fn role_matrix() {
        let t = platform();
        let cases = [
            ("root", Access::Write, Scope::Platform, true),
            ("root", Access::Write, Scope::project("lab"), true),
            ("wsa", Access::Write, Scope::workspace("finance"), true),
            ("wsa", Access::Write, Scope::project("ledger"), true),
            ("wsa", Access::Read, Scope::project("lab"), false),
            ("wsa", Access::Read, Scope::Platform, false),
            ("wsa", Access::Read, Scope::workspace("research"), false),
            ("pa", Access::Write, Scope::project("lab"), true),
            ("pa", Access::Read, Scope::workspace("research"), false),
            ("view", Access::Read, Scope::project("payments"), true),
            ("view", Access::Write, Scope::project("payments"), false),
            ("nobody", Access::Read, Scope::project("payments"), false),
        ];
        for (subject, access, scope, want) in cases {
            assert_eq!(
                t.allows(subject, access, &scope),
                want,
                "{subject} {access} {scope}"
            );
        }
    }

    #[test]
    fn forbidden_names_everything() {
        let err = platform()
            .check("pa", Access::Write, &Scope::project("payments"))
            .unwrap_err();
        assert_eq!(err.to_string(), "pa may not write in project payments");
    }

    #[test]
    fn projects_belong_to_one_workspace() {
        let mut t = platform();
        let err = t.add_project("payments", "research").unwrap_err();
        assert!(err.to_string().contains("in workspace finance"), "{err}");
        assert!(t.add_project("x", "missing").unwrap_err().is_not_found());
        assert!(t.add_workspace("Bad_Name").is_err());
        assert!(t.add_workspace("finance").is_err());
    }

    #[test]
    fn from_labelled_namespaces() {
        let mut a = Namespace::default();
        a.metadata.name = Some("payments".into());
        a.metadata.labels = Some([(WORKSPACE_LABEL.to_owned(), "finance".to_owned())].into());
        let mut b = Namespace::default();
        b.metadata.name = Some("kube-system".into());
        let t = Tenancy::from_namespaces([&a, &b]).unwrap();
        assert_eq!(t.workspace_of("payments"), Some("finance"));
        assert_eq!(t.workspace_of("kube-system"), None);
        assert_eq!(t.workspaces.len(), 1);
    }

    #[test]
    fn readable_projects_follow_scope() {
        let t = platform();
        assert_eq!(t.readable_projects("view"), ["ledger", "payments"]);
        assert_eq!(t.readable_projects("root"), ["lab", "ledger", "payments"]);
        assert!(t.readable_projects("nobody").is_empty());
    }
}
