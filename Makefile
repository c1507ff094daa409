# Two commands for a fresh machine; both create .venv and install everything on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)

.PHONY: run test install bench
run:
	$(PYTHON) installer/bootstrap.py run $(ARGS)

test:
	$(PYTHON) installer/bootstrap.py test $(ARGS)

install:
	$(PYTHON) installer/bootstrap.py install

bench: install
	OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/llm_throughput.py $(ARGS)
