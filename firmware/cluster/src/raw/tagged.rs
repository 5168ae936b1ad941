//! Tables whose `kind` key chooses the variant of an enum, each variant a
//! struct of that kind's own keys, read with the span of every value kept.
//!
//! serde's internally tagged enums (`#[serde(tag = "kind")]`) buffer the
//! table before choosing the variant, and a buffered value has lost its
//! span. [`Tagged`] reads `kind` first instead ([`kind_first`] moves it to
//! the front of the table before reading) and hands the rest of the table
//! straight to the variant's struct, still read by the TOML deserializer:
//! every value keeps its span and every error its place.
//!
//! The enum is an ordinary `#[derive(Deserialize)]` one with newtype
//! variants: its `#[serde(rename)]` names the table in errors ("unknown
//! resource kind ..."), its variants are the known kinds, and each
//! variant's struct fields are the keys of its kind.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, VariantAccess, Visitor};
use serde::Deserialize;
use toml_edit::{Item, Value};

use super::S;

/// A table read as the variant of `T` its `kind` names.
pub(crate) struct Tagged<T> {
    /// The kind, as `T` spells it.
    pub(crate) kind: &'static str,
    /// The variant, holding the table's other keys.
    pub(crate) body: T,
}

/// Moves `kind` to the front of each table of the array `item`, written
/// `[[key]]` or `key = [{ ... }]`; the other keys keep their order.
pub(crate) fn kind_first(item: Option<&mut Item>) {
    match item {
        Some(Item::ArrayOfTables(tables)) => {
            for table in tables.iter_mut() {
                let keys: Vec<String> = table.iter().map(|(k, _)| k.to_owned()).collect();
                for key in behind_kind(&keys) {
                    if let Some((key, item)) = table.remove_entry(key) {
                        table.insert_formatted(&key, item);
                    }
                }
            }
        }
        Some(Item::Value(Value::Array(values))) => {
            for table in values.iter_mut().filter_map(Value::as_inline_table_mut) {
                let keys: Vec<String> = table.iter().map(|(k, _)| k.to_owned()).collect();
                for key in behind_kind(&keys) {
                    if let Some((key, value)) = table.remove_entry(key) {
                        table.insert_formatted(&key, value);
                    }
                }
            }
        }
        _ => {}
    }
}

/// The keys to move behind `kind`, in order: every other key, when `kind`
/// is there but not first. (Moving a key re-inserts it last, with its span.)
fn behind_kind(keys: &[String]) -> impl Iterator<Item = &str> {
    let move_them = keys.first().is_some_and(|k| k != "kind") && keys.iter().any(|k| k == "kind");
    keys.iter().map(String::as_str).filter(move |k| move_them && *k != "kind")
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Tagged<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TableVisitor(PhantomData))
    }
}

struct TableVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for TableVisitor<T> {
    type Value = Tagged<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table with a `kind`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tagged<T>, A::Error> {
        // `kind` is first when it is there at all (see `kind_first`).
        if map.next_key::<String>()?.as_deref() != Some("kind") {
            return Err(de::Error::missing_field("kind"));
        }
        let mut kind = None;
        let body = T::deserialize(ByKind { map, kind: &mut kind })?;
        let kind = kind.ok_or_else(|| de::Error::custom("the kind was not read"))?;
        Ok(Tagged { kind, body })
    }
}

/// The table after its `kind` key, read as an enum.
struct ByKind<'k, A> {
    map: A,
    kind: &'k mut Option<&'static str>,
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for ByKind<'_, A> {
    type Error = A::Error;

    fn deserialize_enum<V: Visitor<'de>>(
        mut self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let kind = self.map.next_value_seed(Kind { name, variants })?;
        *self.kind = Some(kind);
        visitor.visit_enum(Chosen { kind, map: self.map })
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, A::Error> {
        Err(de::Error::custom("a table chosen by its `kind` is read as an enum"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

/// The value of `kind`: a string naming one of `variants`. An error here is
/// placed on the value.
struct Kind {
    name: &'static str,
    variants: &'static [&'static str],
}

impl<'de> DeserializeSeed<'de> for Kind {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<&'static str, D::Error> {
        let kind = S::<String>::deserialize(deserializer)?.into_inner();
        self.variants.iter().copied().find(|v| *v == kind).ok_or_else(|| {
            de::Error::custom(format!("unknown {} kind `{kind}` (known: {})", self.name, self.variants.join(", ")))
        })
    }
}

/// The variant `kind` named, with the rest of the table.
struct Chosen<A> {
    kind: &'static str,
    map: A,
}

impl<'de, A: MapAccess<'de>> EnumAccess<'de> for Chosen<A> {
    type Error = A::Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), A::Error> {
        let deserializer: StrDeserializer<'_, A::Error> = self.kind.into_deserializer();
        Ok((seed.deserialize(deserializer)?, self))
    }
}

impl<'de, A: MapAccess<'de>> VariantAccess<'de> for Chosen<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        Err(de::Error::custom("each kind is a variant holding the struct of its keys"))
    }

    fn newtype_variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<V::Value, A::Error> {
        seed.deserialize(Rest { kind: self.kind, map: self.map })
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, A::Error> {
        Err(de::Error::custom("each kind is a variant holding the struct of its keys"))
    }

    fn struct_variant<V: Visitor<'de>>(self, keys: &'static [&'static str], visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_map(KindKeys { kind: self.kind, keys, map: self.map })
    }
}

/// The keys after `kind`, read as the kind's struct.
struct Rest<A> {
    kind: &'static str,
    map: A,
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for Rest<A> {
    type Error = A::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        keys: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        visitor.visit_map(KindKeys { kind: self.kind, keys, map: self.map })
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_map(self.map)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// The rest of the table, refusing a key that is not one of `keys`.
struct KindKeys<A> {
    kind: &'static str,
    keys: &'static [&'static str],
    map: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for KindKeys<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.map.next_key_seed(KnownKey { kind: self.kind, keys: self.keys, seed })
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// A key of the kind's table; an error here is placed on the key.
struct KnownKey<K> {
    kind: &'static str,
    keys: &'static [&'static str],
    seed: K,
}

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for KnownKey<K> {
    type Value = K::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<K::Value, D::Error> {
        let key = String::deserialize(deserializer)?;
        if !self.keys.contains(&key.as_str()) {
            return Err(de::Error::custom(format!(
                "`{key}` is not a key of kind `{}` (its keys: {})",
                self.kind,
                self.keys.join(", ")
            )));
        }
        self.seed.deserialize(key.into_deserializer())
    }
}
