//! Conformance checks every cluster implementation passes.
//!
//! The in-memory cluster runs them in its unit tests; the kube adapter runs them against a live cluster in its
//! integration tests. Each check works in the namespace it is given, uses names unique to the run, cleans up after
//! itself (also when it fails half-way, as far as the cluster lets it), and returns a description of the first
//! difference instead of panicking.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Pod, PodSpec, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    ClusterReader, ClusterWriter, Kind, ListOptions, Object, Patch, WatchEvent, WatchStream,
};
use crate::error::Error;

/// The label every object a check creates carries, with the run's id as value.
pub const RUN_LABEL: &str = "conformance.ksx.io/run";

/// How long a watch check waits for one event.
const WATCH_TIMEOUT: Duration = Duration::from_secs(10);

/// A name prefix unique to this process and call.
fn run_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("ksx-conf-{:x}-{n}", std::process::id())
}

fn config_map(namespace: &str, name: &str, run: &str, tier: &str, data: &[(&str, &str)]) -> Object {
    Object::ConfigMap(ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([
                (RUN_LABEL.to_owned(), run.to_owned()),
                ("tier".to_owned(), tier.to_owned()),
            ])),
            ..ObjectMeta::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        ..ConfigMap::default()
    })
}

fn service(namespace: &str, name: &str, run: &str) -> Object {
    Object::Service(Service {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([(RUN_LABEL.to_owned(), run.to_owned())])),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(BTreeMap::from([("app".to_owned(), name.to_owned())])),
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                port: 80,
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    })
}

fn data_of(object: &Object) -> BTreeMap<String, String> {
    match object {
        Object::ConfigMap(cm) => cm.data.clone().unwrap_or_default(),
        _ => BTreeMap::new(),
    }
}

fn names(objects: &[Object]) -> Vec<String> {
    objects.iter().map(|o| o.name().to_owned()).collect()
}

fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(message()) }
}

/// Lists with a label selector and checks the names, in order.
async fn expect_names<C: ClusterReader + ?Sized>(
    cluster: &C,
    namespace: Option<&str>,
    selector: &str,
    expected: &[&str],
) -> Result<(), String> {
    let listed = cluster
        .list(&Kind::ConfigMap, namespace, &ListOptions::labels(selector))
        .await
        .map_err(|e| format!("list ConfigMaps with {selector:?}: {e}"))?;
    let got = names(&listed);
    ensure(got == expected, || {
        format!("list ConfigMaps with {selector:?}: expected {expected:?}, got {got:?}")
    })
}

/// Creates, reads, lists (with label and field selectors), patches and deletes objects in `namespace`, checking
/// `AlreadyExists`/`NotFound` semantics and ordering by name. Cleans up what it created.
///
/// # Errors
/// A description of the first behaviour that differs from the Kubernetes API.
pub async fn check_reader_writer<C: ClusterReader + ClusterWriter + ?Sized>(
    cluster: &C,
    namespace: &str,
) -> Result<(), String> {
    let run = run_id();
    let mut result = reader_writer_steps(cluster, namespace, &run).await;
    if result.is_ok() {
        result = bind_steps(cluster, namespace, &run).await;
    }
    cleanup(cluster, namespace, &run).await;
    result
}

/// A pending pod that no scheduler picks up (its `schedulerName` names none), so only the check binds it.
fn pending_pod(namespace: &str, name: &str, run: &str) -> Object {
    Object::Pod(Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([(RUN_LABEL.to_owned(), run.to_owned())])),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            scheduler_name: Some("ksx-conformance-unscheduled".to_owned()),
            containers: vec![Container {
                name: "pause".to_owned(),
                image: Some("registry.k8s.io/pause:3.10".to_owned()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: None,
    })
}

/// The node a pod is bound to, when the object is a pod.
fn node_of(object: Option<&Object>) -> Option<&str> {
    match object {
        Some(Object::Pod(p)) => p.spec.as_ref()?.node_name.as_deref(),
        _ => None,
    }
}

/// The `pods/binding` subresource: binding sets `spec.nodeName`; a wrong uid, a second binding and an unknown
/// pod are refused. Binds to the first node the cluster lists (a made-up name when it has none: the API server
/// does not check that the node exists).
async fn bind_steps<C: ClusterReader + ClusterWriter + ?Sized>(
    cluster: &C,
    namespace: &str,
    run: &str,
) -> Result<(), String> {
    let pod = format!("{run}-pod");
    let nodes = cluster
        .list(&Kind::Node, None, &ListOptions::default())
        .await
        .map_err(|e| format!("list nodes: {e}"))?;
    let node = nodes
        .first()
        .map_or_else(|| format!("{run}-node"), |n| n.name().to_owned());
    let created = cluster
        .create(pending_pod(namespace, &pod, run))
        .await
        .map_err(|e| format!("create pod {pod}: {e}"))?;
    ensure(node_of(Some(&created)).is_none(), || {
        format!("pod {pod} is bound on create: {created:?}")
    })?;
    let uid = created.metadata().uid.clone().unwrap_or_default();
    match cluster
        .bind(namespace, &pod, Some("not-the-uid"), &node)
        .await
    {
        Err(e) if e.is_conflict() => {}
        other => {
            return Err(format!(
                "binding {pod} with a wrong uid: expected Conflict, got {other:?}"
            ));
        }
    }
    cluster
        .bind(
            namespace,
            &pod,
            Some(&uid).filter(|u| !u.is_empty()).map(String::as_str),
            &node,
        )
        .await
        .map_err(|e| format!("bind {pod} to {node}: {e}"))?;
    let reread = cluster
        .get(&Kind::Pod, Some(namespace), &pod)
        .await
        .map_err(|e| format!("get {pod}: {e}"))?;
    ensure(node_of(reread.as_ref()) == Some(node.as_str()), || {
        format!("after binding {pod} to {node}: {reread:?}")
    })?;
    match cluster.bind(namespace, &pod, None, &node).await {
        Err(e) if e.is_conflict() => {}
        other => {
            return Err(format!(
                "binding {pod} twice: expected Conflict, got {other:?}"
            ));
        }
    }
    let missing = format!("{run}-missing-pod");
    match cluster.bind(namespace, &missing, None, &node).await {
        Err(e) if e.is_not_found() => Ok(()),
        other => Err(format!(
            "binding {missing}: expected NotFound, got {other:?}"
        )),
    }
}

async fn reader_writer_steps<C: ClusterReader + ClusterWriter + ?Sized>(
    cluster: &C,
    namespace: &str,
    run: &str,
) -> Result<(), String> {
    let (a, b, c) = (format!("{run}-a"), format!("{run}-b"), format!("{run}-c"));
    // Created out of order, listed in order.
    for (name, tier) in [(&b, "back"), (&a, "front"), (&c, "front")] {
        let created = cluster
            .create(config_map(namespace, name, run, tier, &[("k1", "v1")]))
            .await
            .map_err(|e| format!("create ConfigMap {name}: {e}"))?;
        ensure(created.name() == name.as_str(), || {
            format!("create returned {} instead of {name}", created.name())
        })?;
        let meta = created.metadata();
        ensure(meta.uid.as_deref().is_some_and(|u| !u.is_empty()), || {
            format!("created {name} has no uid")
        })?;
        ensure(
            meta.resource_version
                .as_deref()
                .is_some_and(|v| !v.is_empty()),
            || format!("created {name} has no resourceVersion"),
        )?;
        ensure(meta.creation_timestamp.is_some(), || {
            format!("created {name} has no creationTimestamp")
        })?;
    }
    match cluster
        .create(config_map(namespace, &a, run, "front", &[]))
        .await
    {
        Err(Error::AlreadyExists { .. }) => {}
        other => {
            return Err(format!(
                "creating {a} twice: expected AlreadyExists, got {other:?}"
            ));
        }
    }
    let svc = format!("{run}-svc");
    cluster
        .create(service(namespace, &svc, run))
        .await
        .map_err(|e| format!("create Service {svc}: {e}"))?;

    let got = cluster
        .get(&Kind::ConfigMap, Some(namespace), &a)
        .await
        .map_err(|e| format!("get {a}: {e}"))?
        .ok_or_else(|| format!("get {a}: not found right after create"))?;
    ensure(
        data_of(&got).get("k1").map(String::as_str) == Some("v1"),
        || format!("get {a}: data {:?}", data_of(&got)),
    )?;
    ensure(got.namespace() == Some(namespace), || {
        format!("get {a}: namespace {:?}", got.namespace())
    })?;
    let missing = format!("{run}-missing");
    match cluster
        .get(&Kind::ConfigMap, Some(namespace), &missing)
        .await
    {
        Ok(None) => {}
        other => return Err(format!("get {missing}: expected Ok(None), got {other:?}")),
    }
    let svc_got = cluster
        .get(&Kind::Service, Some(namespace), &svc)
        .await
        .map_err(|e| format!("get {svc}: {e}"))?;
    ensure(matches!(svc_got, Some(Object::Service(_))), || {
        format!("get Service {svc}: got {svc_got:?}")
    })?;

    let run_sel = format!("{RUN_LABEL}={run}");
    expect_names(cluster, Some(namespace), &run_sel, &[&a, &b, &c]).await?;
    expect_names(
        cluster,
        Some(namespace),
        &format!("{run_sel},tier=front"),
        &[&a, &c],
    )
    .await?;
    expect_names(
        cluster,
        Some(namespace),
        &format!("{run_sel},tier!=front"),
        &[&b],
    )
    .await?;
    expect_names(
        cluster,
        Some(namespace),
        &format!("{run_sel},tier in (back,side)"),
        &[&b],
    )
    .await?;
    expect_names(
        cluster,
        Some(namespace),
        &format!("{run_sel},tier notin (back)"),
        &[&a, &c],
    )
    .await?;
    expect_names(cluster, Some(namespace), &format!("{run_sel},!tier"), &[]).await?;
    expect_names(
        cluster,
        Some(namespace),
        &format!("{run_sel},tier"),
        &[&a, &b, &c],
    )
    .await?;
    let everywhere = cluster
        .list(&Kind::ConfigMap, None, &ListOptions::labels(&run_sel))
        .await
        .map_err(|e| format!("list ConfigMaps in all namespaces: {e}"))?;
    ensure(
        names(&everywhere) == [a.clone(), b.clone(), c.clone()],
        || format!("list in all namespaces: got {:?}", names(&everywhere)),
    )?;
    let by_field = cluster
        .list(
            &Kind::ConfigMap,
            Some(namespace),
            &ListOptions::fields(format!("metadata.name={b}")),
        )
        .await
        .map_err(|e| format!("list with a field selector: {e}"))?;
    ensure(names(&by_field) == [b.clone()], || {
        format!(
            "field selector metadata.name={b}: got {:?}",
            names(&by_field)
        )
    })?;
    let bad = cluster
        .list(
            &Kind::ConfigMap,
            Some(namespace),
            &ListOptions::labels("tier in (front"),
        )
        .await;
    ensure(bad.is_err(), || {
        format!("an unclosed set selector should fail, got {bad:?}")
    })?;

    let patch = Patch::Merge(serde_json::json!({
        "metadata": {"labels": {"patched": "yes"}},
        "data": {"k1": null, "k2": "v2"}
    }));
    let patched = cluster
        .patch(&Kind::ConfigMap, Some(namespace), &a, &patch)
        .await
        .map_err(|e| format!("patch {a}: {e}"))?;
    let expected = BTreeMap::from([("k2".to_owned(), "v2".to_owned())]);
    ensure(data_of(&patched) == expected, || {
        format!("patch {a}: data {:?}", data_of(&patched))
    })?;
    ensure(patched.metadata().uid == got.metadata().uid, || {
        format!("patch {a} changed the uid")
    })?;
    ensure(
        patched.metadata().resource_version != got.metadata().resource_version,
        || {
            format!(
                "patch {a} kept resourceVersion {:?}",
                got.metadata().resource_version
            )
        },
    )?;
    expect_names(
        cluster,
        Some(namespace),
        &format!("{run_sel},patched=yes"),
        &[&a],
    )
    .await?;
    let reread = cluster
        .get(&Kind::ConfigMap, Some(namespace), &a)
        .await
        .map_err(|e| format!("get {a}: {e}"))?;
    ensure(reread.as_ref().map(data_of) == Some(expected), || {
        format!("get after patch: {reread:?}")
    })?;
    match cluster
        .patch(&Kind::ConfigMap, Some(namespace), &missing, &patch)
        .await
    {
        Err(e) if e.is_not_found() => {}
        other => return Err(format!("patch {missing}: expected NotFound, got {other:?}")),
    }
    let rename = Patch::Merge(serde_json::json!({"metadata": {"name": format!("{run}-renamed")}}));
    let renamed = cluster
        .patch(&Kind::ConfigMap, Some(namespace), &a, &rename)
        .await;
    ensure(renamed.is_err(), || {
        format!("a patch that renames {a} should fail, got {renamed:?}")
    })?;

    cluster
        .delete(&Kind::ConfigMap, Some(namespace), &a)
        .await
        .map_err(|e| format!("delete {a}: {e}"))?;
    let after = cluster
        .get(&Kind::ConfigMap, Some(namespace), &a)
        .await
        .map_err(|e| format!("get {a}: {e}"))?;
    ensure(after.is_none(), || {
        format!("{a} still exists after delete: {after:?}")
    })?;
    match cluster.delete(&Kind::ConfigMap, Some(namespace), &a).await {
        Err(e) if e.is_not_found() => {}
        other => {
            return Err(format!(
                "deleting {a} twice: expected NotFound, got {other:?}"
            ));
        }
    }
    expect_names(cluster, Some(namespace), &run_sel, &[&b, &c]).await
}

/// Deletes what a check created (errors are ignored: the objects may already be gone).
async fn cleanup<C: ClusterReader + ClusterWriter + ?Sized>(
    cluster: &C,
    namespace: &str,
    run: &str,
) {
    let selector = ListOptions::labels(format!("{RUN_LABEL}={run}"));
    for kind in [Kind::ConfigMap, Kind::Service, Kind::Pod] {
        if let Ok(objects) = cluster.list(&kind, Some(namespace), &selector).await {
            for o in objects {
                let _ = cluster.delete(&kind, Some(namespace), o.name()).await;
            }
        }
    }
}

/// Waits for the next event on `stream` about an object named `name`, skipping events about other objects.
async fn next_about(
    stream: &mut WatchStream,
    name: &str,
    waiting_for: &str,
) -> Result<WatchEvent, String> {
    loop {
        let next = with_timeout(stream.next()).await.ok_or_else(|| {
            format!("no event within {WATCH_TIMEOUT:?} while waiting for {waiting_for}")
        })?;
        match next {
            None => return Err(format!("the watch ended while waiting for {waiting_for}")),
            Some(Err(e)) => {
                return Err(format!(
                    "the watch failed while waiting for {waiting_for}: {e}"
                ));
            }
            Some(Ok(event)) if event.object().name() == name => return Ok(event),
            Some(Ok(_)) => {}
        }
    }
}

/// Waits for the next event about `name` and checks it with `check`; an event about `unmatched` (an object the
/// watch's selector does not match) is an error.
async fn expect_event(
    stream: &mut WatchStream,
    name: &str,
    unmatched: &str,
    what: &str,
    check: fn(&WatchEvent) -> bool,
) -> Result<WatchEvent, String> {
    loop {
        let event = with_timeout(stream.next())
            .await
            .ok_or_else(|| format!("no event within {WATCH_TIMEOUT:?} while waiting for {what}"))?
            .ok_or_else(|| format!("the watch ended while waiting for {what}"))?
            .map_err(|e| format!("the watch failed while waiting for {what}: {e}"))?;
        let about = event.object().name();
        if about == unmatched {
            return Err(format!(
                "the watch delivered {unmatched}, which its selector does not match"
            ));
        }
        if about == name {
            return if check(&event) {
                Ok(event)
            } else {
                Err(format!("waiting for {what}, got {event:?}"))
            };
        }
    }
}

async fn with_timeout<F: Future>(future: F) -> Option<F::Output> {
    tokio::time::timeout(WATCH_TIMEOUT, future).await.ok()
}

/// Watches ConfigMaps with a label selector in `namespace`: an object that existed before the watch arrives as
/// `Added`; a new one as `Added`, then `Modified` after a patch, then `Deleted`; objects the selector does not
/// match never arrive. Cleans up what it created.
///
/// # Errors
/// A description of the first event that is missing or wrong.
pub async fn check_watch<C: ClusterReader + ClusterWriter + ?Sized>(
    cluster: &C,
    namespace: &str,
) -> Result<(), String> {
    let run = run_id();
    let result = watch_steps(cluster, namespace, &run).await;
    cleanup(cluster, namespace, &run).await;
    result
}

async fn watch_steps<C: ClusterReader + ClusterWriter + ?Sized>(
    cluster: &C,
    namespace: &str,
    run: &str,
) -> Result<(), String> {
    let (before, during, other) = (
        format!("{run}-before"),
        format!("{run}-during"),
        format!("{run}-other"),
    );
    cluster
        .create(config_map(namespace, &before, run, "front", &[]))
        .await
        .map_err(|e| format!("create {before}: {e}"))?;
    let selector = ListOptions::labels(format!("{RUN_LABEL}={run},tier=front"));
    let mut stream = cluster
        .watch(&Kind::ConfigMap, Some(namespace), &selector)
        .await
        .map_err(|e| format!("watch: {e}"))?;
    match next_about(
        &mut stream,
        &before,
        "the Added event of an existing object",
    )
    .await?
    {
        WatchEvent::Added(_) => {}
        e => {
            return Err(format!(
                "existing object {before}: expected Added, got {e:?}"
            ));
        }
    }
    // An object the selector does not match, created first: its events must never show up.
    cluster
        .create(config_map(namespace, &other, run, "back", &[]))
        .await
        .map_err(|e| format!("create {other}: {e}"))?;
    cluster
        .create(config_map(namespace, &during, run, "front", &[("k", "1")]))
        .await
        .map_err(|e| format!("create {during}: {e}"))?;
    expect_event(&mut stream, &during, &other, "Added of a new object", |e| {
        matches!(e, WatchEvent::Added(_))
    })
    .await?;
    cluster
        .patch(
            &Kind::ConfigMap,
            Some(namespace),
            &during,
            &Patch::Merge(serde_json::json!({"data": {"k": "2"}})),
        )
        .await
        .map_err(|e| format!("patch {during}: {e}"))?;
    let modified = expect_event(
        &mut stream,
        &during,
        &other,
        "Modified after a patch",
        |e| matches!(e, WatchEvent::Modified(_)),
    )
    .await?;
    ensure(
        data_of(modified.object()).get("k").map(String::as_str) == Some("2"),
        || format!("Modified event carries {:?}", data_of(modified.object())),
    )?;
    cluster
        .delete(&Kind::ConfigMap, Some(namespace), &during)
        .await
        .map_err(|e| format!("delete {during}: {e}"))?;
    expect_event(
        &mut stream,
        &during,
        &other,
        "Deleted after a delete",
        |e| matches!(e, WatchEvent::Deleted(_)),
    )
    .await?;
    Ok(())
}
