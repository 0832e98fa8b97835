//go:build amd64 && !purego

package autograd

import "github.com/attn-go/attn/tensor"

// Assembly (attention_amd64.s) for the element-wise loops of autograd (the
// streaming attention kernel, GELU, ReLU, LayerNorm, dropout), used when the
// CPU has AVX2 and FMA (as the tensor kernels detect it); the purego build
// tag or an older CPU falls back to the Go loops.

// expShiftAVX2 is expShiftGo over n elements, n a multiple of 8.
//
//go:noescape
func expShiftAVX2(x *float32, n int, m float32) float32

// rowMaxAVX2 returns the largest of n > 0 elements, n a multiple of 8.
//
//go:noescape
func rowMaxAVX2(x *float32, n int) float32

// dsRowAVX2 sets dp[j] = p[j]·(dp[j] − di) for j < n, n a multiple of 8.
//
//go:noescape
func dsRowAVX2(p, dp *float32, n int, di float32)

// geluFwdAVX2 and geluBwdAVX2 are geluTanhGo and geluTanhBackGo over n
// elements, n a positive multiple of 8.
//
//go:noescape
func geluFwdAVX2(x, t, y *float32, n int)

//go:noescape
func geluBwdAVX2(x, t, dy, dx *float32, n int)

// geluTanh sets t = tanh(u) and y = GELU(x) (see geluTanhGo).
func geluTanh(x, t, y []float32) {
	if n := len(x) &^ 7; attnSIMD && n > 0 {
		geluFwdAVX2(&x[0], &t[:n][0], &y[:n][0], n)
		x, t, y = x[n:], t[n:], y[n:]
	}
	geluTanhGo(x, t, y)
}

// geluTanhBack adds GELU's gradient into dx (see geluTanhBackGo).
func geluTanhBack(x, t, dy, dx []float32) {
	if n := len(x) &^ 7; attnSIMD && n > 0 {
		geluBwdAVX2(&x[0], &t[:n][0], &dy[:n][0], &dx[:n][0], n)
		x, t, dy, dx = x[n:], t[n:], dy[n:], dx[n:]
	}
	geluTanhBackGo(x, t, dy, dx)
}

// swigluFwdAVX2 is swigluGo over n elements, n a positive multiple of 8.
//
//go:noescape
func swigluFwdAVX2(gate, up, y *float32, n int)

// swiglu sets y = silu(g)·u (see swigluGo).
func swiglu(g, u, y []float32) {
	if n := len(g) &^ 7; attnSIMD && n > 0 {
		swigluFwdAVX2(&g[0], &u[:n][0], &y[:n][0], n)
		g, u, y = g[n:], u[n:], y[n:]
	}
	swigluGo(g, u, y)
}

// quickgeluFwdAVX2 is quickGELUGo over n elements, n a positive multiple
// of 8.
//
//go:noescape
func quickgeluFwdAVX2(x, y *float32, n int)

// quickGELU sets y = x·σ(1.702x) (see quickGELUGo).
func quickGELU(x, y []float32) {
	if n := len(x) &^ 7; attnSIMD && n > 0 {
		quickgeluFwdAVX2(&x[0], &y[:n][0], n)
		x, y = x[n:], y[n:]
	}
	quickGELUGo(x, y)
}

// geluErfFwdAVX2 and geluErfBwdAVX2 are geluErfGo and geluErfBackGo over
// n elements, n a positive multiple of 8.
//
//go:noescape
func geluErfFwdAVX2(x, e, y *float32, n int)

//go:noescape
func geluErfBwdAVX2(x, e, dy, dx *float32, n int)

// geluErf sets e = e^(−x²/2) and y = x·Φ(x) (see geluErfGo).
func geluErf(x, e, y []float32) {
	if n := len(x) &^ 7; attnSIMD && n > 0 {
		geluErfFwdAVX2(&x[0], &e[:n][0], &y[:n][0], n)
		x, e, y = x[n:], e[n:], y[n:]
	}
	geluErfGo(x, e, y)
}

// geluErfBack adds exact GELU's gradient into dx (see geluErfBackGo).
func geluErfBack(x, e, dy, dx []float32) {
	if n := len(x) &^ 7; attnSIMD && n > 0 {
		geluErfBwdAVX2(&x[0], &e[:n][0], &dy[:n][0], &dx[:n][0], n)
		x, e, dy, dx = x[n:], e[n:], dy[n:], dx[n:]
	}
	geluErfBackGo(x, e, dy, dx)
}

// lnFwdRowAVX2 normalises one row of c values (c a positive multiple of 8):
// y = (x − mean)·rstd·w + b, returning mean and rstd.
//
//go:noescape
func lnFwdRowAVX2(x, w, b, y *float32, c int, eps float32) (mean, rstd float32)

// lnBwdRowAVX2 is one row of LayerNorm's backward pass: pw += g·x̂, pb += g
// and, when dx is not nil, dx += rstd·(g·w − mean(g·w) − x̂·mean(g·w·x̂)).
//
//go:noescape
func lnBwdRowAVX2(x, dy, w, pw, pb, dx *float32, c int, mean, rstd float32)

// zeroRow is the bias the vector kernel adds for a LayerNorm without one.
var zeroRow [1 << 14]float32

// lnFwdRow normalises one row (see lnFwdRowGo).
func lnFwdRow(x, w, b, y []float32, eps float32) (mean, rstd float32) {
	if c := len(x); attnSIMD && c > 0 && c%8 == 0 {
		if b == nil { // a LayerNorm without bias (ModernBERT's): adding zeros
			if c > len(zeroRow) {
				return lnFwdRowGo(x, w, b, y, eps)
			}
			b = zeroRow[:c]
		}
		return lnFwdRowAVX2(&x[0], &w[:c][0], &b[:c][0], &y[:c][0], c, eps)
	}
	return lnFwdRowGo(x, w, b, y, eps)
}

// lnBwdRow is one row of LayerNorm's backward pass (see lnBwdRowGo).
func lnBwdRow(x, g, w, pw, pb, dx []float32, mean, rstd float32) {
	if c := len(x); attnSIMD && c > 0 && c%8 == 0 {
		var d *float32
		if dx != nil {
			d = &dx[:c][0]
		}
		lnBwdRowAVX2(&x[0], &g[:c][0], &w[:c][0], &pw[:c][0], &pb[:c][0], d, c, mean, rstd)
		return
	}
	lnBwdRowGo(x, g, w, pw, pb, dx, mean, rstd)
}

// dropoutAVX2 is dropoutGo for n a positive multiple of 8; m may be nil.
//
//go:noescape
func dropoutAVX2(x, m, y *float32, n int, seed uint64, base int, thr int32, keep float32)

// dropout512 is dropoutAVX2 for n a positive multiple of 16 (AVX-512F),
// with its numbers. Sixteen lanes halve the work of the draws, three
// 32-bit multiplies an element: the small training step ran 1.020× faster
// and the base step 1.014× (40 and 10 pairs toggled in one process).
//
//go:noescape
func dropout512(x, m, y *float32, n int, seed uint64, base int, thr int32, keep float32)

// mulAddAVX2 computes dst = a·b (dst += a·b when add is 1) over n
// elements, n a positive multiple of 8.
//
//go:noescape
func mulAddAVX2(dst, a, b *float32, n int, add int)

// dropout applies a Dropout mask (see dropoutGo); m may be nil.
func dropout(x, m, y []float32, seed uint64, base int, thr int32, keep float32) {
	if n := len(x) &^ 15; attnSIMD && attnAVX512 && n > 0 {
		var mp *float32
		if m != nil {
			mp = &m[:n][0]
			m = m[n:]
		}
		dropout512(&x[0], mp, &y[:n][0], n, seed, base, thr, keep)
		x, y, base = x[n:], y[n:], base+n
	}
	if n := len(x) &^ 7; attnSIMD && n > 0 {
		var mp *float32
		if m != nil {
			mp = &m[:n][0]
			m = m[n:]
		}
		dropoutAVX2(&x[0], mp, &y[:n][0], n, seed, base, thr, keep)
		x, y, base = x[n:], y[n:], base+n
	}
	dropoutGo(x, m, y, seed, base, thr, keep)
}

// mulInto computes dst = a·b, or dst += a·b when add is set.
func mulInto(dst, a, b []float32, add bool) {
	if n := len(dst) &^ 7; attnSIMD && n > 0 {
		flag := 0
		if add {
			flag = 1
		}
		mulAddAVX2(&dst[0], &a[:n][0], &b[:n][0], n, flag)
		dst, a, b = dst[n:], a[n:], b[n:]
	}
	mulIntoGo(dst, a, b, add)
}

//go:noescape
func reluFwdAVX2(x, y *float32, n int)

//go:noescape
func reluBwdAVX2(x, dy, dx *float32, n int, add int)

// relu sets y = max(x, 0) (see reluGo).
func relu(x, y []float32) {
	if n := len(x) &^ 7; attnSIMD && n > 0 {
		reluFwdAVX2(&x[0], &y[:n][0], n)
		x, y = x[n:], y[n:]
	}
	reluGo(x, y)
}

// reluBack adds dy into dx where x > 0 (see reluBackGo).
func reluBack(x, dy, dx []float32) {
	if n := len(x) &^ 7; attnSIMD && n > 0 {
		reluBwdAVX2(&x[0], &dy[:n][0], &dx[:n][0], n, 1)
		x, dy, dx = x[n:], dy[n:], dx[n:]
	}
	reluBackGo(x, dy, dx, true)
}

// reluDropBwdAVX2 is reluDropBack's vector loop, n a positive multiple of
// 8 (add 1 adds).
//
//go:noescape
func reluDropBwdAVX2(y, dy, dx *float32, n int, keep float32, add int)

// reluDropBack sets dx = dy·keep where y > 0, else +0, or adds it with add
// (see reluDropBackGo).
func reluDropBack(y, dy, dx []float32, keep float32, add bool) {
	if n := len(y) &^ 7; attnSIMD && n > 0 {
		flag := 0
		if add {
			flag = 1
		}
		reluDropBwdAVX2(&y[0], &dy[:n][0], &dx[:n][0], n, keep, flag)
		y, dy, dx = y[n:], dy[n:], dx[n:]
	}
	reluDropBackGo(y, dy, dx, keep, add)
}

// reluMask sets dx = dy where x > 0, else +0 (dx may be dy; see
// reluBackGo).
func reluMask(x, dy, dx []float32) {
	if n := len(x) &^ 7; attnSIMD && n > 0 {
		reluBwdAVX2(&x[0], &dy[:n][0], &dx[:n][0], n, 0)
		x, dy, dx = x[n:], dy[n:], dx[n:]
	}
	reluBackGo(x, dy, dx, false)
}

// attnSIMD reports whether the assembly runs; tests switch it off to
// check the Go loops too.
var attnSIMD = tensor.HasAVX2FMA()

// attnAVX512 enables the AVX-512 loops, dropMask512 and dropout512 (with
// attnSIMD).
var attnAVX512 = tensor.HasAVX512DQ()

// dropMask512 sets m[j] to keep or 0 (see dropMaskGo), n a positive
// multiple of 8.
//
//go:noescape
func dropMask512(m *float32, n int, ctr, thr uint64, keep float32)

// dropMaskAVX2 is dropMask512 in AVX2's four 64-bit lanes, whose
// multiplies it builds from 32-bit ones.
//
//go:noescape
func dropMaskAVX2(m *float32, n int, ctr, thr uint64, keep float32)

// dropMask sets m[j] = keep for each weight j of m kept by the draws of
// ctr, ctr + Golden64, ..., else 0 (see dropMaskGo).
func dropMask(m []float32, ctr, thr uint64, keep float32) {
	if n := len(m) &^ 7; attnSIMD && n > 0 {
		if attnAVX512 {
			dropMask512(&m[0], n, ctr, thr, keep)
		} else {
			dropMaskAVX2(&m[0], n, ctr, thr, keep)
		}
		m, ctr = m[n:], ctr+uint64(n)*tensor.Golden64
	}
	dropMaskGo(m, ctr, thr, keep)
}

// expShift sets x[j] = e^(x[j] − m) (x[j] = −Inf gives 0) and returns the
// sum; see expShiftGo.
func expShift(x []float32, m float32) float32 {
	if n := len(x) &^ 7; attnSIMD && n > 0 {
		return expShiftAVX2(&x[0], n, m) + expShiftGo(x[n:], m)
	}
	return expShiftGo(x, m)
}

// rowMax returns the largest of x (−Inf if x is empty).
func rowMax(x []float32) float32 {
	if n := len(x) &^ 7; attnSIMD && n > 0 {
		return max(rowMaxAVX2(&x[0], n), rowMaxGo(x[n:]))
	}
	return rowMaxGo(x)
}

// dsRow sets dp[j] = p[j]·(dp[j] − di), the softmax backward of one row.
func dsRow(p, dp []float32, di float32) {
	p = p[:len(dp)]
	if n := len(dp) &^ 7; attnSIMD && n > 0 {
		dsRowAVX2(&p[0], &dp[0], n, di)
		p, dp = p[n:], dp[n:]
	}
	dsRowGo(p, dp, di)
}

// transposeAVX2 is transposeGo for rows and cols multiples of 8.
//
//go:noescape
func transposeAVX2(dst *float32, ldd int, src *float32, lds, rows, cols int)

// transpose sets dst[c·ldd + i] = src[i·lds + c] for i < rows, c < cols.
func transpose(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	r8, c8 := rows&^7, cols&^7
	if !attnSIMD || r8 == 0 || c8 == 0 {
		transposeGo(dst, ldd, src, lds, rows, cols)
		return
	}
	_ = dst[(cols-1)*ldd+rows-1] // the assembly writes and reads within these
	_ = src[(rows-1)*lds+cols-1]
	transposeAVX2(&dst[0], ldd, &src[0], lds, r8, c8)
	if cols > c8 {
		transposeGo(dst[c8*ldd:], ldd, src[c8:], lds, r8, cols-c8)
	}
	if rows > r8 {
		transposeGo(dst[r8:], ldd, src[r8*lds:], lds, rows-r8, cols)
	}
}

// rowSumAVX2 returns Σ x[j] over n > 0 elements, n a multiple of 8.
//
//go:noescape
func rowSumAVX2(x *float32, n int) float32

// axpbAVX2 sets dst[j] = a·x[j] + b (plus dst[j] when add is 1) for j < n,
// n a positive multiple of 8.
//
//go:noescape
func axpbAVX2(dst, x *float32, n int, a, b float32, add int)

// rowSum returns Σ x[j] (see rowSumGo).
func rowSum(x []float32) float32 {
	if n := len(x) &^ 7; attnSIMD && n > 0 {
		return rowSumAVX2(&x[0], n) + rowSumGo(x[n:])
	}
	return rowSumGo(x)
}

// axpb sets dst[j] = a·x[j] + b, or adds it when add is set (see axpbGo).
func axpb(dst, x []float32, a, b float32, add bool) {
	x = x[:len(dst)]
	if n := len(dst) &^ 7; attnSIMD && n > 0 {
		flag := 0
		if add {
			flag = 1
		}
		axpbAVX2(&dst[0], &x[0], n, a, b, flag)
		dst, x = dst[n:], x[n:]
	}
	axpbGo(dst, x, a, b, add)
}
