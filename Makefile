# The two commands a newcomer needs: `make run` and `make test`.
# A Python 3.11-3.13 (packaging/find_python.sh looks for one; PYTHON=... names it).
PYTHON ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
UNAME := $(shell uname -s)
UNAME_M := $(shell uname -m)
LLAMA_CPP_VERSION := $(shell sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' pyproject.toml)
# llama.cpp's AMX kernels (Intel Xeon since Sapphire Rapids) crash in their first matrix product
# (ggml_backend_amx_mul_mat, llama.cpp issue 20824): a native build on such a CPU leaves them out.
# The wheel is kept in a folder named after these flags; pip's own cache would reuse a wheel
# built with other flags, since it keys wheels by the source's address alone.
ifeq ($(UNAME_M),x86_64)
LLAMA_CFLAGS := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
endif
WHEELS ?= $(HOME)/.cache/reflexia-wheels
LLAMA_WHEELS := $(WHEELS)/llama-cpp-python-$(LLAMA_CPP_VERSION)-$(UNAME)-$(UNAME_M)-no-amx
TEST_ENV := QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONFAULTHANDLER=1

.PHONY: run test test-bundle install lint bench screenshots clean

# Qt's X11 plugin aborts without a few xcb libraries many desktops lack: name them first.
run: install
	@$(BIN)/python -m reflexia.core.desktop.display_libraries
	$(BIN)/reflexia

test: install lint
	$(TEST_ENV) $(BIN)/python -m pytest -q

install: $(STAMP)

$(BIN)/python:
	@python=$$(REFLEXIA_PYTHON="$(PYTHON)" bash packaging/find_python.sh) && \
		echo "$$python -m venv $(VENV)" && "$$python" -m venv $(VENV)

# On Linux the CPU build of torch goes in first, or sentence-transformers pulls a CUDA build.
# On macOS llama-cpp-python compiles with Metal by default.
$(STAMP): pyproject.toml Makefile | $(BIN)/python
	@REFLEXIA_PYTHON="$(PYTHON)" bash packaging/find_python.sh >/dev/null  # and, on a Mac, Xcode's tools
	@$(BIN)/python -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' || { \
		echo "$(VENV) was made with $$($(BIN)/python --version 2>&1): making it again"; \
		rm -rf $(VENV) && $(MAKE) --no-print-directory $(BIN)/python; }
	$(BIN)/python -m pip install --quiet --upgrade pip
ifeq ($(UNAME),Linux)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	@ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || { \
		echo "building llama-cpp-python $(LLAMA_CPP_VERSION) for this CPU (about 5 minutes on 2 cores)"; \
		CFLAGS="$(LLAMA_CFLAGS)" CXXFLAGS="$(LLAMA_CFLAGS)" $(BIN)/python -m pip wheel --quiet \
			--no-deps --no-cache-dir -w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_CPP_VERSION); }
	$(BIN)/python -m pip install --quiet --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	$(BIN)/python -m pip install --quiet $(LLAMA_WHEELS)/llama_cpp_python-*.whl
endif
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The one-folder bundle PyInstaller makes on Linux (the same spec makes Reflexia.app on macOS),
# then its self-test, time to window and size. Not part of `make test`: it takes minutes.
test-bundle: install
	rm -rf build/reflexia dist/Reflexia
	$(BIN)/pyinstaller --noconfirm --log-level WARN packaging/reflexia.spec
	$(BIN)/python packaging/check_bundle.py dist/Reflexia/Reflexia

lint: install
	$(BIN)/ruff check app tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: install
	$(TEST_ENV) $(BIN)/python benchmarks/engine_throughput.py
	$(TEST_ENV) $(BIN)/python benchmarks/gui_responsiveness.py
	$(TEST_ENV) $(BIN)/python benchmarks/conversation_switch.py

clean:
	rm -rf $(VENV) build dist .bench-models
