//! Safe-member permissions: the 22 Gen2 keys (camelCase booleans in the PVWA's JSON) and the five
//! predefined sets that psPAS (`ConvertTo-SortedPermission`) and ark-sdk
//! (`SAFE_MEMBER_PERMISSIONS_SETS`) agree on.
//!
//! Keys missing from an answer read as `false`; booleans written as strings (`"true"`) are
//! accepted, since PVWA versions and clones disagree on the type.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

fn de_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => b,
        Value::String(s) => s.trim().eq_ignore_ascii_case("true"),
        Value::Number(n) => n.as_i64().is_some_and(|n| n != 0),
        _ => false,
    })
}

macro_rules! permissions {
    ($($field:ident => $key:literal),* $(,)?) => {
        /// The 22 safe-member permissions (Gen2). `Default` is "no permission at all".
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(default)]
        pub struct Permissions {
            $(
                #[serde(rename = $key, deserialize_with = "de_bool")]
                pub $field: bool,
            )*
        }

        impl Permissions {
            /// The Gen2 keys, in the documented order.
            pub const KEYS: [&'static str; 22] = [$($key),*];

            /// Every permission with its key.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, bool)> {
                [$(($key, self.$field)),*].into_iter()
            }

            /// Sets one permission by its key (ignoring case); false when the key is unknown.
            pub fn set(&mut self, key: &str, value: bool) -> bool {
                $(
                    if key.eq_ignore_ascii_case($key) {
                        self.$field = value;
                        return true;
                    }
                )*
                false
            }
        }
    };
}

permissions! {
    use_accounts => "useAccounts",
    retrieve_accounts => "retrieveAccounts",
    list_accounts => "listAccounts",
    add_accounts => "addAccounts",
    update_account_content => "updateAccountContent",
    update_account_properties => "updateAccountProperties",
    initiate_cpm_account_management_operations => "initiateCPMAccountManagementOperations",
    specify_next_account_content => "specifyNextAccountContent",
    rename_accounts => "renameAccounts",
    delete_accounts => "deleteAccounts",
    unlock_accounts => "unlockAccounts",
    manage_safe => "manageSafe",
    manage_safe_members => "manageSafeMembers",
    backup_safe => "backupSafe",
    view_audit_log => "viewAuditLog",
    view_safe_members => "viewSafeMembers",
    access_without_confirmation => "accessWithoutConfirmation",
    create_folders => "createFolders",
    delete_folders => "deleteFolders",
    move_accounts_and_folders => "moveAccountsAndFolders",
    requests_authorization_level1 => "requestsAuthorizationLevel1",
    requests_authorization_level2 => "requestsAuthorizationLevel2",
}

impl Permissions {
    /// No permission.
    pub fn none() -> Self {
        Permissions::default()
    }

    /// "Connect only": listAccounts, useAccounts.
    pub fn connect_only() -> Self {
        Permissions {
            list_accounts: true,
            use_accounts: true,
            ..Permissions::default()
        }
    }

    /// "Read only": connect only plus retrieveAccounts.
    pub fn read_only() -> Self {
        Permissions {
            retrieve_accounts: true,
            ..Permissions::connect_only()
        }
    }

    /// "Approver": listAccounts, viewSafeMembers, manageSafeMembers, requestsAuthorizationLevel1.
    pub fn approver() -> Self {
        Permissions {
            list_accounts: true,
            view_safe_members: true,
            manage_safe_members: true,
            requests_authorization_level1: true,
            ..Permissions::default()
        }
    }

    /// "Accounts manager": read only plus account administration, CPM operations, member
    /// management, the audit log and access without confirmation.
    pub fn accounts_manager() -> Self {
        Permissions {
            add_accounts: true,
            update_account_content: true,
            update_account_properties: true,
            initiate_cpm_account_management_operations: true,
            specify_next_account_content: true,
            rename_accounts: true,
            delete_accounts: true,
            unlock_accounts: true,
            view_safe_members: true,
            manage_safe_members: true,
            view_audit_log: true,
            access_without_confirmation: true,
            ..Permissions::read_only()
        }
    }

    /// "Full": accounts manager plus manageSafe, backupSafe, createFolders, deleteFolders,
    /// moveAccountsAndFolders, requestsAuthorizationLevel1 (not level 2).
    pub fn full() -> Self {
        Permissions {
            manage_safe: true,
            backup_safe: true,
            create_folders: true,
            delete_folders: true,
            move_accounts_and_folders: true,
            requests_authorization_level1: true,
            ..Permissions::accounts_manager()
        }
    }

    /// The predefined sets with their names.
    pub fn predefined() -> [(&'static str, Permissions); 5] {
        [
            ("connect_only", Permissions::connect_only()),
            ("read_only", Permissions::read_only()),
            ("approver", Permissions::approver()),
            ("accounts_manager", Permissions::accounts_manager()),
            ("full", Permissions::full()),
        ]
    }

    /// The predefined set these permissions are exactly equal to, if any.
    pub fn set_name(&self) -> Option<&'static str> {
        Permissions::predefined()
            .into_iter()
            .find(|(_, p)| p == self)
            .map(|(name, _)| name)
    }

    /// How many permissions are granted.
    pub fn count(&self) -> usize {
        self.iter().filter(|(_, v)| *v).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(p: &Permissions) -> Vec<&'static str> {
        p.iter().filter(|(_, v)| *v).map(|(k, _)| k).collect()
    }

    #[test]
    fn predefined_sets_match_the_reference_table() {
        assert_eq!(
            granted(&Permissions::connect_only()),
            ["useAccounts", "listAccounts"]
        );
        assert_eq!(
            granted(&Permissions::read_only()),
            ["useAccounts", "retrieveAccounts", "listAccounts"]
        );
        assert_eq!(
            granted(&Permissions::approver()),
            [
                "listAccounts",
                "manageSafeMembers",
                "viewSafeMembers",
                "requestsAuthorizationLevel1"
            ]
        );
        assert_eq!(Permissions::accounts_manager().count(), 15);
        let full = Permissions::full();
        assert_eq!(full.count(), 21);
        assert!(!full.requests_authorization_level2);
        for (key, value) in Permissions::accounts_manager().iter() {
            assert!(!value || full.iter().any(|(k, v)| k == key && v), "{key}");
        }
    }

    #[test]
    fn set_name_recognises_exactly_the_five_sets() {
        for (name, p) in Permissions::predefined() {
            assert_eq!(p.set_name(), Some(name));
        }
        assert_eq!(Permissions::none().set_name(), None);
        let mut p = Permissions::full();
        p.requests_authorization_level2 = true;
        assert_eq!(p.set_name(), None);
    }

    #[test]
    fn serialises_all_22_camel_case_keys() {
        let v = serde_json::to_value(Permissions::read_only()).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 22);
        for key in Permissions::KEYS {
            assert!(obj.contains_key(key), "{key}");
        }
        assert_eq!(obj["retrieveAccounts"], true);
        assert_eq!(obj["initiateCPMAccountManagementOperations"], false);
    }

    #[test]
    fn parses_leniently_with_missing_keys_false() {
        let p: Permissions = serde_json::from_str(
            r#"{"listAccounts":true,"useAccounts":"True","retrieveAccounts":1,"manageSafe":null,"unknownKey":true}"#,
        )
        .unwrap();
        assert_eq!(p, Permissions::read_only());
        let p: Permissions = serde_json::from_str("{}").unwrap();
        assert_eq!(p, Permissions::none());
    }

    #[test]
    fn set_by_key_ignores_case() {
        let mut p = Permissions::none();
        assert!(p.set("LISTACCOUNTS", true));
        assert!(p.set("useAccounts", true));
        assert!(!p.set("noSuchKey", true));
        assert_eq!(p.set_name(), Some("connect_only"));
    }
}
