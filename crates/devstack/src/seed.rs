//! Demo data for an empty store: two accounts (so one person's files can be shown to be
//! invisible to the other) and a spread of files; the tenant's organisations, what each person
//! may do in theirs, and feature flags. Passwords are generated; a persistent stack
//! keeps the demo password beside its keys so it can print it at every start.

use crate::idp::organizations::{ADMIN_PERMISSIONS, ADMIN_ROLE};
use crate::store::Result;
use crate::store::backend::{NewFile, UserFields};
use crate::store::provider::{DEFAULT_ORG, Flag, Organization, User, Write};
use crate::{Account, State, random};
use std::path::Path;

/// A person's place in one organisation.
struct Seat {
    org: &'static str,
    roles: &'static [(&'static str, &'static str)],
    permissions: &'static [&'static str],
}

const MEMBER_ROLE: (&str, &str) = ("member", "Member");

/// The tenant's organisations: the business's default one, which everyone is in, and a
/// customer's.
const ORGANIZATIONS: &[(&str, &str)] = &[(DEMO_ORG, "Northwind Studio"), (DEFAULT_ORG, "Kinvex")];
const DEMO_ORG: &str = "org_kinvex_demo";

/// Feature flags, one of each type Kinde has: the tenant's defaults (no organisation), then
/// Northwind Studio's overrides. Values are JSON.
const FLAGS: &[(Option<&str>, &str, &str, &str)] = &[
    (None, "theme", "s", r#""light""#),
    (None, "beta_search", "b", "false"),
    (None, "max_upload_mb", "i", "100"),
    (None, "retention", "j", r#"{"days":30,"trash":true}"#),
    (Some(DEMO_ORG), "beta_search", "b", "true"),
    (Some(DEMO_ORG), "max_upload_mb", "i", "1024"),
];

struct Person {
    email: &'static str,
    given: &'static str,
    family: &'static str,
    phone: Option<&'static str>,
    /// A picture served by the stack (`/_devstack/pictures/{id}.png`); without one the app
    /// shows initials.
    picture: bool,
    /// Their organisations, the default first, with what they may do in each.
    seats: &'static [Seat],
    files: &'static [(&'static str, &'static str, i64)],
}

const DEMO: Person = Person {
    email: "demo@kinvex.dev",
    given: "Dana",
    family: "Demo",
    phone: Some("+44 7700 900123"),
    picture: true,
    // Two organisations, so a token can show the one signed in to apart from the list of all:
    // an admin in one, a member who may only read in the other.
    seats: &[
        Seat {
            org: DEMO_ORG,
            roles: &[ADMIN_ROLE],
            permissions: ADMIN_PERMISSIONS,
        },
        Seat {
            org: DEFAULT_ORG,
            roles: &[MEMBER_ROLE],
            permissions: &["read:files"],
        },
    ],
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
    picture: false,
    seats: &[Seat {
        org: DEFAULT_ORG,
        roles: &[MEMBER_ROLE],
        permissions: &["read:files", "write:files"],
    }],
    files: &[
        ("Alex private notes.txt", "text/plain", 1_024),
        ("Alex tax return.pdf", "application/pdf", 220_000),
        ("Alex passport scan.png", "image/png", 1_800_000),
    ],
};

/// The organisations and flags, added where missing (a store seeded before they were kept gets
/// them; what an admin changed stays).
fn directory(state: &State) -> Result<()> {
    let provider = state.store.provider();
    let now = state.clock.unix();
    for (code, name) in ORGANIZATIONS {
        let org = Organization {
            code: (*code).into(),
            name: (*name).into(),
        };
        provider.insert_organization(&org, now)?;
    }
    for (org, key, t, value) in FLAGS {
        let flag = serde_json::from_str(value)
            .ok()
            .and_then(|v| Flag::new(t, v));
        if let Some(flag) = flag {
            provider.set_flag(*org, key, &flag, Write::IfAbsent)?;
        }
    }
    Ok(())
}

/// What `person` may do in each of their organisations, where no membership says so yet.
fn seat(state: &State, user_id: &str, person: &Person) -> Result<()> {
    for seat in person.seats {
        let roles: Vec<(String, String)> = seat
            .roles
            .iter()
            .map(|(key, name)| ((*key).into(), (*name).into()))
            .collect();
        let permissions: Vec<String> = seat.permissions.iter().map(|p| (*p).into()).collect();
        state.store.provider().set_membership(
            user_id,
            seat.org,
            &roles,
            &permissions,
            Write::IfAbsent,
        )?;
    }
    Ok(())
}

/// Seeds an empty store and returns the accounts one can sign in with.
pub fn run(state: &State) -> Result<Vec<Account>> {
    if !state.config.seed_demo {
        return Ok(Vec::new());
    }
    let dir = state.config.data_dir.as_deref();
    directory(state)?;
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
        seat(state, &existing.user.id, person)?;
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
    let id = random::kinde_user_id();
    let user = User {
        picture: person
            .picture
            .then(|| crate::pictures::url(&state.issuer, &id)),
        id,
        email: person.email.into(),
        given_name: person.given.into(),
        family_name: person.family.into(),
        phone: person.phone.map(str::to_string),
        organizations: person.seats.iter().map(|s| s.org.to_string()).collect(),
        created_at: now,
        updated_at: now,
    };
    let salt = random::salt();
    provider.create_user(&user, &salt, &random::password_hash(&salt, &password))?;
    seat(state, &user.id, person)?;
    if let Some(file) = password_file {
        write_private(file, &password)?;
    }

    // As if Kinde's user.created webhook had already arrived.
    let fields = UserFields {
        email: user.email.clone(),
        first_name: Some(user.given_name.clone()),
        last_name: Some(user.family_name.clone()),
        picture_url: user.picture.clone(),
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
