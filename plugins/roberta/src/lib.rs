//! RoBERTa: BERT's layout under `roberta.`, positions counted after the padding id, a byte-level
//! BPE tokenizer and a classification head of its own (`classifier.dense` + `classifier.out_proj`).

use distill_core::model::{PoolerActivation, PositionScheme};
use distill_core::registry::{
    ArchitectureSpec, ConfigKeys, IntermediateSupport, LayerMappingRule, ProjectionRule, StaticPlugin, StudentShape,
    TaskClassNames, TensorNames, bert_family_defaults,
};

/// BERT's names under `roberta.`, with RoBERTa's classification and masked-LM heads.
pub fn tensor_names() -> TensorNames {
    let s = |v: &str| v.to_string();
    TensorNames {
        base_prefixes: vec![s("roberta."), s("")],
        classifier_dense: s("classifier.dense"),
        classifier_out: s("classifier.out_proj"),
        token_classifier: s("classifier"),
        mlm_dense: s("lm_head.dense"),
        mlm_norm: s("lm_head.layer_norm"),
        mlm_bias: s("lm_head.bias"),
        ignored: vec![s("embeddings.position_ids"), s("pooler.dense.weight"), s("pooler.dense.bias"), s("lm_head.decoder.weight"), s("lm_head.decoder.bias")],
        ..distill_plugin_bert::bert_tensor_names()
    }
}

pub fn spec() -> ArchitectureSpec {
    let mut defaults = bert_family_defaults();
    defaults.insert("pad_token_id".into(), 1.into());
    defaults.insert("type_vocab_size".into(), 1.into());
    defaults.insert("layer_norm_eps".into(), 1e-5.into());
    ArchitectureSpec {
        name: "roberta".into(),
        description: "RoBERTa encoder (roberta-base, distilroberta, tinyroberta), byte-level BPE".into(),
        family: "roberta".into(),
        tokenizer: "byte_level_bpe".into(),
        model_types: vec!["roberta".into()],
        export_model_type: "roberta".into(),
        classes: TaskClassNames {
            base: "RobertaModel".into(),
            question_answering: "RobertaForQuestionAnswering".into(),
            classification: "RobertaForSequenceClassification".into(),
            token_classification: "RobertaForTokenClassification".into(),
            masked_lm: "RobertaForMaskedLM".into(),
        },
        config_keys: ConfigKeys::bert(),
        config_defaults: defaults,
        position_scheme: PositionScheme::AfterPadding,
        tensors: tensor_names(),
        pooler_activation: PoolerActivation::Tanh,
        student: StudentShape { num_layers: 6, hidden_size: 768, num_heads: 12, intermediate_size: 3072 },
        intermediate: IntermediateSupport { projection: ProjectionRule::Linear, layer_mapping: LayerMappingRule::Uniform },
    }
}

distill_core::inventory::submit! { StaticPlugin { spec } }
