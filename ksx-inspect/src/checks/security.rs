//! Security checks (spec §4.1).

use crate::pod::FastPointer as _;
use serde_json::Value;

use super::{Ctx, Hit, per_container, per_pod};
use crate::bundle::{InspectObject, is_cluster_scoped};
use crate::pod::{self, ContainerSet, ImageRef, as_bool, as_i64, caps, effective_sc};

const DANGEROUS_CAPS: &[&str] = &[
    "ALL",
    "SYS_ADMIN",
    "NET_ADMIN",
    "SYS_MODULE",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_BOOT",
    "BPF",
    "PERFMON",
    "DAC_READ_SEARCH",
];

const BASELINE_CAPS: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

const RUNTIME_SOCKETS: &[&str] = &[
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/cri-dockerd.sock",
    "/var/run/containerd/containerd.sock",
    "/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
    "/run/k3s/containerd/containerd.sock",
];

const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

const SELINUX_TYPES: &[&str] = &[
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

fn dangerous_list(ctx: &Ctx<'_>) -> Vec<String> {
    ctx.opt_strings("capabilities").map_or_else(
        || DANGEROUS_CAPS.iter().map(|s| (*s).to_owned()).collect(),
        |v| v.iter().map(|s| pod::normalize_cap(s)).collect(),
    )
}

pub(super) fn automount_sa_token(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    per_pod(obj, |spec, ptr, hits| {
        let path = format!("{ptr}/automountServiceAccountToken");
        if let Some(v) = as_bool(spec.get("automountServiceAccountToken")) {
            if v {
                hits.push(Hit::at(path, "automountServiceAccountToken is true"));
            }
            return;
        }
        let sa = spec
            .get("serviceAccountName")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("default");
        let from_sa = ctx
            .bundle
            .find(obj.namespace(), "ServiceAccount", sa)
            .and_then(|s| as_bool(s.value.get("automountServiceAccountToken")));
        if from_sa != Some(false) {
            hits.push(Hit::at(
                path,
                format!("the token of ServiceAccount {sa} is mounted automatically"),
            ));
        }
    })
}

pub(super) fn dangerous_capabilities(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let dangerous = dangerous_list(ctx);
    per_container(obj, ContainerSet::All, true, |_, _, c, hits| {
        let bad: Vec<String> = caps(c, "add")
            .into_iter()
            .filter(|a| dangerous.contains(a))
            .collect();
        if !bad.is_empty() {
            hits.push(Hit::container(
                c,
                "/securityContext/capabilities/add",
                format!(
                    "container {} adds dangerous capabilities {}",
                    c.label(),
                    bad.join(", ")
                ),
            ));
        }
    })
}

pub(super) fn added_capabilities(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let dangerous = dangerous_list(ctx);
    per_container(obj, ContainerSet::All, true, |_, _, c, hits| {
        let bad: Vec<String> = caps(c, "add")
            .into_iter()
            .filter(|a| !dangerous.contains(a) && !BASELINE_CAPS.contains(&a.as_str()))
            .collect();
        if !bad.is_empty() {
            hits.push(Hit::container(
                c,
                "/securityContext/capabilities/add",
                format!(
                    "container {} adds capabilities outside the baseline set: {}",
                    c.label(),
                    bad.join(", ")
                ),
            ));
        }
    })
}

pub(super) fn default_namespace(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let kind = obj.kind();
    if is_cluster_scoped(kind) {
        return None;
    }
    let exempt = matches!(kind, "Event" | "Endpoints" | "EndpointSlice" | "Lease")
        || (kind == "ServiceAccount" && obj.name() == "default")
        || (kind == "Service" && obj.name() == "kubernetes")
        || (kind == "ConfigMap" && obj.name() == "kube-root-ca.crt");
    if exempt {
        return None;
    }
    let mut hits = Vec::new();
    if obj.namespace() == "default" {
        hits.push(Hit::at(
            "/metadata/namespace",
            format!("{} {} is in the default namespace", kind, obj.name()),
        ));
    }
    Some(hits)
}

fn normalize_path(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

pub(super) fn docker_socket(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    per_pod(obj, |spec, ptr, hits| {
        for (i, v) in host_path_volumes(spec) {
            let Some(path) = v.ptr("/hostPath/path").and_then(Value::as_str) else {
                continue;
            };
            let p = normalize_path(path);
            let exposed = RUNTIME_SOCKETS
                .iter()
                .find(|s| **s == p || p == "/" || s.starts_with(&format!("{p}/")));
            if let Some(sock) = exposed {
                hits.push(Hit::at(
                    format!("{ptr}/volumes/{i}/hostPath/path"),
                    format!("hostPath volume {path} exposes the container runtime socket {sock}"),
                ));
            }
        }
    })
}

fn host_path_volumes(spec: &Value) -> impl Iterator<Item = (usize, &Value)> {
    spec.get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, v)| v.get("hostPath").is_some_and(Value::is_object))
}

pub(super) fn drop_capabilities(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    per_container(obj, ContainerSet::All, true, |_, _, c, hits| {
        let drop = caps(c, "drop");
        let all_default = BASELINE_CAPS
            .iter()
            .chain(&["NET_RAW"])
            .all(|cap| drop.iter().any(|d| d == cap));
        if !drop.iter().any(|d| d == "ALL") && !all_default {
            hits.push(Hit::container(
                c,
                "/securityContext/capabilities/drop",
                format!("container {} does not drop ALL capabilities", c.label()),
            ));
        }
    })
}

pub(super) fn drop_net_raw(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    per_container(obj, ContainerSet::All, true, |_, _, c, hits| {
        let drop = caps(c, "drop");
        let add = caps(c, "add");
        if add.iter().any(|a| a == "NET_RAW") {
            hits.push(Hit::container(
                c,
                "/securityContext/capabilities/add",
                format!("container {} adds NET_RAW back", c.label()),
            ));
        } else if !drop.iter().any(|d| d == "ALL" || d == "NET_RAW") {
            hits.push(Hit::container(
                c,
                "/securityContext/capabilities/drop",
                format!("container {} keeps NET_RAW", c.label()),
            ));
        }
    })
}

pub(super) fn high_uid_gid(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let require_group = ctx.opt_bool("requireGroup", false);
    per_container(obj, ContainerSet::Run, true, |spec, ptr, c, hits| {
        if as_bool(spec.get("hostUsers")) == Some(false) {
            return;
        }
        let (uid, upath) = effective_sc(spec, ptr, c, "runAsUser");
        match as_i64(uid) {
            Some(u) if u >= 10_000 => {}
            Some(u) => hits.push(Hit::container_abs(
                c,
                upath,
                format!("container {} runs as UID {u}, below 10000", c.label()),
            )),
            None => hits.push(Hit::container_abs(
                c,
                upath,
                format!("container {} sets no runAsUser", c.label()),
            )),
        }
        let (gid, gpath) = effective_sc(spec, ptr, c, "runAsGroup");
        match as_i64(gid) {
            Some(g) if g < 10_000 => hits.push(Hit::container_abs(
                c,
                gpath,
                format!("container {} runs as GID {g}, below 10000", c.label()),
            )),
            None if require_group => hits.push(Hit::container_abs(
                c,
                gpath,
                format!("container {} sets no runAsGroup", c.label()),
            )),
            _ => {}
        }
    })
}

fn host_flag(obj: &InspectObject, field: &str) -> Option<Vec<Hit>> {
    per_pod(obj, |spec, ptr, hits| {
        if as_bool(spec.get(field)) == Some(true) {
            hits.push(Hit::at(
                format!("{ptr}/{field}"),
                format!("{field} is true"),
            ));
        }
    })
}

pub(super) fn host_ipc(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    host_flag(obj, "hostIPC")
}

pub(super) fn host_network(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    host_flag(obj, "hostNetwork")
}

pub(super) fn host_pid(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    host_flag(obj, "hostPID")
}

pub(super) fn host_path(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let allowed = ctx.opt_strings("allowedPaths").unwrap_or_default();
    per_pod(obj, |spec, ptr, hits| {
        for (i, v) in host_path_volumes(spec) {
            let path = v
                .ptr("/hostPath/path")
                .and_then(Value::as_str)
                .unwrap_or("");
            let vol_name = v.get("name").and_then(Value::as_str).unwrap_or("");
            let p = normalize_path(path);
            let prefix_ok = allowed.iter().any(|a| {
                let a = normalize_path(a);
                p == a || p.starts_with(&format!("{}/", a.trim_end_matches('/')))
            });
            if prefix_ok && all_mounts_read_only(spec, vol_name) {
                continue;
            }
            hits.push(Hit::at(
                format!("{ptr}/volumes/{i}/hostPath"),
                format!("volume {vol_name} mounts host path {path}"),
            ));
        }
    })
}

fn all_mounts_read_only(spec: &Value, volume: &str) -> bool {
    ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .filter_map(|l| spec.get(*l).and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c.get("volumeMounts").and_then(Value::as_array))
        .flatten()
        .filter(|m| m.get("name").and_then(Value::as_str) == Some(volume))
        .all(|m| as_bool(m.get("readOnly")) == Some(true))
}

pub(super) fn host_port(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let allowed: Vec<i64> = ctx
        .options
        .get("allowedHostPorts")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| as_i64(Some(v))).collect())
        .unwrap_or_default();
    per_container(obj, ContainerSet::All, false, |_, _, c, hits| {
        let ports = c.get("/ports").and_then(Value::as_array);
        for (i, p) in ports.into_iter().flatten().enumerate() {
            if let Some(hp) = as_i64(p.get("hostPort"))
                && hp != 0
                && !allowed.contains(&hp)
            {
                hits.push(Hit::container(
                    c,
                    &format!("/ports/{i}/hostPort"),
                    format!("container {} binds host port {hp}", c.label()),
                ));
            }
        }
    })
}

pub(super) fn image_digest(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    per_container(obj, ContainerSet::Run, false, |_, _, c, hits| {
        let image = c.get("/image").and_then(Value::as_str).unwrap_or("");
        if ImageRef::parse(image).digest.is_none() {
            hits.push(Hit::container(
                c,
                "/image",
                format!(
                    "image {image} of container {} is not pinned by digest",
                    c.label()
                ),
            ));
        }
    })
}

fn is_confining(t: Option<&str>) -> bool {
    matches!(t, Some("RuntimeDefault" | "Localhost"))
}

fn sc_type<'a>(
    spec: &'a Value,
    ptr: &str,
    c: &pod::Container<'a>,
    field: &str,
) -> (Option<&'a str>, String) {
    let (v, path) = effective_sc(spec, ptr, c, field);
    (v.and_then(|v| v.get("type")).and_then(Value::as_str), path)
}

pub(super) fn linux_hardening(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let annotations = pod::pod_annotations(obj);
    per_container(obj, ContainerSet::All, true, |spec, ptr, c, hits| {
        let seccomp = is_confining(sc_type(spec, ptr, c, "seccompProfile").0);
        let selinux = effective_sc(spec, ptr, c, "seLinuxOptions")
            .0
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty());
        let apparmor_field = is_confining(sc_type(spec, ptr, c, "appArmorProfile").0);
        let apparmor_ann = c.name.as_ref().is_some_and(|n| {
            annotations
                .get(&format!(
                    "container.apparmor.security.beta.kubernetes.io/{n}"
                ))
                .is_some_and(|v| v == "runtime/default" || v.starts_with("localhost/"))
        });
        let drop = caps(c, "drop");
        let dropped = !drop.is_empty() && !caps(c, "add").iter().any(|a| a == "ALL");
        if !(seccomp || selinux || apparmor_field || apparmor_ann || dropped) {
            hits.push(Hit::container(
                c,
                "/securityContext",
                format!(
                    "container {} has no seccomp, SELinux, AppArmor or dropped capabilities",
                    c.label()
                ),
            ));
        }
    })
}

pub(super) fn privilege_escalation(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    per_container(obj, ContainerSet::All, true, |_, _, c, hits| {
        let ape = as_bool(c.get("/securityContext/allowPrivilegeEscalation"));
        let privileged = as_bool(c.get("/securityContext/privileged")) == Some(true);
        let sys_admin = caps(c, "add")
            .iter()
            .any(|a| a == "SYS_ADMIN" || a == "ALL");
        if privileged {
            hits.push(Hit::container(
                c,
                "/securityContext/privileged",
                format!(
                    "container {} is privileged, which allows privilege escalation",
                    c.label()
                ),
            ));
        } else if sys_admin {
            hits.push(Hit::container(
                c,
                "/securityContext/capabilities/add",
                format!(
                    "container {} adds SYS_ADMIN, which allows privilege escalation",
                    c.label()
                ),
            ));
        } else if ape != Some(false) {
            hits.push(Hit::container(
                c,
                "/securityContext/allowPrivilegeEscalation",
                format!(
                    "container {} does not set allowPrivilegeEscalation: false",
                    c.label()
                ),
            ));
        }
    })
}

pub(super) fn privileged(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    per_container(obj, ContainerSet::All, false, |_, _, c, hits| {
        if as_bool(c.get("/securityContext/privileged")) == Some(true) {
            hits.push(Hit::container(
                c,
                "/securityContext/privileged",
                format!("container {} is privileged", c.label()),
            ));
        }
    })
}

pub(super) fn proc_mount(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    per_container(obj, ContainerSet::All, true, |_, _, c, hits| {
        if let Some(v) = c.get("/securityContext/procMount").and_then(Value::as_str)
            && v != "Default"
        {
            hits.push(Hit::container(
                c,
                "/securityContext/procMount",
                format!("container {} sets procMount {v}", c.label()),
            ));
        }
    })
}

pub(super) fn readonly_root_fs(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    per_container(obj, ContainerSet::Run, true, |_, _, c, hits| {
        if as_bool(c.get("/securityContext/readOnlyRootFilesystem")) != Some(true) {
            hits.push(Hit::container(
                c,
                "/securityContext/readOnlyRootFilesystem",
                format!("container {} has a writable root filesystem", c.label()),
            ));
        }
    })
}

pub(super) fn run_as_non_root(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    per_container(obj, ContainerSet::All, true, |spec, ptr, c, hits| {
        let (non_root, npath) = effective_sc(spec, ptr, c, "runAsNonRoot");
        let (uid, upath) = effective_sc(spec, ptr, c, "runAsUser");
        let uid = as_i64(uid);
        if uid == Some(0) {
            hits.push(Hit::container_abs(
                c,
                upath,
                format!("container {} runs as UID 0 (root)", c.label()),
            ));
        } else if as_bool(non_root) != Some(true) && uid.is_none_or(|u| u < 1) {
            hits.push(Hit::container_abs(
                c,
                npath,
                format!("container {} may run as root", c.label()),
            ));
        }
    })
}

pub(super) fn seccomp_profile(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let unconfined_only = ctx.opt_bool("unconfinedOnly", false);
    let annotations = pod::pod_annotations(obj);
    let ann_ok = |v: Option<&String>| {
        v.is_some_and(|v| {
            v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/")
        })
    };
    per_container(obj, ContainerSet::All, true, |spec, ptr, c, hits| {
        let (t, path) = sc_type(spec, ptr, c, "seccompProfile");
        if unconfined_only {
            if t == Some("Unconfined") {
                hits.push(Hit::container_abs(
                    c,
                    format!("{path}/type"),
                    format!("container {} runs with seccomp Unconfined", c.label()),
                ));
            }
            return;
        }
        if is_confining(t) {
            return;
        }
        let pod_ann = ann_ok(annotations.get("seccomp.security.alpha.kubernetes.io/pod"));
        let ctr_ann = c.name.as_ref().is_some_and(|n| {
            ann_ok(annotations.get(&format!(
                "container.seccomp.security.alpha.kubernetes.io/{n}"
            )))
        });
        if !pod_ann && !ctr_ann {
            hits.push(Hit::container_abs(
                c,
                format!("{path}/type"),
                format!(
                    "container {} has seccomp profile {}",
                    c.label(),
                    t.unwrap_or("unset")
                ),
            ));
        }
    })
}

pub(super) fn secret_in_env(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    per_container(obj, ContainerSet::All, false, |_, _, c, hits| {
        for (i, e) in c
            .get("/env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(secret) = e.ptr("/valueFrom/secretKeyRef") {
                let name = e.get("name").and_then(Value::as_str).unwrap_or("");
                let sname = secret.get("name").and_then(Value::as_str).unwrap_or("");
                hits.push(Hit::container(
                    c,
                    &format!("/env/{i}/valueFrom/secretKeyRef"),
                    format!(
                        "container {} reads Secret {sname} into env {name}",
                        c.label()
                    ),
                ));
            }
        }
        let env_from = c.get("/envFrom").and_then(Value::as_array);
        for (i, e) in env_from.into_iter().flatten().enumerate() {
            if let Some(secret) = e.get("secretRef") {
                let sname = secret.get("name").and_then(Value::as_str).unwrap_or("");
                hits.push(Hit::container(
                    c,
                    &format!("/envFrom/{i}/secretRef"),
                    format!(
                        "container {} loads Secret {sname} into its environment",
                        c.label()
                    ),
                ));
            }
        }
    })
}

/// Whether an env or ConfigMap key name is sensitive (spec §4.0).
pub(crate) fn is_sensitive_name(name: &str) -> bool {
    let up = name.to_ascii_uppercase();
    let low = name.to_ascii_lowercase();
    matches!(
        up.as_str(),
        "AWS_SECRET_ACCESS_KEY" | "GOOGLE_APPLICATION_CREDENTIALS" | "OCI_CLI_KEY_CONTENT"
    ) || (up.starts_with("AZURE_") && up.ends_with("KEY"))
        || ["password", "token", "bearer", "secret"]
            .iter()
            .any(|w| low.contains(w))
}

/// Whether text contains a PEM private key header (`-----BEGIN [TYPE ]PRIVATE KEY-----`).
pub(crate) fn has_pem_private_key(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
        l.strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("PRIVATE KEY-----"))
            .is_some_and(|ty| ty.is_empty() || ty.ends_with(' '))
    })
}

pub(super) fn sensitive_configmap(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if obj.kind() != "ConfigMap" {
        return None;
    }
    let mut hits = Vec::new();
    for field in ["data", "binaryData"] {
        let Some(map) = obj.value.get(field).and_then(Value::as_object) else {
            continue;
        };
        for (k, v) in map {
            let path = format!("/{field}/{}", pod::escape_pointer(k));
            if is_sensitive_name(k) {
                hits.push(Hit::at(
                    path,
                    format!("ConfigMap key {k} looks like a secret"),
                ));
            } else if field == "data" && v.as_str().is_some_and(has_pem_private_key) {
                hits.push(Hit::at(
                    path,
                    format!("ConfigMap key {k} holds a PEM private key"),
                ));
            }
        }
    }
    Some(hits)
}

pub(super) fn sensitive_env_literal(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    per_container(obj, ContainerSet::All, false, |_, _, c, hits| {
        for (i, e) in c
            .get("/env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let name = e.get("name").and_then(Value::as_str).unwrap_or("");
            let Some(value) = e
                .get("value")
                .and_then(pod::scalar_string)
                .filter(|v| !v.is_empty())
            else {
                continue;
            };
            if is_sensitive_name(name) {
                hits.push(Hit::container(
                    c,
                    &format!("/env/{i}/value"),
                    format!(
                        "container {} sets sensitive env {name} as a literal",
                        c.label()
                    ),
                ));
            } else if has_pem_private_key(&value) {
                hits.push(Hit::container(
                    c,
                    &format!("/env/{i}/value"),
                    format!(
                        "container {} sets a PEM private key in env {name}",
                        c.label()
                    ),
                ));
            }
        }
    })
}

pub(super) fn unsafe_sysctls(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let newer = ctx.kube_version >= (1, 32);
    per_pod(obj, |spec, ptr, hits| {
        let sysctls = spec
            .ptr("/securityContext/sysctls")
            .and_then(Value::as_array);
        for (i, s) in sysctls.into_iter().flatten().enumerate() {
            let name = s.get("name").and_then(Value::as_str).unwrap_or("");
            let safe = SAFE_SYSCTLS.contains(&name)
                || (newer && matches!(name, "net.ipv4.tcp_rmem" | "net.ipv4.tcp_wmem"));
            if !safe {
                hits.push(Hit::at(
                    format!("{ptr}/securityContext/sysctls/{i}/name"),
                    format!("sysctl {name} is not in the safe set"),
                ));
            }
        }
    })
}

pub(super) fn apparmor_unconfined(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let annotations = pod::pod_annotations(obj);
    let meta = pod::pod_meta_pointer(obj.kind()).unwrap_or("/metadata");
    per_container(obj, ContainerSet::All, true, |spec, ptr, c, hits| {
        let (t, path) = sc_type(spec, ptr, c, "appArmorProfile");
        if t == Some("Unconfined") {
            hits.push(Hit::container_abs(
                c,
                format!("{path}/type"),
                format!("container {} runs AppArmor Unconfined", c.label()),
            ));
            return;
        }
        if let Some(n) = &c.name {
            let key = format!("container.apparmor.security.beta.kubernetes.io/{n}");
            if annotations.get(&key).is_some_and(|v| v == "unconfined") {
                hits.push(Hit::container_abs(
                    c,
                    format!("{meta}/annotations/{}", pod::escape_pointer(&key)),
                    format!(
                        "container {} runs AppArmor unconfined (annotation)",
                        c.label()
                    ),
                ));
            }
        }
    })
}

pub(super) fn selinux_options(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    per_container(obj, ContainerSet::All, true, |spec, ptr, c, hits| {
        let (opts, path) = effective_sc(spec, ptr, c, "seLinuxOptions");
        let Some(opts) = opts else { return };
        if let Some(t) = opts.get("type").and_then(Value::as_str)
            && !t.is_empty()
            && !SELINUX_TYPES.contains(&t)
        {
            hits.push(Hit::container_abs(
                c,
                format!("{path}/type"),
                format!("container {} uses SELinux type {t}", c.label()),
            ));
        }
        for field in ["user", "role"] {
            if let Some(v) = opts
                .get(field)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
            {
                hits.push(Hit::container_abs(
                    c,
                    format!("{path}/{field}"),
                    format!("container {} sets SELinux {field} {v}", c.label()),
                ));
            }
        }
    })
}

pub(super) fn windows_host_process(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    per_container(obj, ContainerSet::All, false, |spec, ptr, c, hits| {
        let cptr = "/securityContext/windowsOptions/hostProcess";
        if as_bool(c.get(cptr)) == Some(true) {
            hits.push(Hit::container(
                c,
                cptr,
                format!("container {} is a HostProcess container", c.label()),
            ));
        } else if as_bool(spec.ptr(cptr)) == Some(true) && as_bool(c.get(cptr)) != Some(false) {
            hits.push(Hit::container_abs(
                c,
                format!("{ptr}{cptr}"),
                format!(
                    "container {} is a HostProcess container (pod level)",
                    c.label()
                ),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{has_pem_private_key, is_sensitive_name};

    #[test]
    fn pem_headers() {
        assert!(has_pem_private_key("x\n-----BEGIN PRIVATE KEY-----\nabc"));
        assert!(has_pem_private_key("-----BEGIN RSA PRIVATE KEY-----"));
        assert!(has_pem_private_key("-----BEGIN OPENSSH PRIVATE KEY-----"));
        assert!(!has_pem_private_key("-----BEGIN CERTIFICATE-----"));
        assert!(!has_pem_private_key("-----BEGIN PUBLIC KEY-----"));
    }

    #[test]
    fn sensitive_names() {
        assert!(is_sensitive_name("DB_PASSWORD"));
        assert!(is_sensitive_name("aws_secret_access_key"));
        assert!(is_sensitive_name("AZURE_STORAGE_KEY"));
        assert!(!is_sensitive_name("LOG_LEVEL"));
    }
}
