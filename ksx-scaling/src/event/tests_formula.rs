//! Tests of the scalingModifiers formula language: precedence, types, errors with positions, evaluation, and
//! proptests (garbage never panics, print/parse round trip, arithmetic against a reference).

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::formula::{BinOp, Expr, Formula, Func, parse_expr};

fn env(pairs: &[(&str, Option<f64>)]) -> BTreeMap<String, Option<f64>> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn eval(src: &str, pairs: &[(&str, Option<f64>)]) -> Option<f64> {
    Formula::parse(src)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .evaluate(&env(pairs))
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn err_at(src: &str) -> (usize, String) {
    let e = Formula::parse(src).expect_err(src);
    (e.pos, e.message)
}

#[test]
fn arithmetic_and_precedence() {
    assert_eq!(eval("1 + 2 * 3", &[]), Some(7.0));
    assert_eq!(eval("(1 + 2) * 3", &[]), Some(9.0));
    assert_eq!(eval("10 - 4 - 3", &[]), Some(3.0), "left-associative");
    assert_eq!(eval("7 / 2", &[]), Some(3.5), "float division");
    assert_eq!(eval("1_000 + 2.5e1", &[]), Some(1025.0));
    assert_eq!(eval("-2 * 3", &[]), Some(-6.0));
    assert_eq!(eval("2 * -3", &[]), Some(-6.0));
}

#[test]
fn coalesce_binds_tighter_than_arithmetic_and_unary_minus() {
    let e = &[("a", None), ("b", Some(4.0)), ("c", Some(1.0))];
    // (a ?? b) + c
    assert_eq!(eval("a ?? b + c", e), Some(5.0));
    // -(a ?? b), as expr-lang parses it
    assert_eq!(eval("-a ?? b", e), Some(-4.0));
    assert_eq!(
        parse_expr("-a ?? b").unwrap(),
        Expr::Neg(Box::new(Expr::Binary(
            BinOp::Coalesce,
            Box::new(Expr::Name("a".into())),
            Box::new(Expr::Name("b".into()))
        )))
    );
    assert_eq!(eval("a ?? nil", e), None, "a nil result is None");
    assert_eq!(eval("c ?? 9", e), Some(1.0));
}

#[test]
fn comparisons_logic_and_ternary() {
    let e = &[("q", Some(12.0)), ("r", Some(3.0))];
    assert_eq!(eval("q > 10 && r < 5 ? q + r : 0", e), Some(15.0));
    assert_eq!(eval("q >= 12 || 1 / 0 > 1 ? 1 : 2", e), Some(1.0));
    assert_eq!(eval("!(q == 12) ? 1 : 2", e), Some(2.0));
    assert_eq!(
        eval("q != 12 ? 1 : r <= 3 ? 5 : 6", e),
        Some(5.0),
        "right-assoc"
    );
    assert_eq!(eval("q == nil ? 0 : q", e), Some(12.0));
    assert_eq!(eval("true ? 1 : 2", e), Some(1.0));
}

#[test]
fn functions() {
    let e = &[("a", Some(2.5)), ("b", Some(-7.25))];
    assert_eq!(eval("min(a, b, 0)", e), Some(-7.25));
    assert_eq!(eval("max(a, b)", e), Some(2.5));
    assert_eq!(eval("abs(b)", e), Some(7.25));
    assert_eq!(eval("ceil(a)", e), Some(3.0));
    assert_eq!(eval("floor(b)", e), Some(-8.0));
    assert_eq!(eval("round(a)", e), Some(3.0), "half away from zero");
    assert_eq!(eval("round(-2.5)", e), Some(-3.0));
    assert_eq!(eval("max(1)", e), Some(1.0));
}

#[test]
fn errors_name_the_position_and_the_expectation() {
    assert_eq!(err_at("1 +").0, 3);
    assert!(
        err_at("1 +").1.contains("end of formula"),
        "{:?}",
        err_at("1 +")
    );
    let (pos, msg) = err_at("a & b");
    assert_eq!((pos, msg.as_str()), (2, "expected &&, found a single &"));
    let (pos, msg) = err_at("sqrt(4)");
    assert_eq!(pos, 0);
    assert!(msg.starts_with("unknown function sqrt"), "{msg}");
    let (pos, msg) = err_at("1 + (a > b)");
    assert_eq!(pos, 4);
    assert_eq!(msg, "expected a number as an operand of +, found a bool");
    let (pos, msg) = err_at("a > b");
    assert_eq!(
        (pos, msg.as_str()),
        (0, "expected the formula to yield a number, found a bool")
    );
    assert_eq!(
        err_at("abs(1, 2)").1,
        "abs takes exactly one argument, got 2"
    );
    assert_eq!(err_at("min()").1, "min takes at least one argument, got 0");
    assert_eq!(err_at("1e400").1, "number 1e400 is out of range");
    assert_eq!(
        err_at("(1").1,
        "expected \")\" closing the parenthesis, found end of formula"
    );
    assert_eq!(err_at("1 2").0, 2);
    assert_eq!(
        err_at("a > 1 ? 1").1,
        "expected \":\" of ?:, found end of formula"
    );
    assert_eq!(
        err_at("1 ? 2 : 3").1,
        "expected a bool as the condition of ?:, found a number"
    );
    assert_eq!(err_at("a == true").0, 5);
    assert_eq!(
        err_at("queue-a é").0,
        8,
        "byte offset of a non-ASCII character"
    );
    assert!(err_at("2x").1.contains("after a number"));
    let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
    assert!(err_at(&deep).1.contains("nested deeper"));
}

#[test]
fn evaluation_errors() {
    let f = Formula::parse("a + 1").unwrap();
    assert!(
        f.evaluate(&env(&[("a", None)]))
            .unwrap_err()
            .0
            .contains("nil")
    );
    assert!(
        f.evaluate(&env(&[]))
            .unwrap_err()
            .0
            .contains("unknown trigger name \"a\"")
    );
    let f = Formula::parse("a / b").unwrap();
    assert!(
        f.evaluate(&env(&[("a", Some(1.0)), ("b", Some(0.0))]))
            .unwrap_err()
            .0
            .contains("not a finite number")
    );
    assert_eq!(
        f.names().iter().cloned().collect::<Vec<_>>(),
        vec!["a".to_owned(), "b".to_owned()]
    );
}

#[test]
fn display_uses_the_fewest_parentheses() {
    for (src, printed) in [
        ("(a + b) * c", "(a + b) * c"),
        ("a + (b * c)", "a + b * c"),
        ("a - (b - c)", "a - (b - c)"),
        ("(a ?? b) + c", "a ?? b + c"),
        ("(-a) ?? b", "(-a) ?? b"),
        ("-(a ?? b)", "-a ?? b"),
        ("(a > 1 ? b : c) + 1", "(a > 1 ? b : c) + 1"),
        ("!(a > b) ? min(a, b) : 0", "!(a > b) ? min(a, b) : 0"),
    ] {
        let e = parse_expr(src).unwrap();
        assert_eq!(e.to_string(), printed, "{src}");
        assert_eq!(parse_expr(printed).unwrap(), e);
    }
}

// ---- proptests ----

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("queue_1".to_owned()),
        Just("_x".to_owned()),
    ]
}

fn literal() -> impl Strategy<Value = f64> {
    prop_oneof![
        (0u32..10_000).prop_map(f64::from),
        (0u32..1_000_000).prop_map(|n| f64::from(n) / 64.0),
        (prop::num::f64::POSITIVE | prop::num::f64::ZERO).prop_filter("finite", |v| v.is_finite()),
    ]
}

fn bool_of(num: BoxedStrategy<Expr>) -> BoxedStrategy<Expr> {
    let cmp = prop_oneof![
        Just(BinOp::Lt),
        Just(BinOp::Le),
        Just(BinOp::Gt),
        Just(BinOp::Ge),
        Just(BinOp::Eq),
        Just(BinOp::Ne),
    ];
    let comparison = (cmp, num.clone(), num)
        .prop_map(|(op, l, r)| Expr::Binary(op, Box::new(l), Box::new(r)))
        .boxed();
    prop_oneof![
        any::<bool>().prop_map(Expr::Bool),
        comparison.clone(),
        comparison.clone().prop_map(|e| Expr::Not(Box::new(e))),
        (
            prop_oneof![Just(BinOp::And), Just(BinOp::Or)],
            comparison.clone(),
            comparison
        )
            .prop_map(|(op, l, r)| Expr::Binary(op, Box::new(l), Box::new(r))),
    ]
    .boxed()
}

/// Well-typed numeric expressions of every construct.
fn num_expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![literal().prop_map(Expr::Num), name().prop_map(Expr::Name)];
    leaf.prop_recursive(5, 48, 4, |inner| {
        let arith = prop_oneof![
            Just(BinOp::Add),
            Just(BinOp::Sub),
            Just(BinOp::Mul),
            Just(BinOp::Div),
            Just(BinOp::Coalesce),
        ];
        let func1 = prop_oneof![
            Just(Func::Abs),
            Just(Func::Ceil),
            Just(Func::Floor),
            Just(Func::Round)
        ];
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Neg(Box::new(e))),
            (arith, inner.clone(), inner.clone()).prop_map(|(op, l, r)| Expr::Binary(
                op,
                Box::new(l),
                Box::new(r)
            )),
            (
                prop_oneof![Just(Func::Min), Just(Func::Max)],
                prop::collection::vec(inner.clone(), 1..4)
            )
                .prop_map(|(f, args)| Expr::Call(f, args)),
            (func1, inner.clone()).prop_map(|(f, a)| Expr::Call(f, vec![a])),
            (bool_of(inner.clone().boxed()), inner.clone(), inner)
                .prop_map(|(c, a, b)| Expr::Cond(Box::new(c), Box::new(a), Box::new(b))),
        ]
    })
}

#[derive(Debug, Clone)]
enum Arith {
    Num(f64),
    Var(usize),
    Neg(Box<Arith>),
    Bin(char, Box<Arith>, Box<Arith>),
    Min(Box<Arith>, Box<Arith>),
    Max(Box<Arith>, Box<Arith>),
    Abs(Box<Arith>),
}

const VARS: [&str; 3] = ["a", "b", "c"];

impl Arith {
    fn source(&self) -> String {
        match self {
            Self::Num(n) => format!("{n}"),
            Self::Var(i) => VARS[*i].to_owned(),
            Self::Neg(a) => format!("-({})", a.source()),
            Self::Bin(op, l, r) => format!("({}) {op} ({})", l.source(), r.source()),
            Self::Min(l, r) => format!("min({}, {})", l.source(), r.source()),
            Self::Max(l, r) => format!("max({}, {})", l.source(), r.source()),
            Self::Abs(a) => format!("abs({})", a.source()),
        }
    }

    fn reference(&self, vars: &[f64; 3]) -> f64 {
        match self {
            Self::Num(n) => *n,
            Self::Var(i) => vars[*i],
            Self::Neg(a) => -a.reference(vars),
            Self::Bin(op, l, r) => {
                let (x, y) = (l.reference(vars), r.reference(vars));
                match op {
                    '+' => x + y,
                    '-' => x - y,
                    '*' => x * y,
                    _ => x / y,
                }
            }
            Self::Min(l, r) => {
                let (x, y) = (l.reference(vars), r.reference(vars));
                if y < x { y } else { x }
            }
            Self::Max(l, r) => {
                let (x, y) = (l.reference(vars), r.reference(vars));
                if y > x { y } else { x }
            }
            Self::Abs(a) => a.reference(vars).abs(),
        }
    }
}

fn arith() -> impl Strategy<Value = Arith> {
    let leaf = prop_oneof![
        (0u32..1000).prop_map(|n| Arith::Num(f64::from(n) / 4.0)),
        (0usize..3).prop_map(Arith::Var),
    ];
    leaf.prop_recursive(6, 64, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|a| Arith::Neg(Box::new(a))),
            (
                prop_oneof![Just('+'), Just('-'), Just('*'), Just('/')],
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, l, r)| Arith::Bin(op, Box::new(l), Box::new(r))),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Arith::Min(Box::new(l), Box::new(r))),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Arith::Max(Box::new(l), Box::new(r))),
            inner.prop_map(|a| Arith::Abs(Box::new(a))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn garbage_never_panics(s in ".{0,80}") {
        let _ = Formula::parse(&s);
    }

    #[test]
    fn operator_soup_never_panics(s in "[ab1.()?:!&|=<>+*/ -]{0,60}") {
        if let Ok(f) = Formula::parse(&s) {
            let _ = f.evaluate(&env(&[("a", Some(1.0)), ("b", None)]));
        }
    }

    #[test]
    fn print_then_parse_is_identity(e in num_expr()) {
        let printed = e.to_string();
        let back = parse_expr(&printed).map_err(|err| TestCaseError::fail(format!("{printed}: {err}")))?;
        prop_assert_eq!(back, e, "{}", printed);
    }

    #[test]
    fn arithmetic_matches_reference(
        a in arith(),
        vars in [-1000i32..1000, -1000i32..1000, -1000i32..1000],
    ) {
        let vars = vars.map(|v| f64::from(v) / 8.0);
        let src = a.source();
        let f = Formula::parse(&src).map_err(|e| TestCaseError::fail(format!("{src}: {e}")))?;
        let values = env(&[("a", Some(vars[0])), ("b", Some(vars[1])), ("c", Some(vars[2]))]);
        let want = a.reference(&vars);
        match f.evaluate(&values) {
            Ok(Some(got)) => prop_assert!(want.is_finite() && got.to_bits() == want.to_bits(), "{src}: {got} vs {want}"),
            Ok(None) => prop_assert!(false, "{src}: nil"),
            Err(_) => prop_assert!(!want.is_finite(), "{src}: error but reference is {want}"),
        }
    }
}
