use burn::module::Module;
use burn::nn::{Dropout, LayerNorm, Linear};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::activation::activate;
use super::attention::SelfAttention;
use super::config::{Activation, EncoderConfig, PositionScheme};
use super::embeddings::Embeddings;
use crate::inputs::TokenBatch;
use super::dropout::dropout;

/// Attention followed by the feed-forward block, each with a post-LN residual.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    pub attention: SelfAttention,
    pub ffn_in: Linear,
    pub ffn_out: Linear,
    pub ffn_layer_norm: LayerNorm,
    pub dropout: Dropout,
    #[module(skip)]
    pub activation: Activation,
}

/// Everything an encoder computes that distillation may match. `hidden_states[0]` is the
/// embedding output and `hidden_states[i]` the output of layer `i`; scores and probabilities
/// are per layer, `[batch, heads, seq, seq]`.
pub struct EncoderOutput {
    pub hidden_states: Vec<Tensor<3>>,
    pub attention_scores: Vec<Tensor<4>>,
    pub attention_probs: Vec<Tensor<4>>,
}

impl EncoderOutput {
    pub fn last_hidden_state(&self) -> Tensor<3> {
        self.hidden_states.last().expect("an encoder output holds the embedding output at least").clone()
    }
}

impl EncoderLayer {
    /// The feed-forward block's inner activations, `[batch, seq, intermediate_size]`.
    pub fn feed_forward_inner(&self, attended: Tensor<3>) -> Tensor<3> {
        activate(self.activation, super::per_token(&self.ffn_in, attended))
    }

    /// The feed-forward block's output from its inner activations: down-projection and post-LN
    /// residual over the attention block's output.
    pub fn feed_forward_output(&self, inner: Tensor<3>, attended: Tensor<3>) -> Tensor<3> {
        let out = dropout(&self.dropout, super::per_token(&self.ffn_out, inner));
        self.ffn_layer_norm.forward(out + attended)
    }

    fn feed_forward(&self, attended: Tensor<3>) -> Tensor<3> {
        self.feed_forward_output(self.feed_forward_inner(attended.clone()), attended)
    }

    fn forward(&self, hidden: Tensor<3>, mask_bias: Tensor<4>) -> (Tensor<3>, Tensor<4>, Tensor<4>) {
        let attended = self.attention.forward(hidden, mask_bias);
        (self.feed_forward(attended.hidden), attended.scores, attended.probs)
    }
}

/// What a forward pass keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every hidden state and attention map (distillation, `distill forward`).
    Everything,
    /// Every hidden state, no attention map, through fused attention where the backend allows
    /// it: a teacher whose hidden states are matched without its attention scores (TinyBERT's
    /// attention term at weight 0, as the headline experiment runs) never builds the
    /// `[batch, heads, seq, seq]` scores and probabilities of each layer.
    HiddenStates,
    /// The last hidden state only, through fused attention where the backend allows it
    /// (inference: teachers' logits, evaluation, prediction).
    LastHidden,
}

#[derive(Module, Debug)]
pub struct Encoder {
    pub embeddings: Embeddings,
    pub layers: Vec<EncoderLayer>,
    #[module(skip)]
    pub config: EncoderConfig,
}

/// The tensors a batch becomes on a device.
pub struct BatchTensors {
    pub input_ids: Tensor<2, Int>,
    pub position_ids: Tensor<2, Int>,
    pub token_type_ids: Tensor<2, Int>,
    /// `[batch, 1, 1, seq]`, 0 where attended and `f32::MIN` at padding.
    pub mask_bias: Tensor<4>,
}

impl Encoder {
    pub fn device(&self) -> Device {
        self.embeddings.word.weight.val().device()
    }

    /// Position ids as transformers makes them for this architecture.
    pub fn position_ids(&self, batch: &TokenBatch) -> Vec<i64> {
        match self.config.position_scheme {
            PositionScheme::Absolute => (0..batch.batch_size()).flat_map(|_| 0..batch.seq_len() as i64).collect(),
            PositionScheme::AfterPadding => {
                let pad = self.config.pad_token_id as i64;
                batch
                    .input_ids
                    .chunks(batch.seq_len())
                    .flat_map(|row| {
                        let mut count = 0;
                        row.iter()
                            .map(|&id| {
                                if id == pad {
                                    pad
                                } else {
                                    count += 1;
                                    pad + count
                                }
                            })
                            .collect::<Vec<_>>()
                    })
                    .collect()
            }
        }
    }

    pub fn batch_tensors(&self, batch: &TokenBatch) -> BatchTensors {
        let device = self.device();
        let shape = [batch.batch_size(), batch.seq_len()];
        let ints = |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, shape), &device);
        let bias: Vec<f32> = batch.attention_mask.iter().map(|&m| if m == 0 { f32::MIN } else { 0.0 }).collect();
        BatchTensors {
            input_ids: ints(batch.input_ids.clone()),
            position_ids: ints(self.position_ids(batch)),
            token_type_ids: ints(batch.token_type_ids.clone()),
            mask_bias: Tensor::<2>::from_data(TensorData::new(bias, shape), &device)
                .reshape([shape[0], 1, 1, shape[1]]),
        }
    }

    pub fn forward(&self, batch: &TokenBatch) -> EncoderOutput {
        self.forward_keeping(batch, Keep::Everything)
    }

    /// The last hidden state, each layer's feed-forward inner activations passed through
    /// `tap(layer index, activations)` on their way (unfused attention): how a neuron ranking
    /// reads (activations) or gates (Taylor) every inner neuron in one pass.
    pub fn forward_tapping_feed_forward(&self, batch: &TokenBatch, mut tap: impl FnMut(usize, Tensor<3>) -> Tensor<3>) -> Tensor<3> {
        let t = self.batch_tensors(batch);
        let mut hidden = self.embeddings.forward(t.input_ids, t.position_ids, t.token_type_ids);
        for (index, layer) in self.layers.iter().enumerate() {
            let attended = layer.attention.forward(hidden, t.mask_bias.clone()).hidden;
            let inner = tap(index, layer.feed_forward_inner(attended.clone()));
            hidden = layer.feed_forward_output(inner, attended);
        }
        hidden
    }

    /// A forward pass keeping what `keep` says. Without attention maps (`LastHidden`,
    /// `HiddenStates`) and outside autodiff the fused attention runs; `LastHidden` keeps only
    /// the last state in `hidden_states`.
    pub fn forward_keeping(&self, batch: &TokenBatch, keep: Keep) -> EncoderOutput {
        let t = self.batch_tensors(batch);
        let mut hidden = self.embeddings.forward(t.input_ids, t.position_ids, t.token_type_ids);
        let layers = self.layers.len();
        let maps = keep == Keep::Everything;
        let every_state = keep != Keep::LastHidden;
        let mut out = EncoderOutput {
            hidden_states: Vec::with_capacity(layers + 1),
            attention_scores: Vec::with_capacity(if maps { layers } else { 0 }),
            attention_probs: Vec::with_capacity(if maps { layers } else { 0 }),
        };
        if every_state {
            out.hidden_states.push(hidden.clone());
        }
        let fused = !maps && !hidden.is_autodiff();
        // Read back from the device once per pass, and only where the host layer can serve.
        let keep_keys = (fused && crate::host::f32_on_cpu(&hidden)).then(|| super::host_attention::kept_keys(t.mask_bias.clone()));
        for layer in &self.layers {
            hidden = if let Some(keep_keys) = keep_keys.as_deref().filter(|_| super::host_layer::serves(layer, &hidden)) {
                super::host_layer::forward(layer, hidden, keep_keys, self.config.layer_norm_eps)
            } else if fused {
                layer.feed_forward(layer.attention.forward_fused(hidden, t.mask_bias.clone()))
            } else {
                let (next, scores, probs) = layer.forward(hidden, t.mask_bias.clone());
                if maps {
                    out.attention_scores.push(scores);
                    out.attention_probs.push(probs);
                }
                next
            };
            if every_state {
                out.hidden_states.push(hidden.clone());
            }
        }
        if !every_state {
            out.hidden_states.push(hidden);
        }
        out
    }
}
