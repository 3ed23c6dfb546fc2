#!/usr/bin/env bash
# Builds the repository's Dockerfile with buildah and proves the image works:
#   1. `bandctl --help` runs;
#   2. `bandctl run --sim` (emulator + controller inside the image) answers 200 on /readyz,
#      running as the image's own non-root user (UID 10001);
#   3. the image's HEALTHCHECK command, read back from the built image, passes against it;
#   4. the image size is printed.
#
#   deploy/build-image.sh                    # as root; installs buildah (and debootstrap) if missing
#   PYTHON_IMAGE=python:3.11-slim@sha256:... deploy/build-image.sh   # a given base, no fallback
#
# Where no container registry is reachable, the base is built from Debian's own packages
# (debootstrap, bookworm's python3.11, the mirror apt uses on this machine) and passed as the
# PYTHON_IMAGE build argument. pip inside the build uses this machine's index set-up
# (PIP_INDEX_URL / PIP_EXTRA_INDEX_URL / PIP_TRUSTED_HOST from the environment or pip config)
# and trusts the CA bundle this machine trusts. Nothing secret is passed into the build.
#
# Idempotent: its own buildah storage (under BANDCTL_BUILD_ROOT), layers cached between runs,
# the base image reused once built, and every container and network namespace it made is
# removed on exit, failed or not.
#
# Settings (environment): PYTHON_IMAGE, BANDCTL_IMAGE (tag, default localhost/bandctl:ci),
# BANDCTL_BUILD_FROM (a git revision to build instead of the work tree, e.g. HEAD),
# BANDCTL_BUILD_ROOT (default /var/lib/containers/bandctl-build), BUILDAH_STORAGE_DRIVER
# (overlay|vfs, default: overlay when it mounts here, else vfs), BANDCTL_READY_TIMEOUT (s, 120).
set -euo pipefail

IMAGE=${BANDCTL_IMAGE:-localhost/bandctl:ci}
# chroot isolation for build and run: needs no cgroup set-up, works inside containers and VMs.
export BUILDAH_ISOLATION=chroot
OFFICIAL_BASE=docker.io/library/python:3.11-slim
# The tag names the recipe (build_local_base): change it when the recipe changes.
LOCAL_BASE=localhost/bandctl-base:python3.11-bookworm-2
BUILD_ROOT=${BANDCTL_BUILD_ROOT:-/var/lib/containers/bandctl-build}
READY_TIMEOUT=${BANDCTL_READY_TIMEOUT:-120}
# The controller's port inside the image: the HEALTHCHECK probes it.
PORT=9108
# What the CA bundle is called inside the build (a bind mount for the RUN steps only).
BUILD_CA=/run/bandctl-build-ca.pem

log() { printf '[build-image] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# -- tools -------------------------------------------------------------------------------

ensure_packages() {
    local missing=()
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "needs ${missing[*]}: run as root, or install them (apt-get install ${missing[*]})"
    log "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# -- buildah with storage of its own -------------------------------------------------------

DRIVER=""
bah() {
    buildah --root "$BUILD_ROOT/$DRIVER" --runroot "/run/containers/bandctl-build/$DRIVER" \
        --storage-driver "$DRIVER" "$@"
}

pick_storage_driver() {
    if [ -n "${BUILDAH_STORAGE_DRIVER:-}" ]; then
        DRIVER=$BUILDAH_STORAGE_DRIVER
        return
    fi
    # overlay is fast but needs kernel support (often missing inside containers); vfs always works.
    DRIVER=overlay
    local probe
    if probe=$(bah from scratch 2>/dev/null) && bah mount "$probe" >/dev/null 2>&1; then
        bah umount "$probe" >/dev/null 2>&1 || true
        bah rm "$probe" >/dev/null 2>&1 || true
        return
    fi
    [ -n "${probe:-}" ] && bah rm "$probe" >/dev/null 2>&1 || true
    DRIVER=vfs
}

# -- cleanup of whatever this run started ----------------------------------------------------

CONTAINERS=()
NETNS=""
SIM_PID=""
ROOTFS=""
CONTEXT_DIR=""
SIM_LOG=""
cleanup() {
    local status=$?
    if [ -n "$SIM_PID" ] && kill -0 "$SIM_PID" 2>/dev/null; then
        kill -TERM -- "-$SIM_PID" 2>/dev/null || true
        local waited=0
        while kill -0 "$SIM_PID" 2>/dev/null && [ $waited -lt 20 ]; do
            sleep 0.5
            waited=$((waited + 1))
        done
        kill -KILL -- "-$SIM_PID" 2>/dev/null || true
    fi
    local ctr
    for ctr in "${CONTAINERS[@]}"; do
        bah rm "$ctr" >/dev/null 2>&1 || true
    done
    [ -n "$NETNS" ] && ip netns delete "$NETNS" 2>/dev/null || true
    if [ -n "$ROOTFS" ]; then
        # debootstrap mounts /proc and /sys inside the tree while it works: let go of them first.
        awk -v root="$ROOTFS/" 'index($2, root) == 1 {print $2}' /proc/mounts | sort -r |
            while read -r mount_point; do umount -l "$mount_point" 2>/dev/null || true; done
        rm -rf --one-file-system "$ROOTFS"
    fi
    [ -n "$CONTEXT_DIR" ] && rm -rf "$CONTEXT_DIR"
    [ -n "$SIM_LOG" ] && rm -f "$SIM_LOG"
    exit "$status"
}

# -- the base image -----------------------------------------------------------------------------

# The URI of the Debian archive that apt on this machine uses for the main suite (deb822
# .sources first, then the one-line format); deb.debian.org when none is found.
# APT_ETC (default /etc/apt) is for the tests.
debian_mirror() {
    local uri
    uri=$(
        APT_ETC=${APT_ETC:-/etc/apt} python3 - <<'EOF'
import glob, os, re
etc = os.environ["APT_ETC"]
files = sorted(glob.glob(f"{etc}/sources.list.d/*.sources")) + [f"{etc}/sources.list"]
files += sorted(glob.glob(f"{etc}/sources.list.d/*.list"))
for name in files:
    try:
        text = open(name, encoding="utf-8").read()
    except OSError:
        continue
    if name.endswith(".sources"):
        for stanza in re.split(r"\n\s*\n", text):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
            suites = fields.get("Suites", "").split()
            if "deb" in fields.get("Types", "").split() and any("-" not in s for s in suites):
                if fields.get("Enabled", "yes").lower() != "no" and "debian" in fields.get("URIs", ""):
                    print(fields["URIs"].split()[0])
                    raise SystemExit
    else:
        for line in text.splitlines():
            parts = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(parts) >= 3 and parts[0] == "deb" and "-" not in parts[2] and "debian" in parts[1]:
                print(parts[1])
                raise SystemExit
EOF
    )
    printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

build_local_base() {
    if bah inspect --type image "$LOCAL_BASE" >/dev/null 2>&1; then
        log "base: $LOCAL_BASE (built earlier, reused)"
        return
    fi
    ensure_packages debootstrap
    local mirror proxy
    mirror=$(debian_mirror)
    # apt's own proxy setting, if any, applies to debootstrap's downloads too.
    proxy=$(apt-config dump 2>/dev/null | sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p' | head -n1)
    [ -n "$proxy" ] && export http_proxy=$proxy
    ROOTFS=$(mktemp -d /var/tmp/bandctl-base.XXXXXX)
    log "base: debootstrap bookworm with python3.11 from $mirror (about a minute)"
    # python3-distutils is named explicitly: debootstrap does not resolve the virtual
    # python3.11-distutils that python3.11-venv depends on.
    debootstrap --variant=minbase \
        --include=python3.11,python3.11-venv,python3-distutils,python-is-python3,ca-certificates \
        bookworm "$ROOTFS/root" "$mirror" >"$ROOTFS/debootstrap.log" 2>&1 ||
        die "debootstrap failed; last lines of its log:$(printf '\n')$(tail -n 20 "$ROOTFS/debootstrap.log")"
    # What a container never needs: package caches and lists, docs, man pages, message
    # translations (33 MB; bandctl logs in English).
    rm -rf "$ROOTFS"/root/var/cache/apt/archives/*.deb "$ROOTFS"/root/var/cache/apt/*.bin \
        "$ROOTFS"/root/var/lib/apt/lists/* "$ROOTFS"/root/usr/share/doc/* "$ROOTFS"/root/usr/share/man/* \
        "$ROOTFS"/root/usr/share/info/* "$ROOTFS"/root/var/log/*.log
    find "$ROOTFS/root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    local ctr mnt
    ctr=$(bah from scratch)
    CONTAINERS+=("$ctr")
    mnt=$(bah mount "$ctr")
    tar -C "$ROOTFS/root" -cf - . | tar -C "$mnt" -xpf -
    bah umount "$ctr" >/dev/null
    bah config --env LANG=C.UTF-8 --cmd '["python3"]' \
        --label org.opencontainers.image.description="Debian bookworm minbase with python3.11 (bandctl build base)" \
        "$ctr"
    bah commit --quiet --format docker "$ctr" "$LOCAL_BASE" >/dev/null
    log "base: $LOCAL_BASE committed"
    # Bases of earlier recipes are no longer used.
    local old
    for old in $(bah images --format '{{.Name}}:{{.Tag}}' | grep '^localhost/bandctl-base:' || true); do
        [ "$old" = "$LOCAL_BASE" ] || bah rmi "$old" >/dev/null 2>&1 || true
    done
}

# Sets BASE, the image to build FROM, present in the store afterwards.
BASE=""
choose_base() {
    if [ -n "${PYTHON_IMAGE:-}" ]; then
        bah pull --quiet "$PYTHON_IMAGE" >/dev/null || die "cannot pull PYTHON_IMAGE=$PYTHON_IMAGE"
        BASE=$PYTHON_IMAGE
        return
    fi
    if timeout 90 buildah --root "$BUILD_ROOT/$DRIVER" --runroot "/run/containers/bandctl-build/$DRIVER" \
        --storage-driver "$DRIVER" pull --quiet --retry 1 "$OFFICIAL_BASE" >/dev/null 2>&1; then
        log "base: $OFFICIAL_BASE"
        BASE=$OFFICIAL_BASE
        return
    fi
    log "base: $OFFICIAL_BASE cannot be pulled (no registry reachable); building one from Debian packages"
    build_local_base
    BASE=$LOCAL_BASE
}

# -- pip's index set-up on this machine ----------------------------------------------------------

pip_setting() { # $1 = PIP_* environment name, $2 = pip config key
    local value=${!1:-}
    if [ -z "$value" ]; then
        value=$(python3 -m pip config get "$2" 2>/dev/null || true)
    fi
    printf '%s' "$value"
}

# Only network indexes: a file:// index or a local find-links folder is not inside the build.
network_urls() {
    local url out=()
    for url in $1; do
        case $url in http://* | https://*) out+=("$url") ;; esac
    done
    printf '%s' "${out[*]}"
}

CA_BUNDLE=""
find_ca_bundle() {
    local candidate
    for candidate in "${PIP_CERT:-}" "$(python3 -m pip config get global.cert 2>/dev/null || true)" \
        "${REQUESTS_CA_BUNDLE:-}" "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
        if [ -n "$candidate" ] && [ -f "$candidate" ]; then
            CA_BUNDLE=$candidate
            return
        fi
    done
}

BUILD_ARGS=()
pip_build_args() {
    local index extra trusted
    index=$(network_urls "$(pip_setting PIP_INDEX_URL global.index-url)")
    extra=$(network_urls "$(pip_setting PIP_EXTRA_INDEX_URL global.extra-index-url)")
    trusted=$(pip_setting PIP_TRUSTED_HOST global.trusted-host)
    # Only the host part is logged: an index URL may carry a token.
    [ -n "$index" ] && BUILD_ARGS+=(--build-arg "PIP_INDEX_URL=$index") && log "pip index: ${index%%/simple*} (host set-up)"
    [ -n "$extra" ] && BUILD_ARGS+=(--build-arg "PIP_EXTRA_INDEX_URL=$extra")
    [ -n "$trusted" ] && BUILD_ARGS+=(--build-arg "PIP_TRUSTED_HOST=$trusted")
    find_ca_bundle
    if [ -n "$CA_BUNDLE" ]; then
        BUILD_ARGS+=(--volume "$CA_BUNDLE:$BUILD_CA:ro" --build-arg "PIP_CERT=$BUILD_CA")
        log "pip trusts this machine's CA bundle ($CA_BUNDLE) during the build"
    fi
}

# -- checks on the built image ----------------------------------------------------------------------

NETNS_EXEC=()
private_network() {
    # The controller inside listens on its fixed port 9108 (the HEALTHCHECK's): a network
    # namespace of its own keeps it off this machine's 9108. Chroot isolation ignores
    # `buildah run --network`, so buildah itself is started inside the namespace.
    NETNS="bandctl-build-$$"
    if ip netns add "$NETNS" 2>/dev/null && ip netns exec "$NETNS" ip link set lo up 2>/dev/null; then
        NETNS_EXEC=(ip netns exec "$NETNS")
    else
        ip netns delete "$NETNS" 2>/dev/null || true
        NETNS=""
        log "no private network namespace here: the image's port $PORT is this machine's"
        if python3 -c "import socket, sys; sys.exit(socket.socket().connect_ex(('127.0.0.1', $PORT)) != 0)"; then
            die "port $PORT is in use on this machine; free it or run where network namespaces work"
        fi
    fi
}

in_image() { # runs a command in the working container, as the image's USER, in its network
    "${NETNS_EXEC[@]}" buildah --root "$BUILD_ROOT/$DRIVER" --runroot "/run/containers/bandctl-build/$DRIVER" \
        --storage-driver "$DRIVER" run "$CTR" -- "$@"
}

url_ok() { # exit 0 when the URL answers 2xx, from this machine's python in the image's network
    # namespace: a concurrent `buildah run` would unmount the container's root filesystem
    # under the starting controller when it ends (it then cannot open its journal).
    "${NETNS_EXEC[@]}" python3 -c "import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=3)
except Exception:
    sys.exit(1)" "$1" >/dev/null 2>&1
}

# The bandctl processes under $1 (buildah run -> chroot helper -> bandctl).
bandctl_pids() {
    local child
    for child in $(pgrep -P "$1" || true); do
        [ "$(cat "/proc/$child/comm" 2>/dev/null)" = bandctl ] && printf '%s\n' "$child"
        bandctl_pids "$child"
    done
}

check_image() {
    CTR=$(bah from --quiet --pull=never "$IMAGE")
    CONTAINERS+=("$CTR")
    private_network

    local uid
    uid=$(in_image python -c "import os; print(os.getuid(), os.getgid())")
    [ "$uid" = "10001 10001" ] || die "the image runs as uid/gid $uid, not 10001 10001"
    log "check: runs as uid/gid $uid (non-root)"

    in_image bandctl --help >/dev/null || die "bandctl --help failed in the image"
    log "check: bandctl --help"

    SIM_LOG=$(mktemp /tmp/bandctl-build-sim.XXXXXX.log)
    local sim_log=$SIM_LOG
    # A session of its own, so that cleanup can end the whole tree if need be.
    setsid "${NETNS_EXEC[@]}" buildah --root "$BUILD_ROOT/$DRIVER" \
        --runroot "/run/containers/bandctl-build/$DRIVER" --storage-driver "$DRIVER" \
        run "$CTR" -- sh -c 'bandctl "$@"; echo "bandctl exit status $?"' sh \
        run --sim --http "127.0.0.1:$PORT" --state-dir /state >"$sim_log" 2>&1 &
    SIM_PID=$!
    local deadline=$((SECONDS + READY_TIMEOUT))
    until url_ok "http://127.0.0.1:$PORT/readyz"; do
        if ! kill -0 "$SIM_PID" 2>/dev/null; then
            die "bandctl run --sim exited before it was ready; its output:$(printf '\n')$(tail -n 30 "$sim_log")"
        fi
        if [ $SECONDS -ge $deadline ]; then
            die "/readyz did not answer 200 within ${READY_TIMEOUT}s; output:$(printf '\n')$(tail -n 30 "$sim_log")"
        fi
        sleep 1
    done
    log "check: bandctl run --sim is ready (/readyz 200)"

    # The HEALTHCHECK as stored in the image (docker format keeps it; OCI drops it).
    local -a probe
    mapfile -t probe < <(bah inspect --type image "$IMAGE" | python3 -c '
import json, sys
check = json.load(sys.stdin)["Docker"]["config"].get("Healthcheck") or {}
test = check.get("Test") or []
if test[:1] == ["CMD"]:
    print("\n".join(test[1:]))
elif test[:1] == ["CMD-SHELL"]:
    print("\n".join(["/bin/sh", "-c", test[1]]))
')
    [ ${#probe[@]} -gt 0 ] || die "the image has no HEALTHCHECK"
    in_image "${probe[@]}" || die "the image's HEALTHCHECK failed against the running controller"
    log "check: HEALTHCHECK passes (${probe[*]:0:2} …)"

    # SIGTERM to bandctl itself, as a container runtime sends it: it cancels its orders
    # and exits on its own. Its exit status is the one the shell around it prints: buildah
    # 1.28 can crash tidying up after the command and return a status of its own.
    local -a pids
    mapfile -t pids < <(bandctl_pids "$SIM_PID")
    [ ${#pids[@]} -gt 0 ] || die "cannot find the bandctl process under buildah run"
    kill -TERM "${pids[@]}"
    local stop_deadline=$((SECONDS + 30))
    while kill -0 "$SIM_PID" 2>/dev/null && [ $SECONDS -lt $stop_deadline ]; do sleep 0.5; done
    if kill -0 "$SIM_PID" 2>/dev/null; then
        die "bandctl did not stop within 30 s of SIGTERM"
    fi
    local buildah_status=0
    wait "$SIM_PID" || buildah_status=$?
    SIM_PID=""
    if ! grep -q "^bandctl exit status 0$" "$sim_log" || grep -q "Traceback" "$sim_log"; then
        die "bandctl did not exit cleanly on SIGTERM:$(printf '\n')$(grep -v '^\s' "$sim_log" | tail -n 30)"
    fi
    [ "$buildah_status" -eq 0 ] || log "note: buildah run itself returned $buildah_status after bandctl exited 0"
    log "check: clean exit on SIGTERM ($(grep -o 'cancelled [0-9]* order(s), [0-9]* left' "$sim_log" | tail -n1))"
}

main() {
    cd "$(dirname "${BASH_SOURCE[0]}")/.."
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    ensure_packages buildah ip
    mkdir -p "$BUILD_ROOT"
    # One run at a time: the storage below is this script's alone.
    exec 9>"$BUILD_ROOT/.lock"
    flock -n 9 || die "another deploy/build-image.sh is running (lock $BUILD_ROOT/.lock)"
    pick_storage_driver
    # Working containers left in this storage come from an earlier run that was killed.
    bah rm --all >/dev/null 2>&1 || true
    log "buildah $(buildah --version | awk '{print $3}'), storage driver $DRIVER, isolation chroot"
    choose_base
    pip_build_args
    local version build_log
    version=$(python3 -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])")
    build_log=$(mktemp /tmp/bandctl-build.XXXXXX.log)
    local context=.
    if [ -n "${BANDCTL_BUILD_FROM:-}" ]; then
        # What is committed, without the work tree's uncommitted edits.
        CONTEXT_DIR=$(mktemp -d /tmp/bandctl-context.XXXXXX)
        git archive "$BANDCTL_BUILD_FROM" | tar -C "$CONTEXT_DIR" -xf - ||
            die "cannot export $BANDCTL_BUILD_FROM from git"
        context=$CONTEXT_DIR
        log "context: git $BANDCTL_BUILD_FROM ($(git rev-parse --short "$BANDCTL_BUILD_FROM"))"
    fi
    log "building $IMAGE from $BASE (log: $build_log)"
    local started=$SECONDS
    # docker format: the OCI image format has no HEALTHCHECK. The base is in the store by
    # now, so nothing is pulled during the build.
    bah build --isolation chroot --format docker --layers --pull=never \
        --build-arg "PYTHON_IMAGE=$BASE" --build-arg "VERSION=$version" "${BUILD_ARGS[@]}" \
        -f "$context/Dockerfile" -t "$IMAGE" "$context" >"$build_log" 2>&1 ||
        die "the image build failed; last lines of $build_log:$(printf '\n')$(tail -n 40 "$build_log")"
    log "built in $((SECONDS - started)) s"
    rm -f "$build_log"
    check_image
    local size
    size=$(bah images --format '{{.Size}}' "$IMAGE" | head -n1)
    # Earlier builds' untagged images: the store keeps one image per tag, not one per run.
    bah rmi --prune >/dev/null 2>&1 || true
    log "ok: $IMAGE, base $BASE, size $size"
    printf 'image %s size %s\n' "$IMAGE" "$size"
}

# Sourced (the tests call single functions): define only; `return` works only when sourced.
if ! (return 0 2>/dev/null); then
    main "$@"
fi
