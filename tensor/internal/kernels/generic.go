package kernels

var generic = Impl{Name: "generic", Gemm: gemmGeneric, Dot: dotGeneric, Axpy: axpyGeneric, Adam: adamGeneric, SumRows: sumRowsGeneric, MR: 4, NR: 16}

// sumRowsGeneric is the reference loop for SumRows.
func sumRowsGeneric(sum, x []float32, rows, ld int, fresh bool) {
	r := 0
	if fresh {
		copy(sum, x[:len(sum)])
		r = 1
	}
	for ; r < rows; r++ {
		row := x[r*ld : r*ld+len(sum)]
		for j, v := range row {
			sum[j] += v
		}
	}
}

// dotGeneric is the reference loop for Dot, unrolled by four with four
// accumulators so the adds do not serialise on one register.
func dotGeneric(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpyGeneric is the reference loop for Axpy.
func axpyGeneric(alpha float32, x, y []float32) {
	y = y[:len(x)]
	i := 0
	for ; i+4 <= len(x); i += 4 {
		y[i] += alpha * x[i]
		y[i+1] += alpha * x[i+1]
		y[i+2] += alpha * x[i+2]
		y[i+3] += alpha * x[i+3]
	}
	for ; i < len(x); i++ {
		y[i] += alpha * x[i]
	}
}

// gemmGeneric is the pure-Go GEMM. It scales C by beta first, then adds
// alpha·op(A)·op(B) row by row, choosing for each transpose case the loop
// order whose inner loop runs over contiguous memory.
func gemmGeneric(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
	if k == 0 || alpha == 0 {
		return
	}
	switch {
	case !transA && !transB: // C[i,:] += alpha·A[i,p]·B[p,:]
		for i := 0; i < m; i++ {
			crow := c[i*ldc : i*ldc+n]
			arow := a[i*lda : i*lda+k]
			for p, av := range arow {
				if av != 0 {
					axpyGeneric(alpha*av, b[p*ldb:p*ldb+n], crow)
				}
			}
		}
	case !transA && transB: // C[i,j] += alpha·A[i,:]·B[j,:]
		for i := 0; i < m; i++ {
			crow := c[i*ldc : i*ldc+n]
			arow := a[i*lda : i*lda+k]
			for j := range crow {
				crow[j] += alpha * dotGeneric(arow, b[j*ldb:j*ldb+k])
			}
		}
	case transA && !transB: // C[i,:] += alpha·A[p,i]·B[p,:]
		for p := 0; p < k; p++ {
			brow := b[p*ldb : p*ldb+n]
			for i := 0; i < m; i++ {
				if av := a[p*lda+i]; av != 0 {
					axpyGeneric(alpha*av, brow, c[i*ldc:i*ldc+n])
				}
			}
		}
	default: // C[i,j] += alpha·Σp A[p,i]·B[j,p]
		for i := 0; i < m; i++ {
			crow := c[i*ldc : i*ldc+n]
			for j := range crow {
				var s float32
				for p := 0; p < k; p++ {
					s += a[p*lda+i] * b[j*ldb+p]
				}
				crow[j] += alpha * s
			}
		}
	}
}
