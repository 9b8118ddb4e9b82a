//! NodeAffinity with `nodeSelector` (scheduling.md §1.9).
//!
//! `spec.nodeSelector` (every key) AND the required node affinity: terms are ORed, expressions inside a term
//! ANDed, an empty term matches nothing, and a term that does not parse (an unknown operator, `Gt` without one
//! integer) matches nothing, as upstream's lazy-error selector does. `matchFields` supports `metadata.name`.
//! Preferred terms add their weight when they match; the sum is the raw score (normalized non-reverse).

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, Pod};

/// The filter's reason, in upstream wording.
pub const AFFINITY_REASON: &str = "node(s) didn't match Pod's node affinity/selector";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
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
                    let c = Requirement::compile(r).filter(|c| {
                        !fields || (c.key == "metadata.name" && matches!(c.op, Op::In | Op::NotIn))
                    });
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

/// Interned label keys and values, shared by the nodes of a snapshot, so that the per-node loop compares integers
/// instead of strings. Each symbol also remembers its integer value (for `Gt`/`Lt`).
#[derive(Debug, Clone, Default)]
pub struct Symbols {
    ids: HashMap<String, u32>,
    ints: Vec<Option<i64>>,
}

/// A symbol no node has.
const MISSING: u32 = u32::MAX;

impl Symbols {
    /// The symbol of a string, adding it when new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = u32::try_from(self.ints.len()).unwrap_or(MISSING - 1);
        self.ids.insert(s.to_owned(), id);
        self.ints.push(s.parse().ok());
        id
    }

    /// The symbol of a known string.
    pub fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    fn int(&self, sym: u32) -> Option<i64> {
        self.ints.get(sym as usize).copied().flatten()
    }

    /// A node's labels as `(key, value)` symbols sorted by key.
    pub fn intern_labels(&mut self, labels: &BTreeMap<String, String>) -> Vec<(u32, u32)> {
        let mut out: Vec<(u32, u32)> = labels
            .iter()
            .map(|(k, v)| (self.intern(k), self.intern(v)))
            .collect();
        out.sort_unstable();
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FastRequirement {
    key: u32,
    op: Op,
    values: Vec<u32>,
    number: i64,
}

impl FastRequirement {
    fn matches(&self, labels: &[(u32, u32)], symbols: &Symbols) -> bool {
        let value = labels
            .binary_search_by_key(&self.key, |(k, _)| *k)
            .ok()
            .and_then(|i| labels.get(i))
            .map(|(_, v)| *v);
        match (self.op, value) {
            (Op::In, Some(v)) => self.values.contains(&v),
            (Op::NotIn, Some(v)) => !self.values.contains(&v),
            (Op::NotIn | Op::DoesNotExist, None) | (Op::Exists, Some(_)) => true,
            (Op::Gt, Some(v)) => symbols.int(v).is_some_and(|n| n > self.number),
            (Op::Lt, Some(v)) => symbols.int(v).is_some_and(|n| n < self.number),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FastTerm {
    expressions: Vec<FastRequirement>,
    fields: Vec<Requirement>,
    valid: bool,
}

impl FastTerm {
    fn new(t: &Term, symbols: &Symbols) -> Self {
        Self {
            expressions: t
                .expressions
                .iter()
                .map(|r| FastRequirement {
                    key: symbols.get(&r.key).unwrap_or(MISSING),
                    op: r.op,
                    values: r.values.iter().filter_map(|v| symbols.get(v)).collect(),
                    number: r.number,
                })
                .collect(),
            fields: t.fields.clone(),
            valid: t.valid,
        }
    }

    fn matches(&self, labels: &[(u32, u32)], name: &str, symbols: &Symbols) -> bool {
        self.valid
            && self.expressions.iter().all(|r| r.matches(labels, symbols))
            && self.fields.iter().all(|r| r.matches(Some(name)))
    }
}

/// [`PodAffinity`] resolved against a snapshot's [`Symbols`]: the same answers, with integer comparisons.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResolvedAffinity {
    selector: Vec<FastRequirement>,
    required: Option<Vec<FastTerm>>,
    preferred: Vec<(i64, FastTerm)>,
}

impl ResolvedAffinity {
    /// The filter on interned labels.
    pub fn matches(&self, labels: &[(u32, u32)], name: &str, symbols: &Symbols) -> bool {
        self.selector.iter().all(|r| r.matches(labels, symbols))
            && self
                .required
                .as_ref()
                .is_none_or(|terms| terms.iter().any(|t| t.matches(labels, name, symbols)))
    }

    /// The raw score on interned labels.
    pub fn preferred_score(&self, labels: &[(u32, u32)], name: &str, symbols: &Symbols) -> i64 {
        self.preferred
            .iter()
            .filter(|(_, t)| t.matches(labels, name, symbols))
            .map(|(w, _)| *w)
            .sum()
    }
}

/// A pod's `nodeSelector` and node affinity, compiled once per pod.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
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
        let node_affinity = spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref());
        Self {
            selector: spec
                .node_selector
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            required: node_affinity
                .and_then(|n| {
                    n.required_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .map(|s| s.node_selector_terms.iter().map(Term::compile).collect()),
            preferred: node_affinity
                .and_then(|n| {
                    n.preferred_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .map(|p| {
                    p.iter()
                        .filter(|t| t.weight != 0)
                        .map(|t| (i64::from(t.weight), Term::compile(&t.preference)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Resolves the compiled affinity against interned symbols.
    pub fn resolve(&self, symbols: &Symbols) -> ResolvedAffinity {
        ResolvedAffinity {
            selector: self
                .selector
                .iter()
                .map(|(k, v)| FastRequirement {
                    key: symbols.get(k).unwrap_or(MISSING),
                    op: Op::In,
                    values: symbols.get(v).into_iter().collect(),
                    number: 0,
                })
                .collect(),
            required: self
                .required
                .as_ref()
                .map(|terms| terms.iter().map(|t| FastTerm::new(t, symbols)).collect()),
            preferred: self
                .preferred
                .iter()
                .map(|(w, t)| (*w, FastTerm::new(t, symbols)))
                .collect(),
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

    #[allow(clippy::needless_pass_by_value, reason = "tests pass literals")]
    fn affinity(spec: serde_json::Value) -> PodAffinity {
        let pod: Pod = serde_json::from_value(serde_json::json!({"spec": spec})).unwrap();
        PodAffinity::from_pod(&pod)
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn operators_follow_upstream() {
        let a = affinity(
            serde_json::json!({"containers": [], "affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["a", "b"]},
                    {"key": "gpu", "operator": "NotIn", "values": ["t4"]},
                    {"key": "cores", "operator": "Gt", "values": ["8"]},
                    {"key": "bad", "operator": "DoesNotExist"}
                ]}
            ]}}}}),
        );
        assert!(a.matches(&labels(&[("zone", "a"), ("cores", "16")]), "n"));
        assert!(!a.matches(&labels(&[("zone", "a"), ("cores", "8")]), "n"));
        assert!(!a.matches(
            &labels(&[("zone", "a"), ("cores", "16"), ("gpu", "t4")]),
            "n"
        ));
        assert!(!a.matches(&labels(&[("zone", "a"), ("cores", "x")]), "n"));
        assert!(!a.matches(&labels(&[("zone", "a"), ("cores", "16"), ("bad", "")]), "n"));
    }

    #[test]
    fn empty_or_invalid_terms_match_nothing_and_terms_are_ored() {
        let a = affinity(
            serde_json::json!({"containers": [], "affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {},
                {"matchExpressions": [{"key": "x", "operator": "Gt", "values": ["a"]}]},
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}
            ]}}}}),
        );
        assert!(!a.matches(&labels(&[("x", "5")]), "n1"));
        assert!(a.matches(&labels(&[]), "n2"));
        let none = affinity(
            serde_json::json!({"containers": [], "affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}}),
        );
        assert!(!none.matches(&labels(&[]), "n1"));
    }

    #[test]
    fn selector_and_preferred_score() {
        let a = affinity(
            serde_json::json!({"containers": [], "nodeSelector": {"pool": "gpu"},
            "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 30, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
                {"weight": 70, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}},
                {"weight": 5, "preference": {}}
            ]}}}),
        );
        let l = labels(&[("pool", "gpu"), ("zone", "a"), ("disk", "ssd")]);
        assert!(a.matches(&l, "n"));
        assert!(!a.matches(&labels(&[("pool", "cpu")]), "n"));
        assert_eq!(a.preferred_score(&l, "n"), 100);
        assert_eq!(a.preferred_score(&labels(&[("zone", "a")]), "n"), 30);
    }

    #[test]
    fn resolved_affinity_agrees_with_strings() {
        let a = affinity(
            serde_json::json!({"containers": [], "nodeSelector": {"pool": "gpu"},
            "affinity": {"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["8"]},
                                          {"key": "zone", "operator": "NotIn", "values": ["c", "never-seen"]}]},
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n3"]}]}]},
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 7, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}}]}}}),
        );
        let nodes = [
            (
                "n1",
                labels(&[("pool", "gpu"), ("cores", "16"), ("zone", "a")]),
            ),
            (
                "n2",
                labels(&[("pool", "gpu"), ("cores", "16"), ("zone", "c")]),
            ),
            ("n3", labels(&[("pool", "gpu"), ("zone", "c")])),
            ("n4", labels(&[("pool", "cpu"), ("cores", "64")])),
            ("n5", labels(&[("pool", "gpu"), ("cores", "4")])),
        ];
        let mut symbols = Symbols::default();
        let interned: Vec<_> = nodes
            .iter()
            .map(|(_, l)| symbols.intern_labels(l))
            .collect();
        let r = a.resolve(&symbols);
        for ((name, l), syms) in nodes.iter().zip(&interned) {
            assert_eq!(
                a.matches(l, name),
                r.matches(syms, name, &symbols),
                "{name}"
            );
            assert_eq!(
                a.preferred_score(l, name),
                r.preferred_score(syms, name, &symbols),
                "{name}"
            );
        }
        assert!(r.matches(&interned[0], "n1", &symbols));
        assert!(!r.matches(&interned[1], "n2", &symbols));
        assert!(r.matches(&interned[2], "n3", &symbols));
    }
}
