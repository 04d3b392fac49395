# auto-tune-vllm — build, test, benchmark.
GO        ?= go
# go-nvml's headers mark old NVML calls deprecated; those warnings are noise here.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations
# Builds name no directory, so compiled packages are shared through Go's build
# cache by every checkout on the machine (CI clones into a new folder each run).
export GOFLAGS ?= -trimpath
BIN       := bin/auto-tune-vllm
# The pinned Ray used by tests and the demo; scripts/ray-venv.sh installs it once.
RAY_VERSION ?= 2.60.0
RAY_BIN    = $(shell RAY_VERSION=$(RAY_VERSION) scripts/ray-venv.sh)
# Python Optuna and optuna-dashboard, for the storage interop tests.
OPTUNA_BIN = $(shell scripts/optuna-venv.sh)

.PHONY: all build release test test-e2e test-ray test-short fuzz bench bench-ray bench-ray-jobs bench-sampler bench-gp-interop gp-golden bench-trials bench-precision bench-pruner lint proto demo demo-ray clean ray-venv

all: build

# With cgo (the default where gcc exists) GPUs are read through NVML; the
# static release build reads them through nvidia-smi instead.
build:
	$(GO) build -trimpath -o $(BIN) ./cmd/auto-tune-vllm

release:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN) ./cmd/auto-tune-vllm

# Everything but the third-party server, against real Ray, Optuna, PostgreSQL,
# GuideLLM and Chromium (installed on first use: virtualenvs in ~/.cache,
# Debian's postgresql and chromium through apt-get). Tests that need one of them fail,
# rather than skip, when it is missing; `make test` leaves out (-skip) the
# llm-d-inference-sim study, which is `make test-e2e`'s.
#
# The Ray integration tests (TestIntegration*) start a dozen Ray heads:
# scripts/ray-probe.sh times one first. Where a head cannot start within 15 s
# (Ray's own start-up deadlines fail on a loaded 2-core machine), make test
# leaves them out too and says so, with the reason, before and after the run;
# `make test-ray` runs them anyway.
test: build
	@ray_bin="$(RAY_BIN)" && test -x "$$ray_bin/ray" || { echo "Ray setup failed (scripts/ray-venv.sh)"; exit 1; }; \
	optuna_bin="$(OPTUNA_BIN)" && test -x "$$optuna_bin/python" || { echo "Optuna setup failed (scripts/optuna-venv.sh)"; exit 1; }; \
	guidellm_bin="$$(scripts/guidellm-venv.sh)" && test -x "$$guidellm_bin/guidellm" || { echo "GuideLLM setup failed (scripts/guidellm-venv.sh)"; exit 1; }; \
	postgres="$$(scripts/debian-pkg.sh postgresql '/usr/lib/postgresql/*/bin/postgres')" || { echo "PostgreSQL setup failed (scripts/debian-pkg.sh)"; exit 1; }; \
	chromium="$$(scripts/debian-pkg.sh chromium /usr/bin/chromium)" || { echo "Chromium setup failed (scripts/debian-pkg.sh)"; exit 1; }; \
	leave_out='^TestLocalOptimizeOnLLMDSim$$'; \
	why="$$(scripts/ray-probe.sh "$$ray_bin")" || { leave_out="$$leave_out|^TestIntegration"; why="$${why:-ray start failed}"; }; \
	banner() { [ -z "$$why" ] || echo "*** RAY INTEGRATION TESTS LEFT OUT (make test-ray runs them): Ray heads start too slowly on this machine: $$why ***"; }; \
	banner; ATV_RAY_BIN="$$ray_bin" ATV_OPTUNA_BIN="$$optuna_bin" ATV_GUIDELLM_BIN="$$guidellm_bin" ATV_PG_BIN="$$(dirname "$$postgres")" ATV_CHROMIUM="$$chromium" \
	  $(GO) test -count=1 -timeout 30m -skip "$$leave_out" ./...; rc=$$?; banner; exit $$rc
	$(MAKE) fuzz FUZZTIME=200000x

# The Ray integration tests alone, without the probe.
test-ray: build
	@ray_bin="$(RAY_BIN)" && test -x "$$ray_bin/ray" || { echo "Ray setup failed (scripts/ray-venv.sh)"; exit 1; }; \
	ATV_RAY_BIN="$$ray_bin" $(GO) test -count=1 -timeout 60m -run 'Integration' ./cmd/... ./head/... ./gcs/... ./tune/...

# A study on llm-d-inference-sim, a third-party vLLM-compatible server built
# from the Go module proxy. Kept out of `make test`: its dependency tree (the
# Kubernetes client, openai-go) takes over an hour to compile on 2 cores.
test-e2e: build
	@llmd_sim="$$(scripts/llmd-sim.sh)" && test -x "$$llmd_sim" || { echo "llm-d-inference-sim build failed (scripts/llmd-sim.sh)"; exit 1; }; \
	ray_bin="$(RAY_BIN)" && test -x "$$ray_bin/ray" || { echo "Ray setup failed (scripts/ray-venv.sh)"; exit 1; }; \
	ATV_RAY_BIN="$$ray_bin" ATV_LLMD_SIM="$$llmd_sim" $(GO) test -count=1 -timeout 30m -run '^TestLocalOptimizeOnLLMDSim$$' ./cmd/auto-tune-vllm

# Short fuzz runs of the parsers of user input. Budgets are execution
# counts: a duration races Go's fuzz coordinator at the deadline (a spurious
# "context deadline exceeded", golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 1000000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./tune/config
	$(GO) test -run '^$$' -fuzz '^FuzzParseExpr$$' -fuzztime $(FUZZTIME) ./tune/config

# Unit tests only (no Ray, no processes of real programs).
test-short:
	$(GO) test -short -count=1 ./...

# Side-by-side figures, not assertions: our Ray head vs the ray CLI, and our
# samplers vs Python Optuna's (bench/).
bench: bench-ray bench-ray-jobs bench-sampler bench-trials bench-precision

# How far one short measurement can be trusted: spread over repeats, and the
# ranking of two configurations 3 % apart (tokens in the window vs requests
# completed in it).
bench-precision: build
	$(GO) run ./bench/precision -bin $(BIN)

# What the median pruner saves on a default study's shape, with and without it
# over 10 seeds (about 80 min on 2 cores). PRUNER_FLAGS="-keep DIR" keeps the
# studies and reprints from them; -baseline=false, -trials N, -seconds S.
PRUNER_FLAGS ?=
bench-pruner: build
	$(GO) run ./bench/pruner -bin $(BIN) $(PRUNER_FLAGS)

bench-trials: build
	$(GO) run ./bench/trials -tool $(BIN) -guidellm "$$(scripts/guidellm-venv.sh)"

bench-ray-jobs: build
	$(GO) run ./bench/rayjobs -ray-bin "$(RAY_BIN)" -tool $(BIN)

bench-ray: build
	ATV_RAY_BIN="$(RAY_BIN)" bench/ray-head.sh

SEEDS ?= 10
# OPTUNA_GP=1 adds Optuna's GPSampler, from a venv with torch (several GB,
# installed once by bench/sampler/gp-venv.sh).
OPTUNA_GP ?=
bench-sampler:
	$(GO) run ./bench/sampler -seeds $(SEEDS) -budgets 20,30,100 -optuna-bin "$(OPTUNA_BIN)" -optuna-gp-bin "$(if $(OPTUNA_GP),$$(bench/sampler/gp-venv.sh))"

# A study our gp sampler ran on the simulator, continued in place by Optuna's
# GPSampler (from the same torch venv), then read and resumed by our side
# (about a minute). GP_INTEROP_FLAGS=-baseline runs the study with its
# baseline, which Optuna's GPSampler cannot fit around (it fails, saying why).
GP_INTEROP_FLAGS ?=
bench-gp-interop: build
	gp_bin="$$(bench/sampler/gp-venv.sh)" && $(GO) run ./bench/gpinterop -bin $(BIN) -python "$$gp_bin/python" $(GP_INTEROP_FLAGS)

# Rewrites the values of Optuna's own GP code that `make test` checks our gp
# port against (tune/sampler/gp/optuna_test.go), from the same torch venv;
# commit the result.
gp-golden:
	gp_bin="$$(bench/sampler/gp-venv.sh)" && "$$gp_bin/python" scripts/gp-golden.py > tune/sampler/gp/testdata/optuna.json.tmp
	mv tune/sampler/gp/testdata/optuna.json.tmp tune/sampler/gp/testdata/optuna.json

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '^third_party/'))" || { gofmt -l .; exit 1; }
	$(GO) vet ./...

# Regenerates third_party/ray/rpcpb from the hand-written protos (needs protoc).
proto:
	scripts/gen-proto.sh

ray-venv:
	@echo $(RAY_BIN)

# The main job on its embedded default: a short study on the built-in vLLM
# simulator, stored in SQLite under ./optuna_studies (no GPU, no Python).
demo: build
	$(BIN) optimize --config examples/quickstart.yaml

# The same on Ray: an ephemeral head, every trial a Ray job, the head stopped.
demo-ray: build
	PATH="$(RAY_BIN):$$PATH" $(BIN) optimize --config examples/ray-quickstart.yaml --start-ray-head --dashboard-host 127.0.0.1

clean:
	rm -rf bin .cache
