//! The core's names for every parameter ([`ParamKey`]), building a model from any source of
//! parameters (a checkpoint, a random initialiser), and walking a model's parameters to save it.
//! Plugins map these keys to their checkpoint's tensor names; the core never sees those names.

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::{Device, Tensor, TensorData};

use super::attention::SelfAttention;
use super::config::EncoderConfig;
use super::embeddings::Embeddings;
use super::encoder::{Encoder, EncoderLayer};
use super::heads::{ClassificationHead, Head, MaskedLmHead, PoolerActivation, QuestionAnsweringHead, TaskModel, TokenClassificationHead};
use crate::error::Result;

/// A parameter tensor of the encoder or a head, independent of any checkpoint's naming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ParamKey {
    WordEmbeddings,
    PositionEmbeddings,
    TokenTypeEmbeddings,
    EmbeddingNorm(Part),
    Query(usize, Part),
    Key(usize, Part),
    Value(usize, Part),
    AttentionOutput(usize, Part),
    AttentionNorm(usize, Part),
    FfnIn(usize, Part),
    FfnOut(usize, Part),
    FfnNorm(usize, Part),
    QaOutputs(Part),
    ClassifierDense(Part),
    ClassifierOut(Part),
    TokenClassifier(Part),
    MlmDense(Part),
    MlmNorm(Part),
    MlmBias,
}

/// Weight or bias of a linear or layer-norm parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    Weight,
    Bias,
}

/// Where a layer norm's or linear layer's tensors come from; shapes are in the checkpoint
/// (PyTorch) layout: linear weights `[out, in]`.
pub trait ParamSource {
    fn tensor(&mut self, key: ParamKey, shape: &[usize]) -> Result<Vec<f32>>;
    /// Whether the source holds this optional parameter (sinusoidal positions may be computed).
    fn has(&self, key: ParamKey) -> bool;
}

/// How the classification head of an architecture is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeadLayout {
    pub pooler_activation: PoolerActivation,
}

struct Builder<'a> {
    source: &'a mut dyn ParamSource,
    device: Device,
}

impl Builder<'_> {
    fn tensor<const D: usize>(&mut self, key: ParamKey, shape: [usize; D]) -> Result<Tensor<D>> {
        let values = self.source.tensor(key, &shape)?;
        Ok(Tensor::from_data(TensorData::new(values, shape), &self.device))
    }

    fn linear(&mut self, weight: ParamKey, bias: ParamKey, d_in: usize, d_out: usize) -> Result<Linear> {
        // Checkpoints store [out, in]; burn's Linear computes x @ W with W as [in, out]. The
        // transpose is made here, once: a lazily transposed weight is copied back into a
        // contiguous one by every forward pass (28 % of a MiniLM forward at batch 1 x 128), and
        // a teacher's weights, never updated, would stay that way for a whole run.
        let stored = self.source.tensor(weight, &[d_out, d_in])?;
        let mut transposed = vec![0.0f32; stored.len()];
        for (o, row) in stored.chunks_exact(d_in).enumerate() {
            for (i, &x) in row.iter().enumerate() {
                transposed[i * d_out + o] = x;
            }
        }
        let w = Tensor::from_data(TensorData::new(transposed, [d_in, d_out]), &self.device);
        let b = self.tensor(bias, [d_out])?;
        Ok(Linear { weight: Param::from_tensor(w), bias: Some(Param::from_tensor(b)) })
    }

    fn layer_norm(&mut self, weight: ParamKey, bias: ParamKey, width: usize, eps: f64) -> Result<LayerNorm> {
        let mut norm = LayerNormConfig::new(width).with_epsilon(eps).init(&self.device);
        norm.gamma = Param::from_tensor(self.tensor(weight, [width])?);
        norm.beta = Some(Param::from_tensor(self.tensor(bias, [width])?));
        Ok(norm)
    }

    fn embedding(&mut self, key: ParamKey, rows: usize, width: usize) -> Result<Embedding> {
        Ok(Embedding { weight: Param::from_tensor(self.tensor(key, [rows, width])?) })
    }
}

fn dropout(prob: f64) -> Dropout {
    DropoutConfig::new(prob).init()
}

/// DistilBERT's fixed sinusoidal table (transformers' `create_sinusoidal_embeddings`).
pub fn sinusoidal_table(positions: usize, width: usize) -> Vec<f32> {
    let mut table = vec![0f32; positions * width];
    for pos in 0..positions {
        for j in 0..width {
            let angle = pos as f64 / 10000f64.powf(2.0 * (j / 2) as f64 / width as f64);
            table[pos * width + j] = if j % 2 == 0 { angle.sin() } else { angle.cos() } as f32;
        }
    }
    table
}

/// Builds a model of `config` with the given heads, taking every parameter from `source`.
pub fn build_task_model(
    config: &EncoderConfig,
    head: Option<(Head, usize)>,
    layout: HeadLayout,
    source: &mut dyn ParamSource,
    device: &Device,
) -> Result<TaskModel> {
    use ParamKey::*;
    use Part::*;
    let h = config.hidden_size;
    let eps = config.layer_norm_eps;
    let mut b = Builder { source, device: device.clone() };

    let position = if config.sinusoidal_positions && !b.source.has(PositionEmbeddings) {
        let table = sinusoidal_table(config.max_position_embeddings, h);
        let t = Tensor::from_data(TensorData::new(table, [config.max_position_embeddings, h]), device);
        Embedding { weight: Param::from_tensor(t) }
    } else {
        b.embedding(PositionEmbeddings, config.max_position_embeddings, h)?
    };
    let embeddings = Embeddings {
        word: b.embedding(WordEmbeddings, config.vocab_size, h)?,
        position,
        token_type: if config.type_vocab_size > 0 {
            Some(b.embedding(TokenTypeEmbeddings, config.type_vocab_size, h)?)
        } else {
            None
        },
        layer_norm: b.layer_norm(EmbeddingNorm(Weight), EmbeddingNorm(Bias), h, eps)?,
        dropout: dropout(config.hidden_dropout),
    };

    let mut layers = Vec::with_capacity(config.num_layers);
    for i in 0..config.num_layers {
        let attention = SelfAttention {
            query: b.linear(Query(i, Weight), Query(i, Bias), h, h)?,
            key: b.linear(Key(i, Weight), Key(i, Bias), h, h)?,
            value: b.linear(Value(i, Weight), Value(i, Bias), h, h)?,
            output: b.linear(AttentionOutput(i, Weight), AttentionOutput(i, Bias), h, h)?,
            layer_norm: b.layer_norm(AttentionNorm(i, Weight), AttentionNorm(i, Bias), h, eps)?,
            dropout: dropout(config.hidden_dropout),
            attention_dropout: dropout(config.attention_dropout),
            num_heads: config.num_heads,
        };
        layers.push(EncoderLayer {
            attention,
            ffn_in: b.linear(FfnIn(i, Weight), FfnIn(i, Bias), h, config.intermediate_size)?,
            ffn_out: b.linear(FfnOut(i, Weight), FfnOut(i, Bias), config.intermediate_size, h)?,
            ffn_layer_norm: b.layer_norm(FfnNorm(i, Weight), FfnNorm(i, Bias), h, eps)?,
            dropout: dropout(config.hidden_dropout),
            activation: config.activation,
        });
    }
    let encoder = Encoder { embeddings, layers, config: config.clone() };

    let mut model = TaskModel { encoder, qa: None, classifier: None, token_classifier: None, mlm: None };
    match head {
        Some((Head::QuestionAnswering, _)) => {
            model.qa = Some(QuestionAnsweringHead { qa_outputs: b.linear(QaOutputs(Weight), QaOutputs(Bias), h, 2)? })
        }
        Some((Head::Classification, labels)) => {
            model.classifier = Some(ClassificationHead {
                dense: b.linear(ClassifierDense(Weight), ClassifierDense(Bias), h, h)?,
                out: b.linear(ClassifierOut(Weight), ClassifierOut(Bias), h, labels)?,
                dropout: dropout(config.hidden_dropout),
                activation: layout.pooler_activation,
            })
        }
        Some((Head::TokenClassification, labels)) => {
            model.token_classifier = Some(TokenClassificationHead {
                classifier: b.linear(TokenClassifier(Weight), TokenClassifier(Bias), h, labels)?,
                dropout: dropout(config.hidden_dropout),
            })
        }
        Some((Head::MaskedLm, _)) => {
            model.mlm = Some(MaskedLmHead {
                dense: b.linear(MlmDense(Weight), MlmDense(Bias), h, h)?,
                layer_norm: b.layer_norm(MlmNorm(Weight), MlmNorm(Bias), h, eps)?,
                bias: Param::from_tensor(b.tensor(MlmBias, [config.vocab_size])?),
                activation: config.activation,
            })
        }
        None => {}
    }
    Ok(model)
}

/// A parameter's values in checkpoint layout, for saving.
pub struct ParamValue {
    pub key: ParamKey,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// A tensor's shape and f32 values on the host.
pub fn to_host<const D: usize>(t: Tensor<D>) -> (Vec<usize>, Vec<f32>) {
    let shape = t.dims().to_vec();
    let values = t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data after conversion");
    (shape, values)
}

/// Every parameter of `model` in checkpoint layout (linear weights back to `[out, in]`).
/// Sinusoidal position tables are included: transformers stores them too.
pub fn visit_params(model: &TaskModel) -> Vec<ParamValue> {
    use ParamKey::*;
    use Part::*;
    let mut out = Vec::new();
    let mut push = |key: ParamKey, (shape, values): (Vec<usize>, Vec<f32>)| out.push(ParamValue { key, shape, values });
    let linear = |l: &Linear| (to_host(l.weight.val().transpose()), to_host(l.bias.as_ref().expect("biased linear").val()));
    let norm = |n: &LayerNorm| (to_host(n.gamma.val()), to_host(n.beta.as_ref().expect("layer norm with bias").val()));

    let e = &model.encoder.embeddings;
    push(WordEmbeddings, to_host(e.word.weight.val()));
    push(PositionEmbeddings, to_host(e.position.weight.val()));
    if let Some(tt) = &e.token_type {
        push(TokenTypeEmbeddings, to_host(tt.weight.val()));
    }
    let (w, bias) = norm(&e.layer_norm);
    push(EmbeddingNorm(Weight), w);
    push(EmbeddingNorm(Bias), bias);
    for (i, layer) in model.encoder.layers.iter().enumerate() {
        let a = &layer.attention;
        for (key, lin) in [(Query as fn(usize, Part) -> ParamKey, &a.query), (Key, &a.key), (Value, &a.value), (AttentionOutput, &a.output), (FfnIn, &layer.ffn_in), (FfnOut, &layer.ffn_out)] {
            let (w, bias) = linear(lin);
            push(key(i, Weight), w);
            push(key(i, Bias), bias);
        }
        for (key, n) in [(AttentionNorm as fn(usize, Part) -> ParamKey, &a.layer_norm), (FfnNorm, &layer.ffn_layer_norm)] {
            let (w, bias) = norm(n);
            push(key(i, Weight), w);
            push(key(i, Bias), bias);
        }
    }
    if let Some(qa) = &model.qa {
        let (w, bias) = linear(&qa.qa_outputs);
        push(QaOutputs(Weight), w);
        push(QaOutputs(Bias), bias);
    }
    if let Some(c) = &model.classifier {
        for (key, lin) in [(ClassifierDense as fn(Part) -> ParamKey, &c.dense), (ClassifierOut, &c.out)] {
            let (w, bias) = linear(lin);
            push(key(Weight), w);
            push(key(Bias), bias);
        }
    }
    if let Some(t) = &model.token_classifier {
        let (w, bias) = linear(&t.classifier);
        push(TokenClassifier(Weight), w);
        push(TokenClassifier(Bias), bias);
    }
    if let Some(m) = &model.mlm {
        let (w, bias) = linear(&m.dense);
        push(MlmDense(Weight), w);
        push(MlmDense(Bias), bias);
        let (w, bias) = norm(&m.layer_norm);
        push(MlmNorm(Weight), w);
        push(MlmNorm(Bias), bias);
        push(MlmBias, to_host(m.bias.val()));
    }
    out
}
