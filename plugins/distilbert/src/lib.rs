//! DistilBERT: no token types, its own config keys (`dim`, `n_layers`, ...) and tensor names,
//! optionally sinusoidal positions, and a `pre_classifier` + ReLU classification head.

use distill_core::model::{PoolerActivation, PositionScheme};
use distill_core::registry::{
    ArchitectureSpec, ConfigDefaults, ConfigKeys, IntermediateSupport, LayerMappingRule, ProjectionRule, StaticPlugin,
    StudentShape, TaskClassNames, TensorNames,
};

fn keys() -> ConfigKeys {
    let k = |s: &str| vec![s.to_string()];
    ConfigKeys {
        vocab_size: k("vocab_size"),
        hidden_size: k("dim"),
        num_layers: k("n_layers"),
        num_heads: k("n_heads"),
        intermediate_size: k("hidden_dim"),
        max_position_embeddings: k("max_position_embeddings"),
        type_vocab_size: vec![],
        layer_norm_eps: vec![],
        activation: k("activation"),
        pad_token_id: k("pad_token_id"),
        hidden_dropout: k("dropout"),
        attention_dropout: k("attention_dropout"),
        initializer_range: k("initializer_range"),
        sinusoidal_positions: k("sinusoidal_pos_embds"),
    }
}

fn tensor_names() -> TensorNames {
    let s = |v: &str| v.to_string();
    TensorNames {
        base_prefixes: vec![s("distilbert."), s("")],
        word_embeddings: s("embeddings.word_embeddings.weight"),
        position_embeddings: s("embeddings.position_embeddings.weight"),
        token_type_embeddings: None,
        embedding_norm: s("embeddings.LayerNorm"),
        layer: s("transformer.layer.{i}."),
        query: s("attention.q_lin"),
        key: s("attention.k_lin"),
        value: s("attention.v_lin"),
        attention_output: s("attention.out_lin"),
        attention_norm: s("sa_layer_norm"),
        ffn_in: s("ffn.lin1"),
        ffn_out: s("ffn.lin2"),
        ffn_norm: s("output_layer_norm"),
        qa_outputs: s("qa_outputs"),
        classifier_dense: s("pre_classifier"),
        classifier_out: s("classifier"),
        token_classifier: s("classifier"),
        mlm_dense: s("vocab_transform"),
        mlm_norm: s("vocab_layer_norm"),
        mlm_bias: s("vocab_projector.bias"),
        ignored: vec![s("embeddings.position_ids"), s("vocab_projector.weight")],
    }
}

pub fn spec() -> ArchitectureSpec {
    let mut defaults = ConfigDefaults::new();
    defaults.insert("type_vocab_size".into(), 0.into());
    defaults.insert("layer_norm_eps".into(), 1e-12.into());
    defaults.insert("pad_token_id".into(), 0.into());
    defaults.insert("hidden_dropout".into(), 0.1.into());
    defaults.insert("attention_dropout".into(), 0.1.into());
    defaults.insert("initializer_range".into(), 0.02.into());
    defaults.insert("sinusoidal_positions".into(), false.into());
    ArchitectureSpec {
        name: "distilbert".into(),
        description: "DistilBERT encoder (distilbert-base-uncased): no token types, dim/n_layers config".into(),
        // Same tokenizer and layer structure as BERT: DistilBERT students learn from BERT teachers.
        family: "bert".into(),
        tokenizer: "wordpiece".into(),
        model_types: vec!["distilbert".into()],
        export_model_type: "distilbert".into(),
        classes: TaskClassNames {
            base: "DistilBertModel".into(),
            question_answering: "DistilBertForQuestionAnswering".into(),
            classification: "DistilBertForSequenceClassification".into(),
            token_classification: "DistilBertForTokenClassification".into(),
            masked_lm: "DistilBertForMaskedLM".into(),
        },
        config_keys: keys(),
        config_defaults: defaults,
        position_scheme: PositionScheme::Absolute,
        tensors: tensor_names(),
        pooler_activation: PoolerActivation::Relu,
        student: StudentShape { num_layers: 6, hidden_size: 768, num_heads: 12, intermediate_size: 3072 },
        intermediate: IntermediateSupport { projection: ProjectionRule::Linear, layer_mapping: LayerMappingRule::Uniform },
    }
}

distill_core::inventory::submit! { StaticPlugin { spec } }
