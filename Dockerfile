# promptq image: `docker build -t promptq .`
#   docker run --rm -e REDIS_URL=redis://host:6379 -e PROMPTQ_AUTH_TOKEN=... -p 3000:3000 promptq          # start
#   docker run --rm -e REDIS_URL=... promptq worker | api | enqueue "Hello" | simulate --host 0.0.0.0
# The image listens on 0.0.0.0 (HOST below), which is not loopback, so server commands need
# PROMPTQ_AUTH_TOKEN (see docs/reference/environment.md).

# ---- build: all deps + tsc -> dist/ ----
# Node 24 (LTS): Node 20 reached end of life in April 2026.
FROM node:24-bookworm-slim AS build
WORKDIR /app
# The workspace package's manifest too: npm ci installs the whole workspace.
COPY package.json package-lock.json ./
COPY packages/anthropic-simulator/package.json ./packages/anthropic-simulator/
# Scripts off here: `prepare` would build before the sources are copied. The build runs below.
RUN npm ci --ignore-scripts --no-audit --no-fund
# Everything .dockerignore lets through (src, packages, scripts, bin, tsconfig*.json, ...); one COPY
# so an empty or missing optional directory cannot break the build. The build compiles src/ and the
# simulator package only (scripts/ is never built).
COPY . .
RUN npm run build

# ---- runtime: production deps, dist, bin, the simulator package; non-root ----
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/anthropic-simulator/package.json ./packages/anthropic-simulator/
# Links node_modules/@promptq/anthropic-simulator to packages/anthropic-simulator (keyless start and
# `promptq simulate` load it; its compiled files come from the build stage below).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/packages/anthropic-simulator/dist ./packages/anthropic-simulator/dist
COPY --from=build /app/bin ./bin
# Code stays root-owned (read-only to the app); the working directory is writable for runtime state.
RUN chown node:node /app
USER node
EXPOSE 3000
# Liveness on the process's own PORT (3000 for api/start, whatever PORT says for a worker). No curl in slim.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/promptq.js"]
CMD ["start"]
