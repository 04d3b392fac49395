package sampler

import (
	"testing"
)

func benchHistory(b *testing.B, n int) (*History, *TPE) {
	sp := testSpace(&testing.T{})
	h := &History{Directions: []Direction{Minimize}}
	r := Random{Seed: 1}
	for i := 0; i < n; i++ {
		p, _ := r.Sample(h, sp, i)
		h.Trials = append(h.Trials, Trial{Number: i, State: Complete, Params: p, Values: []float64{objective(p)}, Constraints: []float64{-1}})
	}
	return h, NewTPE(TPEOptions{Seed: 0})
}

func BenchmarkTPESample100(b *testing.B)  { benchSample(b, 100) }
func BenchmarkTPESample1000(b *testing.B) { benchSample(b, 1000) }

func benchSample(b *testing.B, n int) {
	h, tpe := benchHistory(b, n)
	sp := testSpace(&testing.T{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tpe.Sample(h, sp, n+i); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGPSample100 times one gp ask after 100 trials of one, two and
// three objectives (log EI, then log EHVI over a front in two and three
// dimensions).
func BenchmarkGPSample100(b *testing.B) {
	for _, m := range []int{1, 2, 3} {
		b.Run(string(rune('0'+m))+"obj", func(b *testing.B) {
			sp := testSpace(&testing.T{})
			dirs := []Direction{Minimize, Maximize, Minimize}[:m]
			h := &History{Directions: dirs}
			r := Random{Seed: 1}
			for i := 0; i < 100; i++ {
				p, _ := r.Sample(h, sp, i)
				v := []float64{objective(p), p["x"], p["max_num_seqs"]}[:m]
				h.Trials = append(h.Trials, Trial{Number: i, State: Complete, Params: p, Values: v})
			}
			g := NewGP(GPOptions{Seed: 0})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := g.Sample(h, sp, 100+i); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
