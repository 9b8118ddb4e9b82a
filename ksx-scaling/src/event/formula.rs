//! The `scalingModifiers.formula` language: the subset of expr-lang that KEDA formulas use, parsed and type
//! checked once into an AST, then evaluated over trigger values.
//!
//! Grammar (expr-lang's precedences, lowest first; binary operators are left-associative):
//!
//! | level | syntax |
//! |---|---|
//! | 0 | `c ? a : b` (right-associative) |
//! | 10 | `\|\|` |
//! | 15 | `&&` |
//! | 20 | `== != < <= > >=` |
//! | 30 | `+ -` |
//! | 50 | unary `!` (its operand stops before any operator below 50) |
//! | 60 | `* /` |
//! | 90 | unary `-` (its operand stops before any operator below 90) |
//! | 500 | `??` (nil coalescing) |
//! | primary | numbers, `true`, `false`, `nil`, trigger names, `f(args…)`, `( … )` |
//!
//! As in expr-lang, `-a ?? b` is `-(a ?? b)` and `a ?? b + c` is `(a ?? b) + c`.
//! - Numbers: decimal digits with optional `_` separators, an optional fraction and exponent (`1_000`, `2.5`,
//!   `1e3`); all values are `f64` and `/` is float division, as expr-lang's for `float64` environments.
//! - Trigger names are identifiers, `[A-Za-z_][A-Za-z0-9_]*`: a trigger named `queue-a` cannot be referenced
//!   (`queue - a` is a subtraction), exactly as in expr-lang. `true`, `false` and `nil` are keywords.
//! - Functions: `min(x, …)`, `max(x, …)` (one or more arguments), `abs`, `ceil`, `floor`, `round` (half away
//!   from zero, Go's `math.Round`).
//! - Types are checked when parsing: arithmetic and comparisons need numbers, `! && ||` and the condition of
//!   `?:` need booleans, both sides of `== != ??` and both branches of `?:` must agree, and the whole formula
//!   must yield a number. A trigger value may be nil (the trigger failed and fallback behavior
//!   `scalingModifiers` is set): `??` replaces it; any other use of nil is an evaluation error, except `==` and
//!   `!=`, which compare it.
//!
//! Errors carry the byte offset in the formula and what was expected there.
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! use ksx_scaling::event::formula::Formula;
//!
//! let f = Formula::parse("queue ?? 0 + min(lag, 100) / 2").expect("a valid formula");
//! // The queue trigger failed (nil): `??` substitutes 0; lag 300 is capped at 100.
//! let values = BTreeMap::from([("queue".to_owned(), None), ("lag".to_owned(), Some(300.0))]);
//! assert_eq!(f.evaluate(&values), Ok(Some(50.0)));
//!
//! let err = Formula::parse("queue > 5").expect_err("a bool is not a number");
//! assert_eq!(err.to_string(), "at byte 0: expected the formula to yield a number, found a bool");
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A parse or type error: where (byte offset into the formula) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {pos}: {message}")]
pub struct FormulaError {
    /// Byte offset of the fault.
    pub pos: usize,
    /// What was expected and what was found.
    pub message: String,
}

/// An evaluation error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `||`
    Or,
    /// `&&`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `??`
    Coalesce,
}

impl BinOp {
    /// expr-lang's precedence.
    pub fn precedence(self) -> u16 {
        match self {
            Self::Or => 10,
            Self::And => 15,
            Self::Eq | Self::Ne | Self::Lt | Self::Le | Self::Gt | Self::Ge => 20,
            Self::Add | Self::Sub => 30,
            Self::Mul | Self::Div => 60,
            Self::Coalesce => 500,
        }
    }

    /// The operator's spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Or => "||",
            Self::And => "&&",
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Coalesce => "??",
        }
    }

    fn from_symbol(s: &str) -> Option<Self> {
        Some(match s {
            "||" => Self::Or,
            "&&" => Self::And,
            "==" => Self::Eq,
            "!=" => Self::Ne,
            "<" => Self::Lt,
            "<=" => Self::Le,
            ">" => Self::Gt,
            ">=" => Self::Ge,
            "+" => Self::Add,
            "-" => Self::Sub,
            "*" => Self::Mul,
            "/" => Self::Div,
            "??" => Self::Coalesce,
            _ => return None,
        })
    }
}

/// A built-in function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    /// `min(x, …)`
    Min,
    /// `max(x, …)`
    Max,
    /// `abs(x)`
    Abs,
    /// `ceil(x)`
    Ceil,
    /// `floor(x)`
    Floor,
    /// `round(x)`, half away from zero.
    Round,
}

impl Func {
    fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "min" => Self::Min,
            "max" => Self::Max,
            "abs" => Self::Abs,
            "ceil" => Self::Ceil,
            "floor" => Self::Floor,
            "round" => Self::Round,
            _ => return None,
        })
    }

    /// The function's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Min => "min",
            Self::Max => "max",
            Self::Abs => "abs",
            Self::Ceil => "ceil",
            Self::Floor => "floor",
            Self::Round => "round",
        }
    }
}

/// The formula's syntax tree (no positions, so that printing and re-parsing compare equal).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number literal (finite, ≥ 0: a minus sign is [`Expr::Neg`]).
    Num(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `nil`.
    Nil,
    /// A trigger name.
    Name(String),
    /// Unary minus.
    Neg(Box<Expr>),
    /// Logical not.
    Not(Box<Expr>),
    /// A binary operation.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `cond ? then : else`.
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    /// A function call.
    Call(Func, Vec<Expr>),
}

const PREC_COND: u16 = 0;
const PREC_NOT: u16 = 50;
const PREC_NEG: u16 = 90;
const PREC_PRIMARY: u16 = u16::MAX;

impl Expr {
    fn precedence(&self) -> u16 {
        match self {
            Self::Cond(..) => PREC_COND,
            Self::Binary(op, ..) => op.precedence(),
            Self::Not(_) => PREC_NOT,
            Self::Neg(_) => PREC_NEG,
            _ => PREC_PRIMARY,
        }
    }

    /// Writes `self`, parenthesized when its precedence is below `min`.
    fn write_at(&self, f: &mut fmt::Formatter<'_>, min: u16) -> fmt::Result {
        let paren = self.precedence() < min;
        if paren {
            f.write_str("(")?;
        }
        match self {
            Self::Num(n) => write!(f, "{n}")?,
            Self::Bool(b) => write!(f, "{b}")?,
            Self::Nil => f.write_str("nil")?,
            Self::Name(n) => f.write_str(n)?,
            Self::Neg(e) => {
                f.write_str("-")?;
                e.write_at(f, PREC_NEG)?;
            }
            Self::Not(e) => {
                f.write_str("!")?;
                e.write_at(f, PREC_NOT)?;
            }
            Self::Binary(op, l, r) => {
                let p = op.precedence();
                l.write_at(f, p)?;
                write!(f, " {} ", op.symbol())?;
                r.write_at(f, p + 1)?;
            }
            Self::Cond(c, a, b) => {
                c.write_at(f, PREC_COND + 1)?;
                f.write_str(" ? ")?;
                a.write_at(f, PREC_COND)?;
                f.write_str(" : ")?;
                b.write_at(f, PREC_COND)?;
            }
            Self::Call(func, args) => {
                write!(f, "{}(", func.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    a.write_at(f, PREC_COND)?;
                }
                f.write_str(")")?;
            }
        }
        if paren {
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl fmt::Display for Expr {
    /// Prints the formula with the fewest parentheses that re-parse to the same tree.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_at(f, PREC_COND)
    }
}

/// A static type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Num,
    Bool,
    Nil,
}

impl Ty {
    fn describe(self) -> &'static str {
        match self {
            Self::Num => "a number",
            Self::Bool => "a bool",
            Self::Nil => "nil",
        }
    }

    /// The common type of two sides that must agree (`== != ??`, `?:` branches); nil agrees with anything.
    fn unify(self, other: Self) -> Option<Self> {
        match (self, other) {
            (a, b) if a == b => Some(a),
            (Self::Nil, b) => Some(b),
            (a, Self::Nil) => Some(a),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Op(&'static str),
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Self::Num(n) => format!("number {n}"),
            Self::Ident(s) => format!("name {s:?}"),
            Self::Op(o) => format!("{o:?}"),
            Self::End => "end of formula".to_owned(),
        }
    }
}

const OPERATORS: [&str; 21] = [
    "||", "&&", "==", "!=", "<=", ">=", "??", "<", ">", "+", "-", "*", "/", "?", ":", "!", "(",
    ")", ",", "|", "&",
];

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, FormulaError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if b.is_ascii_digit() {
            let mut text = String::new();
            let take_digits = |i: &mut usize, text: &mut String| {
                while let Some(&c) = bytes.get(*i) {
                    if c.is_ascii_digit() {
                        text.push(char::from(c));
                    } else if c != b'_' {
                        break;
                    }
                    *i += 1;
                }
            };
            take_digits(&mut i, &mut text);
            if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                text.push('.');
                i += 1;
                take_digits(&mut i, &mut text);
            }
            if matches!(bytes.get(i), Some(b'e' | b'E')) {
                let mut j = i + 1;
                let mut exp = String::from("e");
                if let Some(&s @ (b'+' | b'-')) = bytes.get(j) {
                    exp.push(char::from(s));
                    j += 1;
                }
                if !bytes.get(j).is_some_and(u8::is_ascii_digit) {
                    return Err(FormulaError {
                        pos: j,
                        message: "expected the digits of an exponent".to_owned(),
                    });
                }
                i = j;
                while let Some(&c) = bytes.get(i).filter(|c| c.is_ascii_digit()) {
                    exp.push(char::from(c));
                    i += 1;
                }
                text.push_str(&exp);
            }
            if bytes
                .get(i)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
            {
                return Err(FormulaError {
                    pos: i,
                    message: "expected an operator after a number, found a letter".to_owned(),
                });
            }
            let value: f64 = text.parse().map_err(|_| FormulaError {
                pos: start,
                message: format!("invalid number {text:?}"),
            })?;
            if !value.is_finite() {
                return Err(FormulaError {
                    pos: start,
                    message: format!("number {text} is out of range"),
                });
            }
            out.push((Tok::Num(value), start));
            continue;
        }
        if b.is_ascii_alphabetic() || b == b'_' {
            while bytes
                .get(i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                i += 1;
            }
            let ident = src.get(start..i).unwrap_or_default().to_owned();
            out.push((Tok::Ident(ident), start));
            continue;
        }
        let rest = src.get(i..).unwrap_or_default();
        match OPERATORS.iter().find(|op| rest.starts_with(**op)) {
            Some(&op) if op == "|" || op == "&" => {
                return Err(FormulaError {
                    pos: start,
                    message: format!("expected {op}{op}, found a single {op}"),
                });
            }
            Some(&op) => {
                out.push((Tok::Op(op), start));
                i += op.len();
            }
            None => {
                let c = rest.chars().next().unwrap_or('?');
                return Err(FormulaError {
                    pos: start,
                    message: format!("unexpected character {c:?}"),
                });
            }
        }
    }
    out.push((Tok::End, src.len()));
    Ok(out)
}

/// Deepest nesting the parser accepts (parentheses, unary chains, calls), so garbage cannot exhaust the stack.
const MAX_DEPTH: usize = 128;

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
    depth: usize,
}

type Parsed = (Expr, Ty, usize);

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.at).map_or(&Tok::End, |t| &t.0)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(0, |t| t.1)
    }

    fn peek_binop(&self) -> Option<BinOp> {
        match self.peek() {
            Tok::Op(sym) => BinOp::from_symbol(sym),
            _ => None,
        }
    }

    fn bump(&mut self) {
        self.at += 1;
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, FormulaError> {
        Err(FormulaError {
            pos: self.pos(),
            message: message.into(),
        })
    }

    fn expect_op(&mut self, op: &'static str, what: &str) -> Result<(), FormulaError> {
        if self.peek() == &Tok::Op(op) {
            self.bump();
            Ok(())
        } else {
            let found = self.peek().describe();
            self.error(format!("expected {what}, found {found}"))
        }
    }

    fn enter(&mut self) -> Result<(), FormulaError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.error(format!("formula nested deeper than {MAX_DEPTH} levels"));
        }
        Ok(())
    }

    fn expression(&mut self, min_prec: u16) -> Result<Parsed, FormulaError> {
        self.enter()?;
        let (mut left, mut lty, start) = self.primary()?;
        while let Some(op) = self.peek_binop().filter(|op| op.precedence() >= min_prec) {
            self.bump();
            let (right, rty, rpos) = self.expression(op.precedence() + 1)?;
            lty = check_binary(op, (lty, start), (rty, rpos))?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        if min_prec == PREC_COND {
            while self.peek() == &Tok::Op("?") {
                if lty != Ty::Bool {
                    return Err(FormulaError {
                        pos: start,
                        message: format!(
                            "expected a bool as the condition of ?:, found {}",
                            lty.describe()
                        ),
                    });
                }
                self.bump();
                let (a, aty, _) = self.expression(PREC_COND)?;
                self.expect_op(":", "\":\" of ?:")?;
                let (b, bty, bpos) = self.expression(PREC_COND)?;
                lty = aty.unify(bty).ok_or_else(|| FormulaError {
                    pos: bpos,
                    message: format!(
                        "expected the branches of ?: to agree, found {} and {}",
                        aty.describe(),
                        bty.describe()
                    ),
                })?;
                left = Expr::Cond(Box::new(left), Box::new(a), Box::new(b));
            }
        }
        self.depth -= 1;
        Ok((left, lty, start))
    }

    fn primary(&mut self) -> Result<Parsed, FormulaError> {
        let start = self.pos();
        let tok = self.peek().clone();
        match tok {
            Tok::Op("-") => {
                self.bump();
                let (e, ty, pos) = self.expression(PREC_NEG)?;
                need(ty, Ty::Num, pos, "as the operand of unary -")?;
                Ok((Expr::Neg(Box::new(e)), Ty::Num, start))
            }
            Tok::Op("!") => {
                self.bump();
                let (e, ty, pos) = self.expression(PREC_NOT)?;
                need(ty, Ty::Bool, pos, "as the operand of !")?;
                Ok((Expr::Not(Box::new(e)), Ty::Bool, start))
            }
            Tok::Op("(") => {
                self.bump();
                let (e, ty, _) = self.expression(PREC_COND)?;
                self.expect_op(")", "\")\" closing the parenthesis")?;
                Ok((e, ty, start))
            }
            Tok::Num(n) => {
                self.bump();
                Ok((Expr::Num(n), Ty::Num, start))
            }
            Tok::Ident(name) => {
                self.bump();
                match name.as_str() {
                    "true" => return Ok((Expr::Bool(true), Ty::Bool, start)),
                    "false" => return Ok((Expr::Bool(false), Ty::Bool, start)),
                    "nil" => return Ok((Expr::Nil, Ty::Nil, start)),
                    _ => {}
                }
                if self.peek() != &Tok::Op("(") {
                    return Ok((Expr::Name(name), Ty::Num, start));
                }
                let Some(func) = Func::from_name(&name) else {
                    return Err(FormulaError {
                        pos: start,
                        message: format!(
                            "unknown function {name}, expected one of min, max, abs, ceil, floor, round"
                        ),
                    });
                };
                self.bump();
                let mut args = Vec::new();
                if self.peek() != &Tok::Op(")") {
                    loop {
                        let (a, ty, pos) = self.expression(PREC_COND)?;
                        need(ty, Ty::Num, pos, &format!("as an argument of {name}"))?;
                        args.push(a);
                        if self.peek() == &Tok::Op(",") {
                            self.bump();
                        } else {
                            break;
                        }
                    }
                }
                self.expect_op(")", &format!("\",\" or \")\" in the call of {name}"))?;
                let ok = match func {
                    Func::Min | Func::Max => !args.is_empty(),
                    _ => args.len() == 1,
                };
                if !ok {
                    let want = if matches!(func, Func::Min | Func::Max) {
                        "at least one argument"
                    } else {
                        "exactly one argument"
                    };
                    return Err(FormulaError {
                        pos: start,
                        message: format!("{name} takes {want}, got {}", args.len()),
                    });
                }
                Ok((Expr::Call(func, args), Ty::Num, start))
            }
            other => self.error(format!(
                "expected a number, a trigger name, a function call, \"(\", \"-\" or \"!\", found {}",
                other.describe()
            )),
        }
    }
}

fn need(ty: Ty, want: Ty, pos: usize, role: &str) -> Result<(), FormulaError> {
    if ty == want {
        Ok(())
    } else {
        Err(FormulaError {
            pos,
            message: format!(
                "expected {} {role}, found {}",
                want.describe(),
                ty.describe()
            ),
        })
    }
}

fn check_binary(op: BinOp, l: (Ty, usize), r: (Ty, usize)) -> Result<Ty, FormulaError> {
    let role = format!("as an operand of {}", op.symbol());
    match op {
        BinOp::Or | BinOp::And => {
            need(l.0, Ty::Bool, l.1, &role)?;
            need(r.0, Ty::Bool, r.1, &role)?;
            Ok(Ty::Bool)
        }
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            need(l.0, Ty::Num, l.1, &role)?;
            need(r.0, Ty::Num, r.1, &role)?;
            Ok(Ty::Bool)
        }
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => {
            need(l.0, Ty::Num, l.1, &role)?;
            need(r.0, Ty::Num, r.1, &role)?;
            Ok(Ty::Num)
        }
        BinOp::Eq | BinOp::Ne | BinOp::Coalesce => {
            let ty = l.0.unify(r.0).ok_or_else(|| FormulaError {
                pos: r.1,
                message: format!(
                    "expected both sides of {} to agree, found {} and {}",
                    op.symbol(),
                    l.0.describe(),
                    r.0.describe()
                ),
            })?;
            Ok(if op == BinOp::Coalesce { ty } else { Ty::Bool })
        }
    }
}

/// A parsed and type-checked formula, ready to evaluate many times.
#[derive(Debug, Clone, PartialEq)]
pub struct Formula {
    source: String,
    expr: Expr,
    names: BTreeSet<String>,
}

impl Formula {
    /// Parses and type-checks `source`.
    ///
    /// # Errors
    /// [`FormulaError`] with the byte offset and what was expected: a syntax error, an unknown function, a
    /// wrong argument count, mismatched types, or a formula that does not yield a number.
    pub fn parse(source: &str) -> Result<Self, FormulaError> {
        let expr = parse_expr(source)?;
        let mut names = BTreeSet::new();
        collect_names(&expr, &mut names);
        Ok(Self {
            source: source.to_owned(),
            expr,
            names,
        })
    }

    /// The formula as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The syntax tree.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// The trigger names the formula reads.
    pub fn names(&self) -> &BTreeSet<String> {
        &self.names
    }

    /// Evaluates the formula; `values` maps trigger names to their value, `None` for a failing trigger passed
    /// as nil. `Ok(None)` is a nil result.
    ///
    /// # Errors
    /// [`EvalError`] for a name missing from `values`, nil used in arithmetic or a comparison, or a result that
    /// is not finite (a division by zero).
    pub fn evaluate(
        &self,
        values: &BTreeMap<String, Option<f64>>,
    ) -> Result<Option<f64>, EvalError> {
        match eval(&self.expr, values)? {
            Val::Num(v) if v.is_finite() => Ok(Some(v)),
            Val::Num(v) => Err(EvalError(format!(
                "the formula yields {v}, not a finite number"
            ))),
            Val::Nil => Ok(None),
            Val::Bool(_) => Err(EvalError(
                "the formula yields a bool, not a number".to_owned(),
            )),
        }
    }
}

/// Parses and type-checks one expression that must yield a number.
///
/// # Errors
/// As [`Formula::parse`].
pub fn parse_expr(source: &str) -> Result<Expr, FormulaError> {
    let toks = lex(source)?;
    let mut p = Parser {
        toks,
        at: 0,
        depth: 0,
    };
    let (expr, ty, pos) = p.expression(PREC_COND)?;
    if p.peek() != &Tok::End {
        let found = p.peek().describe();
        return p.error(format!(
            "expected an operator or the end of the formula, found {found}"
        ));
    }
    if ty == Ty::Bool {
        return Err(FormulaError {
            pos,
            message: "expected the formula to yield a number, found a bool".to_owned(),
        });
    }
    Ok(expr)
}

fn collect_names(e: &Expr, out: &mut BTreeSet<String>) {
    match e {
        Expr::Name(n) => {
            out.insert(n.clone());
        }
        Expr::Num(_) | Expr::Bool(_) | Expr::Nil => {}
        Expr::Neg(a) | Expr::Not(a) => collect_names(a, out),
        Expr::Binary(_, a, b) => {
            collect_names(a, out);
            collect_names(b, out);
        }
        Expr::Cond(a, b, c) => {
            collect_names(a, out);
            collect_names(b, out);
            collect_names(c, out);
        }
        Expr::Call(_, args) => args.iter().for_each(|a| collect_names(a, out)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Val {
    Num(f64),
    Bool(bool),
    Nil,
}

fn num(v: Val, what: &str) -> Result<f64, EvalError> {
    match v {
        Val::Num(n) => Ok(n),
        Val::Nil => Err(EvalError(format!(
            "invalid operation: {what} on nil (a trigger has no value; use ??)"
        ))),
        Val::Bool(_) => Err(EvalError(format!("invalid operation: {what} on a bool"))),
    }
}

fn boolean(v: Val, what: &str) -> Result<bool, EvalError> {
    match v {
        Val::Bool(b) => Ok(b),
        _ => Err(EvalError(format!("invalid operation: {what} needs a bool"))),
    }
}

fn eval(e: &Expr, env: &BTreeMap<String, Option<f64>>) -> Result<Val, EvalError> {
    Ok(match e {
        Expr::Num(n) => Val::Num(*n),
        Expr::Bool(b) => Val::Bool(*b),
        Expr::Nil => Val::Nil,
        Expr::Name(n) => match env.get(n) {
            Some(Some(v)) => Val::Num(*v),
            Some(None) => Val::Nil,
            None => return Err(EvalError(format!("unknown trigger name {n:?}"))),
        },
        Expr::Neg(a) => Val::Num(-num(eval(a, env)?, "-")?),
        Expr::Not(a) => Val::Bool(!boolean(eval(a, env)?, "!")?),
        Expr::Binary(op, a, b) => match op {
            BinOp::And => Val::Bool(boolean(eval(a, env)?, "&&")? && boolean(eval(b, env)?, "&&")?),
            BinOp::Or => Val::Bool(boolean(eval(a, env)?, "||")? || boolean(eval(b, env)?, "||")?),
            BinOp::Coalesce => match eval(a, env)? {
                Val::Nil => eval(b, env)?,
                v => v,
            },
            BinOp::Eq => Val::Bool(eval(a, env)? == eval(b, env)?),
            BinOp::Ne => Val::Bool(eval(a, env)? != eval(b, env)?),
            _ => {
                let sym = op.symbol();
                let x = num(eval(a, env)?, sym)?;
                let y = num(eval(b, env)?, sym)?;
                match op {
                    BinOp::Add => Val::Num(x + y),
                    BinOp::Sub => Val::Num(x - y),
                    BinOp::Mul => Val::Num(x * y),
                    BinOp::Div => Val::Num(x / y),
                    BinOp::Lt => Val::Bool(x < y),
                    BinOp::Le => Val::Bool(x <= y),
                    BinOp::Gt => Val::Bool(x > y),
                    _ => Val::Bool(x >= y),
                }
            }
        },
        Expr::Cond(c, a, b) => {
            if boolean(eval(c, env)?, "?:")? {
                eval(a, env)?
            } else {
                eval(b, env)?
            }
        }
        Expr::Call(func, args) => {
            let mut xs = Vec::with_capacity(args.len());
            for a in args {
                xs.push(num(eval(a, env)?, func.name())?);
            }
            let first = xs.first().copied().unwrap_or(f64::NAN);
            Val::Num(match func {
                Func::Min => xs.iter().fold(first, |m, x| if *x < m { *x } else { m }),
                Func::Max => xs.iter().fold(first, |m, x| if *x > m { *x } else { m }),
                Func::Abs => first.abs(),
                Func::Ceil => first.ceil(),
                Func::Floor => first.floor(),
                Func::Round => first.round(),
            })
        }
    })
}
