//go:build !amd64 || purego

package autograd

// attnSIMD is false: there is no assembly on this build.
var attnSIMD = false

// dropMask sets an attention dropout mask (see dropMaskGo).
func dropMask(m []float32, ctr, thr uint64, keep float32) { dropMaskGo(m, ctr, thr, keep) }

// reluDropBack is ReLUDropout's backward loop (see reluDropBackGo).
func reluDropBack(y, dy, dx []float32, keep float32, add bool) { reluDropBackGo(y, dy, dx, keep, add) }

// geluTanh sets t = tanh(u) and y = GELU(x) (see geluTanhGo).
func geluTanh(x, t, y []float32) { geluTanhGo(x, t, y) }

// geluTanhBack adds GELU's gradient into dx (see geluTanhBackGo).
func geluTanhBack(x, t, dy, dx []float32) { geluTanhBackGo(x, t, dy, dx) }

// swiglu sets y = silu(g)·u (see swigluGo).
func swiglu(g, u, y []float32) { swigluGo(g, u, y) }

// quickGELU sets y = x·σ(1.702x) (see quickGELUGo).
func quickGELU(x, y []float32) { quickGELUGo(x, y) }

// geluErf sets e = e^(−x²/2) and y = x·Φ(x) (see geluErfGo).
func geluErf(x, e, y []float32) { geluErfGo(x, e, y) }

// geluErfBack adds exact GELU's gradient into dx (see geluErfBackGo).
func geluErfBack(x, e, dy, dx []float32) { geluErfBackGo(x, e, dy, dx) }

// lnFwdRow normalises one row (see lnFwdRowGo).
func lnFwdRow(x, w, b, y []float32, eps float32) (mean, rstd float32) {
	return lnFwdRowGo(x, w, b, y, eps)
}

// lnBwdRow is one row of LayerNorm's backward pass (see lnBwdRowGo).
func lnBwdRow(x, g, w, pw, pb, dx []float32, mean, rstd float32) {
	lnBwdRowGo(x, g, w, pw, pb, dx, mean, rstd)
}

// dropout applies a Dropout mask (see dropoutGo); m may be nil.
func dropout(x, m, y []float32, seed uint64, base int, thr int32, keep float32) {
	dropoutGo(x, m, y, seed, base, thr, keep)
}

// mulInto computes dst = a·b, or dst += a·b when add is set.
func mulInto(dst, a, b []float32, add bool) { mulIntoGo(dst, a, b, add) }

// relu sets y = max(x, 0) (see reluGo).
func relu(x, y []float32) { reluGo(x, y) }

// reluBack adds dy into dx where x > 0 (see reluBackGo).
func reluBack(x, dy, dx []float32) { reluBackGo(x, dy, dx, true) }

// reluMask sets dx = dy where x > 0, else +0 (dx may be dy).
func reluMask(x, dy, dx []float32) { reluBackGo(x, dy, dx, false) }

// expShift sets x[j] = e^(x[j] − m) (x[j] = −Inf gives 0) and returns the
// sum; see expShiftGo.
func expShift(x []float32, m float32) float32 { return expShiftGo(x, m) }

// rowMax returns the largest of x (−Inf if x is empty).
func rowMax(x []float32) float32 { return rowMaxGo(x) }

// dsRow sets dp[j] = p[j]·(dp[j] − di), the softmax backward of one row.
func dsRow(p, dp []float32, di float32) { dsRowGo(p, dp, di) }

// transpose sets dst[c·ldd + i] = src[i·lds + c] for i < rows, c < cols.
func transpose(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	transposeGo(dst, ldd, src, lds, rows, cols)
}

// rowSum returns Σ x[j] (see rowSumGo).
func rowSum(x []float32) float32 { return rowSumGo(x) }

// axpb sets dst[j] = a·x[j] + b, or adds it when add is set (see axpbGo).
func axpb(dst, x []float32, a, b float32, add bool) { axpbGo(dst, x, a, b, add) }
