package tensor

import (
	"math"
	"testing"
)

// TestQuantizeQ8Rounding: QuantizeQ8 rounds each scaled value half away
// from zero, as math.Round does, on random blocks, on values that scale to
// exactly x.5, and on blocks whose scale is subnormal (divided instead).
func TestQuantizeQ8Rounding(t *testing.T) {
	r := NewRNG(5)
	w := make([]float32, 64*Q8Block)
	for i := range w {
		w[i] = float32(r.Normal())
	}
	for b := 0; b < 8; b++ { // ties: amax 127 makes the scale 1
		blk := w[b*Q8Block : (b+1)*Q8Block]
		blk[0] = 127
		for i := 1; i < Q8Block; i++ {
			blk[i] = float32(i-16) + 0.5
		}
	}
	for i := range Q8Block { // a subnormal scale
		w[8*Q8Block+i] = float32(i-16) * 1e-44
	}
	q, s := QuantizeQ8(w, Q8Block)
	for i, v := range w {
		sc := s[i/Q8Block]
		inv := 1 / sc
		x := float64(v * inv)
		if math.IsInf(float64(inv), 0) {
			x = float64(v) / float64(sc)
		}
		if want := int8(max(-127, min(127, math.Round(x)))); q[i] != want {
			t.Fatalf("value %d (%v, scale %v): %d, want %d", i, v, sc, q[i], want)
		}
	}
	if q[1] != -15 || q[2] != -14 || q[16] != 1 || q[17] != 2 { // -14.5 → -15, -13.5 → -14, 0.5 → 1, 1.5 → 2
		t.Errorf("ties: %v", q[:18])
	}
}
