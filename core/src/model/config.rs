use serde::{Deserialize, Serialize};

/// The position-id rule of an architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionScheme {
    /// Positions 0, 1, 2, ... (BERT, DistilBERT).
    Absolute,
    /// RoBERTa: positions start at `pad_token_id + 1` and padding tokens keep `pad_token_id`.
    AfterPadding,
}

/// Feed-forward and head activations, named as transformers' `hidden_act` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// GELU with erf, transformers' "gelu".
    Gelu,
    /// The tanh approximation: "gelu_new", "gelu_pytorch_tanh", "gelu_fast".
    GeluTanh,
    Relu,
}

impl Activation {
    pub fn from_hf_name(name: &str) -> Option<Self> {
        match name {
            "gelu" | "gelu_python" => Some(Self::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" | "gelu_accurate" => Some(Self::GeluTanh),
            "relu" => Some(Self::Relu),
            _ => None,
        }
    }

    pub fn hf_name(self) -> &'static str {
        match self {
            Self::Gelu => "gelu",
            Self::GeluTanh => "gelu_new",
            Self::Relu => "relu",
        }
    }
}

/// The most parameters a config may ask for (80 GB of f32): far beyond any encoder distilled
/// here, and a bound on what a corrupt or hostile config.json makes the loader allocate.
const MAX_PARAMETERS: f64 = 2e10;

/// Everything that shapes an encoder, in the core's own terms. Plugins fill it from their
/// `config.json` dialect (see `registry::ArchitectureSpec::parse_config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    /// 0 when the architecture has no token-type embeddings (DistilBERT).
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub activation: Activation,
    pub position_scheme: PositionScheme,
    /// DistilBERT's fixed sinusoidal position table.
    pub sinusoidal_positions: bool,
    pub pad_token_id: usize,
    pub hidden_dropout: f64,
    pub attention_dropout: f64,
    /// Standard deviation of the normal initialiser for new weights.
    pub initializer_range: f64,
}

impl EncoderConfig {
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_heads
    }

    /// Checks the invariants the forward pass relies on; `source` names where the config came from.
    pub fn validate(&self, source: &std::path::Path) -> crate::Result<()> {
        let err = |field: &str, msg: String| Err(crate::DistillError::config(source, field, msg));
        for (field, value) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_layers),
            ("num_attention_heads", self.num_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
        ] {
            if value == 0 {
                return err(field, "must be positive".into());
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_heads) {
            return err(
                "num_attention_heads",
                format!("hidden size {} is not a multiple of {} heads", self.hidden_size, self.num_heads),
            );
        }
        if self.position_scheme == PositionScheme::AfterPadding && self.pad_token_id + 1 >= self.max_position_embeddings {
            return err("pad_token_id", "leaves no room for positions after padding".into());
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            return err("layer_norm_eps", format!("is {}: must be a finite number above 0", self.layer_norm_eps));
        }
        // burn's dropout asserts a probability in [0, 1]; 1 would zero every activation.
        for (field, p) in [("hidden_dropout_prob", self.hidden_dropout), ("attention_probs_dropout_prob", self.attention_dropout)] {
            if !(0.0..1.0).contains(&p) {
                return err(field, format!("is {p}: a dropout probability must lie in [0, 1)"));
            }
        }
        if !(self.initializer_range.is_finite() && self.initializer_range >= 0.0) {
            return err("initializer_range", format!("is {}: must be a finite number >= 0", self.initializer_range));
        }
        // A size read from a file is bounded before anything is allocated for it.
        let (v, h, f, l) = (self.vocab_size as f64, self.hidden_size as f64, self.intermediate_size as f64, self.num_layers as f64);
        let parameters = (v + self.max_position_embeddings as f64 + self.type_vocab_size as f64) * h + l * (4.0 * h * h + 2.0 * h * f);
        if parameters > MAX_PARAMETERS {
            return err("hidden_size", format!("with these sizes the model would have {parameters:.3e} parameters, over the {MAX_PARAMETERS:.0e} this tool allocates"));
        }
        if self.pad_token_id >= self.vocab_size {
            return err("pad_token_id", format!("is {}, outside the vocabulary of {} tokens", self.pad_token_id, self.vocab_size));
        }
        Ok(())
    }

    /// The sequence length to run `model` at: `requested` (a flag's value, `flag` naming it) if
    /// the position table holds it, refused otherwise (burn's embedding lookup would panic past
    /// it); without a request, `default` cut to the table. The one rule for every command.
    pub fn sequence_length(&self, requested: Option<usize>, default: usize, flag: &str, model: &str) -> crate::Result<usize> {
        let limit = self.max_sequence_length();
        match requested {
            Some(0) => Err(crate::DistillError::Invalid(format!("{flag} is 0: expected at least 1 token"))),
            Some(n) if n > limit => Err(crate::DistillError::Invalid(format!("{flag} is {n}, longer than the {limit} positions of model {model}: give {flag} {limit} or less"))),
            Some(n) => Ok(n),
            None => Ok(default.min(limit)),
        }
    }

    /// The largest sequence length the position table allows.
    pub fn max_sequence_length(&self) -> usize {
        match self.position_scheme {
            PositionScheme::Absolute => self.max_position_embeddings,
            PositionScheme::AfterPadding => self.max_position_embeddings - self.pad_token_id - 1,
        }
    }
}
