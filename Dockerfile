# Perses for OpenShift AI: one image with the server, the stock UI (embedded) and the
# plugin archives. Build from a clean checkout: `docker build -t perses-openshift-ai .`
# The build stage runs the same Makefile targets as CI; it needs the Go module proxy
# and the npm registry.

FROM docker.io/library/golang:1.26-bookworm AS build
RUN apt-get update -q && apt-get install -y -q --no-install-recommends nodejs npm patch gzip \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make build plugins \
    && mkdir -p /out/build/plugins-runtime /out/data \
    && cp bin/perses bin/percli /out/ \
    && cp -r build/plugins /out/build/plugins \
    && cp perses-config.yaml /out/

FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /perses
COPY --from=build --chown=65532:65532 /out/ /perses/
# The file database and the unpacked plugins need a writable place; mount a volume on
# /perses/data in production or use PostgreSQL.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/perses/perses"]
CMD ["--config", "/perses/perses-config.yaml", "--web.listen-address", ":8080"]
