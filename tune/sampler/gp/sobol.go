package gp

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// Sobol is a scrambled Sobol sequence: Joe–Kuo direction numbers, a random
// linear matrix scramble and a random digital shift per dimension (the
// scrambling scipy.stats.qmc.Sobol uses). Dimensions past the table are
// filled with plain uniform draws.
type Sobol struct {
	dirs  [][32]uint32
	shift []uint32
	extra int
	rng   *rand.Rand
}

// NewSobol prepares a scrambled sequence of dim dimensions.
func NewSobol(dim int, rng *rand.Rand) *Sobol {
	n := min(dim, len(joeKuo)+1)
	s := &Sobol{dirs: make([][32]uint32, n), shift: make([]uint32, n), extra: dim - n, rng: rng}
	for j := range n {
		v := directions(j)
		s.dirs[j] = scramble(v, rng)
		s.shift[j] = rng.Uint32()
	}
	return s
}

// directions are the 32 direction numbers of dimension j (0-based), left
// aligned in 32 bits.
func directions(j int) [32]uint32 {
	var v [32]uint32
	if j == 0 {
		for b := range v {
			v[b] = 1 << (31 - b)
		}
		return v
	}
	row := joeKuo[j-1]
	s := int(row.s)
	for b := range v {
		if b < s {
			v[b] = row.m[b] << (31 - b)
			continue
		}
		// Bratley–Fox recurrence over the primitive polynomial's coefficients.
		x := v[b-s] ^ (v[b-s] >> s)
		for k := 1; k < s; k++ {
			if (row.a>>(s-1-k))&1 == 1 {
				x ^= v[b-k]
			}
		}
		v[b] = x
	}
	return v
}

// scramble applies a random unit lower-triangular binary matrix to every
// direction number (bit 0 = the most significant).
func scramble(v [32]uint32, rng *rand.Rand) [32]uint32 {
	var rows [32]uint32
	for r := range rows {
		mask := uint32(1) << (31 - r)
		if r > 0 {
			mask |= rng.Uint32() &^ (1<<(32-r) - 1) // random bits for columns < r
		}
		rows[r] = mask
	}
	var out [32]uint32
	for b, x := range v {
		var y uint32
		for r, m := range rows {
			if bits.OnesCount32(x&m)&1 == 1 {
				y |= 1 << (31 - r)
			}
		}
		out[b] = y
	}
	return out
}

// Draw returns the first n points of the sequence, in Gray-code order.
func (s *Sobol) Draw(n int) [][]float64 {
	out := make([][]float64, n)
	cur := make([]uint32, len(s.dirs))
	for i := range n {
		if i > 0 {
			b := bits.TrailingZeros(uint(i))
			for j := range cur {
				cur[j] ^= s.dirs[j][b]
			}
		}
		p := make([]float64, len(s.dirs)+s.extra)
		for j, c := range cur {
			p[j] = float64(c^s.shift[j]) / (1 << 32)
		}
		for j := len(s.dirs); j < len(p); j++ {
			p[j] = s.rng.Float64()
		}
		out[i] = p
	}
	return out
}

// NormalSamples are n quasi-random standard-normal vectors of dimension dim
// (Sobol points through the inverse normal CDF), as Optuna draws its fixed
// samples for the expected hypervolume improvement.
func NormalSamples(dim, n int, rng *rand.Rand) [][]float64 {
	pts := NewSobol(dim, rng).Draw(n)
	for _, p := range pts {
		for j, u := range p {
			// Keep away from 0 and 1, where the inverse is infinite.
			u = math.Min(math.Max(u, 1e-10), 1-1e-10)
			p[j] = math.Sqrt2 * math.Erfinv(2*u-1)
		}
	}
	return pts
}
