//! `kinvex whoami`: the person's profile from the backend, merged with their sign-in, and what
//! the access token lets them do in the organisation signed in to.

use super::watch::{Watch, separator};
use super::{Io, write_json};
use crate::cli::WhoamiArgs;
use crate::error::CliError;
use crate::escape;
use crate::exit::Exit;
use crate::human::date;
use kinvex_auth::{Access, Auth, AuthError};
use kinvex_convex::Client;
use kinvex_convex::data::{Profile, profile, profile_of};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::Arc;

pub async fn run(auth: &Arc<Auth>, args: &WhoamiArgs, io: &mut Io<'_>) -> Result<Exit, CliError> {
    if args.watch {
        return watch(auth, args, io, super::interrupted()).await;
    }
    let client = Client::for_auth(auth)?;
    let me = profile(&client, auth).await?;
    let access = access(auth, io.err).await?;
    if args.json {
        write_json(io.out, &to_json(&me, access.as_ref()))?;
    } else {
        text(io.out, &me, access.as_ref())?;
    }
    Ok(Exit::Success)
}

/// The access token's claims; an access token that fails its checks is reported and left
/// out, since the profile is still worth showing.
async fn access(auth: &Auth, err: &mut dyn Write) -> Result<Option<Access>, CliError> {
    match auth.access().await {
        Ok(access) => Ok(Some(access)),
        Err(e @ AuthError::AccessToken(_)) => {
            writeln!(err, "{}", escape::line(&e.to_string()))?;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// `whoami --watch`: the profile each time it changes (a `user.updated` webhook, say), until
/// `stop`. With `--json`, one profile object a line.
async fn watch(
    auth: &Arc<Auth>,
    args: &WhoamiArgs,
    io: &mut Io<'_>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<Exit, CliError> {
    let mut watch = Watch::start(auth, "users:current", json!({}), stop).await?;
    let clock = auth.clock();
    let mut stored = false;
    while let Some(record) = watch.next(io.err).await? {
        // No record yet (the webhook has not arrived): create it from the token, once, as the
        // plain `whoami` does; the subscription then shows it.
        if record.is_null() && !std::mem::replace(&mut stored, true) {
            watch.live().mutation("users:store", json!({})).await?;
            continue;
        }
        let me = profile_of(&record, auth.identity().await?);
        let access = access(auth, io.err).await?;
        if args.json {
            let line = to_json(&me, access.as_ref()).to_string();
            writeln!(io.out, "{}", escape::json(&line))?;
        } else {
            writeln!(io.out, "{}", separator(clock.unix_ms() as i64))?;
            text(io.out, &me, access.as_ref())?;
        }
        io.out.flush()?;
    }
    Ok(Exit::Success)
}

fn text(out: &mut dyn Write, me: &Profile, access: Option<&Access>) -> std::io::Result<()> {
    writeln!(
        out,
        "{}",
        escape::line(me.name.as_deref().unwrap_or("(no name)"))
    )?;
    let rows = [
        ("Email", me.email.clone()),
        ("Phone", me.phone.clone()),
        ("Kinde id", Some(me.kinde_id.clone())),
        ("Organization", me.organization.clone()),
        ("Member since", me.member_since.map(date)),
    ];
    for (label, value) in rows {
        if let Some(value) = value {
            writeln!(out, "  {label:<13}{}", escape::line(&value))?;
        }
    }
    if let Some(access) = access {
        access_text(out, access)?;
    }
    Ok(())
}

/// The Access section: the organisation, roles, permissions, and each flag with its value as
/// JSON (so `"on"` and `true` differ).
fn access_text(out: &mut dyn Write, access: &Access) -> std::io::Result<()> {
    writeln!(out, "Access")?;
    let organization = match (&access.org_name, &access.org_code) {
        (Some(name), Some(code)) => Some(format!("{name} ({code})")),
        (name, code) => name.clone().or_else(|| code.clone()),
    };
    let roles: Vec<String> = access
        .roles
        .iter()
        .map(|r| match r.name.as_str() {
            "" => r.key.clone(),
            name => format!("{name} ({})", r.key),
        })
        .collect();
    let none = || "(none)".to_string();
    let list = |items: &[String]| {
        if items.is_empty() {
            none()
        } else {
            items.join(", ")
        }
    };
    let rows = [
        ("Organization", organization.unwrap_or_else(none)),
        ("Roles", list(&roles)),
        ("Permissions", list(&access.permissions)),
    ];
    for (label, value) in rows {
        writeln!(out, "  {label:<13}{}", escape::line(&value))?;
    }
    if access.feature_flags.is_empty() {
        writeln!(out, "  {:<13}{}", "Flags", none())?;
    }
    for (i, (key, value)) in access.feature_flags.iter().enumerate() {
        let label = if i == 0 { "Flags" } else { "" };
        let value = serde_json::to_string(value).unwrap_or_default();
        writeln!(
            out,
            "  {label:<13}{}",
            escape::line(&format!("{key} = {value}"))
        )?;
    }
    Ok(())
}

/// `whoami --json`: every key always there, null when unknown; `member_since` in milliseconds
/// since the epoch; `access` the access token's claims, each flag as its plain value.
fn to_json(me: &Profile, access: Option<&Access>) -> Value {
    json!({
        "kinde_id": me.kinde_id,
        "name": me.name,
        "given_name": me.given_name,
        "family_name": me.family_name,
        "email": me.email,
        "phone": me.phone,
        "picture_url": me.picture_url,
        "organization": me.organization,
        "member_since": me.member_since,
        "access": access.map(|a| json!({
            "org_code": a.org_code,
            "org_name": a.org_name,
            "roles": a.roles,
            "permissions": a.permissions,
            "feature_flags": a.feature_flags,
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dana() -> Profile {
        Profile {
            kinde_id: "kp_dana".into(),
            name: Some("Dana Demo".into()),
            given_name: Some("Dana".into()),
            family_name: Some("Demo".into()),
            email: Some("demo@kinvex.dev".into()),
            phone: Some("+44 7700 900123".into()),
            picture_url: None,
            organization: Some("org_1".into()),
            member_since: Some(1_709_251_200_000.0),
        }
    }

    fn shown(me: &Profile) -> String {
        shown_with(me, None)
    }

    fn shown_with(me: &Profile, access: Option<&Access>) -> String {
        let mut out = Vec::new();
        text(&mut out, me, access).expect("written");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn the_profile_as_text() {
        assert_eq!(
            shown(&dana()),
            "Dana Demo\n  Email        demo@kinvex.dev\n  Phone        +44 7700 900123\n  Kinde id     kp_dana\n  Organization org_1\n  Member since 2024-03-01\n"
        );
        let unknown = Profile {
            kinde_id: "kp_x".into(),
            ..Profile::default()
        };
        assert_eq!(shown(&unknown), "(no name)\n  Kinde id     kp_x\n");
    }

    #[test]
    fn the_profile_as_json() {
        assert_eq!(
            to_json(&dana(), None),
            json!({
                "kinde_id": "kp_dana",
                "name": "Dana Demo",
                "given_name": "Dana",
                "family_name": "Demo",
                "email": "demo@kinvex.dev",
                "phone": "+44 7700 900123",
                "picture_url": null,
                "organization": "org_1",
                "member_since": 1_709_251_200_000.0,
                "access": null,
            })
        );
        assert_eq!(
            to_json(&dana(), Some(&northwind()))["access"],
            json!({
                "org_code": "org_1",
                "org_name": "Northwind Studio",
                "roles": [{ "id": "r1", "key": "admin", "name": "Admin" }],
                "permissions": ["read:files", "write:files"],
                "feature_flags": { "beta": true, "retention": { "days": 30 }, "theme": "dark" },
            })
        );
    }

    fn northwind() -> Access {
        use kinvex_auth::{FlagValue, Role};
        Access {
            org_code: Some("org_1".into()),
            org_name: Some("Northwind Studio".into()),
            permissions: vec!["read:files".into(), "write:files".into()],
            roles: vec![Role {
                id: "r1".into(),
                key: "admin".into(),
                name: "Admin".into(),
            }],
            feature_flags: [
                ("beta".to_string(), FlagValue::Bool(true)),
                ("theme".to_string(), FlagValue::String("dark".into())),
                (
                    "retention".to_string(),
                    FlagValue::Json(json!({ "days": 30 })),
                ),
            ]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn the_access_section() {
        let shown = shown_with(&dana(), Some(&northwind()));
        assert!(
            shown.ends_with(
                "Access\n  Organization Northwind Studio (org_1)\n  Roles        Admin (admin)\n  Permissions  read:files, write:files\n  Flags        beta = true\n               retention = {\"days\":30}\n               theme = \"dark\"\n"
            ),
            "{shown}"
        );
        let nothing = shown_with(&dana(), Some(&Access::default()));
        assert!(
            nothing.ends_with(
                "Access\n  Organization (none)\n  Roles        (none)\n  Permissions  (none)\n  Flags        (none)\n"
            ),
            "{nothing}"
        );
        let hostile = Access {
            org_name: Some("Evil\n  Roles        Owner".into()),
            ..Access::default()
        };
        assert_eq!(shown_with(&dana(), Some(&hostile)).lines().count(), 6 + 5);
    }

    #[test]
    fn the_backends_text_cannot_fake_lines() {
        let hostile = Profile {
            name: Some("Dana\n  Email        root@example.com".into()),
            phone: Some("\u{1b}[2J\u{1b}[H".into()),
            ..dana()
        };
        let out = shown(&hostile);
        assert_eq!(out.lines().count(), 6, "{out}");
        assert!(
            out.starts_with("Dana\\n  Email        root@example.com\n"),
            "{out}"
        );
        assert!(out.contains("  Phone        \\x1b[2J\\x1b[H\n"), "{out}");
    }
}
