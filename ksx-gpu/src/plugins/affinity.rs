//! NodeAffinity with `nodeSelector` (scheduling.md §1.9).
//!
//! `spec.nodeSelector` (every key) AND the required node affinity: terms are ORed, expressions inside a term
//! ANDed, an empty term matches nothing, and a term that does not parse (an unknown operator, `Gt` without one
//! integer) matches nothing, as upstream's lazy-error selector does. `matchFields` supports `metadata.name`.
//! Preferred terms add their weight when they match; the sum is the raw score (normalized non-reverse).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, Pod};

/// The filter's reason, in upstream wording.
pub const AFFINITY_REASON: &str = "node(s) didn't match Pod's node affinity/selector";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
    number: i64,
}

impl Requirement {
    fn compile(r: &NodeSelectorRequirement) -> Option<Self> {
        let values = r.values.clone().unwrap_or_default();
        let op = match r.operator.as_str() {
            "In" => Op::In,
            "NotIn" => Op::NotIn,
            "Exists" => Op::Exists,
            "DoesNotExist" => Op::DoesNotExist,
            "Gt" => Op::Gt,
            "Lt" => Op::Lt,
            _ => return None,
        };
        let number = match op {
            Op::In | Op::NotIn if values.is_empty() => return None,
            Op::Exists | Op::DoesNotExist if !values.is_empty() => return None,
            Op::Gt | Op::Lt => match values.as_slice() {
                [one] => one.parse().ok()?,
                _ => return None,
            },
            _ => 0,
        };
        Some(Self {
            key: r.key.clone(),
            op,
            values,
            number,
        })
    }

    fn matches(&self, value: Option<&str>) -> bool {
        match (self.op, value) {
            (Op::In, Some(v)) => self.values.iter().any(|x| x == v),
            (Op::NotIn, Some(v)) => !self.values.iter().any(|x| x == v),
            (Op::NotIn | Op::DoesNotExist, None) | (Op::Exists, Some(_)) => true,
            (Op::Gt, Some(v)) => v.parse::<i64>().is_ok_and(|n| n > self.number),
            (Op::Lt, Some(v)) => v.parse::<i64>().is_ok_and(|n| n < self.number),
            _ => false,
        }
    }
}

/// A compiled node selector term.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Term {
    expressions: Vec<Requirement>,
    fields: Vec<Requirement>,
    valid: bool,
}

impl Term {
    /// Compiles a k8s term; an invalid or empty one matches nothing.
    pub fn compile(t: &NodeSelectorTerm) -> Self {
        let mut valid = true;
        let mut compile_all = |rs: Option<&Vec<NodeSelectorRequirement>>, fields: bool| {
            rs.into_iter()
                .flatten()
                .filter_map(|r| {
                    let c = Requirement::compile(r)
                        .filter(|c| !fields || (c.key == "metadata.name" && matches!(c.op, Op::In | Op::NotIn)));
                    if c.is_none() {
                        valid = false;
                    }
                    c
                })
                .collect::<Vec<_>>()
        };
        let expressions = compile_all(t.match_expressions.as_ref(), false);
        let fields = compile_all(t.match_fields.as_ref(), true);
        let valid = valid && !(expressions.is_empty() && fields.is_empty());
        Self {
            expressions,
            fields,
            valid,
        }
    }

    /// True when the node's labels and name match every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>, name: &str) -> bool {
        self.valid
            && self
                .expressions
                .iter()
                .all(|r| r.matches(labels.get(&r.key).map(String::as_str)))
            && self.fields.iter().all(|r| r.matches(Some(name)))
    }
}

/// A pod's `nodeSelector` and node affinity, compiled once per pod.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodAffinity {
    selector: Vec<(String, String)>,
    required: Option<Vec<Term>>,
    preferred: Vec<(i64, Term)>,
}

impl PodAffinity {
    /// Compiles the pod's selector and node affinity.
    pub fn from_pod(pod: &Pod) -> Self {
        let Some(spec) = pod.spec.as_ref() else {
            return Self::default();
        };
        let node_affinity = spec.affinity.as_ref().and_then(|a| a.node_affinity.as_ref());
        Self {
            selector: spec
                .node_selector
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            required: node_affinity
                .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
                .map(|s| s.node_selector_terms.iter().map(Term::compile).collect()),
            preferred: node_affinity
                .and_then(|n| n.preferred_during_scheduling_ignored_during_execution.as_ref())
                .map(|p| {
                    p.iter()
                        .filter(|t| t.weight != 0)
                        .map(|t| (i64::from(t.weight), Term::compile(&t.preference)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// True when the pod has neither a selector nor required affinity (the filter always passes).
    pub fn is_unconstrained(&self) -> bool {
        self.selector.is_empty() && self.required.is_none()
    }

    /// True when the pod has preferred terms (the score is not constant).
    pub fn has_preferences(&self) -> bool {
        !self.preferred.is_empty()
    }

    /// The filter: the selector and one of the required terms match.
    pub fn matches(&self, labels: &BTreeMap<String, String>, name: &str) -> bool {
        self.selector
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|x| x == v))
            && self
                .required
                .as_ref()
                .is_none_or(|terms| terms.iter().any(|t| t.matches(labels, name)))
    }

    /// The raw score: the sum of the weights of matching preferred terms.
    pub fn preferred_score(&self, labels: &BTreeMap<String, String>, name: &str) -> i64 {
        self.preferred
            .iter()
            .filter(|(_, t)| t.matches(labels, name))
            .map(|(w, _)| *w)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn affinity(spec: serde_json::Value) -> PodAffinity {
        let pod: Pod = serde_json::from_value(serde_json::json!({"spec": spec})).unwrap();
        PodAffinity::from_pod(&pod)
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn operators_follow_upstream() {
        let a = affinity(serde_json::json!({"containers": [], "affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["a", "b"]},
                    {"key": "gpu", "operator": "NotIn", "values": ["t4"]},
                    {"key": "cores", "operator": "Gt", "values": ["8"]},
                    {"key": "bad", "operator": "DoesNotExist"}
                ]}
            ]}}}}));
        assert!(a.matches(&labels(&[("zone", "a"), ("cores", "16")]), "n"));
        assert!(!a.matches(&labels(&[("zone", "a"), ("cores", "8")]), "n"));
        assert!(!a.matches(&labels(&[("zone", "a"), ("cores", "16"), ("gpu", "t4")]), "n"));
        assert!(!a.matches(&labels(&[("zone", "a"), ("cores", "x")]), "n"));
        assert!(!a.matches(&labels(&[("zone", "a"), ("cores", "16"), ("bad", "")]), "n"));
    }

    #[test]
    fn empty_or_invalid_terms_match_nothing_and_terms_are_ored() {
        let a = affinity(serde_json::json!({"containers": [], "affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {},
                {"matchExpressions": [{"key": "x", "operator": "Gt", "values": ["a"]}]},
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}
            ]}}}}));
        assert!(!a.matches(&labels(&[("x", "5")]), "n1"));
        assert!(a.matches(&labels(&[]), "n2"));
        let none = affinity(serde_json::json!({"containers": [], "affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}}));
        assert!(!none.matches(&labels(&[]), "n1"));
    }

    #[test]
    fn selector_and_preferred_score() {
        let a = affinity(serde_json::json!({"containers": [], "nodeSelector": {"pool": "gpu"},
            "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 30, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
                {"weight": 70, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}},
                {"weight": 5, "preference": {}}
            ]}}}));
        let l = labels(&[("pool", "gpu"), ("zone", "a"), ("disk", "ssd")]);
        assert!(a.matches(&l, "n"));
        assert!(!a.matches(&labels(&[("pool", "cpu")]), "n"));
        assert_eq!(a.preferred_score(&l, "n"), 100);
        assert_eq!(a.preferred_score(&labels(&[("zone", "a")]), "n"), 30);
    }
}
