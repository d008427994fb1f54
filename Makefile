# The README's two commands: `make demo` and `make test`. Both set up .venv first (idempotent).
.PHONY: setup demo test lint

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/swapstream demo -o out/demo

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check engine trainer export swapstream tests benchmarks

test: lint
	.venv/bin/python -m pytest -q -rs
