# Cairn's server image: built from this repository, configured by environment (see README).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN bash scripts/setup.sh && . scripts/env.sh \
 && trunk build --release \
 && cargo build --release --locked -p server --bin cairn --features s3

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/cairn --create-home cairn
COPY --from=build /root/.cache/cairn/target/release/cairn /usr/local/bin/cairn
COPY --from=build /src/target/site /usr/share/cairn/site
USER cairn
WORKDIR /var/lib/cairn
ENV CAIRN_SERVER__HOST=0.0.0.0 \
    CAIRN_SERVER__PORT=3000 \
    CAIRN_DATA_DIR=/var/lib/cairn \
    CAIRN_SERVER__SITE_DIR=/usr/share/cairn/site \
    CAIRN_LOG__FORMAT=json
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fs http://127.0.0.1:3000/readyz || exit 1
ENTRYPOINT ["cairn"]
CMD ["serve"]
