//! A change painted in the window: the signed-in app shows the demo person's files; a file is
//! inserted for them on the stack's side (as bench/src/live.rs does), and each round records
//! when the app's Rust live client received the change (the `received_ms` stamp of the
//! `file-page` event, which the page records as `kinvex:update-received`) and when the window
//! had painted it (`kinvex:update-painted`, after the frame showing it). Both are wall-clock
//! times on this machine, as is the write's, so the difference is the window's own share:
//! the event crossing into the web view, the list swapping the page in, and one frame.

use crate::Setup;
use crate::live::insert;
use crate::report::{Goal, Row, Samples};
use crate::scenarios::{cli_login, epoch_ms, mark, settings, stack};
use kinvex_devstack::Running;
use kinvex_e2e::Session;
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime};

type Result<T> = std::result::Result<T, String>;

/// How long one change may take to be painted before the run fails.
const BOUND: Duration = Duration::from_secs(10);
/// The window's share a change may add to its receipt.
const GOAL_MS: f64 = 50.0;

/// Every entry of a User Timing mark, as a page-side expression.
fn marks(name: &str) -> String {
    format!("performance.getEntriesByName('{name}')")
}

/// How many changes the window has painted so far.
fn painted_count() -> String {
    format!("return {}.length;", marks("kinvex:update-painted"))
}

/// Once the window has painted its `n`-th change (from 0): when it was received, handled by
/// the page, rendered and painted (epoch milliseconds), then the rows' text.
fn nth_change(n: usize) -> String {
    let steps = [
        marks("kinvex:update-received"),
        marks("kinvex:update-handled"),
        marks("kinvex:update-rendered"),
        marks("kinvex:update-painted"),
    ];
    format!(
        "const steps = [{}]; \
         return steps.every((s) => s.length > {n}) \
           ? [...steps.map((s) => performance.timeOrigin + s[{n}].startTime), document.getElementById('files-rows').textContent] \
           : null;",
        steps.join(", ")
    )
}

const LIVE: &str =
    "return document.getElementById('connection').dataset.state === 'live' ? true : null;";

/// The value of `script` once it is not null, within `bound`.
async fn poll(session: &Session, script: &str, bound: Duration) -> Result<Value> {
    let deadline = Instant::now() + bound;
    loop {
        let value = session
            .client()
            .execute(script, Vec::new())
            .await
            .map_err(|e| format!("reading the page: {e}"))?;
        if !value.is_null() {
            return Ok(value);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the page never answered `{script}` within {bound:?}"
            ));
        }
        // WebDriver has no event for a page value appearing: poll, bounded by `deadline`.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn change_painted(setup: &Setup) -> Result<Row> {
    let stack = stack(0).await?;
    cli_login(setup, &stack).await?;
    let session = Session::desktop_at(&setup.app, &settings(&stack)).await;
    let measured = rounds(setup, &stack, &session).await;
    session.close().await;
    let Rounds {
        received,
        painted,
        window,
        delivered,
        rendered,
        framed,
    } = measured?;
    Ok(Row {
        what: "A write on the backend → the change painted in the window, against received by the app's live client".into(),
        subject: painted.describe("ms", 1),
        baseline: format!("{} (received by the app's live client)", received.describe("ms", 1)),
        ratio: None,
        value: window.median(),
        goal: Goal::MarginOverBaseline(GOAL_MS, "ms"),
        goal_text: format!("≤ {GOAL_MS:.0} ms more than received"),
        note: String::new(),
        detail: format!(
            "the window's share (painted − received, per round): {}, of which the `file-page` event reaching the page's handler {}, the list swapping the page in and rendering its rows {}, and layout and paint to the end of that frame {}; one launch of the signed-in app showing the person's files, live; each round inserts a file for the person on the stack's side and waits for its paint before the next",
            window.describe("ms", 1),
            delivered.describe("ms", 1),
            rendered.describe("ms", 1),
            framed.describe("ms", 1),
        ),
        failure: None,
    })
}

/// Per measured round, from the write: received, painted, and painted − received.
struct Rounds {
    received: Samples,
    painted: Samples,
    window: Samples,
    /// The window's share in steps: the event reaching the page's handler, the rows put in the
    /// document, and layout and paint up to the frame's end.
    delivered: Samples,
    rendered: Samples,
    framed: Samples,
}

/// A warm-up round (discarded) and `setup.rounds` measured ones, each one inserted file.
async fn rounds(setup: &Setup, stack: &Running, session: &Session) -> Result<Rounds> {
    poll(
        session,
        &mark("kinvex:files-visible"),
        Duration::from_secs(60),
    )
    .await?;
    if let Err(e) = poll(session, LIVE, Duration::from_secs(60)).await {
        let shown = session
            .client()
            .execute(
                "return document.getElementById('connection-text').textContent;",
                Vec::new(),
            )
            .await
            .map_or_else(|e| format!("unreadable: {e}"), |v| v.to_string());
        return Err(format!("{e}; the indicator shows {shown}"));
    }
    let mut out = Rounds {
        received: Samples::default(),
        painted: Samples::default(),
        window: Samples::default(),
        delivered: Samples::default(),
        rendered: Samples::default(),
        framed: Samples::default(),
    };
    for round in 0..=setup.rounds {
        let seen = poll(session, &painted_count(), BOUND)
            .await?
            .as_u64()
            .ok_or("the page's painted count is not a number")? as usize;
        let name = format!("Painted {round:02}.txt");
        let written = epoch_ms(SystemTime::now());
        insert(stack, &name)?;
        let change = poll(session, &nth_change(seen), BOUND).await?;
        let times: Vec<f64> = (0..4).filter_map(|i| change[i].as_f64()).collect();
        let (&[received, handled, rendered, painted], Some(rows)) =
            (times.as_slice(), change[4].as_str())
        else {
            return Err(format!("the page answered {change} for a change"));
        };
        // The change painted is the one written: the newest file comes first.
        if !rows.contains(&name) {
            return Err(format!(
                "the window painted a change without `{name}`: another write got in between"
            ));
        }
        if round > 0 {
            out.received.push(received - written);
            out.painted.push(painted - written);
            out.window.push(painted - received);
            out.delivered.push(handled - received);
            out.rendered.push(rendered - handled);
            out.framed.push(painted - rendered);
        }
    }
    Ok(out)
}
