//go:build !purego

package kernels

import "math"

// Products in bfloat16 (UseBF16). Their operands are packed as pairs of
// bfloat16 values of consecutive steps of k in one float32 slot (the even
// step in the low half), which is the layout VDPBF16PS multiplies: each
// instruction does 32 multiply-adds where VFMADD231PS does 16. Packing
// rounds every value to nearest even; the products of two bfloat16 values
// are exact in float32 and summed in float32, so a product's error is its
// operands' rounding (a relative 2⁻⁹ each), not the sums'.

// hasBF16 is set when the CPU runs AVX512_BF16 and the avx512 kernels are
// registered.
var hasBF16 bool

// gemm512bf16R<r> are gemm512R<r> on packed bfloat16 pairs: k counts pairs,
// a steps pwBF16 pairs at a time.

//go:noescape
func gemm512bf16R1(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512bf16R2(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512bf16R3(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512bf16R4(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512bf16R5(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

//go:noescape
func gemm512bf16R6(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32, accum int)

// pwBF16 is asm_gen.go's pwBF16: pairs per step in a packed panel of A.
const pwBF16 = 6

// arch512bf16 is arch512 with its products in bfloat16, but for the
// skinny ones of decoding (skinnyBF16).
var arch512bf16 = &gemmArch{
	mr: 6, nr: 64, pw: pwBF16,
	kern: [13]microKernel{nil, gemm512bf16R1, gemm512bf16R2, gemm512bf16R3, gemm512bf16R4, gemm512bf16R5, gemm512bf16R6},
	dot:  dotAVX512,
	axpy: axpyAVX512,
	bf16: true,
}

// bf16Impl is the avx512 implementation with arch512bf16's products.
func bf16Impl(im Impl) Impl {
	im.Name = "avx512-bf16"
	im.Gemm, im.GemmBias, im.gemmBand = arch512bf16.gemm, arch512bf16.gemmBias, arch512bf16.gemmBand
	im.DirectA, im.team, im.BF16 = false, false, true
	return im
}

// skinnyBF16 reports whether arch512bf16 leaves a product of m rows to
// arch512, in float32: up to 4 rows, the products of decoding one to four
// sequences. Their skinny kernels read each weight from memory once, at
// the memory's speed, where bfloat16 gains nothing; packed in bfloat16,
// as all products were in session 29, GPT-2's decoding took 1.46× as long
// for one sequence, 1.30× for two, 1.07× for four (30 pairs each, toggled
// in one process), while from 6 sequences on the packed products in
// bfloat16 were as fast or faster (1.04× at 6, 1.11× at 8). A product of
// more rows is never split into bands this few rows high (tensor.gemm),
// so its rows are all in bfloat16 whatever the workers.
func skinnyBF16(m int) bool { return m <= skinnyRowsBF16 }

// pairBF16 packs lo and hi, rounded to bfloat16, into one float32 slot.
func pairBF16(lo, hi float32) float32 {
	return math.Float32frombits(toBF16(lo) | toBF16(hi)<<16)
}

// packABF16 is packA into bfloat16 pairs: panel q (rows i0+q·pw ...)
// starts at q·pw·kp, kp = ⌈kcb/2⌉, and holds for each pair of steps its r
// <= pw pairs at p·pw. An odd kcb's last pair has a zero high half.
func packABF16(dst []float32, transA bool, a []float32, lda, i0, mcb, p0, kcb, pw int) {
	kp := (kcb + 1) / 2
	if transA { // A(i, p) = a[p·lda + i]
		packPairRows(dst, pw, a[p0*lda+i0:], lda, kcb, mcb)
		return
	}
	for ii := 0; ii < mcb; ii += pw { // A(i, p) = a[i·lda + p]
		r := min(pw, mcb-ii)
		if r == 6 && pw == 6 { // a whole panel
			panelBF16(dst[ii*kp:], a[(i0+ii)*lda+p0:], lda, kcb)
			continue
		}
		packRowsBF16(dst[ii*kp:], pw, a[(i0+ii)*lda+p0:], lda, r, kcb)
	}
}

// zerosBF16 stands in for the row past an odd last step of k.
var zerosBF16 [max(blockM, blockN)]float32

// packRowsBF16 packs rows of src (rows ld apart, kcb steps of k each) into
// the columns of d, ds apart: d[i + u·ds] holds the pair of steps 2u, 2u+1
// of row i. It packs a row-major A's last panel when it has fewer than 6
// rows (panelBF16 packs the whole ones).
func packRowsBF16(d []float32, ds int, src []float32, ld, rows, kcb int) {
	k16 := kcb &^ 15
	if k16 > 0 {
		_ = src[(rows-1)*ld+k16-1]
		_ = d[(k16/2-1)*ds+rows-1]
		pairsScatterBF16(&d[0], ds, &src[0], ld, rows, k16)
	}
	if k16 < kcb {
		for i := 0; i < rows; i++ {
			packPairs(d[k16/2*ds+i:], ds, src[i*ld+k16:][:kcb-k16])
		}
	}
}

// packPairs writes the pairs of row (consecutive steps of k) to d, ds apart.
func packPairs(d []float32, ds int, row []float32) {
	n := len(row) &^ 1
	for p := 0; p < n; p += 2 {
		d[p/2*ds] = pairBF16(row[p], row[p+1])
	}
	if n < len(row) {
		d[n/2*ds] = pairBF16(row[n], 0)
	}
}

// packBBF16 is packB into bfloat16 pairs: panel q starts at q·nr·kp, kp =
// ⌈kcb/2⌉, and holds for each pair of steps nr pairs (zero beyond the last
// column).
func packBBF16(dst []float32, transB bool, b []float32, ldb, p0, kcb, j0, ncb, nr int) {
	kp := (kcb + 1) / 2
	if transB { // B(p, j) = b[j·ldb + p]
		for jj := 0; jj < ncb; jj += nr {
			w := min(nr, ncb-jj)
			d := dst[jj*kp : jj*kp+nr*kp]
			packTransposedBF16(d, nr, b[(j0+jj)*ldb+p0:], ldb, w, kcb)
			if w < nr {
				for p := 0; p < kp; p++ {
					clear(d[p*nr+w : p*nr+nr])
				}
			}
		}
		return
	}
	packPairRows(dst, nr, b[p0*ldb+j0:], ldb, kcb, ncb)
}

// pairsAhead is packPairRows's prefetch distance in rows: asm_gen.go's
// packAhead, which copyPanels prefetches.
const pairsAhead = 8

// packPairRows packs kcb rows of src (ld apart, cols values each; row p
// is step p of k) into panels w wide: panel q starts at q·w·kp, kp =
// ⌈kcb/2⌉, and holds for each pair of steps the w pairs of its columns
// (zero beyond the last column). Each pair of rows gives a step of
// packAGroup panels at a time, so that the writes stay in that many
// streams (a transposed A's panels are 6 pairs wide: across all of a
// 512-row block, each pair of rows wrote 24 bytes to each of 85 panels,
// 6 KB apart), while it prefetches the rows pairsAhead down, as
// copyPanels does. Packing a transposed A 512×512 from cache ran at 23
// against 5.7 GB/s, out of memory at 9.9 against 5.7; the base training
// step in bfloat16 1.034× faster (40 pairs toggled in one process,
// quartiles 0.988–1.088). A transposed A's panels then go through
// pairRows6BF16 eight at a time: 29 against 20 GB/s from cache, 10.7
// against 9.3 from memory; the base step 1.029× (40 pairs, 0.981–1.053),
// the small one 1.035 (200, 0.944–1.084). An odd last row is paired with
// zeros.
func packPairRows(dst []float32, w int, src []float32, ld, kcb, cols int) {
	kp := (kcb + 1) / 2
	whole, r := cols/w, cols%w
	_ = src[(kcb-1)*ld+cols-1]
	_ = dst[(cols+w-1)/w*w*kp-1]
	rows := func(p int) (lo, hi []float32) {
		lo, hi = src[p*ld:], zerosBF16[:cols]
		if p+1 < kcb {
			hi = src[(p+1)*ld:]
		}
		return lo, hi
	}
	for g := 0; g < whole; g += packAGroup {
		ng := min(packAGroup, whole-g)
		n8 := 0 // panels by eights through pairRows6BF16, all but their last step
		if w == 6 {
			n8 = ng / 8
		}
		for p := 0; p < kcb; p += 2 {
			lo, hi := rows(p)
			d, l, h := dst[g*w*kp+p/2*w:], lo[g*w:], hi[g*w:]
			done := 0 // panels of the group packed at this step
			if n8 > 0 && p+2 < kcb {
				pairRows6BF16(&d[0], w*kp, &l[0], &h[0], n8, 4*pairsAhead*ld)
				done = 8 * n8
			}
			// Indexed, not resliced past the group: the last group's
			// panels can end exactly where dst does.
			if done < ng {
				pairRowsBF16(&d[done*w*kp], w*kp, &l[done*w], &h[done*w], w, ng-done, 4*pairsAhead*ld)
			}
		}
	}
	if r == 0 {
		return
	}
	for p := 0; p < kcb; p += 2 {
		lo, hi := rows(p)
		e := dst[whole*w*kp+p/2*w:][:w]
		pairRowsBF16(&e[0], 0, &lo[whole*w], &hi[whole*w], r, 1, 0)
		clear(e[r:])
	}
}

// packTransposedBF16 is packRowsBF16 for rows that are columns of a
// panel (a transposed B): d[i + u·ds] holds the pair of steps 2u, 2u+1 of
// row i, eight rows and eight pairs at a time through transpose8pairsBF16,
// in transposeChunks's order. pairsScatterBF16 wrote each pair with a
// 4-byte store to its own cache line, 256 bytes from the last; a 64-wide
// panel 512 deep from cache now packs at 46 against 12 GB/s, from memory
// at 12 against 6; the base training step in bfloat16 ran 1.081× faster
// (40 pairs toggled in one process, quartiles 1.022–1.107), the small one
// 1.047 (200 pairs, 0.937–1.129).
func packTransposedBF16(d []float32, ds int, src []float32, ld, rows, kcb int) {
	rows8, k16 := rows&^7, kcb&^15
	if rows8 > 0 && k16 > 0 {
		_ = src[(rows8-1)*ld+k16-1]
		_ = d[(k16/2-1)*ds+rows8-1]
		transposeChunks(rows8, k16/2, func(i, c0, n8 int) {
			transpose8pairsBF16(&src[i*ld+2*c0], ld, &d[c0*ds+i], ds, n8)
		})
	}
	for i := 0; i < rows; i++ { // the last kcb%16 steps of the groups of 8 rows, and the last rows%8 rows whole
		p0 := k16
		if i >= rows8 {
			p0 = 0
		}
		if p0 < kcb {
			packPairs(d[p0/2*ds+i:], ds, src[i*ld+p0:][:kcb-p0])
		}
	}
}

// panelBF16 packs six rows of src (ld apart, kcb steps of k each) into a
// panel six pairs wide, d[6u + i] holding row i's steps 2u and 2u+1: a
// row-major A's whole panels, where packRowsBF16 scatters each pair with
// a store of its own. Packing A 512×512 from cache: 50 against 30 GB/s,
// from memory 16 against 12; the training steps in bfloat16 ran 1.025×
// (base, 40 pairs toggled in one process, quartiles 0.988–1.069) and
// 1.038× (small, 200 pairs, 0.957–1.090) as fast.
func panelBF16(d []float32, src []float32, ld, kcb int) {
	k16 := kcb &^ 15
	if k16 > 0 {
		_ = src[5*ld+k16-1]
		_ = d[6*k16/2-1]
		panel6BF16(&d[0], &src[0], ld, k16)
	}
	if k16 < kcb {
		for i := range 6 {
			packPairs(d[k16/2*6+i:], 6, src[i*ld+k16:][:kcb-k16])
		}
	}
}

// The packing kernels, in gemm_amd64.s (see asm_gen.go).

//go:noescape
func pairRowsBF16(dst *float32, ps int, lo, hi *float32, w, np, pf int)

//go:noescape
func pairsScatterBF16(dst *float32, ds int, src *float32, ld, rows, n int)

//go:noescape
func transpose8pairsBF16(src *float32, ld int, dst *float32, dstStride int, n8 int)

//go:noescape
func panel6BF16(dst *float32, src *float32, ld, n int)

//go:noescape
func pairRows6BF16(dst *float32, ps int, lo, hi *float32, n8, pf int)
