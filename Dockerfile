# Multi-stage build: compile the wheel (Rust extension in release mode), then a slim runtime.
FROM python:3.11-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
ENV PATH="/root/.cargo/bin:${PATH}"
RUN pip install --no-cache-dir "maturin>=1.7,<2"
WORKDIR /src
COPY . .
RUN maturin build --release --out /wheels

FROM python:3.11-slim-bookworm AS runtime
RUN useradd --system --create-home --home-dir /home/omniroute --uid 10001 omniroute \
    && mkdir -p /data && chown omniroute /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER omniroute
# Binding beyond loopback requires inbound API keys (configure [[api_keys]] or the key API).
ENV HOSTNAME=0.0.0.0 \
    PORT=20128 \
    DATA_DIR=/data \
    REQUIRE_API_KEY=true
VOLUME ["/data"]
EXPOSE 20128
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:20128/health/live', timeout=2)" || exit 1
ENTRYPOINT ["omniroute"]
