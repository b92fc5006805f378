use burn::module::Module;
use burn::nn::{Dropout, LayerNorm, Linear};
use burn::tensor::{Tensor, TensorData};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use super::activation::masked_softmax;
use super::dropout::dropout;
use super::per_token;

/// Multi-head self-attention with its output projection and post-LN residual. Unlike burn's
/// `MultiHeadAttention` it returns the raw pre-softmax scores, which TinyBERT's attention loss
/// matches, as well as the probabilities.
#[derive(Module, Debug)]
pub struct SelfAttention {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    pub output: Linear,
    pub layer_norm: LayerNorm,
    pub dropout: Dropout,
    pub attention_dropout: Dropout,
    pub num_heads: usize,
}

/// One attention block's results: the block output, the raw scores `QK^T / sqrt(d)` before any
/// mask, and the masked softmax probabilities, both `[batch, heads, seq, seq]`.
pub struct AttentionOutput {
    pub hidden: Tensor<3>,
    pub scores: Tensor<4>,
    pub probs: Tensor<4>,
}

impl SelfAttention {
    /// `mask_bias` is `[batch, 1, 1, seq]`: 0 for real tokens and a large negative number for
    /// padding, added to the scores exactly as transformers' eager attention does.
    /// Queries, keys and values split into heads: `[batch, heads, seq, head_dim]` each.
    fn heads(&self, hidden: &Tensor<3>) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
        let [batch, seq, width] = hidden.dims();
        let split = |x: Tensor<3>| x.reshape([batch, seq, self.num_heads, width / self.num_heads]).swap_dims(1, 2);
        (split(per_token(&self.query, hidden.clone())), split(per_token(&self.key, hidden.clone())), split(per_token(&self.value, hidden.clone())))
    }

    /// The block output only, through the backend's fused attention (no score or probability
    /// maps are kept). For inference: the fused kernel has no dropout and no backward.
    pub fn forward_fused(&self, hidden: Tensor<3>, mask_bias: Tensor<4>) -> Tensor<3> {
        let [batch, seq, width] = hidden.dims();
        if crate::host::f32_on_cpu(&hidden) && !hidden.is_autodiff() {
            let context = self.attention_on_host(&hidden, mask_bias);
            return self.layer_norm.forward(per_token(&self.output, context) + hidden);
        }
        let (q, k, v) = self.heads(&hidden);
        // The additive mask as [batch, 1, seq, seq]: one tile per sequence, shared by the heads.
        let bias = mask_bias.expand([batch, 1, seq, seq]);
        let context = attention(q, k, v, None, Some(bias), AttentionModuleOptions::default())
            .swap_dims(1, 2)
            .reshape([batch, seq, width]);
        self.layer_norm.forward(per_token(&self.output, context) + hidden)
    }

    /// The context of the CPU backend's fused path: heads read in place from the projections
    /// (`host_attention`), no transposing copies.
    fn attention_on_host(&self, hidden: &Tensor<3>, mask_bias: Tensor<4>) -> Tensor<3> {
        let [batch, seq, width] = hidden.dims();
        let device = hidden.device();
        let host = |x: Tensor<3>| crate::model::to_host(x).1;
        let (q, k, v) = (host(per_token(&self.query, hidden.clone())), host(per_token(&self.key, hidden.clone())), host(per_token(&self.value, hidden.clone())));
        let keep = super::host_attention::kept_keys(mask_bias);
        let context = super::host_attention::attention(&q, &k, &v, &keep, batch, seq, width, self.num_heads);
        Tensor::from_data(TensorData::new(context, [batch, seq, width]), &device)
    }

    pub fn forward(&self, hidden: Tensor<3>, mask_bias: Tensor<4>) -> AttentionOutput {
        let [batch, seq, width] = hidden.dims();
        let head_dim = width / self.num_heads;
        let (q, k, v) = self.heads(&hidden);
        let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((head_dim as f64).sqrt());
        let probs = masked_softmax(scores.clone(), mask_bias);
        let context = dropout(&self.attention_dropout, probs.clone())
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([batch, seq, width]);
        let projected = dropout(&self.dropout, per_token(&self.output, context));
        AttentionOutput { hidden: self.layer_norm.forward(projected + hidden), scores, probs }
    }
}
