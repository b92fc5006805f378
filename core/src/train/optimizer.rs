//! AdamW as PyTorch computes it (decoupled weight decay, bias correction), with no weight decay
//! on one-dimensional parameters (biases and layer norms), and gradient clipping by global norm.
//! Moments are keyed by parameter path (`model.encoder.layers.0.ffn_in.weight`), so they are
//! saved in checkpoints and restored into a freshly built model.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    pub weight_decay: f64,
    /// Clip gradients to this global L2 norm; `None` disables clipping.
    pub max_grad_norm: Option<f64>,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weight_decay: 0.01, max_grad_norm: Some(1.0) }
    }
}

/// First and second moments of each parameter, flattened.
#[derive(Default)]
pub struct AdamW {
    pub config: AdamWConfig,
    /// Updates taken so far (for bias correction).
    pub updates: u64,
    pub moments: BTreeMap<String, (Tensor<1>, Tensor<1>)>,
}

/// Tracks the dotted path of the parameter being visited.
#[derive(Default)]
struct Path(Vec<String>);

impl Path {
    fn enter(&mut self, name: &str) {
        self.0.push(name.to_string());
    }
    fn exit(&mut self) {
        self.0.pop();
    }
    fn current(&self) -> String {
        self.0.join(".")
    }
}

struct NormVisitor<'a> {
    grads: &'a GradientsParams,
    sum: Option<Tensor<1>>,
}

impl ModuleVisitor for NormVisitor<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let sq = (g.clone() * g).sum();
            self.sum = Some(match self.sum.take() {
                Some(s) => s + sq,
                None => sq,
            });
        }
    }
}

/// The global L2 norm of `grads` over the parameters of `module`.
pub fn grad_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    let mut v = NormVisitor { grads, sum: None };
    module.visit(&mut v);
    v.sum.map(|s| (s.into_scalar::<f32>() as f64).sqrt()).unwrap_or(0.0)
}

struct StepMapper<'a> {
    opt: &'a mut AdamW,
    grads: &'a mut GradientsParams,
    lr: f64,
    scale: f64,
    path: Path,
}

impl ModuleMapper for StepMapper<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.enter(name);
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let c = self.opt.config;
        let dims = tensor.dims();
        let n: usize = dims.iter().product();
        let value = tensor.inner().reshape([n]);
        let g = grad.reshape([n]).mul_scalar(self.scale);
        let key = self.path.current();
        let (m, v) = match self.opt.moments.remove(&key) {
            Some((m, v)) => (m, v),
            None => (g.zeros_like(), g.zeros_like()),
        };
        let m = m.mul_scalar(c.beta1) + g.clone().mul_scalar(1.0 - c.beta1);
        let v = v.mul_scalar(c.beta2) + (g.clone() * g).mul_scalar(1.0 - c.beta2);
        let t = self.opt.updates as i32;
        let bc1 = 1.0 - c.beta1.powi(t);
        let bc2 = 1.0 - c.beta2.powi(t);
        // Biases and layer norms (the 1-D parameters) take no weight decay.
        let decayed = if D > 1 && c.weight_decay > 0.0 { value.mul_scalar(1.0 - self.lr * c.weight_decay) } else { value };
        let denom = v.clone().sqrt().div_scalar(bc2.sqrt()).add_scalar(c.epsilon);
        let updated = decayed - (m.clone() / denom).mul_scalar(self.lr / bc1);
        self.opt.moments.insert(key, (m, v));
        let restored = Tensor::from_inner(updated.reshape(dims)).require_grad();
        Param::from_mapped_value(id, restored, mapper)
    }
}

impl AdamW {
    pub fn new(config: AdamWConfig) -> Self {
        Self { config, updates: 0, moments: BTreeMap::new() }
    }

    /// One update of `module` with `grads` at learning rate `lr`; returns the module and the
    /// gradients' global norm before clipping.
    pub fn step<M: Module>(&mut self, module: M, mut grads: GradientsParams, lr: f64) -> (M, f64) {
        let norm = grad_norm(&module, &grads);
        let scale = match self.config.max_grad_norm {
            Some(max) if norm > max => max / (norm + 1e-6),
            _ => 1.0,
        };
        self.updates += 1;
        let mut mapper = StepMapper { opt: self, grads: &mut grads, lr, scale, path: Path::default() };
        (module.map(&mut mapper), norm)
    }
}

/// Every float parameter of a module by path, as flat host values with their shapes.
pub fn named_params<M: Module>(module: &M) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    struct Collect {
        path: Path,
        out: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.enter(name);
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.exit();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.out.insert(self.path.current(), crate::model::to_host(param.val()));
        }
    }
    let mut c = Collect { path: Path::default(), out: BTreeMap::new() };
    module.visit(&mut c);
    c.out
}

/// Replaces the values of `module`'s parameters with those in `values` (by path), keeping ids.
/// Returns the paths of parameters that `values` lacked or had in another shape.
pub fn load_named_params<M: Module>(module: M, values: &BTreeMap<String, (Vec<usize>, Vec<f32>)>) -> (M, Vec<String>) {
    struct Load<'a> {
        path: Path,
        values: &'a BTreeMap<String, (Vec<usize>, Vec<f32>)>,
        problems: Vec<String>,
    }
    impl ModuleMapper for Load<'_> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.enter(name);
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.exit();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let key = self.path.current();
            let (id, tensor, mapper) = param.consume();
            let dims = tensor.dims();
            match self.values.get(&key) {
                Some((shape, data)) if shape.as_slice() == dims.as_slice() => {
                    let device = tensor.device();
                    let t = Tensor::<D>::from_data(burn::tensor::TensorData::new(data.clone(), dims), &device);
                    let t = if tensor.is_require_grad() { t.require_grad() } else { t };
                    Param::from_mapped_value(id, t, mapper)
                }
                _ => {
                    self.problems.push(key);
                    Param::from_mapped_value(id, tensor, mapper)
                }
            }
        }
    }
    let mut l = Load { path: Path::default(), values, problems: vec![] };
    let module = module.map(&mut l);
    (module, l.problems)
}
