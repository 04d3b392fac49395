package importance

import (
	"fmt"
	"math"
	"slices"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/stats"
)

// PED-ANOVA compares densities on a grid, never at the raw values: a
// numeric range is cut into at most gridSteps points (fewer when the range
// has fewer distinct values), a categorical's grid is its choices. Each
// density is a Parzen estimator over the grid counts with Scott's-rule
// bandwidth, which is narrower than TPE's and suits comparing two
// densities rather than sampling from one.
const (
	gridSteps   = 50
	priorWeight = 1.0
	// minSigma keeps a kernel about one grid cell wide (1.64σ = half a cell
	// holds 90% of it), so a single observed cell is not a spike.
	minSigma = 0.5 / 1.64
	// pdfFloor keeps the divergence's ratio finite where a density is zero.
	pdfFloor = 1e-12
)

// grid maps one parameter onto the grid.
type grid struct {
	size int
	// index maps an internal value to its grid point.
	index func(v float64) int
	cat   bool
}

func newGrid(d space.Distribution) (*grid, error) {
	switch d := d.(type) {
	case *space.Categorical:
		return &grid{size: len(d.Choices), cat: true, index: func(v float64) int { return int(v) }}, nil
	case *space.Int:
		n := gridSteps
		if d.Log {
			// One point per doubling of the range, as on a log axis
			// integers crowd at the low end.
			n = min(int(math.Ceil(math.Log(float64(d.High-d.Low+1))/math.Log(2)))+1, n)
		} else {
			n = min(int(math.RoundToEven(float64(d.High-d.Low)/float64(d.Step)))+1, n)
		}
		return numericGrid(float64(d.Low), float64(d.High), d.Log, n), nil
	case *space.Float:
		n := gridSteps
		if d.Step > 0 {
			n = min(int(math.RoundToEven((d.High-d.Low)/d.Step))+1, n)
		}
		return numericGrid(d.Low, d.High, d.Log, n), nil
	}
	return nil, fmt.Errorf("unsupported distribution %T", d)
}

func numericGrid(low, high float64, log bool, n int) *grid {
	if log {
		low, high = math.Log(low), math.Log(high)
	}
	width := (high - low) / float64(n-1)
	return &grid{size: n, index: func(v float64) int {
		if log {
			v = math.Log(v)
		}
		// A value halfway between two points goes to the lower one.
		i := int(math.Ceil((v-low)/width - 0.5))
		return min(max(i, 0), n-1)
	}}
}

// counts is how many of vs fall on each grid point.
func (g *grid) counts(vs []float64) []float64 {
	c := make([]float64, g.size)
	for _, v := range vs {
		c[g.index(v)]++
	}
	return c
}

// pdf is the Parzen estimator's probability of each grid point, given the
// grid counts: one kernel per occupied point weighted by its count, plus a
// flat prior kernel of weight priorWeight.
func (g *grid) pdf(counts []float64) []float64 {
	var obs, w []float64
	for i, c := range counts {
		if c > 0 {
			obs = append(obs, float64(i))
			w = append(w, c)
		}
	}
	mix := append(slices.Clone(w), priorWeight)
	total := 0.0
	for _, m := range mix {
		total += m
	}
	logMix := make([]float64, len(mix))
	for k, m := range mix {
		logMix[k] = math.Log(m / total)
	}
	var kernel func(k, x int) float64
	if g.cat {
		kernel = categoricalKernels(obs, g.size)
	} else {
		kernel = numericKernels(obs, w, g.size)
	}
	out := make([]float64, g.size)
	terms := make([]float64, len(mix))
	for x := range out {
		for k := range terms {
			terms[k] = kernel(k, x) + logMix[k]
		}
		out[x] = math.Exp(logSumExp(terms))
	}
	return out
}

// categoricalKernels returns the log probability of choice x under kernel
// k: each observed choice's kernel is one-hot smoothed by a share of the
// prior; the last kernel is the uniform prior.
func categoricalKernels(obs []float64, nChoices int) func(k, x int) float64 {
	n := len(obs) + 1
	fill := priorWeight / float64(n)
	rows := make([][]float64, n)
	for k := range rows {
		row := make([]float64, nChoices)
		for j := range row {
			row[j] = fill
		}
		if k < len(obs) {
			row[int(obs[k])]++
		}
		sum := 0.0
		for _, r := range row {
			sum += r
		}
		if sum == 0 {
			sum = 1
		}
		for j := range row {
			row[j] = math.Log(row[j] / sum)
		}
		rows[k] = row
	}
	return func(k, x int) float64 { return rows[k][x] }
}

// numericKernels returns the log mass of grid point x under kernel k: a
// normal truncated to [−½, size−½] (the grid's cells), centred on an
// occupied point with Scott's-rule σ, or, for the prior, on the middle with
// a σ wider than the grid.
func numericKernels(obs, w []float64, size int) func(k, x int) float64 {
	sigma := scottSigma(obs, w)
	high := float64(size - 1)
	mus := append(slices.Clone(obs), high/2)
	sigmas := make([]float64, len(mus))
	for k := range obs {
		sigmas[k] = sigma
	}
	sigmas[len(obs)] = high + 1
	norm := make([]float64, len(mus))
	for k := range mus {
		norm[k] = stats.LogNormMass((-0.5-mus[k])/sigmas[k], (high+0.5-mus[k])/sigmas[k])
	}
	return func(k, x int) float64 {
		xf := float64(x)
		return stats.LogNormMass((xf-0.5-mus[k])/sigmas[k], (xf+0.5-mus[k])/sigmas[k]) - norm[k]
	}
}

// scottSigma is Scott's rule on the weighted grid observations (sorted
// ascending): 1.059·min(IQR/1.34, sd)·n^−⅕, with the quartiles read off
// the cumulative counts, and never below minSigma.
func scottSigma(obs, w []float64) float64 {
	cum := make([]float64, len(w))
	sum, dot := 0.0, 0.0
	for i := range w {
		sum += w[i]
		dot += obs[i] * w[i]
		cum[i] = sum
	}
	mean := dot / sum
	ss := 0.0
	for i := range w {
		d := obs[i] - mean
		ss += d * d * w[i]
	}
	sd := math.Sqrt(ss / math.Max(1, sum-1))
	// The counts are whole numbers, so the quartile positions are floored
	// like integer division.
	q1 := searchLeft(cum, math.Floor(sum/4))
	q3 := searchRight(cum, math.Floor(sum*3/4))
	iqr := obs[min(len(obs)-1, q3)] - obs[q1]
	sigma := 1.059 * math.Min(iqr/1.34, sd) * math.Pow(sum, -0.2)
	return math.Max(sigma, minSigma)
}

// searchLeft is the first i with cum[i] ≥ v; searchRight the first with
// cum[i] > v (cum ascending).
func searchLeft(cum []float64, v float64) int {
	i, _ := slices.BinarySearch(cum, v)
	return i
}

func searchRight(cum []float64, v float64) int {
	for i, c := range cum {
		if c > v {
			return i
		}
	}
	return len(cum)
}

func logSumExp(xs []float64) float64 {
	m := math.Inf(-1)
	for _, x := range xs {
		m = math.Max(m, x)
	}
	if math.IsInf(m, -1) {
		// All terms are zero mass: avoid −∞ − −∞.
		m = 0
	}
	s := 0.0
	for _, x := range xs {
		s += math.Exp(x - m)
	}
	return math.Log(s) + m
}

// pearson is the Pearson χ² divergence of the top trials' density from the
// reference density over the grid (both already floored above zero).
func pearson(top, ref []float64) float64 {
	d := 0.0
	for i := range top {
		r := top[i]/ref[i] - 1
		d += ref[i] * r * r
	}
	return d
}

// floored adds pdfFloor to every point.
func floored(pdf []float64) []float64 {
	for i := range pdf {
		pdf[i] += pdfFloor
	}
	return pdf
}
