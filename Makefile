# Two commands on a fresh machine (see README):
#   make demo   install everything, ingest the sample data in data/, search and answer a question
#   make test   install everything and run the test suite
# GPU=1 (make setup GPU=1) installs FAISS's CUDA build instead of faiss-cpu.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
MMRAG := $(VENV)/bin/mmrag
STORE ?= .mmrag-demo
CONFIG ?= configs/offline.toml
DEV_EVAL ?= .dev-eval
# the real documents the development evaluation is built from (benchmarks/dev_eval)
DEV_EVAL_PACKAGES := nodejs valgrind debian-reference-en debian-reference-ja manpages-ja \
	python-requests-doc python-click-doc
SYSTEM_PACKAGES := tesseract-ocr tesseract-ocr-jpn poppler-utils ffmpeg espeak-ng chromium \
	fonts-noto-cjk libmagic1
# only the tests need these (a throwaway PostgreSQL for the catalog tests): best effort, the
# tests that need them skip, saying why, where they are missing
TEST_SYSTEM_PACKAGES := postgresql
comma := ,
INSTALLED := $(VENV)/.installed$(if $(GPU),-gpu)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system venv demo eval dev-eval test lint ui bench clean

setup: system $(INSTALLED)

system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing system packages: $$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@missing=$$(for p in $(TEST_SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing test packages: $$missing"; \
		(command -v apt-get >/dev/null && $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing) || \
		echo "note: $$missing not installed: the PostgreSQL catalog tests will be skipped"; \
	fi

$(INSTALLED): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# llama-cpp-python compiles llama.cpp: a portable build, not one tuned to (and crashing on
	# some of) the build machine's CPU features
	CMAKE_ARGS="$${CMAKE_ARGS:--DGGML_NATIVE=OFF}" $(PY) -m pip install -q -e ".[dev$(if $(GPU),$(comma)gpu)]"
ifneq ($(GPU),)
	# faiss-cpu and faiss-gpu install the same `faiss` module: keep only the GPU build's files
	$(PY) -m pip uninstall -q -y faiss-cpu
	$(PY) -m pip install -q --force-reinstall --no-deps "faiss-gpu>=1.15,<2"
endif
	# the cross-lingual dictionary, condensed once into the model cache (~15 s)
	$(PY) -m retrieval.translation
	touch $@

venv: $(INSTALLED)

$(VENV)/.bench-installed: $(INSTALLED)
	$(PY) -m pip install -q -e ".[dev,bench]"
	touch $@

demo: setup
	$(MMRAG) ingest data --store $(STORE) --config $(CONFIG) --report $(STORE)/ingest-report.json
	$(MMRAG) search "a red circle on a blue background" --store $(STORE) --modality image --k 3
	$(MMRAG) search "避難に使う階段" --store $(STORE) --k 3
	$(MMRAG) ask "When will the Harrier batch product be retired?" --store $(STORE)
	@echo; echo "Open the UI with:  $(MMRAG) ui --store $(STORE)"

eval: setup
	$(MMRAG) eval data/eval/questions.jsonl --store $(STORE)

# quality on real documents nobody on the project wrote; settings were tuned on the tune half
dev-eval: setup
	$(MAKE) system SYSTEM_PACKAGES="$(DEV_EVAL_PACKAGES)"
	test -f $(DEV_EVAL)/corpus/manifest.json || $(PY) -m benchmarks.dev_eval.build_corpus $(DEV_EVAL)/corpus
	$(MMRAG) ingest $(DEV_EVAL)/corpus --store $(DEV_EVAL)/store --config $(CONFIG)
	$(PY) -m benchmarks.dev_eval.run --corpus $(DEV_EVAL)/corpus --store $(DEV_EVAL)/store \
		--config $(CONFIG) --split test --out $(DEV_EVAL)/dev_eval.json

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .

ui: setup
	$(MMRAG) ui --store $(STORE)

bench: setup $(VENV)/.bench-installed
	$(PY) benchmarks/ingest.py
	$(PY) benchmarks/embed_index.py
	$(PY) benchmarks/search.py
	$(PY) benchmarks/hostile.py

clean:
	rm -rf $(STORE) .pytest_cache
