# Multi-stage build of the Parlance service.
#   docker build -t parlance .
#   docker run -p 8080:8080 parlance
# The default bundle is baked in; mount another at /models/NAME and set PARLANCE_MODEL to serve it.

# 1. ONNX Runtime's shared library, from the PyPI wheel (the only place it is fetched from).
FROM python:3.11-slim-bookworm AS ort
WORKDIR /ort
RUN pip download --quiet --no-deps --only-binary=:all: onnxruntime==1.31.1 \
 && python -c "import glob,zipfile; zipfile.ZipFile(glob.glob('onnxruntime-*.whl')[0]).extract('onnxruntime/capi/libonnxruntime.so.1.31.1', '.')"

# 2. The binary. Exactly these paths are its build context (src/ holds the manifest schema it
#    compiles in); `scripts/check-dockerfile.sh` (CI) compiles from a copy holding only them.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin parlance

# 3. Runtime: no compiler, no Python, not root.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home parlance
COPY --from=build /src/target/release/parlance /opt/parlance/parlance
# found beside the executable (src/runtime.rs)
COPY --from=ort /ort/onnxruntime/capi/libonnxruntime.so.1.31.1 /opt/parlance/
COPY models/default /models/default
ENV PARLANCE_HOST=0.0.0.0 \
    PARLANCE_PORT=8080 \
    PARLANCE_MODEL=/models/default \
    PARLANCE_LOG_FORMAT=json \
    PARLANCE_DRAIN_SECONDS=5
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s CMD ["curl", "-fsS", "http://127.0.0.1:8080/health/live"]
ENTRYPOINT ["/opt/parlance/parlance"]
CMD ["serve"]
