# uzmanposta as a container image: the collector from the packed npm tarball,
# on Node 20, as a non-root user, under tini so that no zombie is ever left
# behind (a zombie would keep a section's lock alive: README.md, "Running on
# many hosts").
#
#   docker build -t uzmanposta .
#   docker run --rm -v /srv/uzmanposta:/data uzmanposta --config /data/uzmanposta.ini --all --parallel
#
# Stage 1 builds and packs exactly what `npm publish` would ship (package.json
# "files"); stage 2 installs that tarball with production dependencies only.

FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json esbuild.config.mjs ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY workers ./workers
COPY test ./test
COPY bench ./bench
COPY examples ./examples
COPY README.md LICENSE ./
# npm pack runs prepack: the build, then a manifest without the dev scripts.
RUN npm pack && mv uzmanposta-*.tgz /uzmanposta.tgz

FROM node:20-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /uzmanposta.tgz /tmp/uzmanposta.tgz
RUN npm install -g --omit=dev --no-audit --no-fund /tmp/uzmanposta.tgz && rm /tmp/uzmanposta.tgz
# The image's own unprivileged user (uid 1000); state and output go to a
# mounted volume that this user can write.
USER node
WORKDIR /data
ENTRYPOINT ["/usr/bin/tini", "--", "uzmanposta"]
CMD ["--help"]
