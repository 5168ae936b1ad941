//! A [`BoardConfig`] decoded from postcard into a value that is already
//! there, field by field, so that no whole configuration is moved.
//!
//! The derived `Deserialize` builds the group list in a local, then moves
//! it into a `ClusterConfig`, that into a `Result`, that into a
//! `BoardConfig`, and so on up: about 700 bytes at each step, 3.3 KB of
//! stack on the board for a value the firmware only reads once. Here the
//! groups are pushed one by one (16 bytes each) into the configuration's
//! own list.
//!
//! The bytes read are exactly those of the derived implementations, which
//! postcard lays out as the fields in declaration order, a sequence as its
//! length then its elements (the tests decode what the derived `Serialize`
//! wrote, and compare with the derived `Deserialize`).

use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use warden_core::controller::{ClusterConfig, GroupPlacement};
use warden_core::MAX_GROUPS;

use super::BoardConfig;

/// Decodes into the [`BoardConfig`] it holds. On an error the value holds
/// whatever was decoded so far, and must not be used.
pub(super) struct Board<'a>(pub(super) &'a mut BoardConfig);

/// Decodes into the [`ClusterConfig`] it holds.
struct Cluster<'a>(&'a mut ClusterConfig);

/// Decodes into the group list it holds (cleared first).
struct Groups<'a>(&'a mut heapless::Vec<GroupPlacement, MAX_GROUPS>);

/// The next field of a struct, or the error postcard gives for a missing one.
fn field<'de, A: SeqAccess<'de>, T: de::Deserialize<'de>>(seq: &mut A, index: usize) -> Result<T, A::Error> {
    seq.next_element()?.ok_or_else(|| de::Error::invalid_length(index, &"more fields"))
}

impl<'de> DeserializeSeed<'de> for Board<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_struct("BoardConfig", &["cluster", "auth", "relays"], self)
    }
}

impl<'de> Visitor<'de> for Board<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a board configuration")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Self(config) = self;
        seq.next_element_seed(Cluster(&mut config.cluster))?
            .ok_or_else(|| de::Error::invalid_length(0, &"a cluster configuration"))?;
        config.auth = field(&mut seq, 1)?;
        config.relays = field(&mut seq, 2)?;
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Cluster<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_struct("ClusterConfig", &["nodes", "groups", "timing", "fence_idle_dead"], self)
    }
}

impl<'de> Visitor<'de> for Cluster<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a cluster configuration")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Self(cluster) = self;
        cluster.nodes = field(&mut seq, 0)?;
        seq.next_element_seed(Groups(&mut cluster.groups))?
            .ok_or_else(|| de::Error::invalid_length(1, &"a group list"))?;
        cluster.timing = field(&mut seq, 2)?;
        cluster.fence_idle_dead = field(&mut seq, 3)?;
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Groups<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Groups<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at most {MAX_GROUPS} groups")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Self(groups) = self;
        groups.clear();
        while let Some(group) = seq.next_element::<GroupPlacement>()? {
            if groups.push(group).is_err() {
                return Err(de::Error::invalid_length(MAX_GROUPS + 1, &"at most MAX_GROUPS groups"));
            }
        }
        Ok(())
    }
}
