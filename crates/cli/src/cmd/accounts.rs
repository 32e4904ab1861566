//! `kinvex accounts` and `kinvex switch EMAIL|ID`: the accounts signed in with (every tenant's,
//! the configured tenant's marked), and making another one active from its stored session,
//! with no browser. The CLI uses one tenant at a time (its settings), so a switch to an account
//! on another tenant says which settings to use instead of changing tenant behind the person.

use super::{Io, login, status, write_json};
use crate::cli::{AccountsArgs, SwitchArgs};
use crate::error::CliError;
use crate::escape;
use crate::exit::Exit;
use crate::human::who;
use kinvex_auth::{Account, Auth};
use serde_json::{Value, json};
use std::io::Write;

pub async fn list(auth: &Auth, args: &AccountsArgs, io: &mut Io<'_>) -> Result<Exit, CliError> {
    let accounts = auth.accounts().await?;
    let here: Vec<bool> = accounts.iter().map(|a| auth.is_here(a)).collect();
    if args.json {
        let listed = accounts
            .iter()
            .zip(&here)
            .map(|(account, here)| to_json(account, *here))
            .collect();
        write_json(io.out, &Value::Array(listed))?;
    } else {
        table(io.out, &accounts, &here)?;
        if !accounts.is_empty() && !accounts.iter().zip(&here).any(|(a, h)| a.active && *h) {
            // A hint only: the list is out either way.
            let _ = writeln!(
                io.err,
                "No account is active on {}: make one active with `kinvex switch EMAIL|ID`, or sign in with `kinvex login`.",
                escape::line(auth.config.issuer_str())
            );
        }
    }
    Ok(Exit::Success)
}

pub async fn switch(auth: &Auth, args: &SwitchArgs, io: &mut Io<'_>) -> Result<Exit, CliError> {
    let accounts = auth.accounts().await?;
    let account = find(auth, &accounts, &args.account)?;
    if !auth.is_here(account) {
        return Err(CliError::AccountOnOtherTenant {
            query: args.account.clone(),
            issuer: account.issuer.clone(),
            client_id: account.client_id.clone(),
        });
    }
    let tokens = auth.switch(&account.subject).await?;
    let now = login::session(tokens, auth);
    if args.json {
        write_json(io.out, &status::to_json(auth.config.issuer_str(), &now))?;
    } else if let kinvex_auth::Status::SignedIn {
        subject,
        email,
        name,
        ..
    } = &now
    {
        writeln!(
            io.out,
            "Switched to {}.",
            who(name.as_deref(), email.as_deref(), subject)
        )?;
    }
    Ok(Exit::Success)
}

/// The account `query` names: its id, or its email (ignoring case). One on the configured
/// tenant is preferred; otherwise one on another tenant, if only one matches there.
pub(super) fn find<'a>(
    auth: &Auth,
    accounts: &'a [Account],
    query: &str,
) -> Result<&'a Account, CliError> {
    let matching: Vec<&Account> = accounts
        .iter()
        .filter(|a| {
            a.subject == query
                || a.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(query))
        })
        .collect();
    let here: Vec<&Account> = matching
        .iter()
        .copied()
        .filter(|a| auth.is_here(a))
        .collect();
    let candidates = if here.is_empty() { matching } else { here };
    match candidates.as_slice() {
        [] => Err(CliError::NoSuchAccount {
            query: query.to_string(),
        }),
        [one] => Ok(one),
        many => Err(CliError::AmbiguousAccount {
            query: query.to_string(),
            accounts: many
                .iter()
                .map(|a| {
                    format!(
                        "{} ({}) on {}",
                        who(a.name.as_deref(), a.email.as_deref(), &a.subject),
                        escape::line(&a.subject),
                        escape::line(&a.issuer)
                    )
                })
                .collect(),
        }),
    }
}

/// One account for `--json`: every key always there. `active` is whether it is the active
/// account of its own tenant; `this_tenant` whether that tenant is the one configured here.
pub(super) fn to_json(account: &Account, this_tenant: bool) -> Value {
    json!({
        "subject": account.subject,
        "email": account.email,
        "name": account.name,
        "issuer": account.issuer,
        "client_id": account.client_id,
        "active": account.active,
        "this_tenant": this_tenant,
    })
}

/// One line each: `*` for the active account of the configured tenant, who, the id, the
/// tenant (with "other tenant" for the ones the current settings do not use).
fn table(out: &mut dyn Write, accounts: &[Account], here: &[bool]) -> std::io::Result<()> {
    if accounts.is_empty() {
        return writeln!(
            out,
            "You are signed in with no account. Sign in with `kinvex login`."
        );
    }
    let names: Vec<String> = accounts
        .iter()
        .map(|a| who(a.name.as_deref(), a.email.as_deref(), &a.subject))
        .collect();
    let ids: Vec<String> = accounts
        .iter()
        .map(|a| escape::line(&a.subject).into_owned())
        .collect();
    let width = |column: &[String]| column.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    let (name_width, id_width) = (width(&names), width(&ids));
    for (((account, here), name), id) in accounts.iter().zip(here).zip(&names).zip(&ids) {
        let mark = if account.active && *here { '*' } else { ' ' };
        let tenant = escape::line(&account.issuer);
        let note = match (here, account.active) {
            (true, _) => "",
            (false, true) => " (other tenant, active there)",
            (false, false) => " (other tenant)",
        };
        let name_pad = name_width - name.chars().count();
        let id_pad = id_width - id.chars().count();
        writeln!(
            out,
            "{mark} {name}{:name_pad$}  {id}{:id_pad$}  {tenant}{note}",
            "", ""
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::{ISSUER, auth};

    fn account(subject: &str, email: &str, issuer: &str, active: bool) -> Account {
        Account {
            issuer: issuer.into(),
            client_id: "cli".into(),
            subject: subject.into(),
            email: Some(email.into()),
            name: None,
            active,
        }
    }

    fn accounts() -> Vec<Account> {
        vec![
            account("kp_a", "dana@example.com", ISSUER, false),
            account("kp_b", "alex@example.com", ISSUER, true),
            account("kp_c", "dana@example.com", "https://b.kinde.com", true),
            account("kp_d", "sam@example.com", "https://b.kinde.com", false),
            account("kp_e", "sam@example.com", "https://c.kinde.com", true),
        ]
    }

    #[test]
    fn an_account_is_found_by_id_or_email_this_tenant_first() {
        let auth = auth(None);
        let all = accounts();
        let found = |query: &str| {
            find(&auth, &all, query)
                .map(|a| (a.subject.clone(), a.issuer.clone()))
                .map_err(|e| e.code())
        };
        assert_eq!(found("kp_b"), Ok(("kp_b".into(), ISSUER.into())));
        assert_eq!(
            found("DANA@example.com"),
            Ok(("kp_a".into(), ISSUER.into())),
            "the configured tenant's, not the other tenant's"
        );
        assert_eq!(
            found("kp_c"),
            Ok(("kp_c".into(), "https://b.kinde.com".into()))
        );
        assert_eq!(found("nobody@example.com"), Err("no_such_account"));
        let ambiguous = find(&auth, &all, "sam@example.com").unwrap_err();
        assert_eq!(ambiguous.code(), "ambiguous_account");
        assert!(ambiguous.to_string().contains("kp_d") && ambiguous.to_string().contains("kp_e"));
    }

    #[test]
    fn the_table_marks_the_active_account_here_and_names_other_tenants() {
        let all = accounts();
        let here: Vec<bool> = all.iter().map(|a| a.issuer == ISSUER).collect();
        let mut out = Vec::new();
        table(&mut out, &all[..3], &here[..3]).expect("written");
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            format!(
                "  dana@example.com  kp_a  {ISSUER}\n\
                 * alex@example.com  kp_b  {ISSUER}\n  \
                 dana@example.com  kp_c  https://b.kinde.com (other tenant, active there)\n"
            )
        );
        let mut out = Vec::new();
        table(&mut out, &[], &[]).expect("written");
        assert!(
            String::from_utf8(out)
                .expect("UTF-8")
                .contains("kinvex login")
        );
    }
}
