//! Efficiency checks (spec §4.3): requests and limits, compared as exact quantities.

use crate::pod::FastPointer as _;
use ksx_core::quantity::Quantity;
use serde_json::Value;

use super::{Ctx, Hit, per_container};
use crate::bundle::InspectObject;
use crate::pod::{self, ContainerSet};

/// A quantity field: `None` absent, `Some(Err(text))` unparsable, `Some(Ok(q))` a quantity.
fn quantity(v: Option<&Value>) -> Option<Result<Quantity, String>> {
    let text = pod::scalar_string(v?)?;
    Some(Quantity::parse(&text).map_err(|_| text))
}

fn set_and_non_zero(v: Option<&Value>) -> bool {
    matches!(quantity(v), Some(Ok(q)) if !q.is_zero())
}

fn require(obj: &InspectObject, kind: &str, resource: &str) -> Option<Vec<Hit>> {
    let pod_level = pod::pod_spec(obj)
        .map(|(s, _)| s.ptr(&format!("/resources/{kind}/{resource}")))
        .is_some_and(set_and_non_zero);
    per_container(obj, ContainerSet::Run, false, |_, _, c, hits| {
        if pod_level {
            return;
        }
        let field = format!("/resources/{kind}/{resource}");
        let v = c.get(&field);
        let problem = match quantity(v) {
            None => Some(format!("container {} sets no {kind}.{resource}", c.label())),
            Some(Err(t)) => Some(format!(
                "container {} has invalid {kind}.{resource} {t:?}",
                c.label()
            )),
            Some(Ok(q)) if q.is_zero() => Some(format!(
                "container {} sets {kind}.{resource} to 0",
                c.label()
            )),
            Some(Ok(_)) => None,
        };
        if let Some(m) = problem {
            hits.push(Hit::container(c, &field, m));
        }
    })
}

pub(super) fn cpu_requests(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    require(obj, "requests", "cpu")
}

pub(super) fn cpu_limits(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    require(obj, "limits", "cpu")
}

pub(super) fn memory_requests(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    require(obj, "requests", "memory")
}

pub(super) fn memory_limits(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    require(obj, "limits", "memory")
}

pub(super) fn ephemeral_storage(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    let mut hits = require(obj, "requests", "ephemeral-storage")?;
    hits.extend(require(obj, "limits", "ephemeral-storage").unwrap_or_default());
    Some(hits)
}

pub(super) fn request_above_limit(_: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    per_container(obj, ContainerSet::Run, false, |_, _, c, hits| {
        let Some(requests) = c.get("/resources/requests").and_then(Value::as_object) else {
            return;
        };
        for (name, req) in requests {
            let limit = c.get(&format!("/resources/limits/{}", pod::escape_pointer(name)));
            if let (Some(Ok(r)), Some(Ok(l))) = (quantity(Some(req)), quantity(limit))
                && r > l
            {
                hits.push(Hit::container(
                    c,
                    &format!("/resources/requests/{}", pod::escape_pointer(name)),
                    format!(
                        "container {} requests {name} {r} above its limit {l}",
                        c.label()
                    ),
                ));
            }
        }
    })
}
