package importance

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// FuzzEvaluate: whatever the values (NaN, ±Inf, ties, parameters missing
// from some trials), Evaluate returns an error or importances that sum to 1,
// and never panics.
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24}, 0.1, false)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xf8, 0, 0, 0, 0, 0, 1}, 0.5, true)
	dists := []struct {
		name string
		d    space.Distribution
	}{{"x", unit}, {"n", logInt}, {"c", abc}, {"w", even}, {"f", fixed}, {"p", posLog}}
	f.Fuzz(func(t *testing.T, data []byte, q float64, global bool) {
		var ts []Trial
		for i := 0; len(data) >= 9; i++ {
			v := math.Float64frombits(binary.LittleEndian.Uint64(data))
			mask := data[8]
			data = data[9:]
			tr := Trial{Number: i, Value: v, Params: map[string]float64{}, Dists: map[string]space.Distribution{}}
			for j, d := range dists {
				if mask&(1<<j) == 0 {
					continue
				}
				// A valid value of the distribution, picked by the bytes.
				x := float64(mask>>j) / 255
				switch d := d.d.(type) {
				case *space.Categorical:
					x = float64(int(mask>>j) % len(d.Choices))
				case *space.Int:
					x = float64(d.Low + int64(mask>>j)%(d.High-d.Low+1)/d.Step*d.Step)
				case *space.Float:
					x = d.Low + x*(d.High-d.Low)
				}
				tr.Params[d.name], tr.Dists[d.name] = x, d.d
			}
			ts = append(ts, tr)
		}
		got, err := Evaluate(ts, Direction(global), Options{TargetQuantile: q, Global: global})
		if err != nil {
			return
		}
		sum := 0.0
		for _, p := range got {
			if math.IsNaN(p.Importance) || p.Importance < 0 {
				t.Fatalf("importance %v", got)
			}
			sum += p.Importance
		}
		if len(got) > 0 && math.Abs(sum-1) > 1e-9 {
			t.Fatalf("importances sum to %v: %v", sum, got)
		}
	})
}
