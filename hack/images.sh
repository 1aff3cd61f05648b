#!/usr/bin/env bash
# `make images`: the sidecar and injector images as archives, offline and without root:
#   $BIN/images/procview-{sidecar,injector}-{amd64,arm64}.tar
# Each binary is cross-compiled static (CGO_ENABLED=0 GOARCH=...) with the version stamped in
# (-X main.version), then hack/ociimage writes a one-layer image of it (what Dockerfile.sidecar
# and Dockerfile.injector describe: same entrypoint, cmd and user) as an OCI layout archive that
# also carries Docker's manifest.json, tagged $IMAGE_REPO/procview-NAME:$VERSION.
# The Makefile sets VERSION, REVISION, CREATED, SOURCE, IMAGE_REPO, ARCHES and LDFLAGS. With
# BUILD=0 the binaries already in $BIN/linux-$arch/ are packaged as they are (the image test
# brings its own); NAMES picks the images (default both).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${GO:=go}" "${BIN:=bin}" "${BUILD:=1}" "${NAMES:=sidecar injector}"
: "${VERSION:?}" "${REVISION:?}" "${CREATED:?}" "${SOURCE:?}" "${IMAGE_REPO:?}" "${ARCHES:?}" "${LDFLAGS:?}"
mkdir -p "$BIN/images"
"$GO" build -o "$BIN/ociimage" ./hack/ociimage

labels=(
  -label "org.opencontainers.image.version=$VERSION"
  -label "org.opencontainers.image.revision=$REVISION"
  -label "org.opencontainers.image.source=$SOURCE"
  -label "org.opencontainers.image.created=$CREATED"
)
for arch in $ARCHES; do
  for name in $NAMES; do
    if [ "$BUILD" = 1 ]; then
      CGO_ENABLED=0 GOOS=linux GOARCH=$arch "$GO" build -trimpath -ldflags "$LDFLAGS" \
        -o "$BIN/linux-$arch/procview-$name" "./$name/cmd/procview-$name"
    fi
    case $name in
      sidecar) extra=(-cmd serve -label "org.opencontainers.image.title=procview-sidecar"
               -label "org.opencontainers.image.description=procview's FUSE server: per-container /proc views") ;;
      injector) extra=(-cmd serve -user 65532:65532 -label "org.opencontainers.image.title=procview-injector"
                -label "org.opencontainers.image.description=procview's mutating admission webhook") ;;
      *) echo "images.sh: unknown image $name (sidecar, injector)" >&2; exit 2 ;;
    esac
    "$BIN/ociimage" -binary "$BIN/linux-$arch/procview-$name" -path "/procview-$name" -arch "$arch" \
      -ref "$IMAGE_REPO/procview-$name:$VERSION" -entrypoint "/procview-$name" -created "$CREATED" \
      "${labels[@]}" "${extra[@]}" -o "$BIN/images/procview-$name-$arch.tar"
    echo "$BIN/images/procview-$name-$arch.tar  $IMAGE_REPO/procview-$name:$VERSION  $(du -h "$BIN/images/procview-$name-$arch.tar" | cut -f1)"
  done
done
