package autograd

import (
	"math"
	"testing"
)

func TestExpfAccuracy(t *testing.T) {
	worst := 0.0
	for x := float32(-103); x < 88.7; x += 0.0137 {
		got, want := float64(expf(x)), math.Exp(float64(x))
		if want < 1e-37 { // float32 subnormals carry few bits
			if math.Abs(got-want) > 1e-44 {
				t.Fatalf("expf(%v) = %v; want %v", x, got, want)
			}
			continue
		}
		worst = max(worst, math.Abs(got-want)/want)
	}
	if worst > 2e-7 {
		t.Errorf("expf: worst relative error %.2e; want <= 2e-7", worst)
	}
	for _, c := range []struct{ x, want float32 }{{0, 1}, {-200, 0}, {float32(math.Inf(-1)), 0}, {100, float32(math.Inf(1))}} {
		if got := expf(c.x); got != c.want {
			t.Errorf("expf(%v) = %v; want %v", c.x, got, c.want)
		}
	}
	if got := expf(float32(math.NaN())); got == got {
		t.Errorf("expf(NaN) = %v; want NaN", got)
	}
}

func TestTanhfAccuracy(t *testing.T) {
	for x := float32(-12); x < 12; x += 0.001 {
		if d := math.Abs(float64(tanhf(x)) - math.Tanh(float64(x))); d > 2e-7 {
			t.Fatalf("tanhf(%v) = %v; want %v (error %.2e)", x, tanhf(x), math.Tanh(float64(x)), d)
		}
	}
}

func BenchmarkExpf(b *testing.B) {
	xs := make([]float32, 4096)
	for i := range xs {
		xs[i] = float32(i%200)/10 - 10
	}
	b.Run("expf", func(b *testing.B) {
		var s float32
		for range b.N {
			for _, x := range xs {
				s += expf(x)
			}
		}
		_ = s
	})
	b.Run("math.Exp", func(b *testing.B) {
		var s float32
		for range b.N {
			for _, x := range xs {
				s += float32(math.Exp(float64(x)))
			}
		}
		_ = s
	})
}
