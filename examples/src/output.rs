//! Rendering results: tables for people, JSON and YAML for machines.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cli::OutputFormat;

/// Writes text to standard output. A reader that went away (`ksx … | head`) ends the process quietly with
/// success, as a SIGPIPE would; any other write failure ends it with the usage/input exit code 2 after saying why.
pub(crate) fn write_stdout(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            #[allow(
                clippy::print_stderr,
                reason = "standard output failed; standard error is all that is left"
            )]
            {
                eprintln!("error: cannot write to standard output: {e}");
            }
            std::process::exit(2);
        }
    }
}

/// `println!` for results: goes through [`write_stdout`], so a closed pipe never panics. Declared before
/// the other modules of the binary (`#[macro_use] mod output;`), so every module can use it.
macro_rules! outln {
    () => {
        $crate::output::write_stdout("\n")
    };
    ($($arg:tt)*) => {
        $crate::output::write_stdout(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for results: goes through [`write_stdout`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(&format!($($arg)*))
    };
}

/// Prints a serializable value as JSON or YAML on standard output.
pub(crate) fn print_structured<T: Serialize>(
    format: OutputFormat,
    value: &T,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json | OutputFormat::Table => {
            outln!("{}", serde_json::to_string_pretty(value)?);
        }
        OutputFormat::Yaml => out!("{}", serde_yaml::to_string(value)?),
    }
    Ok(())
}

/// A plain-text table with left-aligned columns; numeric-looking cells align right.
#[derive(Debug, Default)]
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub(crate) fn new<I: IntoIterator<Item = S>, S: Into<String>>(header: I) -> Self {
        Self {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub(crate) fn row<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, cells: I) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// Renders the table.
    pub(crate) fn render(&self) -> String {
        let cols = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(cols) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String], is_header: bool| {
            let mut parts = Vec::with_capacity(cols);
            for (i, width) in widths.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                let numeric = !is_header && looks_numeric(cell);
                parts.push(if numeric {
                    format!("{cell:>width$}")
                } else {
                    format!("{cell:<width$}")
                });
            }
            let _ = writeln!(out, "{}", parts.join("  ").trim_end());
        };
        line(&mut out, &self.header, true);
        for row in &self.rows {
            line(&mut out, row, false);
        }
        out
    }
}

fn looks_numeric(cell: &str) -> bool {
    !cell.is_empty()
        && cell.chars().all(|c| {
            c.is_ascii_digit() || matches!(c, '.' | '%' | '-' | '/' | 'm' | 'i' | 'G' | 'M' | 'K')
        })
        && cell
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '-')
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Version {
    ksx: &'static str,
    kubernetes_api: &'static str,
    k8s_openapi: &'static str,
}

/// `ksx version`.
pub(crate) fn print_version(format: OutputFormat) -> anyhow::Result<()> {
    let v = Version {
        ksx: env!("CARGO_PKG_VERSION"),
        kubernetes_api: "1.33",
        k8s_openapi: "0.29",
    };
    match format {
        OutputFormat::Table => outln!(
            "ksx {} (Kubernetes API {}, k8s-openapi {})",
            v.ksx,
            v.kubernetes_api,
            v.k8s_openapi
        ),
        _ => print_structured(format, &v)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_numbers_right() {
        let mut t = Table::new(["POOL", "NODES"]);
        t.row(["general", "30"]);
        t.row(["gpu", "8"]);
        assert_eq!(
            t.render(),
            "POOL     NODES\ngeneral     30\ngpu          8\n"
        );
    }
}
