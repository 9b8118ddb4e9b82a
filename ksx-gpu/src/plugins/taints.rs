//! TaintToleration and NodeUnschedulable (scheduling.md §1.9).
//!
//! Filter: a node taint with effect `NoSchedule` or `NoExecute` that no toleration of the pod tolerates rejects the
//! node (UnschedulableAndUnresolvable, upstream wording `node(s) had untolerated taint {key: value}`, first such
//! taint only). Score: the number of `PreferNoSchedule` taints not tolerated by tolerations whose effect is empty or
//! `PreferNoSchedule`; normalized in reverse (fewer is better).

use k8s_openapi::api::core::v1::{Taint, Toleration};

/// A taint effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// `NoSchedule`.
    NoSchedule,
    /// `PreferNoSchedule`.
    PreferNoSchedule,
    /// `NoExecute`.
    NoExecute,
    /// Anything else (kept so that it never matches a toleration with a known effect).
    Other,
}

impl Effect {
    fn parse(s: &str) -> Self {
        match s {
            "NoSchedule" => Self::NoSchedule,
            "PreferNoSchedule" => Self::PreferNoSchedule,
            "NoExecute" => Self::NoExecute,
            _ => Self::Other,
        }
    }
}

/// A node taint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeTaint {
    /// The key.
    pub key: String,
    /// The value (empty when unset).
    pub value: String,
    /// The effect.
    pub effect: Effect,
}

impl NodeTaint {
    /// Converts a k8s taint.
    pub fn from_k8s(t: &Taint) -> Self {
        Self {
            key: t.key.clone(),
            value: t.value.clone().unwrap_or_default(),
            effect: Effect::parse(&t.effect),
        }
    }
}

/// How a toleration compares values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TolerationOperator {
    /// `Equal` (the default): key and value equal.
    Equal,
    /// `Exists`: the key alone.
    Exists,
    /// An unknown operator, which tolerates nothing.
    Unknown,
}

/// A pod toleration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PodToleration {
    /// The key (empty matches every key).
    pub key: String,
    /// The operator.
    pub operator: TolerationOperator,
    /// The value.
    pub value: String,
    /// The effect (`None` matches every effect).
    pub effect: Option<Effect>,
}

impl PodToleration {
    /// Converts a k8s toleration.
    pub fn from_k8s(t: &Toleration) -> Self {
        Self {
            key: t.key.clone().unwrap_or_default(),
            operator: match t.operator.as_deref() {
                None | Some("" | "Equal") => TolerationOperator::Equal,
                Some("Exists") => TolerationOperator::Exists,
                Some(_) => TolerationOperator::Unknown,
            },
            value: t.value.clone().unwrap_or_default(),
            effect: t
                .effect
                .as_deref()
                .filter(|e| !e.is_empty())
                .map(Effect::parse),
        }
    }

    /// Upstream `ToleratesTaint`.
    pub fn tolerates(&self, taint: &NodeTaint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.operator {
            TolerationOperator::Equal => self.value == taint.value,
            TolerationOperator::Exists => true,
            TolerationOperator::Unknown => false,
        }
    }
}

/// True when some toleration tolerates the taint.
pub fn is_tolerated(tolerations: &[PodToleration], taint: &NodeTaint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

/// The first `NoSchedule`/`NoExecute` taint the pod does not tolerate.
pub fn untolerated<'a>(
    taints: &'a [NodeTaint],
    tolerations: &[PodToleration],
) -> Option<&'a NodeTaint> {
    taints.iter().find(|t| {
        matches!(t.effect, Effect::NoSchedule | Effect::NoExecute) && !is_tolerated(tolerations, t)
    })
}

/// The filter's reason for an untolerated taint, in upstream wording.
pub fn untolerated_reason(taint: &NodeTaint) -> String {
    format!(
        "node(s) had untolerated taint {{{}: {}}}",
        taint.key, taint.value
    )
}

/// The raw TaintToleration score: untolerated `PreferNoSchedule` taints.
pub fn count_intolerable_prefer_no_schedule(
    taints: &[NodeTaint],
    tolerations: &[PodToleration],
) -> i64 {
    let mut count = 0;
    for taint in taints
        .iter()
        .filter(|t| t.effect == Effect::PreferNoSchedule)
    {
        let tolerated = tolerations
            .iter()
            .filter(|t| matches!(t.effect, None | Some(Effect::PreferNoSchedule)))
            .any(|t| t.tolerates(taint));
        if !tolerated {
            count += 1;
        }
    }
    count
}

/// NodeUnschedulable: passes unless the node is unschedulable and the pod does not tolerate
/// `node.kubernetes.io/unschedulable:NoSchedule`.
pub fn passes_unschedulable(unschedulable: bool, tolerations: &[PodToleration]) -> bool {
    !unschedulable
        || is_tolerated(
            tolerations,
            &NodeTaint {
                key: UNSCHEDULABLE_TAINT.to_owned(),
                value: String::new(),
                effect: Effect::NoSchedule,
            },
        )
}

/// The taint key standing for `spec.unschedulable`.
pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// NodeUnschedulable's reason, in upstream wording.
pub const UNSCHEDULABLE_REASON: &str = "node(s) were unschedulable";

#[cfg(test)]
mod tests {
    use super::*;

    fn tol(key: &str, op: &str, value: &str, effect: &str) -> PodToleration {
        PodToleration::from_k8s(&Toleration {
            key: Some(key.into()),
            operator: Some(op.into()),
            value: Some(value.into()),
            effect: Some(effect.into()),
            toleration_seconds: None,
        })
    }

    fn taint(key: &str, value: &str, effect: Effect) -> NodeTaint {
        NodeTaint {
            key: key.into(),
            value: value.into(),
            effect,
        }
    }

    #[test]
    fn toleration_matching_follows_upstream() {
        let t = taint("gpu", "a100", Effect::NoSchedule);
        assert!(tol("gpu", "Equal", "a100", "NoSchedule").tolerates(&t));
        assert!(tol("gpu", "", "a100", "").tolerates(&t));
        assert!(!tol("gpu", "Equal", "h100", "NoSchedule").tolerates(&t));
        assert!(tol("gpu", "Exists", "", "NoSchedule").tolerates(&t));
        assert!(
            tol("", "Exists", "", "").tolerates(&t),
            "empty key + Exists tolerates all"
        );
        assert!(!tol("gpu", "Exists", "", "NoExecute").tolerates(&t));
        assert!(!tol("gpu", "Gt", "1", "").tolerates(&t));
    }

    #[test]
    fn filter_and_score() {
        let taints = vec![
            taint("soft", "x", Effect::PreferNoSchedule),
            taint("soft2", "", Effect::PreferNoSchedule),
            taint("hard", "v", Effect::NoExecute),
        ];
        let hard = untolerated(&taints, &[]).unwrap();
        assert_eq!(
            untolerated_reason(hard),
            "node(s) had untolerated taint {hard: v}"
        );
        assert!(untolerated(&taints, &[tol("hard", "Exists", "", "")]).is_none());
        assert_eq!(count_intolerable_prefer_no_schedule(&taints, &[]), 2);
        // A NoSchedule-only toleration does not count for PreferNoSchedule taints.
        assert_eq!(
            count_intolerable_prefer_no_schedule(
                &taints,
                &[tol("soft", "Exists", "", "NoSchedule")]
            ),
            2
        );
        assert_eq!(
            count_intolerable_prefer_no_schedule(&taints, &[tol("soft", "Exists", "", "")]),
            1
        );
        assert!(!passes_unschedulable(true, &[]));
        assert!(passes_unschedulable(
            true,
            &[tol(UNSCHEDULABLE_TAINT, "Exists", "", "NoSchedule")]
        ));
    }
}
