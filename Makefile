# Thin wrappers over deploy/dev.sh; pass extra arguments with ARGS="...", e.g. make test ARGS="-q tests/unit".
ARGS ?=

.PHONY: demo test lint bench bench-http serve services

demo test lint bench bench-http serve services:
	bash deploy/dev.sh $@ $(ARGS)
