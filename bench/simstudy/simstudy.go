// Package simstudy is the study the benches that run the real binary share:
// the quickstart's workload and search space on the simulated Llama-3.1-8B
// on one H100, in real time.
package simstudy

// Body is everything but the study and optimization lines: the workload
// (benchmark.max_seconds left as SECONDS), the baseline (BASELINE: true or
// false), the server and the space.
const Body = `benchmark: {model: sim-8b, max_seconds: SECONDS, prompt_tokens: 512, output_tokens: 128, rate: 128}
baseline: {enabled: BASELINE}
server:
  command: ["{self}", "simulate", "{model}", "--sim-model", "Llama-3.1-8B", "--sim-gpu", "H100", "--sim-speedup", "1", "--sim-startup-seconds", "0.5"]
  startup_timeout: 60
static_parameters: {max_model_len: 8192}
parameters:
  max_num_seqs: {min: 8, max: 512, step: 8}
  max_num_batched_tokens: {options: [2048, 4096, 8192, 16384]}
  gpu_memory_utilization: {min: 0.50, max: 0.98, step: 0.02}
  block_size: {options: [16, 32, 64]}
  enable_chunked_prefill: {options: [true, false]}
`
