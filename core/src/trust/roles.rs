//! Roles a trusted key can hold, and sets of them.
//!
//! On the wire a [`RoleSet`] is one byte, a bit per role (see docs/FORMATS.md); bits this
//! build does not know are refused rather than ignored, so a key can never silently gain or
//! lose a power when read by an older verifier.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, ErrorCode, Result};

/// What a trusted key may sign.
///
/// ```
/// use cairn_core::trust::Role;
/// assert_eq!(Role::parse("token-issuer")?, Role::TokenIssuer);
/// assert_eq!(Role::TokenIssuer.bit(), 0x04);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Signs new trust-root versions.
    Root,
    /// Signs checkpoints of the registry's log (and the tree head of each commit).
    Checkpoint,
    /// Issues capability tokens.
    TokenIssuer,
    /// Signs artifact manifests.
    ManifestSigner,
    /// Vouches for peer keys.
    Peer,
}

impl Role {
    /// Every role, in bit order.
    pub const ALL: [Role; 5] = [
        Role::Root,
        Role::Checkpoint,
        Role::TokenIssuer,
        Role::ManifestSigner,
        Role::Peer,
    ];

    /// The role's bit in a [`RoleSet`] byte (frozen).
    pub const fn bit(self) -> u8 {
        match self {
            Role::Root => 0x01,
            Role::Checkpoint => 0x02,
            Role::TokenIssuer => 0x04,
            Role::ManifestSigner => 0x08,
            Role::Peer => 0x10,
        }
    }

    /// The role's name (frozen).
    pub const fn name(self) -> &'static str {
        match self {
            Role::Root => "root",
            Role::Checkpoint => "checkpoint",
            Role::TokenIssuer => "token-issuer",
            Role::ManifestSigner => "manifest-signer",
            Role::Peer => "peer",
        }
    }

    /// Looks a role up by name.
    pub fn parse(name: &str) -> Result<Role> {
        Role::ALL
            .iter()
            .copied()
            .find(|r| r.name() == name)
            .ok_or_else(|| Error::malformed(alloc::format!("unknown role {name:?}")))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`Role`]s.
///
/// ```
/// use cairn_core::trust::{Role, RoleSet};
/// let set = RoleSet::of(&[Role::Root, Role::Checkpoint]);
/// assert_eq!(set.bits(), 0x03);
/// assert!(set.contains(Role::Checkpoint) && !set.contains(Role::Peer));
/// assert!(RoleSet::from_bits(0x20).is_err()); // unknown bit
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RoleSet(u8);

impl RoleSet {
    /// No role at all.
    pub const EMPTY: RoleSet = RoleSet(0);

    const KNOWN_BITS: u8 = 0x1f;

    /// The set holding exactly `roles`.
    pub fn of(roles: &[Role]) -> RoleSet {
        RoleSet(roles.iter().fold(0, |acc, r| acc | r.bit()))
    }

    /// Parses the wire byte, refusing bits of unknown roles.
    pub fn from_bits(bits: u8) -> Result<RoleSet> {
        if bits & !Self::KNOWN_BITS != 0 {
            return Err(Error::new(
                ErrorCode::Malformed,
                alloc::format!("role set 0x{bits:02x} has unknown role bits"),
            ));
        }
        Ok(RoleSet(bits))
    }

    /// The wire byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// True if the set holds `role`.
    pub const fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// The set with `role` added.
    pub const fn with(self, role: Role) -> RoleSet {
        RoleSet(self.0 | role.bit())
    }

    /// True if the set holds no role.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The roles in the set, in bit order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }
}

impl fmt::Debug for RoleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(Role::name)).finish()
    }
}

impl Serialize for RoleSet {
    fn serialize<S: Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_seq(self.iter().map(Role::name))
        } else {
            s.serialize_u8(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for RoleSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        if d.is_human_readable() {
            let names: Vec<String> = Vec::deserialize(d)?;
            let mut set = RoleSet::EMPTY;
            for n in &names {
                set = set.with(Role::parse(n).map_err(serde::de::Error::custom)?);
            }
            Ok(set)
        } else {
            RoleSet::from_bits(u8::deserialize(d)?).map_err(serde::de::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bits_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.name()).unwrap(), r);
            assert_eq!(
                RoleSet::from_bits(r.bit())
                    .unwrap()
                    .iter()
                    .collect::<Vec<_>>(),
                [r]
            );
        }
        assert_eq!(RoleSet::of(&Role::ALL).bits(), 0x1f);
        for bits in 0x20..=0xffu8 {
            assert!(RoleSet::from_bits(bits).is_err());
        }
    }

    #[test]
    fn json_view_lists_names() {
        let set = RoleSet::of(&[Role::Peer, Role::Root]);
        let text = serde_json::to_string(&set).unwrap();
        assert_eq!(text, r#"["root","peer"]"#);
        assert_eq!(serde_json::from_str::<RoleSet>(&text).unwrap(), set);
        assert_eq!(crate::encoding::to_postcard(&set), [0x11]);
    }
}
