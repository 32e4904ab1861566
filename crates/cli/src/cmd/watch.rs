//! `--watch` for `files` and `whoami`: a live query on the session's live connection
//! (`kinvex_convex::live`), each new result handed to the command, the connection's troubles
//! told on standard error, until Ctrl+C (exit 0) or a failure that cannot pass by itself
//! (exit 1 with the error): a function error, or a pause that only signing in ends.

use crate::error::CliError;
use crate::escape;
use kinvex_auth::Auth;
use kinvex_convex::ConvexError;
use kinvex_convex::live::{Connection, Live, Subscription};
use serde_json::Value;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;

pub struct Watch {
    live: Live,
    results: Subscription,
    connection: tokio::sync::watch::Receiver<Connection>,
    stop: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// The connection was live, then was not: say so when it is again.
    troubled: bool,
}

impl Watch {
    /// Subscribes to `path(args)` as the signed-in person, until `stop`.
    pub async fn start(
        auth: &Arc<Auth>,
        path: &str,
        args: Value,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Watch, CliError> {
        let url = auth
            .config
            .convex_url
            .clone()
            .ok_or(ConvexError::NotConfigured)?;
        let live = Live::connect(auth.clone(), &url);
        let results = live.subscribe(path, args).await?;
        Ok(Watch {
            connection: live.connection(),
            live,
            results,
            stop: Box::pin(stop),
            troubled: false,
        })
    }

    pub fn live(&self) -> &Live {
        &self.live
    }

    /// The next result; `None` once stopped. On an error the connection is closed first.
    pub async fn next(&mut self, err: &mut dyn Write) -> Result<Option<Value>, CliError> {
        let next = self.wait(err).await;
        if !matches!(next, Ok(Some(_))) {
            self.live.close().await;
        }
        next
    }

    async fn wait(&mut self, err: &mut dyn Write) -> Result<Option<Value>, CliError> {
        loop {
            tokio::select! {
                () = &mut self.stop => return Ok(None),
                result = self.results.next() => return match result {
                    Some(Ok(value)) => Ok(Some(value)),
                    Some(Err(e)) => Err(e.into()),
                    None => Err(ConvexError::Closed.into()),
                },
                Ok(()) = self.connection.changed() => {
                    let state = self.connection.borrow_and_update().clone();
                    self.tell(&state, err)?;
                }
            }
        }
    }

    /// Tells the connection's state on `err`; a pause only signing in ends is the error.
    fn tell(&mut self, state: &Connection, err: &mut dyn Write) -> Result<(), CliError> {
        if state.waits_for_sign_in()
            && let Connection::Paused { code, message } = state
        {
            return Err(ConvexError::Paused {
                code: code.clone(),
                message: message.clone(),
            }
            .into());
        }
        match state {
            Connection::Connecting => {}
            Connection::Live => {
                if std::mem::take(&mut self.troubled) {
                    writeln!(err, "Live again.")?;
                }
            }
            Connection::Reconnecting { .. } => {
                self.troubled = true;
                writeln!(err, "Lost the connection to the backend; reconnecting…")?;
            }
            Connection::Offline { since_ms } => {
                self.troubled = true;
                writeln!(
                    err,
                    "Offline since {}; still trying to reconnect. What is shown may be out of date.",
                    clock_time(*since_ms)
                )?;
            }
            Connection::Paused { message, .. } => {
                self.troubled = true;
                writeln!(err, "Live updates are paused: {}", escape::line(message))?;
            }
        }
        Ok(())
    }
}

/// `HH:MM:SS UTC` for milliseconds since the epoch.
pub fn clock_time(ms: i64) -> String {
    let seconds = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02} UTC",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// The line that separates one printed change from the next.
pub fn separator(ms: i64) -> String {
    format!("── {} {} ──", crate::human::date(ms as f64), clock_time(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_in_utc() {
        assert_eq!(clock_time(0), "00:00:00 UTC");
        assert_eq!(clock_time(1_709_251_200_000 + 3_723_000), "01:02:03 UTC");
        assert_eq!(
            separator(1_709_251_200_000),
            "── 2024-03-01 00:00:00 UTC ──"
        );
    }
}
