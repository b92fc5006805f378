//! BERT: the reference architecture of the family (bert-base-uncased, MiniLM, ...).

use distill_core::model::{PoolerActivation, PositionScheme};
use distill_core::registry::{
    ArchitectureSpec, ConfigKeys, IntermediateSupport, LayerMappingRule, ProjectionRule, StaticPlugin, StudentShape,
    TaskClassNames, TensorNames, bert_family_defaults,
};

/// BERT's tensor names, shared with TinyBERT (which is a BERT checkpoint of another shape).
pub fn bert_tensor_names() -> TensorNames {
    let s = |v: &str| v.to_string();
    TensorNames {
        base_prefixes: vec![s("bert."), s("")],
        word_embeddings: s("embeddings.word_embeddings.weight"),
        position_embeddings: s("embeddings.position_embeddings.weight"),
        token_type_embeddings: Some(s("embeddings.token_type_embeddings.weight")),
        embedding_norm: s("embeddings.LayerNorm"),
        layer: s("encoder.layer.{i}."),
        query: s("attention.self.query"),
        key: s("attention.self.key"),
        value: s("attention.self.value"),
        attention_output: s("attention.output.dense"),
        attention_norm: s("attention.output.LayerNorm"),
        ffn_in: s("intermediate.dense"),
        ffn_out: s("output.dense"),
        ffn_norm: s("output.LayerNorm"),
        qa_outputs: s("qa_outputs"),
        classifier_dense: s("{base}pooler.dense"),
        classifier_out: s("classifier"),
        token_classifier: s("classifier"),
        mlm_dense: s("cls.predictions.transform.dense"),
        mlm_norm: s("cls.predictions.transform.LayerNorm"),
        mlm_bias: s("cls.predictions.bias"),
        ignored: vec![s("embeddings.position_ids"), s("pooler.dense.weight"), s("pooler.dense.bias"), s("cls.predictions.decoder.weight"), s("cls.predictions.decoder.bias"), s("cls.seq_relationship.weight"), s("cls.seq_relationship.bias")],
    }
}

pub fn bert_classes() -> TaskClassNames {
    TaskClassNames {
        base: "BertModel".into(),
        question_answering: "BertForQuestionAnswering".into(),
        classification: "BertForSequenceClassification".into(),
        token_classification: "BertForTokenClassification".into(),
        masked_lm: "BertForMaskedLM".into(),
    }
}

pub fn spec() -> ArchitectureSpec {
    ArchitectureSpec {
        name: "bert".into(),
        description: "BERT encoder (bert-base-uncased, MiniLM, ...), transformers' BertModel names".into(),
        family: "bert".into(),
        tokenizer: "wordpiece".into(),
        model_types: vec!["bert".into()],
        export_model_type: "bert".into(),
        classes: bert_classes(),
        config_keys: ConfigKeys::bert(),
        config_defaults: bert_family_defaults(),
        position_scheme: PositionScheme::Absolute,
        tensors: bert_tensor_names(),
        pooler_activation: PoolerActivation::Tanh,
        student: StudentShape { num_layers: 6, hidden_size: 768, num_heads: 12, intermediate_size: 3072 },
        intermediate: IntermediateSupport { projection: ProjectionRule::Linear, layer_mapping: LayerMappingRule::Uniform },
    }
}

distill_core::inventory::submit! { StaticPlugin { spec } }
