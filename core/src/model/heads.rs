use burn::module::{Module, Param};
use burn::nn::{Dropout, LayerNorm, Linear};
use burn::tensor::Tensor;
use burn::tensor::activation::{relu, tanh};
use serde::{Deserialize, Serialize};

use super::config::Activation;
use super::activation::activate;
use super::encoder::{Encoder, EncoderOutput, Keep};
use crate::inputs::TokenBatch;
use super::dropout::dropout;

/// Extractive QA: one linear layer giving start and end logits per token.
#[derive(Module, Debug)]
pub struct QuestionAnsweringHead {
    pub qa_outputs: Linear,
}

/// Token classification (NER): dropout, then one linear layer giving each token's label logits,
/// as transformers' `*ForTokenClassification`.
#[derive(Module, Debug)]
pub struct TokenClassificationHead {
    pub classifier: Linear,
    pub dropout: Dropout,
}

/// The activation between a classification head's two layers: BERT's pooler and RoBERTa's
/// head use tanh, DistilBERT's `pre_classifier` ReLU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolerActivation {
    Tanh,
    Relu,
}

/// Sequence classification on the first token: dense, activation, dropout, output layer.
#[derive(Module, Debug)]
pub struct ClassificationHead {
    pub dense: Linear,
    pub out: Linear,
    pub dropout: Dropout,
    #[module(skip)]
    pub activation: PoolerActivation,
}

/// Masked-LM head: dense, activation, layer norm, then the decoder tied to the word embeddings.
#[derive(Module, Debug)]
pub struct MaskedLmHead {
    pub dense: Linear,
    pub layer_norm: LayerNorm,
    pub bias: Param<Tensor<1>>,
    #[module(skip)]
    pub activation: Activation,
}

/// Which head a checkpoint carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Head {
    QuestionAnswering,
    Classification,
    TokenClassification,
    MaskedLm,
}

/// An encoder with at most one task head.
#[derive(Module, Debug)]
pub struct TaskModel {
    pub encoder: Encoder,
    pub qa: Option<QuestionAnsweringHead>,
    pub classifier: Option<ClassificationHead>,
    pub token_classifier: Option<TokenClassificationHead>,
    pub mlm: Option<MaskedLmHead>,
}

/// Start and end logits, `[batch, seq]` each.
pub struct QaOutput {
    pub start_logits: Tensor<2>,
    pub end_logits: Tensor<2>,
}

pub struct TaskOutput {
    pub encoder: EncoderOutput,
    pub qa: Option<QaOutput>,
    /// Classification logits `[batch, labels]`.
    pub logits: Option<Tensor<2>>,
    /// Token-classification logits `[batch, seq, labels]`.
    pub token_logits: Option<Tensor<3>>,
    /// Masked-LM logits `[batch, seq, vocab]`.
    pub mlm_logits: Option<Tensor<3>>,
}

impl QuestionAnsweringHead {
    pub fn forward(&self, hidden: Tensor<3>) -> QaOutput {
        let [batch, seq, _] = hidden.dims();
        let logits = super::per_token(&self.qa_outputs, hidden);
        let start_logits = logits.clone().slice([0..batch, 0..seq, 0..1]).reshape([batch, seq]);
        let end_logits = logits.slice([0..batch, 0..seq, 1..2]).reshape([batch, seq]);
        QaOutput { start_logits, end_logits }
    }
}

impl ClassificationHead {
    pub fn forward(&self, hidden: Tensor<3>) -> Tensor<2> {
        let [batch, _, width] = hidden.dims();
        let first = hidden.slice([0..batch, 0..1]).reshape([batch, width]);
        let pooled = self.dense.forward(first);
        let pooled = match self.activation {
            PoolerActivation::Tanh => tanh(pooled),
            PoolerActivation::Relu => relu(pooled),
        };
        self.out.forward(dropout(&self.dropout, pooled))
    }

    pub fn num_labels(&self) -> usize {
        self.out.weight.val().dims()[1]
    }
}

impl TokenClassificationHead {
    pub fn forward(&self, hidden: Tensor<3>) -> Tensor<3> {
        super::per_token(&self.classifier, dropout(&self.dropout, hidden))
    }

    pub fn num_labels(&self) -> usize {
        self.classifier.weight.val().dims()[1]
    }
}

impl MaskedLmHead {
    /// `word_embeddings` is `[vocab, hidden]`, the tied decoder weight.
    pub fn forward(&self, hidden: Tensor<3>, word_embeddings: Tensor<2>) -> Tensor<3> {
        let x = self.layer_norm.forward(activate(self.activation, super::per_token(&self.dense, hidden)));
        let [batch, seq, width] = x.dims();
        let vocab = word_embeddings.dims()[0];
        let logits = x.reshape([batch * seq, width]).matmul(word_embeddings.transpose()) + self.bias.val().unsqueeze();
        logits.reshape([batch, seq, vocab])
    }
}

impl TaskModel {
    pub fn head(&self) -> Option<Head> {
        if self.qa.is_some() {
            Some(Head::QuestionAnswering)
        } else if self.classifier.is_some() {
            Some(Head::Classification)
        } else if self.token_classifier.is_some() {
            Some(Head::TokenClassification)
        } else if self.mlm.is_some() {
            Some(Head::MaskedLm)
        } else {
            None
        }
    }

    /// The label count of a sequence- or token-classification head.
    pub fn num_labels(&self) -> Option<usize> {
        self.classifier.as_ref().map(ClassificationHead::num_labels).or(self.token_classifier.as_ref().map(TokenClassificationHead::num_labels))
    }

    pub fn forward(&self, batch: &TokenBatch) -> TaskOutput {
        self.forward_keeping(batch, Keep::Everything)
    }

    /// The head outputs, keeping of the encoder what `keep` says.
    pub fn forward_keeping(&self, batch: &TokenBatch, keep: Keep) -> TaskOutput {
        let encoder = self.encoder.forward_keeping(batch, keep);
        let last = encoder.last_hidden_state();
        let qa = self.qa.as_ref().map(|h| h.forward(last.clone()));
        let logits = self.classifier.as_ref().map(|h| h.forward(last.clone()));
        let token_logits = self.token_classifier.as_ref().map(|h| h.forward(last.clone()));
        let mlm_logits =
            self.mlm.as_ref().map(|h| h.forward(last.clone(), self.encoder.embeddings.word.weight.val()));
        TaskOutput { encoder, qa, logits, token_logits, mlm_logits }
    }
}
