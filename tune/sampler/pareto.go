package sampler

import (
	"math"
	"sort"
)

// Loss vectors: every objective turned into "smaller is better".

func dominates(a, b []float64) bool {
	strictly := false
	for i := range a {
		if a[i] > b[i] {
			return false
		}
		if a[i] < b[i] {
			strictly = true
		}
	}
	return strictly
}

// Front returns the indices of the non-dominated loss vectors (the Pareto
// front), in input order. Equal vectors are all on it.
func Front(loss [][]float64) []int {
	var out []int
	for i, r := range nonDominationRanks(loss, 1) {
		if r == 0 {
			out = append(out, i)
		}
	}
	return out
}

// nonDominationRanks gives each vector its Pareto rank (0 = front). Ranks
// beyond what is needed to cover nBelow vectors are left at a large value.
func nonDominationRanks(loss [][]float64, nBelow int) []int {
	n := len(loss)
	ranks := make([]int, n)
	for i := range ranks {
		ranks[i] = -1
	}
	assigned := 0
	for r := 0; assigned < n; r++ {
		var front []int
		for i := 0; i < n; i++ {
			if ranks[i] != -1 {
				continue
			}
			dominated := false
			for j := 0; j < n && !dominated; j++ {
				if j != i && ranks[j] == -1 && dominates(loss[j], loss[i]) {
					dominated = true
				}
			}
			if !dominated {
				front = append(front, i)
			}
		}
		for _, i := range front {
			ranks[i] = r
		}
		assigned += len(front)
		if assigned >= nBelow && nBelow > 0 {
			for i := range ranks {
				if ranks[i] == -1 {
					ranks[i] = math.MaxInt32
				}
			}
			break
		}
	}
	return ranks
}

// hypervolume of the region dominated by points and bounded by ref
// (minimisation), by slicing along the last objective.
func hypervolume(points [][]float64, ref []float64) float64 {
	var pts [][]float64
	for _, p := range points {
		inside := true
		for i := range p {
			if p[i] >= ref[i] {
				inside = false
			}
		}
		if inside {
			pts = append(pts, p)
		}
	}
	if len(pts) == 0 {
		return 0
	}
	m := len(ref)
	if m == 1 {
		best := ref[0]
		for _, p := range pts {
			best = math.Min(best, p[0])
		}
		return ref[0] - best
	}
	if m == 2 {
		sorted := append([][]float64{}, pts...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i][0] < sorted[j][0] })
		// Sweep: area = Σ (x_{k+1} − x_k) · (ref_y − min y over points with x ≤ x_k).
		vol, bestY := 0.0, ref[1]
		for i, p := range sorted {
			bestY = math.Min(bestY, p[1])
			next := ref[0]
			if i+1 < len(sorted) {
				next = sorted[i+1][0]
			}
			vol += (next - p[0]) * (ref[1] - bestY)
		}
		return vol
	}
	sorted := append([][]float64{}, pts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i][m-1] < sorted[j][m-1] })
	vol := 0.0
	for i := range sorted {
		next := ref[m-1]
		if i+1 < len(sorted) {
			next = sorted[i+1][m-1]
		}
		if next <= sorted[i][m-1] {
			continue
		}
		proj := make([][]float64, i+1)
		for j := 0; j <= i; j++ {
			proj[j] = sorted[j][:m-1]
		}
		vol += hypervolume(proj, ref[:m-1]) * (next - sorted[i][m-1])
	}
	return vol
}

// referencePoint is Optuna's: 1.1× the worst loss (0.9× if negative), EPS if 0.
func referencePoint(loss [][]float64) []float64 {
	m := len(loss[0])
	ref := make([]float64, m)
	for i := 0; i < m; i++ {
		w := math.Inf(-1)
		for _, l := range loss {
			w = math.Max(w, l[i])
		}
		ref[i] = math.Max(1.1*w, 0.9*w)
		if ref[i] == 0 {
			ref[i] = eps
		}
	}
	return ref
}

// hssp greedily picks k of the points (indices into loss) maximising the
// hypervolume of the picked set (a 1−1/e approximation).
func hssp(loss [][]float64, k int, ref []float64) []int {
	for _, r := range ref {
		if math.IsInf(r, 0) || math.IsNaN(r) {
			out := make([]int, k)
			for i := range out {
				out[i] = i
			}
			return out
		}
	}
	picked := []int{}
	used := make([]bool, len(loss))
	var selected [][]float64
	base := 0.0
	for len(picked) < k {
		best, bestGain := -1, math.Inf(-1)
		for i, l := range loss {
			if used[i] {
				continue
			}
			gain := hypervolume(append(selected, l), ref) - base
			if gain > bestGain {
				best, bestGain = i, gain
			}
		}
		used[best] = true
		picked = append(picked, best)
		selected = append(selected, loss[best])
		base += bestGain
	}
	return picked
}

// Hypervolume is the volume dominated by the loss vectors up to ref
// (minimisation), for reports and benchmarks.
func Hypervolume(losses [][]float64, ref []float64) float64 { return hypervolume(losses, ref) }
