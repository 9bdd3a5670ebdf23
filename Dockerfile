# roomcount: people counting next to meeting-room cameras, reporting occupancy to Calven.
# Build:  docker build -t roomcount .
# Run:    docker run -d --name roomcount --restart unless-stopped -p 9464:9464 \
#           -v /etc/roomcount:/config:ro -v roomcount-state:/var/lib/roomcount \
#           -e CALVEN_API_KEY -e CALVEN_API_SECRET -e CAM_USER -e CAM_PASS roomcount
# The config file must set `stateDir: /var/lib/roomcount` and keep `http.port: 9464` for the healthcheck.

FROM node:20-bookworm-slim AS build
# Compilers for better-sqlite3 when no prebuilt binary can be downloaded.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# .npmrc and package.json's allowScripts keep onnxruntime-node from downloading CUDA libraries, as for any user;
# tfjs-node is optional and dropped when it cannot install.
COPY package.json package-lock.json .npmrc tsconfig.json tsconfig.build.json ./
COPY src ./src
# `npm ci` also builds dist/ (the prepare script); then the dev tools are removed.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
COPY models ./models
RUN useradd --system --uid 10001 --home-dir /var/lib/roomcount roomcount \
  && mkdir -p /var/lib/roomcount && chown roomcount /var/lib/roomcount
USER roomcount
VOLUME ["/var/lib/roomcount"]
# Fetched models live on the state volume: `docker exec roomcount node /app/dist/cli.js models fetch rtmdet-nano`
# (then restart the container) survives new images.
ENV NODE_ENV=production LOG_FORMAT=json ROOMCOUNT_MODELS_DIR=/var/lib/roomcount/models
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/cli.js"]
CMD ["run", "--config", "/config/roomcount.yaml"]
