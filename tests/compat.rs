//! The compatibility check: every reason a pair is rejected, in one message; what a compatible
//! pair would use.

use distill_core::model::{EncoderConfig, Head};
use distill_core::pretrained::Pretrained;
use distill_core::registry::Registry;
use distill_core::strategy::Strategy;
use distill_core::strategy::compat::{AttentionPlan, Candidate, CheckpointFacts, PairOptions, check_pair};
use distill_tests::fixture;

fn bert_config() -> EncoderConfig {
    let registry = Registry::builtin().unwrap();
    Pretrained::load(fixture("bert").to_str().unwrap(), None, &registry, &distill_core::default_device()).unwrap().config
}

fn facts(layers: usize, hidden: usize, heads: usize, vocab: &[&str], head: Option<Head>) -> CheckpointFacts {
    CheckpointFacts {
        config: EncoderConfig { num_layers: layers, hidden_size: hidden, num_heads: heads, ..bert_config() },
        vocabulary: Some(vocab.iter().enumerate().map(|(i, t)| (t.to_string(), i as u32)).collect()),
        head,
        labels: None,
    }
}

#[test]
fn compatible_pair_gets_projection_and_mapping() {
    let registry = Registry::builtin().unwrap();
    let (bert, tiny) = (&registry.get("bert").unwrap().spec, &registry.get("tinybert").unwrap().spec);
    let t = facts(12, 768, 12, &["[PAD]", "a"], Some(Head::QuestionAnswering));
    let s = facts(4, 312, 12, &["[PAD]", "a"], Some(Head::QuestionAnswering));
    let plan = check_pair(Candidate { spec: bert, checkpoint: Some(&t) }, Candidate { spec: tiny, checkpoint: Some(&s) }, Strategy::Tinybert, &PairOptions::default()).unwrap();
    assert_eq!(plan.projection, Some((312, 768)));
    assert_eq!(plan.layer_pairs, Some(vec![(1, 3), (2, 6), (3, 9), (4, 12)]));
    assert_eq!(plan.attention, Some(AttentionPlan::PerHead));
}

#[test]
fn rejection_lists_every_reason() {
    let registry = Registry::builtin().unwrap();
    let (roberta, tiny) = (&registry.get("roberta").unwrap().spec, &registry.get("tinybert").unwrap().spec);
    let t = facts(2, 768, 12, &["<s>", "<pad>"], Some(Head::QuestionAnswering));
    let s = facts(4, 312, 4, &["[PAD]", "a"], Some(Head::Classification));
    let err = check_pair(Candidate { spec: roberta, checkpoint: Some(&t) }, Candidate { spec: tiny, checkpoint: Some(&s) }, Strategy::Intermediate, &PairOptions::default()).unwrap_err();
    let text = err.to_string();
    for needle in ["tokenizers differ", "first difference at id 0", "heads differ", "families differ", "more layers (4) than the teacher (2)", "head counts differ (4 vs 12)"] {
        assert!(text.contains(needle), "missing {needle:?} in {text}");
    }
    assert!(text.contains("`tinybert`") && text.contains("`roberta`"), "{text}");

    // Head-averaged attention lifts the head-count reason.
    let t = facts(12, 768, 12, &["[PAD]"], Some(Head::QuestionAnswering));
    let s = facts(4, 312, 4, &["[PAD]"], Some(Head::QuestionAnswering));
    let bert = &registry.get("bert").unwrap().spec;
    let options = PairOptions { head_averaged_attention: true, ..PairOptions::default() };
    let plan = check_pair(Candidate { spec: bert, checkpoint: Some(&t) }, Candidate { spec: tiny, checkpoint: Some(&s) }, Strategy::Intermediate, &options).unwrap();
    assert_eq!(plan.attention, Some(AttentionPlan::HeadAveraged));
}

#[test]
fn prediction_pairs_compare_vocabularies_not_plugin_names() {
    let registry = Registry::builtin().unwrap();
    let (bert, distil) = (&registry.get("bert").unwrap().spec, &registry.get("distilbert").unwrap().spec);
    let t = facts(6, 384, 12, &["[PAD]", "a", "b"], Some(Head::QuestionAnswering));
    let same = facts(3, 384, 12, &["[PAD]", "a", "b"], None);
    let other = facts(3, 384, 12, &["[PAD]", "a", "c"], None);
    assert!(check_pair(Candidate { spec: bert, checkpoint: Some(&t) }, Candidate { spec: distil, checkpoint: Some(&same) }, Strategy::Prediction, &PairOptions::default()).is_ok());
    // Another vocabulary: prediction-layer distillation aligns by characters and says how the
    // vocabularies differ; intermediate-layer distillation is refused.
    let plan = check_pair(Candidate { spec: bert, checkpoint: Some(&t) }, Candidate { spec: distil, checkpoint: Some(&other) }, Strategy::Prediction, &PairOptions::default()).unwrap();
    let how = plan.alignment.unwrap();
    assert!(how.starts_with("by character alignment") && how.contains("first difference at id 2"), "{how}");
    let same_plan = check_pair(Candidate { spec: bert, checkpoint: Some(&t) }, Candidate { spec: distil, checkpoint: Some(&same) }, Strategy::Prediction, &PairOptions::default()).unwrap();
    assert_eq!(same_plan.alignment, None);
    let err = check_pair(Candidate { spec: bert, checkpoint: Some(&t) }, Candidate { spec: distil, checkpoint: Some(&other) }, Strategy::Intermediate, &PairOptions::default()).unwrap_err();
    assert!(err.to_string().contains("first difference at id 2") && err.to_string().contains("position by position"), "{err}");
}
