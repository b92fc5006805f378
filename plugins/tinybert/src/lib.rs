//! TinyBERT: a BERT checkpoint of a smaller shape. Same names and family as BERT; its default
//! student is General TinyBERT 4L-312D (4 layers, hidden 312, 12 heads, FFN 1200).

use distill_core::registry::{ArchitectureSpec, StaticPlugin, StudentShape};

pub fn spec() -> ArchitectureSpec {
    let mut spec = distill_plugin_bert::spec();
    spec.name = "tinybert".into();
    spec.description = "TinyBERT (BERT names; default student 4 layers x 312, 12 heads, FFN 1200)".into();
    // Claims no model_type: TinyBERT checkpoints say "bert", which the bert plugin reads.
    spec.model_types = vec!["tinybert".into()];
    spec.student = StudentShape { num_layers: 4, hidden_size: 312, num_heads: 12, intermediate_size: 1200 };
    // TinyBERT's released configs omit keys newer BERT configs have.
    spec.config_defaults.insert("max_position_embeddings".into(), 512.into());
    spec.config_defaults.insert("activation".into(), "gelu".into());
    spec
}

distill_core::inventory::submit! { StaticPlugin { spec } }
