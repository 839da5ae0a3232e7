# Conveniences; scripts/run.sh does the work (and needs nothing but Python 3.11+ and apt).
.PHONY: demo test bench clean
demo:
	bash scripts/run.sh demo
test:
	bash scripts/run.sh test
bench:
	bash scripts/run.sh bench
clean:
	rm -rf separated .pytest_cache
