//! Demo data for an empty store: two accounts (so one person's files can be shown to be
//! invisible to the other) and a spread of files. Passwords are generated; a persistent stack
//! keeps the demo password beside its keys so it can print it at every start.

use crate::store::Result;
use crate::store::backend::{NewFile, UserFields};
use crate::store::provider::User;
use crate::{Account, State, random};
use std::path::Path;

struct Person {
    email: &'static str,
    given: &'static str,
    family: &'static str,
    phone: Option<&'static str>,
    org: Option<&'static str>,
    files: &'static [(&'static str, &'static str, i64)],
}

const DEMO: Person = Person {
    email: "demo@kinvex.dev",
    given: "Dana",
    family: "Demo",
    phone: Some("+44 7700 900123"),
    org: Some("org_kinvex_demo"),
    files: &[
        ("Quarterly report.pdf", "application/pdf", 482_113),
        ("Team offsite.jpg", "image/jpeg", 2_340_112),
        ("Roadmap.md", "text/markdown", 8_123),
        (
            "Budget 2026.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            91_234,
        ),
        ("Logo.svg", "image/svg+xml", 4_211),
        ("Meeting notes.txt", "text/plain", 2_311),
        ("Product demo.mp4", "video/mp4", 48_221_991),
        (
            "Contract draft.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            120_334,
        ),
        ("Архив проекта.zip", "application/zip", 9_812_331),
        ("<b>not bold</b> & \"quoted\".html", "text/html", 321),
        ("Podcast episode 12.mp3", "audio/mpeg", 31_554_112),
        ("Invoice 0042.pdf", "application/pdf", 75_002),
        ("Empty placeholder", "application/octet-stream", 0),
        ("data-export.json", "application/json", 1_204_883),
    ],
};

const OTHER: Person = Person {
    email: "alex@kinvex.dev",
    given: "Alex",
    family: "Other",
    phone: None,
    org: None,
    files: &[
        ("Alex private notes.txt", "text/plain", 1_024),
        ("Alex tax return.pdf", "application/pdf", 220_000),
        ("Alex passport scan.png", "image/png", 1_800_000),
    ],
};

/// Seeds an empty store and returns the accounts one can sign in with.
pub fn run(state: &State) -> Result<Vec<Account>> {
    if !state.config.seed_demo {
        return Ok(Vec::new());
    }
    let dir = state.config.data_dir.as_deref();
    let demo = ensure(
        state,
        &DEMO,
        dir.map(|d| d.join("demo-password")).as_deref(),
        state.config.extra_demo_files,
    )?;
    let other = ensure(
        state,
        &OTHER,
        dir.map(|d| d.join("other-password")).as_deref(),
        0,
    )?;
    Ok(vec![demo, other])
}

fn ensure(
    state: &State,
    person: &Person,
    password_file: Option<&Path>,
    extra_files: usize,
) -> Result<Account> {
    let provider = state.store.provider();
    let backend = state.store.backend();
    if let Some(existing) = provider.credentials(person.email)? {
        let password = password_file
            .and_then(|f| std::fs::read_to_string(f).ok())
            .map(|p| p.trim().to_string())
            .unwrap_or_default();
        return Ok(Account {
            email: person.email.into(),
            password,
            user_id: existing.user.id,
        });
    }
    let password = random::demo_password();
    let now = state.clock.unix();
    let user = User {
        id: random::kinde_user_id(),
        email: person.email.into(),
        given_name: person.given.into(),
        family_name: person.family.into(),
        phone: person.phone.map(str::to_string),
        picture: None,
        org_code: person.org.map(str::to_string),
        created_at: now,
        updated_at: now,
    };
    let salt = random::salt();
    provider.create_user(&user, &salt, &random::password_hash(&salt, &password))?;
    if let Some(file) = password_file {
        write_private(file, &password)?;
    }

    // As if Kinde's user.created webhook had already arrived.
    let fields = UserFields {
        email: user.email.clone(),
        first_name: Some(user.given_name.clone()),
        last_name: Some(user.family_name.clone()),
        picture_url: None,
        phone: user.phone.clone(),
    };
    let now_ms = state.clock.unix_ms();
    backend.upsert_user(&user.id, &fields, now_ms)?;
    const HOUR_MS: f64 = 3_600_000.0;
    for (i, (name, content_type, size)) in person.files.iter().enumerate() {
        let file = NewFile {
            owner: user.id.clone(),
            name: (*name).into(),
            content_type: (*content_type).into(),
            size: *size,
        };
        backend.insert_file(&file, now_ms - (i as f64 + 1.0) * 31.0 * HOUR_MS)?;
    }
    for i in 0..extra_files {
        let file = NewFile {
            owner: user.id.clone(),
            name: format!("Generated file {:05}.txt", i + 1),
            content_type: "text/plain".into(),
            size: (i as i64 * 7_919) % 5_000_000,
        };
        backend.insert_file(&file, now_ms - 1_000.0 * HOUR_MS - i as f64 * 60_000.0)?;
    }
    Ok(Account {
        email: person.email.into(),
        password,
        user_id: user.id,
    })
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, text.as_bytes())
}
