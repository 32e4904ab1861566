//! `kinvex whoami`: the person's profile from the backend, merged with their sign-in.

use super::{Io, write_json};
use crate::cli::WhoamiArgs;
use crate::error::CliError;
use crate::escape;
use crate::exit::Exit;
use crate::human::date;
use kinvex_auth::Auth;
use kinvex_convex::Client;
use kinvex_convex::data::{Profile, profile};
use serde_json::{Value, json};
use std::io::Write;

pub async fn run(auth: &Auth, args: &WhoamiArgs, io: &mut Io<'_>) -> Result<Exit, CliError> {
    let client = Client::for_auth(auth)?;
    let me = profile(&client, auth).await?;
    if args.json {
        write_json(io.out, &to_json(&me))?;
    } else {
        text(io.out, &me)?;
    }
    Ok(Exit::Success)
}

fn text(out: &mut dyn Write, me: &Profile) -> std::io::Result<()> {
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
    Ok(())
}

/// `whoami --json`: every key always there, null when unknown; `member_since` in milliseconds
/// since the epoch.
fn to_json(me: &Profile) -> Value {
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
        let mut out = Vec::new();
        text(&mut out, me).expect("written");
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
            to_json(&dana()),
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
            })
        );
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
