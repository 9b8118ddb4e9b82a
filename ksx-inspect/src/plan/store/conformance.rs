//! The check every [`ResultStore`] passes: run on the file store and on PostgreSQL in
//! `tests/plan_store.rs`.

use jiff::Timestamp;

use super::ResultStore;
use crate::model::{Report, Run, Summary, Tool};
use crate::plan::result::{
    InspectResult, RESULT_API_VERSION, RESULT_KIND, ResultStatus, result_id,
};

/// A small result of `plan` started at `unix_secs`, told apart by `score`.
pub fn sample_result(
    plan: &str,
    unix_secs: i64,
    status: ResultStatus,
    score: u64,
) -> InspectResult {
    let started = Timestamp::from_second(unix_secs).unwrap_or(Timestamp::UNIX_EPOCH);
    let id = result_id(plan, started);
    let started_at = started.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let report = Report {
        api_version: "inspect.ksx.io/v1".to_owned(),
        kind: "InspectReport".to_owned(),
        tool: Tool {
            name: "ksx".to_owned(),
            version: "0.1.0".to_owned(),
        },
        run: Run {
            id: id.clone(),
            plan: Some(plan.to_owned()),
            started_at: started_at.clone(),
            finished_at: started_at.clone(),
            duration_ms: 0,
            mode: "manifests".to_owned(),
            kube_version: "1.33".to_owned(),
            fail_on: crate::Severity::Danger,
            inputs: vec!["deploy/".to_owned()],
            rules_digest: "sha256:00".to_owned(),
            status: status.as_str().to_owned(),
        },
        summary: Summary {
            score,
            ..Summary::default()
        },
        findings: Vec::new(),
        checks: Vec::new(),
        errors: Vec::new(),
    };
    InspectResult {
        api_version: RESULT_API_VERSION.to_owned(),
        kind: RESULT_KIND.to_owned(),
        id,
        plan: plan.to_owned(),
        status,
        started_at,
        report,
        inventory: Vec::new(),
    }
}

/// Checks put, get, replace, list order, plans, delete, id validation, retention and `latest_two` on `store`,
/// using only plan `plan` (pick one no other user of the store has). Leaves no result of `plan` behind when it
/// passes.
///
/// # Errors
/// Every expectation that failed, one per line.
pub async fn check_result_store(store: &dyn ResultStore, plan: &str) -> Result<(), String> {
    let mut failures = Vec::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            failures.push(what);
        }
    };
    // 2026-01-01T00:00:00Z and one hour steps.
    const T0: i64 = 1_767_225_600;
    let at = |h: i64, status: ResultStatus| {
        sample_result(plan, T0 + h * 3600, status, 50 + h.unsigned_abs())
    };

    let missing = result_id(
        plan,
        Timestamp::from_second(T0).unwrap_or(Timestamp::UNIX_EPOCH),
    );
    let r = store.get(&missing).await;
    expect(matches!(r, Ok(None)), format!("get of a missing id: {r:?}"));
    let r = store.delete(&missing).await;
    expect(
        matches!(r, Ok(false)),
        format!("delete of a missing id: {r:?}"),
    );
    let r = store.list(plan).await;
    expect(
        matches!(&r, Ok(v) if v.is_empty()),
        format!("list of an empty plan: {r:?}"),
    );
    for bad in [
        "../etc/passwd",
        "x",
        "Plan-20260101T000000Z",
        "p-2026010100000Z",
    ] {
        let r = store.get(bad).await;
        expect(r.is_err(), format!("get of malformed id {bad:?}: {r:?}"));
    }
    let mut wrong = at(0, ResultStatus::Succeeded);
    wrong.plan = format!("{plan}-other");
    let r = store.put(&wrong).await;
    expect(
        r.is_err(),
        format!("put with a plan not matching the id: {r:?}"),
    );

    // Out of order: list must still come back oldest first.
    for h in [2, 0, 1] {
        let r = store.put(&at(h, ResultStatus::Succeeded)).await;
        expect(r.is_ok(), format!("put hour {h}: {r:?}"));
    }
    let r = store.get(&at(1, ResultStatus::Succeeded).id).await;
    expect(
        matches!(&r, Ok(Some(x)) if *x == at(1, ResultStatus::Succeeded)),
        format!("get after put: {r:?}"),
    );
    // Replace hour 1 with a failed run.
    let r = store.put(&at(1, ResultStatus::Failed)).await;
    expect(r.is_ok(), format!("replace: {r:?}"));
    let r = store.get(&at(1, ResultStatus::Failed).id).await;
    expect(
        matches!(&r, Ok(Some(x)) if x.status == ResultStatus::Failed),
        format!("get after replace: {r:?}"),
    );
    let r = store.list(plan).await;
    let ids = |r: &Result<Vec<crate::plan::result::ResultEntry>, _>| -> Vec<String> {
        r.as_ref()
            .map(|v| v.iter().map(|e| e.id.clone()).collect())
            .unwrap_or_default()
    };
    let want: Vec<String> = [0, 1, 2]
        .iter()
        .map(|h| at(*h, ResultStatus::Succeeded).id)
        .collect();
    expect(
        ids(&r) == want,
        format!("list order: {:?}, expected {want:?}", ids(&r)),
    );
    expect(
        matches!(&r, Ok(v) if v.get(1).is_some_and(|e| e.status == ResultStatus::Failed && e.score == 51)),
        format!("list entry of the replaced result: {r:?}"),
    );
    let r = store.plans().await;
    expect(
        matches!(&r, Ok(p) if p.iter().any(|x| x == plan)),
        format!("plans lists {plan}: {r:?}"),
    );

    // latest_two: hours 1 (old) and 2 (new).
    let r = store.latest_two(plan).await;
    expect(
        matches!(&r, Ok((o, n)) if o.id == want[1] && n.id == want[2]),
        format!("latest_two: {:?}", r.as_ref().map(|(o, n)| (&o.id, &n.id))),
    );

    // Retention. Now stored: 0 ok, 1 failed, 2 ok. Add 3 ok, 4 failed, 5 timedOut, 6 partial.
    for (h, s) in [
        (3, ResultStatus::Succeeded),
        (4, ResultStatus::Failed),
        (5, ResultStatus::TimedOut),
        (6, ResultStatus::Partial),
    ] {
        let r = store.put(&at(h, s)).await;
        expect(r.is_ok(), format!("put hour {h}: {r:?}"));
    }
    // Successes (0, 2, 3, 6) limited to 2 → delete 0 and 2; failures (1, 4, 5) limited to 1 → delete 1 and 4.
    let r = store.apply_retention(plan, 2, 1).await;
    let mut want_deleted: Vec<String> = [0, 1, 2, 4]
        .iter()
        .map(|h| at(*h, ResultStatus::Succeeded).id)
        .collect();
    want_deleted.sort();
    expect(
        matches!(&r, Ok(d) if *d == want_deleted),
        format!("retention deleted {r:?}, expected {want_deleted:?}"),
    );
    let r = store.list(plan).await;
    let want_left: Vec<String> = [3, 5, 6]
        .iter()
        .map(|h| at(*h, ResultStatus::Succeeded).id)
        .collect();
    expect(
        ids(&r) == want_left,
        format!(
            "left after retention: {:?}, expected {want_left:?}",
            ids(&r)
        ),
    );
    let r = store.get(&want_deleted[0]).await;
    expect(
        matches!(r, Ok(None)),
        format!("get of a deleted result: {r:?}"),
    );
    // 0 = unlimited: nothing more goes.
    let r = store.apply_retention(plan, 0, 0).await;
    expect(
        matches!(&r, Ok(d) if d.is_empty()),
        format!("retention with no limits: {r:?}"),
    );

    for id in &want_left {
        let r = store.delete(id).await;
        expect(matches!(r, Ok(true)), format!("delete {id}: {r:?}"));
    }
    let r = store.list(plan).await;
    expect(
        matches!(&r, Ok(v) if v.is_empty()),
        format!("list after deleting everything: {r:?}"),
    );
    let r = store.latest_two(plan).await;
    expect(
        r.is_err(),
        "latest_two of an empty plan is an error".to_owned(),
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}
