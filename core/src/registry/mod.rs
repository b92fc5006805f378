//! Architecture plugins and their registry. A plugin is data: an [`ArchitectureSpec`] that tells
//! the core how to read the architecture's `config.json`, how its checkpoint names tensors, what
//! its classification head looks like, its default student shape and what it brings to
//! intermediate-layer distillation. Built-in plugins submit a spec through `inventory`; dynamic
//! plugins hand over the same spec as JSON from a shared library (see `dynamic`).

mod config_keys;
pub mod dynamic;
mod spec;
mod tensor_names;

use std::path::PathBuf;

pub use config_keys::{ConfigDefaults, ConfigKeys, bert_family_defaults};
pub use spec::{ArchitectureSpec, IntermediateSupport, LayerMappingRule, ProjectionRule, StudentShape, TaskClassNames};
pub use tensor_names::TensorNames;

use crate::error::{DistillError, Result};

/// A plugin compiled into the binary. Plugin crates register with
/// `inventory::submit! { distill_core::registry::StaticPlugin { spec: my_spec } }`.
pub struct StaticPlugin {
    pub spec: fn() -> ArchitectureSpec,
}

inventory::collect!(StaticPlugin);

/// Where a registered plugin came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "path")]
pub enum PluginOrigin {
    Builtin,
    Library(PathBuf),
}

#[derive(Debug, Clone)]
pub struct RegisteredPlugin {
    pub spec: ArchitectureSpec,
    pub origin: PluginOrigin,
}

/// Every known architecture, sorted by name.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    plugins: Vec<RegisteredPlugin>,
    /// (model_type, plugin) in the order plugins were added: the first to claim a model_type
    /// reads config.json files of that type.
    claims: Vec<(String, String)>,
    /// What the caller should tell the user: model_types claimed twice, and which plugin wins.
    warnings: Vec<String>,
}

impl Registry {
    /// The plugins linked into this binary.
    pub fn builtin() -> Result<Self> {
        let mut registry = Self::default();
        for plugin in inventory::iter::<StaticPlugin> {
            registry.add((plugin.spec)(), PluginOrigin::Builtin)?;
        }
        Ok(registry)
    }

    /// Adds a plugin after checking its spec; a name already taken is an error naming both origins.
    pub fn add(&mut self, spec: ArchitectureSpec, origin: PluginOrigin) -> Result<()> {
        spec.validate()?;
        if let Some(existing) = self.get(&spec.name) {
            return Err(DistillError::Plugin {
                plugin: spec.name.clone(),
                message: format!("duplicate plugin name: already registered from {:?}, again from {:?}", existing.origin, origin),
            });
        }
        for model_type in &spec.model_types {
            match self.claims.iter().find(|(t, _)| t == model_type) {
                Some((_, first)) => {
                    let first_origin = self.get(first).map(|p| p.origin.clone());
                    self.warnings.push(format!(
                        "model_type `{model_type}` is claimed by plugin `{first}` ({first_origin:?}) and by plugin `{}` ({origin:?}); `{first}`, added first, reads such checkpoints (choose the other with --plugin)",
                        spec.name
                    ));
                }
                None => self.claims.push((model_type.clone(), spec.name.clone())),
            }
        }
        let at = self.plugins.partition_point(|p| p.spec.name < spec.name);
        self.plugins.insert(at, RegisteredPlugin { spec, origin });
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&RegisteredPlugin> {
        self.plugins.iter().find(|p| p.spec.name == name)
    }

    /// The plugin named `name`, or an error listing the known ones.
    pub fn require(&self, name: &str) -> Result<&RegisteredPlugin> {
        self.get(name).ok_or_else(|| DistillError::Plugin {
            plugin: name.to_string(),
            message: format!("no such plugin; known plugins: {}", self.names().join(", ")),
        })
    }

    /// The plugin that claims a `config.json` `model_type` (the first added, where several do).
    pub fn for_model_type(&self, model_type: &str) -> Option<&RegisteredPlugin> {
        self.claims.iter().find(|(t, _)| t == model_type).and_then(|(_, name)| self.get(name))
    }

    /// Conflicts found while adding plugins (a model_type claimed twice), for the user to see.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn iter(&self) -> impl Iterator<Item = &RegisteredPlugin> {
        self.plugins.iter()
    }

    pub fn names(&self) -> Vec<&str> {
        self.plugins.iter().map(|p| p.spec.name.as_str()).collect()
    }
}

