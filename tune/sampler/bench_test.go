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
