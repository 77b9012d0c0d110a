# docent: `make demo` installs and runs the sample job; `make test` installs and runs the tests;
# `make test-fast` installs and runs the fast ones (not marked slow: see tests/conftest.py).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.docent-installed
DEMO_DATA ?= .demo-data
UNSTRUCTURED_INFERENCE := unstructured-inference==1.6.14
# llama-cpp-python compiles llama.cpp at install. Built for the build machine's CPU (the
# default), it crashes at the first token on CPUs with AMX (Xeon Sapphire Rapids and later, as
# in some CI machines): on x86-64 it is built for AVX2, which every such machine runs.
LLAMA_CMAKE_ARGS ?= $(if $(filter x86_64,$(shell uname -m)),-DGGML_NATIVE=OFF -DGGML_AVX=ON \
	-DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON)
# A wheel pip built earlier and cached may not fit this CPU: then it is rebuilt, uncached.
LLAMA_PIN = $(shell grep -i '^llama_cpp_python==' requirements.lock)
APT_CHROMIUM := DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	chromium >/dev/null

.PHONY: install demo demo-support test test-fast lock clean

$(STAMP): requirements.lock pyproject.toml vendor/en_core_web_sm/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet --no-deps \
		-r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . ./vendor/en_core_web_sm
	$(BIN)/python vendor/pip_check.py
	$(BIN)/python vendor/llama_check.py || { CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip \
		install --quiet --no-deps --no-cache-dir --force-reinstall $(LLAMA_PIN) \
		&& $(BIN)/python vendor/llama_check.py; }
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	DOCENT_DATA_DIR=$(DEMO_DATA) $(BIN)/docent ingest samples/handbook
	DOCENT_DATA_DIR=$(DEMO_DATA) $(BIN)/docent ask \
		"How many days per week can employees work remotely?" \
		"Within how many days must expense reports be submitted?" \
		"What is the minimum length of a password?"

# The customer-support preset: intents, routes, handoffs, over samples/support.
demo-support: $(STAMP)
	DOCENT_DATA_DIR=$(DEMO_DATA)/support $(BIN)/docent ingest --config configs/support.yaml \
		samples/support
	DOCENT_DATA_DIR=$(DEMO_DATA)/support $(BIN)/docent ask --config configs/support.yaml --trace \
		"How long is a password reset link valid?" \
		"Hi there!" \
		"I want to talk to a human" \
		"Who won the 2018 World Cup?"

# The browser tests drive Debian's Chromium (headless, through Playwright; nothing is downloaded):
# installed here when missing, as root with apt; elsewhere those tests skip and say so.
test: $(STAMP)
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null \
		|| $(APT_CHROMIUM) || { apt-get update -q >/dev/null && $(APT_CHROMIUM); } \
		|| echo "could not install chromium: the browser tests will skip"
	$(BIN)/python -m pytest

# The tests not marked slow (tests/conftest.py says which are): no generation model, server or
# child process; under 2 minutes on 2 cores. No Chromium: the browser tests are slow ones.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# Re-resolve requirements.in in a scratch environment and write requirements.lock.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -r requirements.in
	.lock-venv/bin/pip install --no-deps $(UNSTRUCTURED_INFERENCE)
	{ sed -n '1,3p' requirements.lock; .lock-venv/bin/pip freeze --all | grep -v '^pip=='; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv

clean:
	rm -rf $(VENV) $(DEMO_DATA)
