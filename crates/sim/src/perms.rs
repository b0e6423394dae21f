//! Safe-member permissions: the 22 Gen2 permission keys and the five predefined sets, as the
//! PVWA's "Add Safe Member" API and psPAS / ark-sdk name them.

use std::collections::BTreeSet;

macro_rules! permissions {
    ($($variant:ident => $key:literal),* $(,)?) => {
        /// One safe-member permission (Gen2 camelCase key).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub(crate) enum Permission { $($variant),* }

        impl Permission {
            pub(crate) const ALL: &'static [Permission] = &[$(Permission::$variant),*];

            pub(crate) fn key(self) -> &'static str {
                match self { $(Permission::$variant => $key),* }
            }
        }
    };
}

permissions! {
    UseAccounts => "useAccounts",
    RetrieveAccounts => "retrieveAccounts",
    ListAccounts => "listAccounts",
    AddAccounts => "addAccounts",
    UpdateAccountContent => "updateAccountContent",
    UpdateAccountProperties => "updateAccountProperties",
    InitiateCpm => "initiateCPMAccountManagementOperations",
    SpecifyNextAccountContent => "specifyNextAccountContent",
    RenameAccounts => "renameAccounts",
    DeleteAccounts => "deleteAccounts",
    UnlockAccounts => "unlockAccounts",
    ManageSafe => "manageSafe",
    ManageSafeMembers => "manageSafeMembers",
    BackupSafe => "backupSafe",
    ViewAuditLog => "viewAuditLog",
    ViewSafeMembers => "viewSafeMembers",
    AccessWithoutConfirmation => "accessWithoutConfirmation",
    CreateFolders => "createFolders",
    DeleteFolders => "deleteFolders",
    MoveAccountsAndFolders => "moveAccountsAndFolders",
    RequestsAuthorizationLevel1 => "requestsAuthorizationLevel1",
    RequestsAuthorizationLevel2 => "requestsAuthorizationLevel2",
}

impl Permission {
    /// Parses a permission key, ignoring ASCII case.
    pub(crate) fn parse(key: &str) -> Option<Permission> {
        Permission::ALL
            .iter()
            .copied()
            .find(|p| p.key().eq_ignore_ascii_case(key))
    }
}

/// The predefined set names accepted in seed files.
pub(crate) const SET_NAMES: &[&str] = &[
    "connect-only",
    "read-only",
    "approver",
    "accounts-manager",
    "full",
];

/// The permissions of a predefined set (`connect-only`, `read-only`, `approver`,
/// `accounts-manager`, `full`; spaces, underscores and case are ignored).
pub(crate) fn predefined_set(name: &str) -> Option<BTreeSet<Permission>> {
    use Permission::*;
    let norm: String = name
        .trim()
        .chars()
        .map(|c| match c {
            ' ' | '_' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let connect = [ListAccounts, UseAccounts];
    let read = [ListAccounts, UseAccounts, RetrieveAccounts];
    let approver = [
        ListAccounts,
        ViewSafeMembers,
        ManageSafeMembers,
        RequestsAuthorizationLevel1,
    ];
    let manager = [
        ListAccounts,
        UseAccounts,
        RetrieveAccounts,
        AddAccounts,
        UpdateAccountContent,
        UpdateAccountProperties,
        InitiateCpm,
        SpecifyNextAccountContent,
        RenameAccounts,
        DeleteAccounts,
        UnlockAccounts,
        ViewSafeMembers,
        ManageSafeMembers,
        ViewAuditLog,
        AccessWithoutConfirmation,
    ];
    let full_extra = [
        ManageSafe,
        BackupSafe,
        CreateFolders,
        DeleteFolders,
        MoveAccountsAndFolders,
        RequestsAuthorizationLevel1,
    ];
    let set: BTreeSet<Permission> = match norm.as_str() {
        "connect-only" => connect.into_iter().collect(),
        "read-only" => read.into_iter().collect(),
        "approver" => approver.into_iter().collect(),
        "accounts-manager" => manager.into_iter().collect(),
        "full" => manager.into_iter().chain(full_extra).collect(),
        _ => return None,
    };
    Some(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_22_keys_and_full_lacks_only_level2() {
        assert_eq!(Permission::ALL.len(), 22);
        let full = predefined_set("Full").unwrap();
        assert_eq!(full.len(), 21);
        assert!(!full.contains(&Permission::RequestsAuthorizationLevel2));
        assert_eq!(predefined_set("Read only").unwrap().len(), 3);
        assert_eq!(
            Permission::parse("initiatecpmaccountmanagementoperations"),
            Some(Permission::InitiateCpm)
        );
    }
}
