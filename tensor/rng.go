package tensor

import "math"

// RNG is a small, fast, seedable random number generator (SplitMix64). Its
// whole state is one uint64, so a training run can save and restore it and
// continue bit for bit.
type RNG struct{ State uint64 }

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG { return &RNG{State: seed} }

// Golden64 is SplitMix64's increment: the state advances by it per draw.
const Golden64 = 0x9e3779b97f4a7c15

// Uint64 returns the next 64 random bits.
func (r *RNG) Uint64() uint64 {
	r.State += Golden64
	return Mix64(r.State)
}

// Mix64 is SplitMix64's output function: the draw of a generator whose state
// has reached z. Being a hash of a counter, it lets code recompute any draw
// from its index (dropout masks regenerated in a backward pass).
func Mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Float32 returns a uniform number in [0, 1).
func (r *RNG) Float32() float32 { return float32(r.Uint64()>>40) / (1 << 24) }

// Float64 returns a uniform number in [0, 1).
func (r *RNG) Float64() float64 { return float64(r.Uint64()>>11) / (1 << 53) }

// Intn returns a uniform integer in [0, n).
func (r *RNG) Intn(n int) int { return int(r.Uint64() % uint64(n)) }

// Normal returns a standard normal sample (Box–Muller).
func (r *RNG) Normal() float64 {
	u := 1 - r.Float64() // (0, 1]
	v := r.Float64()
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*v)
}

// Split returns a new generator whose stream is independent of r's, and
// advances r by one step. Parallel work derives one generator per chunk this
// way so results do not depend on scheduling.
func (r *RNG) Split() *RNG { return &RNG{State: r.Uint64() ^ 0x6a09e667f3bcc909} }

// Perm returns a random permutation of [0, n).
func (r *RNG) Perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		j := r.Intn(i + 1)
		p[i] = p[j]
		p[j] = i
	}
	return p
}

// FillNormal fills t with samples from N(mean, std²).
func (r *RNG) FillNormal(t *Tensor, mean, std float64) {
	for i := range t.Data {
		t.Data[i] = float32(mean + std*r.Normal())
	}
}

// FillUniform fills t with samples from U(lo, hi).
func (r *RNG) FillUniform(t *Tensor, lo, hi float64) {
	for i := range t.Data {
		t.Data[i] = float32(lo + (hi-lo)*r.Float64())
	}
}
