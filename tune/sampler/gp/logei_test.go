package gp

import (
	"math"
	"testing"
)

// Reference values from mpmath at 60 digits: log(zΦ(z) + φ(z)) and
// Φ(z)/(zΦ(z) + φ(z)); log Φ(z) and φ(z)/Φ(z).
func TestStandardLogEIExtremes(t *testing.T) {
	t.Parallel()
	tests := []struct{ z, v, dz float64 }{
		{-1e6, -500000000028.54995965, 1000000.000002},
		{-1000, -500014.73445209115845, 1000.001999994000042},
		{-40, -808.29856835661996024, 40.049906657648518193},
		{-25.000001, -319.8614886611167128, 25.079621231111772332},
		{-24.999999, -319.86143850187619271, 25.079619237421293547},
		{-10, -55.553122036122355927, 10.194383033412553306},
		{-3, -7.8696860596030285171, 3.5323375176251605167},
		{0, -0.91893853320467274178, 1.2533141373155002512},
		{2.5, 0.91709206559216451701, 0.39719771838373844892},
		{40, 3.6888794541139363029, 0.025},
	}
	for _, tc := range tests {
		v, dz := StandardLogEI(tc.z)
		if !near(v, tc.v, 1e-12) || !near(dz, tc.dz, 1e-9) {
			t.Errorf("logEI(%v) = %v (d %v), want %v (d %v)", tc.z, v, dz, tc.v, tc.dz)
		}
	}
	// Finite, increasing and continuous across the switch of formulas.
	prev := math.Inf(-1)
	for z := -1e3; z < 50; z += 0.37 {
		v, _ := StandardLogEI(z)
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= prev {
			t.Fatalf("logEI(%v) = %v after %v", z, v, prev)
		}
		prev = v
	}
	if v, _ := StandardLogEI(-1e10); math.IsNaN(v) || math.IsInf(v, 0) {
		t.Errorf("logEI(-1e10) = %v", v)
	}
}

func TestLogNormCDF(t *testing.T) {
	t.Parallel()
	tests := []struct{ z, v, dz float64 }{
		{-1e4, -50000010.129278915181, 10000.000099999998},
		{-40, -804.60844201375378817, 40.024968847207263723},
		{-25.5, -329.28414898717953476, 25.539095986081390159},
		{-5, -15.064998393988725736, 5.1865039671258421156},
		{0, -0.69314718055994530942, 0.79788456080286535588},
		{3, -0.0013508099647481937988, 0.0044378390421256637933},
		{9, -1.1285884059538406478e-19, 1.0279773571668914796e-18},
	}
	for _, tc := range tests {
		v, dz := LogNormCDF(tc.z)
		if math.Abs(v-tc.v) > 1e-12*math.Max(1e-18, math.Abs(tc.v)) || !near(dz, tc.dz, 1e-9) {
			t.Errorf("logΦ(%v) = %v (d %v), want %v (d %v)", tc.z, v, dz, tc.v, tc.dz)
		}
	}
}

func TestLogEIAtObservedPoint(t *testing.T) {
	t.Parallel()
	// Zero variance (an observed point) stays finite thanks to the floor.
	if v, dm, dv := LogEI(0, 0, 1); math.IsInf(v, 0) || math.IsNaN(v) || math.IsNaN(dm) || math.IsNaN(dv) {
		t.Errorf("LogEI at zero variance = %v, %v, %v", v, dm, dv)
	}
}

// Where the direct formula loses nothing, log EI and its derivative match
// it (and a finite difference) closely.
func TestStandardLogEIDirect(t *testing.T) {
	t.Parallel()
	direct := func(z float64) float64 {
		return math.Log(z*0.5*math.Erfc(-z/math.Sqrt2) + math.Exp(-z*z/2)/math.Sqrt(2*math.Pi))
	}
	for z := -8.0; z <= 8; z += 0.25 {
		v, dz := StandardLogEI(z)
		fd := (direct(z+1e-6) - direct(z-1e-6)) / 2e-6
		if !near(v, direct(z), 1e-10) || !near(dz, fd, 1e-5) {
			t.Errorf("logEI(%v) = %v (d %v), direct %v (d %v)", z, v, dz, direct(z), fd)
		}
	}
	// LogEI in mean and variance is the standard one shifted and scaled.
	v, _, _ := LogEI(1.5, 4, 0.5)
	s, _ := StandardLogEI(0.5)
	if !near(v, s+math.Log(2), 1e-6) {
		t.Errorf("LogEI(1.5, 4, 0.5) = %v, want %v", v, s+math.Log(2))
	}
}
