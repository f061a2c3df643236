# The two commands of the README.  Both set up what they need first.
PYTHON ?= python3

.PHONY: demo test test-slow test-pg setup bench lint

setup:
	@bash scripts/setup.sh

demo: setup
	$(PYTHON) -m nms.demo

test: setup
	@bash scripts/test.sh

# The long integration scenarios kept out of the default suite (marked `slow`); CI runs both.
test-slow: setup
	@bash scripts/test.sh -m slow

# The PostgreSQL variants of the dual-engine test areas (marked `pg`, one throwaway cluster); CI runs them.
test-pg: setup
	@bash scripts/test.sh -m "pg and not slow"

lint:
	$(PYTHON) -m ruff check .

bench: setup
	$(PYTHON) bench/sim.py && $(PYTHON) bench/poll.py && $(PYTHON) bench/store.py && $(PYTHON) bench/ipam.py
