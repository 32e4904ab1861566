//! The person at the browser, for the library's sign-in: each URL the library opens is followed
//! through the stack's pages by the headless user agent, on the test's runtime.

use kinvex_auth::browser::Browser;
use kinvex_devstack::Account;
use kinvex_devstack::user_agent::{Action, UserAgent};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use url::Url;

/// Signing in as `account` on the provider's pages.
pub fn sign_in_as(account: &Account) -> Action {
    Action::SignIn {
        email: account.email.clone(),
        password: account.password.clone(),
    }
}

/// A [`Browser`] that does one [`Action`] on the provider's pages for every URL it opens, and
/// remembers the URLs.
pub struct HeadlessBrowser {
    action: Action,
    opened: Mutex<Vec<String>>,
    /// Where a redirect to the app's private-use scheme goes; `None` means a browser that only
    /// delivers over HTTP.
    handed: Option<HandOver>,
}

/// The way to the test playing the app's deep-link handler. One failed hand-over closes it, so a
/// test waiting for a redirect fails at once instead of waiting for one that cannot come.
#[derive(Clone)]
struct HandOver(Arc<Mutex<Option<UnboundedSender<Url>>>>);

impl HandOver {
    fn sender(&self) -> MutexGuard<'_, Option<UnboundedSender<Url>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn send(&self, redirect: Url) {
        if let Some(sender) = self.sender().as_ref() {
            let _ = sender.send(redirect);
        }
    }

    fn close(&self) {
        self.sender().take();
    }
}

impl HeadlessBrowser {
    /// A browser that delivers the provider's final redirect with a GET, as to the loopback
    /// listener.
    pub fn new(action: Action) -> HeadlessBrowser {
        HeadlessBrowser {
            action,
            opened: Mutex::new(Vec::new()),
            handed: None,
        }
    }

    /// A browser whose final redirect goes to the app's scheme: like the operating system, it
    /// hands each such URL over, here to the returned receiver (the test plays the app's
    /// deep-link handler). A redirect it delivered over HTTP instead, or none at all, closes the
    /// receiver.
    pub fn handing_over(action: Action) -> (HeadlessBrowser, UnboundedReceiver<Url>) {
        let (sender, receiver) = unbounded_channel();
        let browser = HeadlessBrowser {
            handed: Some(HandOver(Arc::new(Mutex::new(Some(sender))))),
            ..HeadlessBrowser::new(action)
        };
        (browser, receiver)
    }

    /// Every URL opened so far, oldest first.
    pub fn opened(&self) -> Vec<String> {
        self.opened
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Browser for HeadlessBrowser {
    fn open(&self, url: &str) -> Result<(), String> {
        self.opened
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(url.to_string());
        let (url, action, handed) = (url.to_string(), self.action.clone(), self.handed.clone());
        tokio::spawn(async move {
            let handoff = UserAgent::new().authorize(&url, &action, true).await;
            // Without a hand-over the outcome shows in what the app's listener received.
            let Some(handed) = handed else { return };
            match handoff {
                Ok(handoff) if handoff.delivered.is_none() => handed.send(handoff.redirect),
                Ok(handoff) => {
                    handed.close();
                    panic!(
                        "{} was delivered over HTTP, not handed over",
                        handoff.redirect
                    );
                }
                Err(e) => {
                    handed.close();
                    panic!("the user agent did not reach the app's redirect: {e}");
                }
            }
        });
        Ok(())
    }
}
