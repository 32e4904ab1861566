//! Organisations people create for themselves (`is_create_org=true` at authorize), and the
//! role their creator gets in them.

use crate::store::StoreError;
use crate::store::provider::{Organization, User, Write};
use crate::{State, random};

/// The role Kinde gives the person who creates an organisation (its key and name).
pub const ADMIN_ROLE: (&str, &str) = ("admin", "Admin");

/// What an organisation's admin may do: everything the app knows of.
pub const ADMIN_PERMISSIONS: &[&str] = &[
    "read:files",
    "write:files",
    "delete:files",
    "manage:members",
];

/// A new organisation code as Kinde makes them: `org_` and eleven hex digits.
pub fn new_code() -> String {
    let mut code = random::hex(6);
    code.truncate(11);
    format!("org_{code}")
}

/// Creates an organisation named `name` with `user` as its admin member, and returns it.
pub fn create(state: &State, user: &User, name: &str) -> Result<Organization, StoreError> {
    let store = state.store.provider();
    let now = state.clock.unix();
    let org = loop {
        let org = Organization {
            code: new_code(),
            name: name.to_string(),
        };
        if store.insert_organization(&org, now)? {
            break org;
        }
    };
    // The stored person, not the session's copy, so a change made meanwhile is kept.
    let mut member = store.user(&user.id)?.unwrap_or_else(|| user.clone());
    member.organizations.push(org.code.clone());
    member.updated_at = now;
    store.update_user(&member)?;
    let (key, role) = ADMIN_ROLE;
    store.set_membership(
        &member.id,
        &org.code,
        &[(key.into(), role.into())],
        &ADMIN_PERMISSIONS
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>(),
        Write::Replace,
    )?;
    Ok(org)
}
