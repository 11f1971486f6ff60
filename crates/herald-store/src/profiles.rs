//! Records of the profile and identity-namespace operations that are not
//! domain concepts.

use herald_domain::profile::Profile;

/// What `Store::put_profile` did.
#[derive(Debug, Clone, PartialEq)]
pub enum ProfilePut {
    Written {
        profile: Profile,
        created: bool,
    },
    /// `extra_identities[index]` belongs to another profile than the one
    /// the request is about; nothing was written.
    IdentityTaken {
        index: usize,
        profile_id: String,
    },
}

/// Which profiles `Store::list_profiles` returns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProfileFilter {
    /// Walk the identities of this namespace (in value order); without it,
    /// profiles in id order.
    pub namespace: Option<String>,
    /// Only profiles with an identity value starting with this.
    pub prefix: Option<String>,
    /// The cursor of the previous page (an identity value with a namespace,
    /// a profile id otherwise).
    pub after: Option<String>,
    pub limit: usize,
}

/// Profiles with the cursor after each.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProfilePage {
    pub items: Vec<(String, Profile)>,
}

/// The outcome of one batch of imported rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImportBatchResult {
    pub created: u64,
    pub updated: u64,
    /// (line, reason) of the rows the store refused (an identity of another
    /// profile).
    pub rejected: Vec<(u64, String)>,
}
