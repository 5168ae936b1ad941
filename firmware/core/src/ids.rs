//! Identifiers of nodes (servers) and service groups, and sets of groups.

use serde::{Deserialize, Serialize};

/// Most servers one controller arbitrates. A node id is an index below this.
pub const MAX_NODES: usize = 8;
/// Most service groups one controller arbitrates. A group id is an index below this.
pub const MAX_GROUPS: usize = 32;
/// Most link drivers a controller watches for progress: a serial line and
/// a datagram link per node.
pub const MAX_LINKS: usize = 2 * MAX_NODES;

/// A server, by its index in the cluster configuration (`0..MAX_NODES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u8);

/// A service group, by its index in the cluster configuration (`0..MAX_GROUPS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupId(pub u8);

impl NodeId {
    /// What an operator's client (a fence agent, `wardenctl --controller`)
    /// puts in [`crate::wire::Header::node`] on the controller's operator
    /// endpoint: it is no server, and no server's link takes it.
    pub const OPERATOR: Self = Self(u8::MAX);

    /// The index as `usize`, for table lookups (callers still use `get`).
    #[must_use]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl GroupId {
    /// The index as `usize`, for table lookups (callers still use `get`).
    #[must_use]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl core::fmt::Display for NodeId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "node{}", self.0)
    }
}

impl core::fmt::Display for GroupId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "group{}", self.0)
    }
}

/// A set of groups: bit `g` is group `g`. Ids at or above [`MAX_GROUPS`] are
/// never members (inserting one is a no-op that returns `false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct GroupSet(pub u32);

impl GroupSet {
    /// The empty set.
    pub const EMPTY: Self = Self(0);

    /// Groups `0..n` (all of them for `n` at or above [`MAX_GROUPS`]).
    #[must_use]
    pub const fn first(n: usize) -> Self {
        if n >= MAX_GROUPS {
            Self(u32::MAX)
        } else {
            Self((1u32 << n) - 1)
        }
    }

    /// Whether `g` is in the set.
    #[must_use]
    pub const fn contains(self, g: GroupId) -> bool {
        (g.0 as usize) < MAX_GROUPS && self.0 & (1u32 << g.0) != 0
    }

    /// Adds `g`; returns `false` if `g` is out of range.
    pub fn insert(&mut self, g: GroupId) -> bool {
        if (g.0 as usize) < MAX_GROUPS {
            self.0 |= 1u32 << g.0;
            true
        } else {
            false
        }
    }

    /// Removes `g` (a no-op when absent or out of range).
    pub fn remove(&mut self, g: GroupId) {
        if (g.0 as usize) < MAX_GROUPS {
            self.0 &= !(1u32 << g.0);
        }
    }

    /// Whether the set is empty.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of members.
    #[must_use]
    pub const fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// Members common to both sets.
    #[must_use]
    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// Members of either set.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Members of `self` not in `other`.
    #[must_use]
    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// The members, lowest id first.
    pub fn iter(self) -> impl Iterator<Item = GroupId> {
        (0..MAX_GROUPS as u8).map(GroupId).filter(move |g| self.contains(*g))
    }
}

impl FromIterator<GroupId> for GroupSet {
    fn from_iter<I: IntoIterator<Item = GroupId>>(iter: I) -> Self {
        let mut s = Self::EMPTY;
        for g in iter {
            s.insert(g);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_ids_are_never_members() {
        let mut s = GroupSet::EMPTY;
        assert!(!s.insert(GroupId(32)));
        assert!(s.is_empty());
        assert!(!s.contains(GroupId(200)));
        assert!(s.insert(GroupId(31)));
        assert!(s.contains(GroupId(31)));
        assert_eq!(s.iter().collect::<heapless::Vec<_, 32>>().as_slice(), &[GroupId(31)]);
        assert_eq!(GroupSet::first(0), GroupSet::EMPTY);
        assert_eq!(GroupSet::first(3), GroupSet(0b111));
        assert_eq!(GroupSet::first(32), GroupSet(u32::MAX));
        assert_eq!(GroupSet::first(200), GroupSet(u32::MAX));
    }
}
