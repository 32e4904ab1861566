//! Opening the system browser. The sign-in URL is always shown as well, so a person whose
//! browser does not open (SSH, WSL, a locked-down desktop) can copy it.

use std::process::{Command, Stdio};

pub trait Browser: Send + Sync {
    /// Asks a browser to open `url`; an error describes why none could be started.
    fn open(&self, url: &str) -> Result<(), String>;
}

/// The person's browser: `BROWSER` when set (a `:`-separated list of commands, `%s` standing
/// for the URL, as on Linux), otherwise the platform's default handler.
pub struct SystemBrowser;

impl Browser for SystemBrowser {
    fn open(&self, url: &str) -> Result<(), String> {
        match std::env::var("BROWSER")
            .ok()
            .filter(|b| !b.trim().is_empty())
        {
            Some(browsers) => open_with(&browsers, url),
            None => open::that_detached(url).map_err(|e| e.to_string()),
        }
    }
}

fn open_with(browsers: &str, url: &str) -> Result<(), String> {
    let mut failures = Vec::new();
    for candidate in browsers.split(':').filter(|c| !c.trim().is_empty()) {
        let mut words: Vec<String> = candidate.split_whitespace().map(str::to_string).collect();
        if words.iter().any(|w| w.contains("%s")) {
            for word in &mut words {
                *word = word.replace("%s", url);
            }
        } else {
            words.push(url.to_string());
        }
        let Some((program, args)) = words.split_first() else {
            continue;
        };
        match Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .spawn()
        {
            Ok(mut child) => {
                // Reap it whenever it exits; the sign-in does not wait for the browser.
                std::thread::spawn(move || child.wait());
                return Ok(());
            }
            Err(e) => failures.push(format!("{program}: {e}")),
        }
    }
    Err(format!(
        "BROWSER could not be started ({})",
        failures.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_browser_command_is_reported() {
        let error = open_with("kinvex-no-such-browser --flag", "http://127.0.0.1/").unwrap_err();
        assert!(error.contains("kinvex-no-such-browser"), "{error}");
    }

    #[test]
    fn the_url_replaces_percent_s_or_is_appended() {
        let dir = std::env::temp_dir().join(format!("kinvex-browser-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("args");
        let script = dir.join("record.sh");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho \"$@\" > {}\n", out.display()),
        )
        .unwrap();
        #[cfg(unix)]
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        open_with(
            &format!("{} --new-tab %s", script.display()),
            "http://127.0.0.1/x",
        )
        .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !out.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "browser command never ran"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let mut recorded = String::new();
        while recorded.trim().is_empty() {
            recorded = std::fs::read_to_string(&out).unwrap();
        }
        assert_eq!(recorded.trim(), "--new-tab http://127.0.0.1/x");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
