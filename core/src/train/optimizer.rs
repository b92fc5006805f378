//! AdamW as PyTorch computes it (decoupled weight decay, bias correction), with no weight decay
//! on one-dimensional parameters (biases and layer norms), and gradient clipping by global norm.
//! Moments are keyed by parameter path (`model.encoder.layers.0.ffn_in.weight`), so they are
//! saved in checkpoints and restored into a freshly built model.

use std::collections::{BTreeMap, HashMap};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};

use crate::host;
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

/// PyTorch's AdamW step for one parameter with its scalars resolved once, for both forms of the
/// update: over host memory in one fused pass (CPU) and as tensor operations (other backends).
#[derive(Debug, Clone, Copy)]
struct AdamWUpdate {
    beta1: f32,
    beta2: f32,
    epsilon: f32,
    /// Gradient clipping factor (1 when the global norm is within bounds).
    grad_scale: f32,
    /// Decoupled weight decay, `1 - lr * weight_decay`; 1 for the 1-D parameters (biases and
    /// layer norms), which take none.
    decay: f32,
    /// `lr / (1 - beta1^t)`.
    step_size: f32,
    /// `sqrt(1 - beta2^t)`.
    sqrt_bias_correction2: f32,
}

impl AdamWUpdate {
    /// The step at update `t` (counted from 1) with learning rate `lr`, for a parameter of `dims` dimensions.
    fn new(c: &AdamWConfig, t: u64, lr: f64, grad_scale: f64, dims: usize) -> Self {
        let t = t as i32;
        Self {
            beta1: c.beta1 as f32,
            beta2: c.beta2 as f32,
            epsilon: c.epsilon as f32,
            grad_scale: grad_scale as f32,
            decay: if dims > 1 { (1.0 - lr * c.weight_decay) as f32 } else { 1.0 },
            step_size: (lr / (1.0 - c.beta1.powi(t))) as f32,
            sqrt_bias_correction2: (1.0 - c.beta2.powi(t)).sqrt() as f32,
        }
    }

    /// Updates `value`, `m` and `v` in place (`grad` is only read; it is `mut` to be split).
    fn apply_on_host(&self, value: &mut [f32], grad: &mut [f32], m: &mut [f32], v: &mut [f32]) {
        host::zip_chunks_mut([value, grad, m, v], 1 << 15, |[value, grad, m, v]| {
            for i in 0..value.len() {
                let g = grad[i] * self.grad_scale;
                m[i] = self.beta1 * m[i] + (1.0 - self.beta1) * g;
                v[i] = self.beta2 * v[i] + (1.0 - self.beta2) * g * g;
                let denom = v[i].sqrt() / self.sqrt_bias_correction2 + self.epsilon;
                value[i] = value[i] * self.decay - self.step_size * m[i] / denom;
            }
        });
    }

    /// The same update as tensor operations on flat tensors; returns (value, m, v).
    fn apply_on_tensors(&self, value: Tensor<1>, grad: Tensor<1>, m: Tensor<1>, v: Tensor<1>) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
        let g = grad.mul_scalar(self.grad_scale);
        let m = m.mul_scalar(self.beta1) + g.clone().mul_scalar(1.0 - self.beta1);
        let v = v.mul_scalar(self.beta2) + (g.clone() * g).mul_scalar(1.0 - self.beta2);
        let denom = v.clone().sqrt().div_scalar(self.sqrt_bias_correction2).add_scalar(self.epsilon);
        let value = value.mul_scalar(self.decay) - (m.clone() / denom).mul_scalar(self.step_size);
        (value, m, v)
    }
}

/// First and second moments of each parameter, flattened.
pub struct AdamW {
    pub config: AdamWConfig,
    /// Updates taken so far (for bias correction).
    pub updates: u64,
    pub moments: BTreeMap<String, (Tensor<1>, Tensor<1>)>,
    /// Update CPU-resident parameters in one fused pass over host memory (the default); when
    /// false, every parameter goes through the element-wise tensor path that GPU backends use.
    pub fused_on_cpu: bool,
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

/// Moves the gradients of CPU-resident parameters to host vectors (zero-copy when unshared),
/// returning them by parameter id with their sum of squares.
struct HostGrads<'a> {
    grads: &'a mut GradientsParams,
    out: HashMap<ParamId, Vec<f32>>,
    sum_sq: f64,
}

impl ModuleVisitor for HostGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !host::on_cpu(&param.val()) {
            return;
        }
        if let Some(g) = self.grads.remove::<D>(param.id) {
            let values = crate::model::to_host(g).1;
            self.sum_sq += host::sum_of_squares(&values);
            self.out.insert(param.id, values);
        }
    }
}

struct StepMapper<'a> {
    opt: &'a mut AdamW,
    grads: &'a mut GradientsParams,
    host_grads: HashMap<ParamId, Vec<f32>>,
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
        if let Some(grad) = self.host_grads.remove(&id) {
            let updated = self.step_on_host(tensor.inner(), grad);
            return Param::from_mapped_value(id, Tensor::from_inner(updated).require_grad(), mapper);
        }
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let dims = tensor.dims();
        let n: usize = dims.iter().product();
        let value = tensor.inner().reshape([n]);
        let grad = grad.reshape([n]);
        let key = self.path.current();
        let (m, v) = match self.opt.moments.remove(&key) {
            Some((m, v)) => (m, v),
            None => (grad.zeros_like(), grad.zeros_like()),
        };
        let update = AdamWUpdate::new(&self.opt.config, self.opt.updates, self.lr, self.scale, D);
        let (updated, m, v) = update.apply_on_tensors(value, grad, m, v);
        self.opt.moments.insert(key, (m, v));
        let restored = Tensor::from_inner(updated.reshape(dims)).require_grad();
        Param::from_mapped_value(id, restored, mapper)
    }
}

impl StepMapper<'_> {
    /// The same update as the tensor path, fused into one pass over host memory: on the CPU
    /// backend the tensor path's dozen element-wise temporaries per parameter (47 MB each for a
    /// BERT word embedding) cost more than the arithmetic.
    fn step_on_host<const D: usize>(&mut self, value: Tensor<D>, mut grad: Vec<f32>) -> Tensor<D> {
        let dims = value.dims();
        let device = value.device();
        let mut value = crate::model::to_host(value).1;
        let key = self.path.current();
        let (mut m, mut v) = match self.opt.moments.remove(&key) {
            Some((m, v)) => (crate::model::to_host(m).1, crate::model::to_host(v).1),
            None => (vec![0.0; value.len()], vec![0.0; value.len()]),
        };
        let update = AdamWUpdate::new(&self.opt.config, self.opt.updates, self.lr, self.scale, D);
        update.apply_on_host(&mut value, &mut grad, &mut m, &mut v);
        let n = value.len();
        let moment = |x: Vec<f32>| Tensor::<1>::from_data(TensorData::new(x, [n]), &device);
        self.opt.moments.insert(key, (moment(m), moment(v)));
        Tensor::from_data(TensorData::new(value, dims), &device)
    }
}

impl AdamW {
    pub fn new(config: AdamWConfig) -> Self {
        Self { config, updates: 0, moments: BTreeMap::new(), fused_on_cpu: true }
    }

    /// One update of `module` with `grads` at learning rate `lr`; returns the module and the
    /// gradients' global norm before clipping.
    pub fn step<M: Module>(&mut self, module: M, grads: GradientsParams, lr: f64) -> (M, f64) {
        self.update(module, grads, lr, 1.0, false)
    }

    /// The update of [`AdamW::step`] with gradients of a loss multiplied by `loss_scale` (f16
    /// mixed precision), divided by it first. Gradients that overflowed (a norm that is not
    /// finite) leave the module and the moments as they were; the norm returned, unscaled,
    /// says which happened.
    pub fn step_scaled<M: Module>(&mut self, module: M, grads: GradientsParams, lr: f64, loss_scale: f64) -> (M, f64) {
        self.update(module, grads, lr, loss_scale, true)
    }

    fn update<M: Module>(&mut self, module: M, mut grads: GradientsParams, lr: f64, loss_scale: f64, skip_overflow: bool) -> (M, f64) {
        let mut host = HostGrads { grads: &mut grads, out: HashMap::new(), sum_sq: 0.0 };
        if self.fused_on_cpu {
            module.visit(&mut host);
        }
        let (host_grads, host_sum_sq) = (host.out, host.sum_sq);
        let device_norm = grad_norm(&module, &grads);
        let norm = (device_norm * device_norm + host_sum_sq).sqrt() / loss_scale;
        if skip_overflow && !norm.is_finite() {
            return (module, norm);
        }
        let clip = match self.config.max_grad_norm {
            Some(max) if norm > max => max / (norm + 1e-6),
            _ => 1.0,
        };
        let scale = clip / loss_scale;
        self.updates += 1;
        let mut mapper = StepMapper { opt: self, grads: &mut grads, host_grads, lr, scale, path: Path::default() };
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

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;
    use burn::tensor::{Device, Tensor, TensorData};

    use super::{AdamW, AdamWConfig};

    /// PyTorch's AdamW (torch.optim.AdamW, amsgrad off) in f64 for one tensor, with the clipping
    /// factor of torch.nn.utils.clip_grad_norm_ applied to the gradient first.
    #[allow(clippy::too_many_arguments)] // PyTorch's formula with its hyper-parameters, as written there
    fn reference_step(p: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64], t: i32, lr: f64, wd: f64, clip: f64, c: &AdamWConfig) {
        for i in 0..p.len() {
            let g = g[i] * clip;
            p[i] *= 1.0 - lr * wd;
            m[i] = c.beta1 * m[i] + (1.0 - c.beta1) * g;
            v[i] = c.beta2 * v[i] + (1.0 - c.beta2) * g * g;
            let denom = (v[i] / (1.0 - c.beta2.powi(t))).sqrt() + c.epsilon;
            p[i] -= lr / (1.0 - c.beta1.powi(t)) * m[i] / denom;
        }
    }

    /// Three steps on a linear layer (weight 2-D and decayed, bias 1-D and not) with the loss
    /// sum(A*W) + sum(B*b) + (|W|^2 + |b|^2)/2, so the gradients are A + W and B + b; clipping is
    /// active. Returns the final weight and bias (as stored: `[in, out]`) and the gradient norms.
    fn run(fused: bool, weight_decay: f64) -> ([Vec<f32>; 2], Vec<f64>, [Vec<f32>; 2]) {
        let device = Device::flex().autodiff();
        let mut layer: Linear = LinearConfig::new(3, 2).init(&device);
        let host = |layer: &Linear| [crate::model::to_host(layer.weight.val().inner()).1, crate::model::to_host(layer.bias.as_ref().expect("bias").val().inner()).1];
        let initial = host(&layer);
        let mut opt = AdamW::new(AdamWConfig { max_grad_norm: Some(0.5), weight_decay, ..AdamWConfig::default() });
        opt.fused_on_cpu = fused;
        let a = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, -1.0, 2.0, 1.5, 0.25, -0.75], [3, 2]), &device);
        let b = Tensor::<1>::from_data(TensorData::new(vec![0.3f32, -0.6], [2]), &device);
        let mut norms = vec![];
        for _ in 0..3 {
            let (w, bias) = (layer.weight.val(), layer.bias.as_ref().expect("bias").val());
            let loss = (w.clone() * a.clone()).sum() + (bias.clone() * b.clone()).sum() + ((w.clone() * w).sum() + (bias.clone() * bias).sum()).div_scalar(2.0);
            let grads = GradientsParams::from_grads(loss.backward(), &layer);
            let (next, norm) = opt.step(layer, grads, 0.05);
            layer = next;
            norms.push(norm);
        }
        (host(&layer), norms, initial)
    }

    /// Both forms of the update against PyTorch's formula, with weight decay on, off, and
    /// negative (refused in a run configuration, but the two forms once differed there).
    #[test]
    fn fused_and_tensor_paths_match_pytorch_adamw() {
        let a = [0.5, -1.0, 2.0, 1.5, 0.25, -0.75];
        let b = [0.3, -0.6];
        for (fused, weight_decay) in [(true, 0.01), (false, 0.01), (true, 0.0), (false, 0.0), (true, -0.5), (false, -0.5)] {
            let (got, norms, initial) = run(fused, weight_decay);
            let c = AdamWConfig { weight_decay, ..AdamWConfig::default() };
            let mut p: [Vec<f64>; 2] = initial.clone().map(|v| v.iter().map(|&x| x as f64).collect());
            let mut m = [vec![0.0; 6], vec![0.0; 2]];
            let mut v = m.clone();
            for t in 1..=3 {
                let g = [p[0].iter().zip(a).map(|(p, a)| p + a).collect::<Vec<_>>(), p[1].iter().zip(b).map(|(p, b)| p + b).collect()];
                let norm = g.iter().flatten().map(|x| x * x).sum::<f64>().sqrt();
                assert!((norm - norms[t as usize - 1]).abs() < 1e-5 * norm, "fused {fused}: norm {norm} vs {}", norms[t as usize - 1]);
                let clip = (0.5 / (norm + 1e-6)).min(1.0);
                let (p0, p1) = p.split_at_mut(1);
                let (m0, m1) = m.split_at_mut(1);
                let (v0, v1) = v.split_at_mut(1);
                reference_step(&mut p0[0], &g[0], &mut m0[0], &mut v0[0], t, 0.05, c.weight_decay, clip, &c);
                reference_step(&mut p1[0], &g[1], &mut m1[0], &mut v1[0], t, 0.05, 0.0, clip, &c);
            }
            for (want, got) in p.iter().flatten().zip(got.iter().flatten()) {
                assert!((want - *got as f64).abs() < 2e-6, "fused {fused}: {got} vs PyTorch's formula {want}");
            }
            // Clipping was active and the update moved the parameters.
            assert!(norms[0] > 0.5);
            assert!(p.iter().flatten().zip(initial.iter().flatten()).any(|(x, y)| (x - *y as f64).abs() > 0.01));
        }
    }

    /// f16 loss scaling: gradients of the loss times 1024 divided back by `step_scaled` give the
    /// updates of the plain loss (clipping active); an overflowed gradient (the loss times
    /// infinity) leaves the layer, the moments and the step count as they were, so the steps
    /// after it still match.
    #[test]
    fn scaled_steps_equal_plain_ones_and_an_overflow_is_skipped() {
        for fused in [true, false] {
            let device = Device::flex().autodiff();
            let layer: Linear = LinearConfig::new(3, 2).init(&device);
            let host = |layer: &Linear| [crate::model::to_host(layer.weight.val().inner()).1, crate::model::to_host(layer.bias.as_ref().expect("bias").val().inner()).1];
            let a = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, -1.0, 2.0, 1.5, 0.25, -0.75], [3, 2]), &device);
            let grads = |layer: &Linear, loss_scale: f32| {
                let (w, bias) = (layer.weight.val(), layer.bias.as_ref().expect("bias").val());
                let loss = (w.clone() * a.clone()).sum() + ((w.clone() * w).sum() + (bias.clone() * bias).sum()).div_scalar(2.0);
                GradientsParams::from_grads(loss.mul_scalar(loss_scale).backward(), layer)
            };
            let config = AdamWConfig { max_grad_norm: Some(0.5), weight_decay: 0.01, ..AdamWConfig::default() };
            let (mut plain_opt, mut scaled_opt) = (AdamW::new(config), AdamW::new(config));
            (plain_opt.fused_on_cpu, scaled_opt.fused_on_cpu) = (fused, fused);
            let (mut plain, mut scaled) = (layer.clone(), layer);
            for step in 0..3 {
                let g = grads(&plain, 1.0);
                let (next, plain_norm) = plain_opt.step(plain, g, 0.05);
                plain = next;
                let g = grads(&scaled, 1024.0);
                let (next, scaled_norm) = scaled_opt.step_scaled(scaled, g, 0.05, 1024.0);
                scaled = next;
                assert!((plain_norm - scaled_norm).abs() < 1e-5 * plain_norm, "fused {fused}: norm {scaled_norm} vs {plain_norm}");
                if step == 1 {
                    let before = host(&scaled);
                    let g = grads(&scaled, f32::INFINITY);
                    let (next, norm) = scaled_opt.step_scaled(scaled, g, 0.05, 65536.0);
                    scaled = next;
                    assert!(!norm.is_finite(), "fused {fused}: an overflow reads as a non-finite norm, got {norm}");
                    assert_eq!(host(&scaled), before, "fused {fused}: a skipped update leaves the layer");
                }
            }
            assert_eq!((plain_opt.updates, scaled_opt.updates), (3, 3), "fused {fused}: the skipped update is not counted");
            for (want, got) in host(&plain).iter().flatten().zip(host(&scaled).iter().flatten()) {
                assert!((want - got).abs() < 1e-6, "fused {fused}: scaled {got} vs plain {want}");
            }
        }
    }
}
