# The two commands of the README.  Both set up what they need first.
PYTHON ?= python3

.PHONY: demo test setup bench lint

setup:
	@bash scripts/setup.sh

demo: setup
	$(PYTHON) -m nms.demo

test: setup
	@bash scripts/test.sh

lint:
	$(PYTHON) -m ruff check .

bench: setup
	$(PYTHON) bench/sim.py && $(PYTHON) bench/poll.py && $(PYTHON) bench/store.py && $(PYTHON) bench/ipam.py
