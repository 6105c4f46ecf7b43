# Image for the API, the CPU worker and the IO worker (docker-compose.yml picks the command).
#   build stage:   all dependencies, pre-built workflow bundles (dist/bundles) so workers start without webpack
#   runtime stage: production dependencies only, non-root user, tini as PID 1 (signals + zombie reaping)

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build:bundles

FROM node:24-bookworm-slim AS runtime
# postgresql-client: pg_dump for the maintenance backups (15 = the server version in docker-compose.yml)
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY . .
COPY --from=build /app/dist/bundles ./dist/bundles
# code stays root-owned and read-only for the app user; writable scratch space (var/backups: a new named volume
# mounted there takes this ownership)
RUN mkdir -p /app/var/backups && chown -R node:node /app/var
USER node
EXPOSE 3000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["npm", "run", "api"]
