//! The rule index: every rule filed under its most selective condition, so a decision
//! checks a handful of candidates whether the policy has 100 rules or 100,000.
//!
//! Keys are stored as 64-bit hashes, not strings: a lookup touches the hash table and
//! nothing else, which matters when the policy is far larger than the CPU cache. A hash
//! collision can only add a candidate, and every candidate is checked in full against the
//! identity, so it can never change a decision (at worst an explanation lists a spurious
//! near miss).

use std::collections::HashMap as StdHashMap;
use std::hash::{BuildHasherDefault, Hasher};

use jsm_sso_core::VerifiedIdentity;

use crate::compiled::{Rule, RuleId};
use crate::domain::{DomainPattern, parents};
use crate::pattern::ValuePattern;

/// A fast, non-cryptographic string hasher (rustc's FxHash step, eight bytes at a time,
/// with a final avalanche). Only lookups see identity data: the tables are filled from the
/// policy at load time, so a hostile identity cannot lengthen a probe chain, and SipHash's
/// flooding resistance buys nothing here.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        let mut word = [0u8; 8];
        if let Some(dst) = word.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        // The length goes into the last word, so "a" and "a\0" differ.
        self.add(u64::from_le_bytes(word) ^ ((bytes.len() as u64) << 56));
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // splitmix64's finalizer: every input bit moves every output bit.
        let mut z = self.hash;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A hash map with [`FxHasher`], for load-time bookkeeping.
pub(crate) type HashMap<K, V> = StdHashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Passes an already-hashed `u64` key through.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PreHashed(u64);

impl Hasher for PreHashed {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in for completeness.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The hash of one or more strings (joined with a separator that cannot occur in them).
fn key(parts: &[&str]) -> u64 {
    let mut h = FxHasher::default();
    for part in parts {
        h.write(part.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

/// Where a key's rules are: one inline, or a run in the arena.
#[derive(Debug, Clone, Copy)]
enum Slot {
    One(RuleId),
    Many { start: u32, len: u32 },
}

/// Hashed key -> rule ids.
#[derive(Debug, Default)]
pub(crate) struct KeyIndex {
    map: StdHashMap<u64, Slot, BuildHasherDefault<PreHashed>>,
    arena: Vec<RuleId>,
}

impl KeyIndex {
    /// From (key, rule) pairs in any order: sorted, deduplicated, grouped by key.
    fn build(mut pairs: Vec<(u64, RuleId)>) -> Self {
        pairs.sort_unstable();
        pairs.dedup();
        let mut index = Self::default();
        index.map.reserve(pairs.len());
        let mut rest = pairs.as_slice();
        while let Some(&(k, first)) = rest.first() {
            let n = rest.iter().take_while(|(key, _)| *key == k).count();
            let (run, tail) = rest.split_at(n);
            let slot = if n == 1 {
                Slot::One(first)
            } else {
                let start = u32::try_from(index.arena.len()).unwrap_or(u32::MAX);
                index.arena.extend(run.iter().map(|&(_, id)| id));
                Slot::Many {
                    start,
                    len: u32::try_from(n).unwrap_or(u32::MAX),
                }
            };
            index.map.insert(k, slot);
            rest = tail;
        }
        index
    }

    /// Appends the rules filed under `key` to `out`.
    fn extend(&self, key: u64, out: &mut Vec<RuleId>) {
        match self.map.get(&key) {
            None => {}
            Some(Slot::One(id)) => out.push(*id),
            Some(&Slot::Many { start, len }) => {
                let (start, len) = (start as usize, len as usize);
                if let Some(ids) = self.arena.get(start..start + len) {
                    out.extend_from_slice(ids);
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Collects `(key, rule)` pairs while the index is built.
#[derive(Default)]
struct Builder(Vec<(u64, RuleId)>);

impl Builder {
    fn add(&mut self, key: u64, id: RuleId) {
        self.0.push((key, id));
    }
}

/// Rules by their most selective indexable condition; see [`Index::build`].
#[derive(Debug, Default)]
pub(crate) struct Index {
    exact_domain: KeyIndex,
    /// `*.example.com` is filed under `example.com`.
    parent_domain: KeyIndex,
    /// Bit `n` set: some `*.` pattern's parent has `n` labels (63 = 63 or more), so a
    /// lookup walks only the parents that can hit.
    parent_labels: u64,
    /// (idp, exact group).
    idp_group: KeyIndex,
    /// The idps that appear in `idp_group`.
    group_idps: Vec<Box<str>>,
    group: KeyIndex,
    /// (attribute name, exact value).
    attribute: KeyIndex,
    /// The attribute names that appear in `attribute`, sorted.
    attribute_names: Vec<Box<str>>,
    idp: KeyIndex,
    pub(crate) always: Vec<RuleId>,
}

fn label_bit(domain: &str) -> u64 {
    let labels = domain.bytes().filter(|&b| b == b'.').count() + 1;
    1u64 << labels.min(63)
}

impl Index {
    /// Files every rule under one condition, the most selective it has: email domain,
    /// then (idp, exact group), exact group, (attribute, exact value), idp; a rule with none
    /// of these goes into the always-checked list.
    pub(crate) fn build(rules: &[Rule]) -> Self {
        let mut exact_domain = Builder::default();
        let mut parent_domain = Builder::default();
        let mut idp_group = Builder::default();
        let mut group = Builder::default();
        let mut attribute = Builder::default();
        let mut idp = Builder::default();
        let mut index = Self::default();
        for (id, rule) in (0..).zip(rules) {
            if let Some(domains) = &rule.domains {
                for d in domains.iter() {
                    match d {
                        DomainPattern::Exact(d) => exact_domain.add(key(&[d]), id),
                        DomainPattern::SubdomainsOf(d) => {
                            index.parent_labels |= label_bit(d);
                            parent_domain.add(key(&[d]), id);
                        }
                    }
                }
                continue;
            }
            let exact_groups = rule.groups.as_ref().and_then(|g| {
                g.iter()
                    .map(ValuePattern::exact)
                    .collect::<Option<Vec<_>>>()
            });
            if let Some(groups) = exact_groups {
                match &rule.idp {
                    Some(idps) => {
                        for i in idps.iter() {
                            index.group_idps.push(i.as_str().into());
                            for g in &groups {
                                idp_group.add(key(&[i, g]), id);
                            }
                        }
                    }
                    None => {
                        for g in &groups {
                            group.add(key(&[g]), id);
                        }
                    }
                }
                continue;
            }
            let exact_attribute = rule.attributes.iter().find_map(|a| {
                let exact = a
                    .patterns
                    .iter()
                    .map(ValuePattern::exact)
                    .collect::<Option<Vec<_>>>()?;
                Some((&a.name, exact))
            });
            if let Some((name, values)) = exact_attribute {
                index.attribute_names.push(name.clone());
                for v in values {
                    attribute.add(key(&[name, v]), id);
                }
                continue;
            }
            if let Some(idps) = &rule.idp {
                for i in idps.iter() {
                    idp.add(key(&[i]), id);
                }
                continue;
            }
            index.always.push(id);
        }
        index.group_idps.sort_unstable();
        index.group_idps.dedup();
        index.attribute_names.sort_unstable();
        index.attribute_names.dedup();
        index.exact_domain = KeyIndex::build(exact_domain.0);
        index.parent_domain = KeyIndex::build(parent_domain.0);
        index.idp_group = KeyIndex::build(idp_group.0);
        index.group = KeyIndex::build(group.0);
        index.attribute = KeyIndex::build(attribute.0);
        index.idp = KeyIndex::build(idp.0);
        index
    }

    /// The rules worth checking for this identity, in file order, without duplicates.
    pub(crate) fn candidates(&self, identity: &VerifiedIdentity) -> Vec<RuleId> {
        let mut out: Vec<RuleId> = Vec::with_capacity(8);
        // Domains even when the email is unverified, so the explanation can say so.
        if let Some(email) = &identity.email {
            let domain = email.domain();
            self.exact_domain.extend(key(&[domain]), &mut out);
            if self.parent_labels != 0 {
                for parent in parents(domain) {
                    if self.parent_labels & label_bit(parent) != 0 {
                        self.parent_domain.extend(key(&[parent]), &mut out);
                    }
                }
            }
        }
        let idp = identity.idp.as_str();
        if self.group_idps.iter().any(|i| **i == *idp) {
            for g in &identity.groups {
                self.idp_group.extend(key(&[idp, g]), &mut out);
            }
        }
        if !self.group.is_empty() {
            for g in &identity.groups {
                self.group.extend(key(&[g]), &mut out);
            }
        }
        if !self.attribute.is_empty() {
            for (name, values) in &identity.attributes {
                if self
                    .attribute_names
                    .binary_search_by(|n| (**n).cmp(name.as_str()))
                    .is_ok()
                {
                    for v in values {
                        self.attribute.extend(key(&[name, v]), &mut out);
                    }
                }
            }
        }
        if !self.idp.is_empty() {
            self.idp.extend(key(&[idp]), &mut out);
        }
        out.extend_from_slice(&self.always);
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_different_parts_differ() {
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
        assert_ne!(key(&["a"]), key(&["a\0"]));
        assert_ne!(key(&["acme.com"]), key(&["acme.co"]));
        assert_eq!(key(&["acme.com"]), key(&["acme.com"]));
    }

    #[test]
    fn label_bits() {
        assert_eq!(label_bit("com"), 1 << 1);
        assert_eq!(label_bit("acme.com"), 1 << 2);
        assert_eq!(label_bit(&"a.".repeat(100)), 1 << 63);
    }
}
