//! Linear warm-up to the peak learning rate, then linear decay to zero at the last update.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinearSchedule {
    pub peak: f64,
    pub warmup_steps: usize,
    pub total_steps: usize,
}

impl LinearSchedule {
    /// The learning rate of update `step` (0-based): `peak * (step + 1) / warmup` during
    /// warm-up, then falling linearly to 0 after the last update.
    pub fn lr(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.peak * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let decay = self.total_steps.saturating_sub(self.warmup_steps).max(1) as f64;
        self.peak * (self.total_steps.saturating_sub(step) as f64 / decay).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::LinearSchedule;

    #[test]
    fn warm_up_then_decay() {
        let s = LinearSchedule { peak: 1.0, warmup_steps: 4, total_steps: 12 };
        let lrs: Vec<f64> = (0..12).map(|i| s.lr(i)).collect();
        assert_eq!(&lrs[..4], &[0.25, 0.5, 0.75, 1.0]);
        assert_eq!(lrs[4], 1.0);
        assert!((lrs[8] - 0.5).abs() < 1e-12);
        assert!((lrs[11] - 0.125).abs() < 1e-12);
        assert!(lrs.windows(2).skip(4).all(|w| w[1] < w[0]));
    }
}
