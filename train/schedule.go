package train

import "math"

// Schedule gives the learning rate for a step, counted from 1.
type Schedule interface {
	LR(step int) float32
}

// Noam is the paper's schedule (§5.3):
// lr = Factor · d_model^−0.5 · min(step^−0.5, step · warmup^−1.5),
// rising linearly for Warmup steps, then decaying as 1/√step. Factor 1 is
// the paper's; small data sets often use 1–2.
type Noam struct {
	DModel, Warmup int
	Factor         float64
}

// LR implements Schedule.
func (n Noam) LR(step int) float32 {
	s := float64(max(step, 1))
	f := n.Factor
	if f == 0 {
		f = 1
	}
	return float32(f * math.Pow(float64(n.DModel), -0.5) * math.Min(math.Pow(s, -0.5), s*math.Pow(float64(n.Warmup), -1.5)))
}

// WarmupCosine rises linearly from 0 to Peak over Warmup steps, then follows
// a half cosine down to Min at step Total, and stays at Min after.
type WarmupCosine struct {
	Peak, Min     float64
	Warmup, Total int
}

// LR implements Schedule.
func (w WarmupCosine) LR(step int) float32 {
	if step < w.Warmup {
		return float32(w.Peak * float64(step) / float64(w.Warmup))
	}
	if step >= w.Total {
		return float32(w.Min)
	}
	frac := float64(step-w.Warmup) / float64(max(1, w.Total-w.Warmup))
	return float32(w.Min + 0.5*(w.Peak-w.Min)*(1+math.Cos(math.Pi*frac)))
}

// Constant is a fixed learning rate.
type Constant float64

// LR implements Schedule.
func (c Constant) LR(int) float32 { return float32(c) }
