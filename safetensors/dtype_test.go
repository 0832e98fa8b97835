package safetensors

import (
	"math"
	"testing"
)

func TestSize(t *testing.T) {
	tests := []struct {
		d    DType
		want int
	}{
		{DTypeF64, 8}, {DTypeF32, 4}, {DTypeF16, 2}, {DTypeBF16, 2},
		{DTypeI64, 8}, {DTypeI32, 4}, {DTypeI16, 2}, {DTypeI8, 1},
		{DTypeU64, 8}, {DTypeU32, 4}, {DTypeU16, 2}, {DTypeU8, 1},
		{DTypeBOOL, 1}, {DTypeF8E4M3, 1}, {DTypeF8E5M2, 1},
		{"F7", 0}, {"", 0}, {"f32", 0},
	}
	for _, tt := range tests {
		if got := tt.d.Size(); got != tt.want {
			t.Errorf("DType(%q).Size() = %d; want %d", tt.d, got, tt.want)
		}
	}
}

var (
	inf  = float32(math.Inf(1))
	nan  = float32(math.NaN())
	tiny = float32(math.Ldexp(1, -24)) // smallest float16 subnormal
)

func TestFloat32ToFloat16(t *testing.T) {
	tests := []struct {
		in   float32
		want uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2.5, 0xc100},
		{0.1, 0x2e66},
		{65504, 0x7bff},                       // largest finite
		{65519, 0x7bff},                       // below the halfway point to 65536
		{65520, 0x7c00},                       // halfway, 0x7bff is odd: rounds to inf
		{1e10, 0x7c00},                        // overflow
		{-1e10, 0xfc00},                       // overflow
		{float32(math.Ldexp(1, -14)), 0x0400}, // smallest normal
		{tiny, 0x0001},
		{-tiny, 0x8001},
		{float32(math.Ldexp(1023, -24)), 0x03ff},  // largest subnormal
		{float32(math.Ldexp(1, -25)), 0x0000},     // half of tiny, ties to even 0
		{float32(math.Ldexp(3, -26)), 0x0001},     // 0.75 tiny rounds up
		{float32(math.Ldexp(3, -25)), 0x0002},     // 1.5 tiny, ties to even 2
		{float32(math.Ldexp(5, -25)), 0x0002},     // 2.5 tiny, ties to even 2
		{float32(math.Ldexp(1, -30)), 0x0000},     // underflow
		{1 + float32(math.Ldexp(1, -11)), 0x3c00}, // tie, 0x3c00 even
		{1 + float32(math.Ldexp(3, -11)), 0x3c02}, // tie, 0x3c01 odd: up
		{1 + float32(math.Ldexp(1, -11)) + float32(math.Ldexp(1, -20)), 0x3c01},
		{inf, 0x7c00},
		{-inf, 0xfc00},
		{nan, 0x7e00},
	}
	for _, tt := range tests {
		if got := Float32ToFloat16(tt.in); got != tt.want {
			t.Errorf("Float32ToFloat16(%g) = %#04x; want %#04x", tt.in, got, tt.want)
		}
	}
}

func TestFloat16ToFloat32(t *testing.T) {
	tests := []struct {
		in   uint16
		want float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xc100, -2.5},
		{0x7bff, 65504},
		{0x0400, float32(math.Ldexp(1, -14))},
		{0x0001, tiny},
		{0x8001, -tiny},
		{0x03ff, float32(math.Ldexp(1023, -24))},
		{0x7c00, inf},
		{0xfc00, -inf},
	}
	for _, tt := range tests {
		if got := Float16ToFloat32(tt.in); got != tt.want {
			t.Errorf("Float16ToFloat32(%#04x) = %g; want %g", tt.in, got, tt.want)
		}
	}
	if got := Float16ToFloat32(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("Float16ToFloat32(0x7e00) = %g; want NaN", got)
	}
	if got := math.Float32bits(Float16ToFloat32(0x8000)); got != 0x80000000 {
		t.Errorf("Float16ToFloat32(0x8000) bits = %#x; want 0x80000000 (-0)", got)
	}
	// Every finite or infinite half survives a round trip; NaNs stay NaN.
	for h := range 1 << 16 {
		f := Float16ToFloat32(uint16(h))
		got := Float32ToFloat16(f)
		if f != f {
			if got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
				t.Fatalf("Float32ToFloat16(Float16ToFloat32(%#04x)) = %#04x; want a NaN", h, got)
			}
			continue
		}
		if got != uint16(h) {
			t.Fatalf("Float32ToFloat16(Float16ToFloat32(%#04x)) = %#04x; want %#04x", h, got, h)
		}
	}
}

func TestFloat32ToBFloat16(t *testing.T) {
	tests := []struct {
		in   float32
		want uint16
	}{
		{0, 0x0000},
		{1, 0x3f80},
		{-2.5, 0xc020},
		{65504, 0x4780}, // rounds up to 65536
		{math.MaxFloat32, 0x7f80},
		{float32(math.Ldexp(1, -133)), 0x0001},     // smallest subnormal
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, even stays
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, odd rounds up
		{math.Float32frombits(0x3f808001), 0x3f81}, // above the tie
		{inf, 0x7f80},
		{-inf, 0xff80},
		{nan, 0x7fc0},
		{math.Float32frombits(0x7f800001), 0x7fc0}, // signalling NaN must not become inf
	}
	for _, tt := range tests {
		if got := Float32ToBFloat16(tt.in); got != tt.want {
			t.Errorf("Float32ToBFloat16(%g) = %#04x; want %#04x", tt.in, got, tt.want)
		}
	}
}

func TestBFloat16ToFloat32(t *testing.T) {
	tests := []struct {
		in   uint16
		want float32
	}{
		{0x3f80, 1},
		{0xc020, -2.5},
		{0x7f7f, math.Float32frombits(0x7f7f0000)},
		{0x0001, float32(math.Ldexp(1, -133))},
		{0x7f80, inf},
		{0xff80, -inf},
	}
	for _, tt := range tests {
		if got := BFloat16ToFloat32(tt.in); got != tt.want {
			t.Errorf("BFloat16ToFloat32(%#04x) = %g; want %g", tt.in, got, tt.want)
		}
	}
	if got := BFloat16ToFloat32(0x7fc0); !math.IsNaN(float64(got)) {
		t.Errorf("BFloat16ToFloat32(0x7fc0) = %g; want NaN", got)
	}
}
