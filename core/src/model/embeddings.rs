use burn::module::Module;
use burn::nn::{Dropout, Embedding, LayerNorm};
use burn::tensor::{Int, Tensor};
use super::dropout::dropout;

/// Word + position (+ token-type) embeddings, then layer norm and dropout.
#[derive(Module, Debug)]
pub struct Embeddings {
    pub word: Embedding,
    pub position: Embedding,
    /// Absent for architectures without segments (DistilBERT).
    pub token_type: Option<Embedding>,
    pub layer_norm: LayerNorm,
    pub dropout: Dropout,
}

impl Embeddings {
    /// `input_ids`, `position_ids` and `token_type_ids` are `[batch, seq]`.
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        position_ids: Tensor<2, Int>,
        token_type_ids: Tensor<2, Int>,
    ) -> Tensor<3> {
        let mut x = self.word.forward(input_ids) + self.position.forward(position_ids);
        if let Some(token_type) = &self.token_type {
            x = x + token_type.forward(token_type_ids);
        }
        dropout(&self.dropout, self.layer_norm.forward(x))
    }
}
