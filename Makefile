.PHONY: run test check web bench
run:            ## Start the server with demo data on http://127.0.0.1:8080
	scripts/run
test:           ## Install what the tests need and run the whole suite (what CI runs)
	scripts/test
check:          ## Lint and type checks only
	scripts/check
web:
	scripts/build-web --force
bench:
	scripts/bench
