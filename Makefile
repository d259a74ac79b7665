# The two commands of the README: `make run` serves models/default, `make test` runs every test.
.PHONY: setup run test build

setup:
	./scripts/setup-ort.sh

build: setup
	cargo build --release --locked

run: build
	./target/release/parlance serve $(ARGS)

test: setup
	cargo test --release --locked
	./scripts/check-manifests.sh
