//go:build purego || !amd64

package kernels

// Team is one GEMM shared by several goroutines; only the AVX-512 build has
// it (see team_amd64.go).
type Team struct{}

// NewTeam returns nil: this build computes products in bands instead.
func NewTeam(transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias, c []float32, ldc int) *Team {
	return nil
}

// Work does nothing: there are no Teams in this build.
func (t *Team) Work(front bool) {}

// Hold does nothing: there are no Teams in this build.
func (t *Team) Hold(n int32) {}

// Release does nothing: there are no Teams in this build.
func (t *Team) Release() {}

// Band is one band of a parallel product; this build's helpers have no
// blocks to share, so a Band only records that its owner is done.
type Band struct{}

// Reset does nothing in this build.
func (b *Band) Reset() {}

// Finish does nothing in this build.
func (b *Band) Finish() {}

// Help returns at once: this build shares no blocks.
func (b *Band) Help() {}

// GemmBand computes Gemm (bias nil) or GemmBias.
func GemmBand(band *Band, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias, c []float32, ldc int) {
	if bias != nil {
		GemmBias(transA, transB, m, n, k, a, lda, b, ldb, bias, c, ldc)
		return
	}
	Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
