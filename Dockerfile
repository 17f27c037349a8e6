# Build: docker build -t taskwire .
# Run:   docker run -p 8000:8000 -e BETTER_AUTH_SECRET=… -e DATABASE_URL=postgres://… taskwire
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so code changes do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && echo 'fn main() {}' > benches/idle_connections.rs \
    && cargo build --release --locked --bin taskwire
COPY . .
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin taskwire

FROM debian:bookworm-slim
# TLS roots are built in (rustls + webpki roots): no ca-certificates needed.
RUN useradd --system --uid 10001 --home-dir /data taskwire && mkdir -p /data && chown taskwire /data
COPY --from=build /src/target/release/taskwire /usr/local/bin/taskwire
USER taskwire
WORKDIR /data
ENV HOST=0.0.0.0 PORT=8000 DATABASE_URL=sqlite:///data/todo.db
EXPOSE 8000
STOPSIGNAL SIGTERM
ENTRYPOINT ["taskwire"]
CMD ["serve"]
