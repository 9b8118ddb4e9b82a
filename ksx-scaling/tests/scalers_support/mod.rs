//! Helpers shared by the `scalers_*` integration tests: unique names, triggers, building and polling.
#![allow(dead_code, reason = "each test file uses a different subset")]

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ksx_scaling::event::model::ScaleTrigger;
use ksx_scaling::event::scaler::{Reading, Scaler, ScalerError};
use ksx_scaling::event::scalers::{ScalerContext, build};

/// Bound on every network call of the tests.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// Engine time used where a scaler ignores it.
pub(crate) const NOW: i64 = 1_767_225_600_000_000_000;

/// A name no other test run uses: `ksx_<what>_<pid>_<counter>_<random>` (underscores only, valid everywhere).
pub(crate) fn unique(what: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(NEXT.load(Ordering::Relaxed));
    let random = h.finish() & 0xff_ffff;
    format!(
        "ksx_{what}_{}_{}_{random:06x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A trigger of `type_` with `metadata`.
pub(crate) fn trigger(type_: &str, metadata: &[(&str, &str)]) -> ScaleTrigger {
    ScaleTrigger {
        type_: type_.to_owned(),
        metadata: metadata
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        ..ScaleTrigger::default()
    }
}

/// Builds trigger 0, panicking with the error when it does not build.
pub(crate) fn scaler(type_: &str, metadata: &[(&str, &str)]) -> Box<dyn Scaler> {
    build(0, &trigger(type_, metadata), &ScalerContext::default())
        .unwrap_or_else(|e| panic!("{type_} trigger does not build: {e}"))
}

/// The build error of trigger 0.
pub(crate) fn build_error(type_: &str, metadata: &[(&str, &str)]) -> String {
    match build(0, &trigger(type_, metadata), &ScalerContext::default()) {
        Ok(_) => panic!("{type_} trigger built but should not"),
        Err(e) => e.to_string(),
    }
}

/// Polls once.
pub(crate) async fn poll(s: &dyn Scaler) -> Result<Reading, ScalerError> {
    s.poll(NOW, TIMEOUT).await
}

/// Polls once and expects a value.
pub(crate) async fn read(s: &dyn Scaler) -> Reading {
    poll(s).await.unwrap_or_else(|e| panic!("poll failed: {e}"))
}

/// Polls once and expects an error; returns its text.
pub(crate) async fn read_err(s: &dyn Scaler) -> String {
    match poll(s).await {
        Ok(r) => panic!("poll succeeded with {r:?} but should fail"),
        Err(e) => e.to_string(),
    }
}

/// A 127.0.0.1 address nothing listens on.
pub(crate) fn dead_address() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let addr = l.local_addr().expect("local address");
    drop(l);
    addr.to_string()
}

/// Runs `body` (in its own task, so a failed assertion is caught), then `cleanup` in any case, then re-raises
/// the body's panic.
pub(crate) async fn with_cleanup<F, C>(body: F, cleanup: C)
where
    F: Future<Output = ()> + Send + 'static,
    C: Future<Output = ()>,
{
    let result = tokio::spawn(body).await;
    cleanup.await;
    if let Err(e) = result {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test body did not finish: {e}");
    }
}
