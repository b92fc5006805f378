//! Stable hashes (the same on every platform and run): cache keys, run fingerprints, seeds.

use std::hash::Hasher;

/// 64-bit FNV-1a.
pub struct KeyHasher(u64);

impl Default for KeyHasher {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A stable hash of a few numbers (seeds per paragraph, copy, step).
pub fn stable_hash(values: &[u64]) -> u64 {
    let mut h = KeyHasher::default();
    values.iter().for_each(|v| h.write(&v.to_le_bytes()));
    h.finish()
}

/// A stable hash of the bytes of `files`, in order (a model's weights and config, a data file).
/// A data pattern (`data::shards`) stands for its shards: their names and bytes, in name order.
pub fn hash_files(files: &[&std::path::Path]) -> crate::Result<u64> {
    use std::io::Read;
    let mut h = KeyHasher::default();
    let mut buf = vec![0u8; 1 << 20];
    // (the name to hash before the bytes, the file): a shard's name too, so that renaming or
    // reordering shards changes the hash.
    let mut expanded: Vec<(Option<std::ffi::OsString>, std::path::PathBuf)> = Vec::with_capacity(files.len());
    for f in files {
        if crate::data::shards::is_pattern(f) {
            expanded.extend(crate::data::shards::expand(f)?.into_iter().map(|shard| (shard.file_name().map(ToOwned::to_owned), shard)));
        } else {
            expanded.push((None, f.to_path_buf()));
        }
    }
    for (name, f) in &expanded {
        if let Some(name) = name {
            h.write(name.as_encoded_bytes());
        }
        let f = f.as_path();
        let mut file = std::fs::File::open(f).map_err(|e| crate::DistillError::io(f, e))?;
        loop {
            let n = file.read(&mut buf).map_err(|e| crate::DistillError::io(f, e))?;
            if n == 0 {
                break;
            }
            h.write(&buf[..n]);
        }
    }
    Ok(h.finish())
}

/// What decides a result (a training stage's), field by field: settings as their JSON, files
/// and data as hashes. Kept beside what it describes, so that a later run with other settings
/// is told which fields differ instead of silently reusing or resuming it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(pub std::collections::BTreeMap<String, String>);

impl Fingerprint {
    pub fn insert(&mut self, field: &str, value: impl Into<String>) {
        self.0.insert(field.to_string(), value.into());
    }

    /// Records a setting as its JSON text.
    pub fn setting(&mut self, field: &str, value: &impl serde::Serialize) {
        self.insert(field, serde_json::to_string(value).expect("settings serialise"));
    }

    /// One hash of every field, to chain a stage to the one before it.
    pub fn digest(&self) -> String {
        let mut h = KeyHasher::default();
        for (k, v) in &self.0 {
            h.write(k.as_bytes());
            h.write(&[0]);
            h.write(v.as_bytes());
            h.write(&[0]);
        }
        format!("{:016x}", h.finish())
    }

    /// The fields whose values differ between `self` (what was recorded) and `now`, each as
    /// "field: X before, Y now"; a field only one side has counts when `both_sides` is false.
    pub fn differences(&self, now: &Fingerprint, both_sides: bool) -> Vec<String> {
        let shorten = |v: Option<&String>| v.map_or_else(|| "(none)".to_string(), |v| if v.chars().count() > 80 { format!("{}...", v.chars().take(77).collect::<String>()) } else { v.clone() });
        let keys: std::collections::BTreeSet<&String> = self.0.keys().chain(now.0.keys()).collect();
        keys.into_iter()
            .filter(|k| {
                let (a, b) = (self.0.get(*k), now.0.get(*k));
                a != b && (!both_sides || (a.is_some() && b.is_some()))
            })
            .map(|k| format!("{k}: {} before, {} now", shorten(self.0.get(k)), shorten(now.0.get(k))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Fingerprint;

    #[test]
    fn differences_name_each_changed_field() {
        let mut a = Fingerprint::default();
        a.setting("temperature", &2.0);
        a.insert("teacher", "00aa");
        let mut b = a.clone();
        assert!(a.differences(&b, false).is_empty());
        assert_eq!(a.digest(), b.digest());
        b.setting("temperature", &4.0);
        b.insert("dev", "11");
        assert_eq!(a.differences(&b, false), ["dev: (none) before, 11 now", "temperature: 2.0 before, 4.0 now"]);
        assert_eq!(a.differences(&b, true), ["temperature: 2.0 before, 4.0 now"]);
        assert_ne!(a.digest(), b.digest());
    }
}
