package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/stats"
)

// selfComparison holds each of our samplers to a criterion of the form
// "median regret at most the other's in every cell (surface × budget)"
// against itself: the seeds split into groups, and every ordered pair of
// groups is compared as two samplers would be. Identical samplers with
// different random streams should pass such a criterion only by chance;
// how often they do says what one pass or failure against another sampler
// is worth at that many seeds.
// The cells are the surfaces of selected that name ran on.
func selfComparison(name string, selected []surface, budgets []int, ours map[key][][]trialRec, optima map[string]float64, groups int) {
	selected = slices.DeleteFunc(slices.Clone(selected), func(s surface) bool { return len(ours[key{s.name, name}]) == 0 })
	if len(selected) == 0 {
		return
	}
	size := len(ours[key{selected[0].name, name}]) / groups
	for _, sf := range selected {
		if n := len(ours[key{sf.name, name}]); size == 0 || n != size*groups {
			fmt.Fprintf(os.Stderr, "-self-groups %d: %s has %d runs of %s, not a multiple of the groups; skipped\n", groups, name, n, sf.name)
			return
		}
	}
	type cell struct {
		s      surface
		budget int
	}
	var cells []cell
	for _, s := range selected {
		for _, b := range budgets {
			cells = append(cells, cell{s, b})
		}
	}
	// medians[g][c]: group g's median regret in cell c.
	medians := make([][]float64, groups)
	for g := range medians {
		for _, c := range cells {
			runs := ours[key{c.s.name, name}][g*size : (g+1)*size]
			medians[g] = append(medians[g], stats.Median(shortfalls(runs, c.budget, c.s, optima[c.s.name])))
		}
	}
	var passed []float64 // per ordered pair, the cells where the first is at most the second
	all := 0
	for a := range groups {
		for b := range groups {
			if a == b {
				continue
			}
			n := 0.0
			for c := range cells {
				if medians[a][c] <= medians[b][c] {
					n++
				}
			}
			passed = append(passed, n)
			if n == float64(len(cells)) {
				all++
			}
		}
	}
	slices.Sort(passed)
	var dist []string
	for i := 0; i < len(passed); {
		j := i
		for j < len(passed) && passed[j] == passed[i] {
			j++
		}
		dist = append(dist, fmt.Sprintf("%.0f cells: %d", passed[i], j-i))
		i = j
	}
	fmt.Printf("\n## Our %s against itself: %d groups of %d seeds\n\n", name, groups, size)
	fmt.Printf("Of the %d ordered pairs of groups, the first's median regret is at most the second's in every one of the %d cells in %d; cells where it is, per pair: median %.0f, %.0f to %.0f (%s).\n",
		len(passed), len(cells), all, stats.Median(passed), passed[0], passed[len(passed)-1], strings.Join(dist, ", "))
}
