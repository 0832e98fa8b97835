package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// roundBF16 rounds every value of x to bfloat16, in place.
func roundBF16(x []float32) {
	for i, v := range x {
		x[i] = math.Float32frombits(toBF16(v) << 16)
	}
}

func TestToBF16(t *testing.T) {
	for _, c := range []struct {
		in   float32
		want uint32
	}{
		{1, 0x3f80},
		{1 + 1.0/256, 0x3f80},             // a tie: to the even 1
		{1 + 3.0/256, 0x3f82},             // a tie: to the even 1 + 2⁻⁶
		{1 + 1.0/256 + 1.0/65536, 0x3f81}, // past the tie: up
		{-2.5, 0xc020},
		{0, 0},
		{float32(math.Inf(1)), 0x7f80},
		{math.MaxFloat32, 0x7f80}, // rounds up to infinity
		{float32(math.Inf(-1)), 0xff80},
		{1e-40, 0},       // a denormal: flushed, as VCVTNEPS2BF16 does
		{-1e-40, 0x8000}, // to a zero of its sign
	} {
		if got := toBF16(c.in); got != c.want {
			t.Errorf("toBF16(%v) = %#x, want %#x", c.in, got, c.want)
		}
	}
	// A NaN whose payload is all in the low half stays a NaN.
	if got := toBF16(math.Float32frombits(0x7f800001)); got&0x7f80 != 0x7f80 || got&0x7f == 0 {
		t.Errorf("toBF16(NaN) = %#x, not a NaN", got)
	}
}

// TestGemmBF16 runs TestGemm's shapes through the bfloat16 products on
// operands that are bfloat16 values already (so rounding them changes
// nothing and the float64 sum is the reference), then checks that
// operands that are not are rounded to nearest: the product of the
// rounded operands, not of the raw ones or truncated ones, except in the
// products of 4 rows or fewer, which stay float32. Where the CPU
// has no bfloat16 kernels, it checks that UseBF16 says so and changes
// nothing.
func TestGemmBF16(t *testing.T) {
	before := Active().Name
	if err := UseBF16(true); err != nil {
		if bf16Of != nil && before == "avx512" {
			t.Fatalf("UseBF16: %v", err)
		}
		if Active().Name != before {
			t.Fatalf("a failed UseBF16 switched the kernels from %s to %s", before, Active().Name)
		}
		t.Logf("no bfloat16 products here: %v", err)
		return
	}
	defer UseBF16(false)
	im := Active()
	if !im.BF16 || im.Name != "avx512-bf16" {
		t.Fatalf("UseBF16(true): active %s, BF16 %v", im.Name, im.BF16)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	cases := gemmCases(rng)
	cases = append(cases,
		gemmCase{false, true, 1024, 256, 256, 1, 0, 0, true}, // the training step's shapes
		gemmCase{true, false, 256, 256, 1024, 1, 1, 0, true},
		gemmCase{false, false, 1024, 256, 1025, 1, 0, 0, true}, // an odd last block of k
	)
	for _, g := range cases {
		g.bf16 = true
		runGemmWith(t, im.Name, im.Gemm, rng, g)
	}
	// Raw operands: the result is the rounded operands' product, but for
	// the skinny products, which are float32's.
	for _, m := range []int{37, 1, skinnyRowsBF16, skinnyRowsBF16 + 1, 12} {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				rawBF16(t, rng, m, tA, tB)
			}
		}
	}
}

// rawBF16 checks a product of raw operands against the rounded operands'
// (the float32 one for the skinny products).
func rawBF16(t *testing.T, rng *rand.Rand, m int, tA, tB bool) {
	n, k := 70, 301
	a := make([]float32, m*k)
	b := make([]float32, k*n)
	for _, x := range [][]float32{a, b} {
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
	}
	ra, rb := append([]float32(nil), a...), append([]float32(nil), b...)
	skinny := m <= skinnyRowsBF16 // decoding's products, left to float32
	if !skinny {
		roundBF16(ra)
		roundBF16(rb)
	}
	lda, ldb := k, n
	if tA {
		lda = m
	}
	if tB {
		ldb = k
	}
	c := make([]float32, m*n)
	Gemm(tA, tB, m, n, k, 1, a, lda, b, ldb, 0, c, n)
	want := make([]float32, m*n)
	generic.Gemm(tA, tB, m, n, k, 1, ra, lda, rb, ldb, 0, want, n)
	for i := range c {
		var mag float64
		// The sum of magnitudes bounds float32's summation error.
		row, col := i/n, i%n
		for p := 0; p < k; p++ {
			av, bv := ra[row*k+p], rb[p*n+col]
			if tA {
				av = ra[p*m+row]
			}
			if tB {
				bv = rb[col*k+p]
			}
			mag += math.Abs(float64(av) * float64(bv))
		}
		if d := math.Abs(float64(c[i])-float64(want[i])) / mag; d > 2e-5 {
			t.Fatalf("m=%d tA=%v tB=%v (skinny %v): C[%d] = %v, want %v (the product of the operands rounded to bfloat16, or of the raw ones when skinny)", m, tA, tB, skinny, i, c[i], want[i])
		}
	}
}

// TestGemmBiasBF16 checks GemmBias in bfloat16 against its definition:
// bit for bit what Gemm (beta 1) adds to a C that holds the bias, with
// guards around C and NaNs in it before (GemmBias overwrites C).
func TestGemmBiasBF16(t *testing.T) {
	if err := UseBF16(true); err != nil {
		t.Logf("no bfloat16 products here: %v", err) // TestGemmBF16 checks that it is right to say so
		return
	}
	defer UseBF16(false)
	rng := rand.New(rand.NewPCG(7, 8))
	shapes := [][3]int{{1, 1, 1}, {9, 33, 5}, {13, 31, 400}, {12, 64, 17}, {25, 100, 4*blockK + 3}, {40, blockN + 7, 30}, {7, 70, 9}, {30, 96, 41}, {blockM + 7, 65, 20}}
	for _, tB := range []bool{false, true} {
		for _, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			lda, ldb, ldc := k+3, n+1, n+2
			bRows := k
			if tB {
				ldb, bRows = k+1, n
			}
			a, b, bias := make([]float32, m*lda), make([]float32, bRows*ldb), make([]float32, n)
			for _, x := range [][]float32{a, b, bias} {
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
			}
			want := make([]float32, m*ldc)
			for i := range m {
				copy(want[i*ldc:i*ldc+n], bias)
			}
			Gemm(false, tB, m, n, k, 1, a, lda, b, ldb, 1, want, ldc)
			c, all := guarded(rng, m*ldc, true)
			GemmBias(false, tB, m, n, k, a, lda, b, ldb, bias, c, ldc)
			for i := range m {
				for j := range n {
					if got := c[i*ldc+j]; got != want[i*ldc+j] {
						t.Fatalf("tB=%v %dx%dx%d: C[%d,%d] = %v, want %v", tB, m, n, k, i, j, got, want[i*ldc+j])
					}
				}
			}
			checkGuards(t, "C", all, m*ldc)
		}
	}
}
