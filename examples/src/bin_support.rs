//! Start-up and output helpers shared by the example controller binaries (`hpa-controller`, `vpa-controller`,
//! `event-scaler`). Each includes this file with `#[path]`: a binary cannot use the `ksx` binary's modules.

use std::future::Future;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

/// Parses `15s`, `2m`, `1h`, `500ms` or a plain number of seconds; the result must be at least `min` and at most
/// a year.
pub(crate) fn parse_duration(text: &str, min: Duration) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: expected a number and s, m, h or ms"))?;
    let secs = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("invalid duration unit {other:?} in {text:?}")),
    };
    let d =
        Duration::try_from_secs_f64(secs).map_err(|e| format!("invalid duration {text:?}: {e}"))?;
    if d.is_zero() || d < min || d > Duration::from_secs(366 * 24 * 3600) {
        return Err(format!(
            "duration {text:?} must be at least {min:?} and at most a year"
        ));
    }
    Ok(d)
}

/// Sets up logging on standard error (`KSX_LOG`, default `warn`), runs `main` on a multi-thread runtime and turns
/// its error into an exit code: `code_of` picks it (2 for bad input by convention).
pub(crate) fn run_main(
    main: impl Future<Output = anyhow::Result<()>>,
    code_of: impl Fn(&anyhow::Error) -> u8,
) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KSX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return report_error(&anyhow::Error::new(e), 1),
    };
    match runtime.block_on(main) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = code_of(&e);
            report_error(&e, code)
        }
    }
}

/// Prints the error with its cause chain: the one place where errors reach the user.
fn report_error(e: &anyhow::Error, code: u8) -> ExitCode {
    #[allow(
        clippy::print_stderr,
        reason = "the single place where errors reach the user"
    )]
    {
        eprintln!("error: {e}");
        for cause in e.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
    }
    ExitCode::from(code)
}

/// Writes to standard output; a reader that went away ends the process quietly (exit 0), any other write error
/// ends it with exit 1.
pub(crate) fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            #[allow(clippy::print_stderr, reason = "standard output failed")]
            {
                eprintln!("error: cannot write to standard output: {e}");
            }
            std::process::exit(1);
        }
    }
}
