//! The configurable post-LN encoder of the BERT family (BERT, RoBERTa, DistilBERT, TinyBERT)
//! and its task heads. Plain structs with one forward each, in the spirit of
//! candle-transformers' `bert.rs`; every architecture difference is a field of [`EncoderConfig`].

mod activation;
mod attention;
mod config;
mod dropout;
mod embeddings;
mod encoder;
mod heads;
pub mod host_attention;
mod host_layer;
mod init;
mod params;

pub use attention::SelfAttention;
pub use config::{Activation, EncoderConfig, PositionScheme};
pub use embeddings::Embeddings;
pub use encoder::{Encoder, EncoderLayer, EncoderOutput, Keep};
pub use heads::{ClassificationHead, Head, PoolerActivation, MaskedLmHead, QaOutput, QuestionAnsweringHead, TaskModel, TaskOutput, TokenClassificationHead};
pub use init::{RandomInit, init_random, with_new_head};
pub use params::{HeadLayout, ParamKey, ParamSource, Part, build_task_model, to_host, visit_params};

/// `linear` applied to each token of `[batch, seq, in]` as one `[batch * seq, in]` matrix
/// product. burn's `Linear` on a 3-D input broadcasts the weight over the batch, and burn-flex
/// then runs one GEMM per sequence, packing the weight again for each, and under autodiff sums
/// the weight's gradient over per-sequence products; one flat product does each once.
pub(crate) fn per_token(linear: &burn::nn::Linear, x: burn::tensor::Tensor<3>) -> burn::tensor::Tensor<3> {
    let [batch, seq, width] = x.dims();
    let out = linear.forward(x.reshape([batch * seq, width]));
    let out_width = out.dims()[1];
    out.reshape([batch, seq, out_width])
}
