# roomcount: people counting next to meeting-room cameras, reporting occupancy to Calven.
# Build:  docker build -t roomcount .
# Run:    docker run -d --name roomcount --restart unless-stopped \
#           -v /etc/roomcount:/config:ro -v roomcount-state:/var/lib/roomcount \
#           -e CALVEN_API_KEY -e CALVEN_API_SECRET roomcount
# The config file must set `stateDir: /var/lib/roomcount`.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# onnxruntime-node must not download CUDA libraries; tfjs-node is optional and skipped when it cannot install.
ENV ONNXRUNTIME_NODE_INSTALL=skip
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

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
ENV NODE_ENV=production
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/cli.js"]
CMD ["run", "--config", "/config/roomcount.yaml"]
