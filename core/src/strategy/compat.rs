//! The one compatibility check that the CLI and the trainer share. A pair is judged from the
//! plugins alone (for `distill pairs`) or, when checkpoints are given, from their concrete
//! vocabularies, heads, layer and head counts and widths. A rejection carries every reason.
//! Prediction-layer pairs whose tokenizers differ are accepted, aligned by characters.

use serde::Serialize;

use super::Strategy;
use super::mapping::LayerMapping;
use crate::model::{EncoderConfig, Head};
use crate::registry::{ArchitectureSpec, ProjectionRule};

/// What is known of a loaded (or about to be built) checkpoint.
#[derive(Debug, Clone)]
pub struct CheckpointFacts {
    pub config: EncoderConfig,
    /// The tokenizer's vocabulary sorted by id, when the checkpoint has a tokenizer.
    pub vocabulary: Option<Vec<(String, u32)>>,
    pub head: Option<Head>,
    /// Classification label names, in id order.
    pub labels: Option<Vec<String>>,
}

/// One side of a pair: its plugin and, optionally, its checkpoint.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub spec: &'a ArchitectureSpec,
    pub checkpoint: Option<&'a CheckpointFacts>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionPlan {
    PerHead,
    HeadAveraged,
}

/// How a compatible pair would be distilled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct PairPlan {
    /// (student width, teacher width) of the trained projection, when the widths differ.
    pub projection: Option<(usize, usize)>,
    /// (student layer, teacher layer), 1-based, for intermediate distillation.
    pub layer_pairs: Option<Vec<(usize, usize)>>,
    pub attention: Option<AttentionPlan>,
    /// Set when the tokenizers differ and the prediction layer is carried over by character
    /// offsets (`cross_tokenizer`); says how they differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alignment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub teacher: String,
    pub student: String,
    pub strategy: Strategy,
    pub reasons: Vec<String>,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot distil student plugin `{}` from teacher plugin `{}` with strategy `{}`: {}",
            self.student,
            self.teacher,
            self.strategy.name(),
            self.reasons.join("; ")
        )
    }
}

impl std::error::Error for Rejection {}

#[derive(Debug, Clone, PartialEq)]
pub struct PairOptions {
    pub mapping: LayerMapping,
    pub head_averaged_attention: bool,
    /// Whether the attention term is used at all (its weight is above 0).
    pub attention: bool,
}

impl Default for PairOptions {
    fn default() -> Self {
        Self { mapping: LayerMapping::Uniform, head_averaged_attention: false, attention: true }
    }
}

/// The student's shape: its checkpoint's, or its plugin's default student shape.
fn shape_of(c: &Candidate<'_>) -> (usize, usize, usize) {
    match c.checkpoint {
        Some(f) => (f.config.num_layers, f.config.hidden_size, f.config.num_heads),
        None => (c.spec.student.num_layers, c.spec.student.hidden_size, c.spec.student.num_heads),
    }
}

/// Why the tokenizers differ, if they do: intermediate layers are compared position by position,
/// and the prediction layer is then carried over by characters. Vocabularies are compared where
/// both checkpoints have one, else their sizes, else the plugins' tokenizer kinds.
fn tokenizer_mismatch(teacher: &Candidate<'_>, student: &Candidate<'_>) -> Option<String> {
    if let (Some(t), Some(s)) = (teacher.checkpoint, student.checkpoint) {
        match (&t.vocabulary, &s.vocabulary) {
            (Some(tv), Some(sv)) => {
                return (tv != sv).then(|| {
                    let first = tv.iter().zip(sv).find(|(a, b)| a != b).map(|(a, b)| format!(", first difference at id {}: {:?} vs {:?}", a.1, a.0, b.0)).unwrap_or_default();
                    format!("tokenizers differ: the teacher's vocabulary has {} tokens and the student's {}{first}", tv.len(), sv.len())
                });
            }
            _ if t.config.vocab_size != s.config.vocab_size => {
                return Some(format!("tokenizers differ: vocabulary sizes {} and {}", t.config.vocab_size, s.config.vocab_size));
            }
            _ => {}
        }
    }
    let (t, s) = (teacher.spec, student.spec);
    (t.tokenizer != s.tokenizer).then(|| format!("tokenizers differ: `{}` uses {} and `{}` uses {}", t.name, t.tokenizer, s.name, s.tokenizer))
}

/// Why two checkpoints' heads do not fit each other: no head on the teacher to give
/// predictions, heads of different tasks, or different label sets.
fn head_mismatches(teacher: &CheckpointFacts, student: &CheckpointFacts, strategy: Strategy) -> Vec<String> {
    let mut reasons = Vec::new();
    if teacher.head.is_none() && strategy != Strategy::Intermediate {
        reasons.push("the teacher checkpoint has no task head to give predictions".into());
    }
    if let (Some(th), Some(sh)) = (teacher.head, student.head)
        && th != sh
    {
        reasons.push(format!("heads differ: the teacher has {th:?} and the student {sh:?}"));
    }
    if let (Some(tl), Some(sl)) = (&teacher.labels, &student.labels)
        && tl != sl
    {
        reasons.push(format!("label sets differ: teacher {tl:?}, student {sl:?}"));
    }
    reasons
}

/// The layer mapping, projection and attention comparison of intermediate-layer distillation,
/// into `plan`, with the reasons it cannot be made. Shapes are judged against a concrete teacher
/// only: a teacher plugin has no one shape.
fn plan_intermediate(teacher: &Candidate<'_>, student: &Candidate<'_>, options: &PairOptions, plan: &mut PairPlan, reasons: &mut Vec<String>) {
    let (t_spec, s_spec) = (teacher.spec, student.spec);
    if t_spec.family != s_spec.family {
        reasons.push(format!(
            "architecture families differ: `{}` is family {} and `{}` is family {}; intermediate-layer distillation needs one family",
            t_spec.name, t_spec.family, s_spec.name, s_spec.family
        ));
    }
    let Some(t) = teacher.checkpoint else { return };
    let (t_layers, t_width, t_heads) = (t.config.num_layers, t.config.hidden_size, t.config.num_heads);
    let (s_layers, s_width, s_heads) = shape_of(student);
    if s_layers > t_layers {
        reasons.push(format!("the student has more layers ({s_layers}) than the teacher ({t_layers})"));
    } else {
        match options.mapping.resolve(s_layers, t_layers) {
            Ok(pairs) => plan.layer_pairs = Some(pairs),
            Err(e) => reasons.push(format!("layer mapping: {e}")),
        }
    }
    if s_width != t_width {
        if s_spec.intermediate.projection == ProjectionRule::None {
            reasons.push(format!("widths differ ({s_width} vs {t_width}) and `{}` has no hidden-size projection", s_spec.name));
        }
        plan.projection = Some((s_width, t_width));
    }
    if options.attention {
        if options.head_averaged_attention {
            plan.attention = Some(AttentionPlan::HeadAveraged);
        } else if s_heads == t_heads {
            plan.attention = Some(AttentionPlan::PerHead);
        } else {
            reasons.push(format!("attention head counts differ ({s_heads} vs {t_heads}): pass --head-averaged-attention to compare head-averaged maps, or --attention-weight 0"));
        }
    }
}

/// Judges `student` learning from `teacher` with `strategy`.
pub fn check_pair(teacher: Candidate<'_>, student: Candidate<'_>, strategy: Strategy, options: &PairOptions) -> Result<PairPlan, Rejection> {
    let mut plan = PairPlan::default();
    if strategy == Strategy::Finetune {
        return Ok(plan);
    }
    let mut reasons = Vec::new();
    match tokenizer_mismatch(&teacher, &student) {
        Some(m) if strategy.needs_intermediate() => reasons.push(format!("{m} (intermediate layers are compared position by position, so they need one vocabulary)")),
        Some(m) => plan.alignment = Some(format!("by character alignment: {m}")),
        None => {}
    }
    if let (Some(t), Some(s)) = (teacher.checkpoint, student.checkpoint) {
        reasons.extend(head_mismatches(t, s, strategy));
    }
    if strategy.needs_intermediate() {
        plan_intermediate(&teacher, &student, options, &mut plan, &mut reasons);
    }
    if reasons.is_empty() {
        Ok(plan)
    } else {
        Err(Rejection { teacher: teacher.spec.name.clone(), student: student.spec.name.clone(), strategy, reasons })
    }
}
