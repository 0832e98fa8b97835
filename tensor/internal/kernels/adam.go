package kernels

import "math"

// AdamStep holds the constants of one Adam update, the same for every
// element of every parameter in a step.
type AdamStep struct {
	Beta1, Beta2 float32 // moment decay rates
	C1, C2       float32 // 1 − Beta1, 1 − Beta2
	Eps          float32
	StepSize     float32 // lr / (1 − Beta1^t)
	InvBc2Sqrt   float32 // 1 / √(1 − Beta2^t)
	WeightDecay  float32 // L2 coefficient added to the gradient (Adam); 0 for none
	Decay        float32 // weight multiplier before the step (AdamW's 1 − lr·λ); 1 for none
}

// adamGeneric is the reference loop for Adam.
func adamGeneric(w, g, m, v []float32, s *AdamStep) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for i := range w {
		wi := w[i] * s.Decay
		gi := g[i] + s.WeightDecay*wi
		mi := s.Beta1*m[i] + s.C1*gi
		vi := s.Beta2*v[i] + s.C2*gi*gi
		m[i], v[i] = mi, vi
		w[i] = wi - s.StepSize*mi/(float32(math.Sqrt(float64(vi)))*s.InvBc2Sqrt+s.Eps)
	}
}
