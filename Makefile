# The two commands of the quick start are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=
# Test processes (pytest-xdist); 0 runs the suite in this process. See docs/DEVELOPING.md "Tests".
PYTEST_WORKERS ?= 2
ifeq ($(PYTEST_WORKERS),0)
PYTEST_PARALLEL :=
else
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadgroup
endif

.PHONY: run test setup lint translations extract-messages clean

run: setup ## Set up, add the demo content and serve at http://127.0.0.1:5000
	LMS_ENV_NAME=development $(BIN)/flask --app wsgi lms demo
	@echo "Serving at http://$(HOST):$(PORT) (Ctrl-C to stop)"
	LMS_ENV_NAME=development LMS_SCHEDULER=inprocess $(BIN)/gunicorn --workers 1 --threads 8 --bind $(HOST):$(PORT) --access-logfile - wsgi:app

test: setup ## Set up and run the linter and the whole test suite
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

setup: $(VENV)/.installed translations

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# No ffmpeg on PATH (or in LMS_FFMPEG)? Install a static build into the venv.
	if [ -z "$$LMS_FFMPEG" ] && ! (command -v ffmpeg && command -v ffprobe) >/dev/null; then \
		$(BIN)/python -m pip install --quiet -e '.[ffmpeg]'; fi
	touch $@

translations: $(VENV)/.installed
	$(BIN)/python -m lms.i18n_tools compile

extract-messages: $(VENV)/.installed ## Refresh every .po catalogue from the sources
	$(BIN)/python -m lms.i18n_tools update

lint: $(VENV)/.installed
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
