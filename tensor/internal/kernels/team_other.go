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

// Band is one band of a parallel product (see band_amd64.go); this build
// shares no blocks between goroutines, so its methods do nothing.
type Band struct{}

// Reset does nothing in this build.
func (b *Band) Reset() {}

// Finish does nothing in this build.
func (b *Band) Finish() {}

// Help returns at once: this build shares no blocks.
func (b *Band) Help() {}
