# Two entry points: `make run` (the shop on http://127.0.0.1:$(PORT)) and `make test`.
PYTHON ?= $(shell command -v python3.13 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAMP := $(VENV)/.installed-$(shell cat requirements.lock requirements-dev.lock | cksum | cut -d' ' -f1)

.PHONY: install run test lint lock messages mutants

# Development and tests: the runtime lock plus the tools (requirements-dev.lock
# holds both, at the runtime lock's versions). Production installs
# requirements.lock alone (see the README).
$(STAMP): requirements.lock requirements-dev.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 13) else "Python 3.13 is required; found " + sys.version.split()[0])'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo_catalogue
	$(PY) manage.py create_demo_staff
	$(PY) manage.py runshop --port $(PORT)

test: install
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Mutation testing with mutmut: slow, never in CI. What is mutated and which tests run is
# [tool.mutmut] in pyproject.toml. MUTANTS limits the run to some functions, e.g.
#   make mutants MUTANTS='payments.operations.capture.* orders.services.x_order_place*'
# Results stay in mutants/ (`.venv/bin/mutmut browse` to read the survivors).
MUTANTS ?=
MUTANT_JOBS ?= 2
mutants: install
	rm -rf mutants
	$(VENV)/bin/mutmut run --max-children $(MUTANT_JOBS) $(MUTANTS)
	$(VENV)/bin/mutmut results

# Maintainers: refresh both locks after changing pyproject.toml (needs uv): the
# runtime one, then dev/test on top of it, pinned to the same versions.
UV_COMPILE := uv pip compile pyproject.toml --generate-hashes --python-version 3.13 --universal
lock:
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --extra dev --constraint requirements.lock -o requirements-dev.lock

# Maintainers: extract strings and compile the catalogues (needs GNU gettext).
messages: install
	$(PY) manage.py makemessages -l fr -l en --no-obsolete --ignore=.venv --ignore=staticfiles
	$(PY) manage.py compilemessages --ignore=.venv
