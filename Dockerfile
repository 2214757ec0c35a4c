# The wgmpls Docker network driver as a container. No registry is reachable where wgmpls is
# built, so the base is made locally from the host's node and tools: use plugin/image/build.sh,
# which builds that base and runs this file on a build context holding only what runs.
# Run it with the flags in plugin/README.md (--privileged --network host and the host paths).
ARG BASE=wgmpls/plugin-base:latest
FROM ${BASE}
WORKDIR /opt/wgmpls
COPY package.json ./
COPY node_modules ./node_modules
COPY build/Release/wgmpls_native.node ./build/Release/wgmpls_native.node
COPY dist ./dist
ENTRYPOINT ["/usr/bin/node", "/opt/wgmpls/dist/cli/main.js"]
CMD ["plugin"]
