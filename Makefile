# Everything a fresh machine needs: `make demo` and `make test` create .venv and install framedb first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
FRAMEDB := $(BIN)/framedb --db demo/demo.db

.PHONY: install demo test lint browser bench bench-tools fuzz clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	rm -rf demo
	$(BIN)/python -m framedb.synth demo
	$(FRAMEDB) ingest demo
	$(FRAMEDB) videos
	$(FRAMEDB) where demo/looped.mp4 5.5s
	$(FRAMEDB) loops demo/looped.mp4
	$(FRAMEDB) matches demo/reupload.mp4
	$(FRAMEDB) check

lint: install
	$(BIN)/ruff check framedb migrations tests benchmarks cli.py
	$(BIN)/ruff format --check framedb migrations tests benchmarks cli.py
	$(BIN)/mypy framedb

# The report's test loads the page in headless Chromium; without it that test is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) \
		|| echo "chromium unavailable: browser test will be skipped"

test: install lint browser
	$(BIN)/pytest -q

# Fuzz "open and decode" for FUZZ_SECONDS (make test runs it for 20 s); the corpus is kept and
# an input that breaks the decoder is written to build/fuzz-*.
FUZZ_SECONDS ?= 600
fuzz: install
	mkdir -p build/fuzz-corpus
	$(BIN)/python tests/fuzz_decode.py -max_total_time=$(FUZZ_SECONDS) -timeout=20 \
		-rss_limit_mb=3072 -print_final_stats=1 -artifact_prefix=build/fuzz- build/fuzz-corpus

# The rivals of benchmarks/transforms.py: Debian's ffmpeg (its `signature` filter), the FFmpeg
# headers vpdq builds against, and vpdq and pdqhash in .venv; each installed only when missing.
BENCH_APT := ffmpeg libavcodec-dev libavformat-dev libavdevice-dev libavutil-dev libswscale-dev \
	libswresample-dev libavfilter-dev
bench-tools: install
	@dpkg -s $(BENCH_APT) >/dev/null 2>&1 || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BENCH_APT) >/dev/null)
	@$(BIN)/python -c "import vpdq, pdqhash" 2>/dev/null || $(BIN)/python -m pip install --quiet vpdq pdqhash

bench: install bench-tools
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) demo build dist *.egg-info
