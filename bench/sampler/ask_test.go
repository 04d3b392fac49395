package main

import (
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler"
)

// BenchmarkAsk1000 profiles TPE on the throughput surface with 1000 trials.
func BenchmarkAsk1000(b *testing.B) {
	s := surfaces()[0]
	h := &sampler.History{Directions: s.dirs}
	r := sampler.Random{Seed: 1}
	for i := 0; i < 1000; i++ {
		p, _ := r.Sample(h, s.space, i)
		vals, c := s.eval(external(s.space, p))
		h.Trials = append(h.Trials, sampler.Trial{Number: i, State: sampler.Complete, Params: p, Values: vals, Constraints: []float64{c}})
	}
	tpe := sampler.NewTPE(sampler.TPEOptions{Seed: 0}, false)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tpe.Sample(h, s.space, 1000+i)
	}
}
