package autograd

import "math"

// expf returns e^x in float32 with a relative error under 2e-7: x is split
// into n·ln2 + r with |r| <= ln2/2, e^r comes from its degree-7 Taylor
// polynomial, and 2^n is built in the exponent bits. It is several times
// faster than float64 math.Exp, and softmax, cross-entropy and GELU call it
// for every element.
func expf(x float32) float32 {
	switch {
	case x != x: // NaN
		return x
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -103.97208:
		return 0
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	// Adding and subtracting 1.5·2^23 rounds to the nearest integer.
	const magic = 12582912
	t := x*log2e + magic
	n := t - magic
	r := x - n*ln2hi - n*ln2lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	e := int32(n)
	if e > 127 { // e^x near the top of the range: 2^128 in two steps
		return p * math.Float32frombits(uint32(127+127)<<23) * 2
	}
	if e < -126 { // subnormal result: scale in two steps
		return p * math.Float32frombits(uint32(e+126+127)<<23) * math.Float32frombits(1<<23)
	}
	return p * math.Float32frombits(uint32(e+127)<<23)
}

// tanhf returns tanh(x) in float32 as 1 − 2/(e^{2x} + 1), accurate to about
// 1e-7 absolute.
func tanhf(x float32) float32 {
	if x > 9 {
		return 1
	}
	if x < -9 {
		return -1
	}
	return 1 - 2/(expf(2*x)+1)
}

// LogSumExp returns log Σ e^x[i], computed stably (around the maximum) with
// the vectorised exp; scratch must hold len(x) floats and is overwritten.
// Decoding uses it to turn a row of logits into log-probabilities.
func LogSumExp(x, scratch []float32) float64 {
	if len(x) == 0 {
		return math.Inf(-1)
	}
	s := scratch[:len(x)]
	copy(s, x)
	m := rowMax(s)
	if math.IsInf(float64(m), 0) {
		return float64(m)
	}
	return float64(m) + math.Log(float64(expShift(s, m)))
}
