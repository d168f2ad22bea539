# Every repeated developer task. `make run` and `make test` are the README's two commands.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
# The suite runs on two processes (the machines have two cores); override with PYTEST_ARGS=.
PYTEST_ARGS ?= -n 2

.PHONY: run test lint format migrate migration bench bench-availability bench-booking-rush bench-webhooks bench-documents bench-sync bench-octo clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

run: $(STAMP)
	@mkdir -p var
	$(BIN)/tos migrate
	$(BIN)/tos demo
	$(BIN)/tos serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations

format: $(STAMP)
	$(BIN)/ruff format src tests bench migrations
	$(BIN)/ruff check --fix src tests bench migrations

migrate: $(STAMP)
	$(BIN)/tos migrate

# A new migration from the models' difference to the history: make migration m="add x to y"
migration: $(STAMP)
	@test -n "$(m)" || { echo 'usage: make migration m="what changes"'; exit 1; }
	rm -f var/_autogen.db*
	TOS_DATABASE_URL=sqlite:///var/_autogen.db $(BIN)/tos migrate
	TOS_DATABASE_URL=sqlite:///var/_autogen.db $(BIN)/alembic revision --autogenerate -m "$(m)"
	rm -f var/_autogen.db*
	$(BIN)/ruff check --fix --quiet migrations; $(BIN)/ruff format migrations >/dev/null

bench: bench-availability bench-booking-rush

bench-webhooks: $(STAMP)
	$(BIN)/python bench/webhooks.py

bench-documents: $(STAMP)
	$(BIN)/python bench/documents.py

bench-sync: $(STAMP)
	$(BIN)/python bench/sync.py

bench-octo: $(STAMP)
	$(BIN)/python bench/octo.py
	$(BIN)/python bench/octo.py --mode reserve

bench-availability: $(STAMP)
	$(BIN)/python bench/availability.py

bench-booking-rush: $(STAMP)
	$(BIN)/python bench/booking_rush.py

clean:
	rm -rf $(VENV) var .pytest_cache
