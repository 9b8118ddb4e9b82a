//! Replays the Kubernetes quantity cases in `tests/data/quantity_cases.txt` against `ksx_core::quantity`.

use ksx_core::Error;
use ksx_core::quantity::Quantity;

const CASES: &str = include_str!("data/quantity_cases.txt");

/// What one line of the table expects.
enum Expected<'a> {
    /// The canonical text, the milli value and, when given, the format name.
    Parsed {
        canonical: &'a str,
        milli: i64,
        format: Option<&'a str>,
    },
    /// A refusal whose reason contains the fragment (empty: any reason).
    Refused { fragment: &'a str },
}

/// Splits a table line into its input and expectation.
fn read_case(line: &str) -> Result<(&str, Expected<'_>), String> {
    let fields: Vec<&str> = line.split('\t').collect();
    match fields.as_slice() {
        [input, "error"] => Ok((input, Expected::Refused { fragment: "" })),
        [input, "error", fragment] => Ok((input, Expected::Refused { fragment })),
        [input, canonical, milli, rest @ ..] if rest.len() <= 1 => {
            let milli = match *milli {
                "max" => i64::MAX,
                "min" => i64::MIN,
                n => n
                    .parse()
                    .map_err(|e| format!("bad milli_value {n:?}: {e}"))?,
            };
            let format = rest.first().copied();
            Ok((
                input,
                Expected::Parsed {
                    canonical,
                    milli,
                    format,
                },
            ))
        }
        _ => Err(format!(
            "expected 3 or 4 fields, or `input<TAB>error`, got {}",
            fields.len()
        )),
    }
}

/// Checks one case; `Err` says what differed.
fn run_case(input: &str, expected: &Expected<'_>) -> Result<(), String> {
    match (Quantity::parse(input), expected) {
        (
            Ok(q),
            Expected::Parsed {
                canonical,
                milli,
                format,
            },
        ) => {
            let mut problems = Vec::new();
            if q.to_string() != *canonical {
                problems.push(format!("prints {q}, expected {canonical}"));
            }
            if q.milli_value() != *milli {
                problems.push(format!("milli_value {}, expected {milli}", q.milli_value()));
            }
            if let Some(format) = format
                && q.format().to_string() != *format
            {
                problems.push(format!("format {}, expected {format}", q.format()));
            }
            // The canonical text must read back to the same value and print the same.
            match Quantity::parse(canonical) {
                Ok(back) if back == q && back.to_string() == *canonical => {}
                Ok(back) => problems.push(format!("canonical text reads back as {back:?}")),
                Err(e) => problems.push(format!("canonical text does not parse: {e}")),
            }
            if problems.is_empty() {
                Ok(())
            } else {
                Err(problems.join("; "))
            }
        }
        (Ok(q), Expected::Refused { .. }) => Err(format!("parsed as {q:?}, expected a refusal")),
        (Err(e), Expected::Parsed { .. }) => Err(format!("refused: {e}")),
        (Err(Error::InvalidQuantity { value, reason }), Expected::Refused { fragment }) => {
            if value != input {
                Err(format!("error names {value:?}"))
            } else if !reason.contains(fragment) {
                Err(format!("reason lacks {fragment:?}: {reason}"))
            } else {
                Ok(())
            }
        }
        (Err(e), Expected::Refused { .. }) => Err(format!("unexpected error kind: {e}")),
    }
}

#[test]
fn quantity_cases_match_kubernetes() {
    let mut failures = Vec::new();
    let mut count = 0;
    for (index, line) in CASES.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        count += 1;
        let outcome = read_case(line).and_then(|(input, expected)| run_case(input, &expected));
        if let Err(problem) = outcome {
            failures.push(format!("line {}: {line:?}: {problem}", index + 1));
        }
    }
    assert!(count >= 60, "only {count} cases in the table");
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
