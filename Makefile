# genlab — developer and user entry points.
# `make demo` and `make test` work on a fresh clone: they create .venv first.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.genlab-installed
EXTRAS ?= image,text,text-embed,audio,tabular,privacy,graph,molecule,music,serve,studio,export,explain,track,tune,postgres,dev

.PHONY: setup system-deps demo test test-fast lint format bench voices screenshots clean

setup: $(STAMP)

# pyworld and pesq build from source: a C compiler and Python's headers (installed when missing, as root).
system-deps:
	@command -v gcc >/dev/null && $(PYTHON) -c "import os, sys, sysconfig; \
	sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" \
	|| { apt-get update -qq && apt-get install -y -qq build-essential python3-dev; }
	@# FluidSynth and a General MIDI SoundFont render music to audio; optional (a built-in synthesiser is the fallback).
	@command -v fluidsynth >/dev/null || { apt-get update -qq >/dev/null 2>&1; \
	apt-get install -y -qq fluidsynth timgm6mb-soundfont >/dev/null 2>&1; } \
	|| echo "fluidsynth not installed: music is rendered by the built-in synthesiser"
	@# Chromium drives the studio's browser tests (Playwright points at it; no browser is downloaded); optional.
	@command -v chromium >/dev/null || { apt-get update -qq >/dev/null 2>&1; \
	apt-get install -y -qq chromium >/dev/null 2>&1; } \
	|| echo "chromium not installed: the studio's browser tests will be skipped"
	@# A font with Chinese glyphs for plots of Mandarin text (matplotlib falls back to it); optional.
	@fc-list :lang=zh 2>/dev/null | grep -q . || { apt-get update -qq >/dev/null 2>&1; \
	apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1; } \
	|| echo "fonts-wqy-microhei not installed: Chinese text in plots is drawn as boxes"
	@# PostgreSQL's server binaries: the shared-study tests of genlab tune start a private server; optional.
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { apt-get update -qq >/dev/null 2>&1; \
	apt-get install -y -qq postgresql >/dev/null 2>&1; } \
	|| echo "postgresql not installed: the PostgreSQL study tests will be skipped"

$(STAMP): pyproject.toml constraints.txt | system-deps
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# The CPU build of torch: a plain `pip install torch` would pull several GB of CUDA packages.
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet -c constraints.txt torch
	$(PY) -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	@touch $(STAMP)

demo: setup
	$(PY) -m genlab.demo

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

format: setup
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

bench: setup
	$(PY) -m benchmarks.image_generation
	$(PY) -m benchmarks.text_generation
	$(PY) -m benchmarks.vae_likelihood
	$(PY) -m benchmarks.diffusion
	$(PY) -m benchmarks.reliability --threads 1
	$(PY) -m benchmarks.speed --threads 1
	$(PY) -m benchmarks.restoration --threads 1
	$(PY) -m benchmarks.audio --threads 1
	$(PY) -m benchmarks.tabular --threads 1
	$(PY) -m benchmarks.summarization
	$(PY) -m benchmarks.dialogue
	$(PY) -m benchmarks.molecule_optimization --threads 1 --lm-minutes 8 --plot docs/images
	$(PY) -m benchmarks.molecules --threads 1
	$(PY) -m benchmarks.graphs --threads 1
	$(PY) -m benchmarks.music --threads 1
	$(PY) -m benchmarks.compression --threads 1

# The default voices of `genlab speak` (docs/tts.md): an acoustic model and a vocoder per language, trained offline
# from the built-in eSpeak NG corpora into ./runs (about 80 minutes per language on one core).
VOICE_MINUTES ?= 60
VOCODER_MINUTES ?= 20
voices: setup
	for lang in en zh; do \
	  test -f runs/tts/voice-$$lang/model/config.json || $(VENV)/bin/genlab train tts --model fastspeech \
	    --data builtin:espeak-$$lang --max-minutes $(VOICE_MINUTES) --batch-size 16 --grad-clip 1 --name voice-$$lang; \
	  test -f runs/vocoder/voice-$$lang/model/config.json || $(VENV)/bin/genlab train vocoder --model vocos \
	    --data "$$($(PY) -c 'from genlab.core.download import data_root; print(data_root(None))')/espeak-$$lang/wavs" \
	    --max-minutes $(VOCODER_MINUTES) --name voice-$$lang; \
	done

# Screenshots of the studio for the docs (docs/images/studio-*.png): small real runs under $(SHOTS_RUNS) (trained
# once, kept), then the browser tests drive the studio over them and save each page.
SHOTS_RUNS ?= runs-screenshots
screenshots: setup
	@test -d $(SHOTS_RUNS)/image-generation/digits/model || $(PY) -m genlab train image-generation --model cgan \
	  --data builtin:digits --max-minutes 3 --name digits --runs-dir $(SHOTS_RUNS)
	@test -d $(SHOTS_RUNS)/text-generation/poet/model || $(PY) -m genlab train text-generation --model gpt \
	  --data builtin:tinyshakespeare --max-minutes 3 --name poet --runs-dir $(SHOTS_RUNS)
	@test -d $(SHOTS_RUNS)/character/chars/model || GENLAB_DATA_DIR=$${GENLAB_DATA_DIR:-../shared/data} \
	  $(PY) -m genlab train character \
	  --data builtin:lpc-characters --max-minutes 10 --name chars --runs-dir $(SHOTS_RUNS)
	GENLAB_DATA_DIR=$${GENLAB_DATA_DIR:-../shared/data} GENLAB_SCREENSHOTS=docs/images \
	  GENLAB_STUDIO_RUNS=$(SHOTS_RUNS) $(PY) -m pytest -q tests/studio/test_browser.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
