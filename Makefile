# The two commands of the README: `make run` serves models/default, `make test` runs every test.
.PHONY: setup setup-test run test build

setup:
	./scripts/setup-ort.sh
	./scripts/setup-encoder.sh

# Python for the tests that build models on the spot (onnx, tokenizers, onnxruntime, PyYAML; pinned)
setup-test: setup
	./scripts/setup-testenv.sh

build: setup
	cargo build --release --locked

run: build
	./target/release/parlance serve $(ARGS)

test: setup-test
	python3 scripts/check-layout.py
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings
	cargo test --release --locked
	./scripts/check-manifests.sh
