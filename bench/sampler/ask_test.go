package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/sampler"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
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
	tpe := sampler.NewTPE(sampler.TPEOptions{Seed: 0})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tpe.Sample(h, s.space, 1000+i)
	}
}

// BenchmarkStudyAsk1000 profiles Study.Ask on SQLite with 1000 trials.
func BenchmarkStudyAsk1000(b *testing.B) {
	ctx := context.Background()
	st, err := study.OpenSQLite(ctx, filepath.Join(b.TempDir(), "ask.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s := surfaces()[0]
	rnd, _ := study.Create(ctx, st, study.Options{Name: "ask", Directions: []study.Direction{study.Maximize}, Space: s.space, Sampler: sampler.Random{Seed: 1}})
	for i := 0; i < 1000; i++ {
		a, _ := rnd.Ask(ctx)
		vals, c := s.eval(a.External)
		rnd.Tell(ctx, a, study.Result{State: study.Complete, Values: vals, Constraints: []float64{c}})
	}
	tpe, _, _ := study.Resume(ctx, st, study.Options{Name: "ask", Space: s.space, Sampler: sampler.NewTPE(sampler.TPEOptions{Seed: 0})})
	tpe.Trials(ctx) // warm the cache, as a running study has
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a, err := tpe.Ask(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		tpe.Tell(ctx, a, study.Result{State: study.Fail})
		b.StartTimer()
	}
}

// BenchmarkGPAsk100 times one GP ask with 100 random trials of history on
// the throughput surface (the target: well under a second).
func BenchmarkGPAsk100(b *testing.B) {
	h, s := randomHistory(100)
	gp := sampler.NewGP(sampler.GPOptions{Seed: 0})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := gp.Sample(h, s.space, 100+i); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGPAsk3Objectives times one GP ask on the three-objective surface
// with 30 random trials of history: three GPs and a constraint's, and log
// EHVI, whose cost grows with the boxes of the region left to improve.
func BenchmarkGPAsk3Objectives(b *testing.B) {
	var s surface
	for _, x := range surfaces() {
		if x.name == "tradeoff3" {
			s = x
		}
	}
	h := randomHistoryOn(s, 30)
	gp := sampler.NewGP(sampler.GPOptions{Seed: 0})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := gp.Sample(h, s.space, 30+i); err != nil {
			b.Fatal(err)
		}
	}
}
