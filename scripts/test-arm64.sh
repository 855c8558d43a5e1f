#!/usr/bin/env bash
# The device side on aarch64 (Jetson, Graviton, ...) under qemu user-mode emulation, on an x86-64 host:
#   1. an arm64 Debian root filesystem (mmdebstrap) and a venv of aarch64 wheels from PyPI (the project's
#      dependencies, the `agent` and `bench` extras and the test tools, pinned to the versions of the
#      host's Python so both architectures run the same releases). Both are cached under $ARM64_CACHE,
#      each keyed by a hash of what goes into it, built in a .partial folder and renamed only when
#      complete, mounted read-only while in use and under a lock: a reused one is always whole and unchanged;
#   2. the device-side tests under emulation (the project is copied in; /sys is left out: with it,
#      importing onnxruntime crashes qemu);
#   3. a detection end to end (scripts/arm64_detect.py: the agent as its own process on a Unix socket, a
#      classification and a segmentation model, inline and shared memory) on aarch64 and on this host,
#      compared; the largest differences are printed, scores must agree within $ARM64_TOLERANCE.
# Exit status: 0 passed, 1 failed, 77 NOT RUN: this machine cannot run aarch64 code (the reason is printed).
# Needs root (mmdebstrap, chroot, mounts) and, to build, network access to Debian and PyPI.
# Settings: ARM64_CACHE (default /var/cache/edge-runtime-arm64), ARM64_MIRROR, ARM64_TOLERANCE (1e-4),
# ARM64_INSTALL=0 (never apt-get install the host tools), HOST_PYTHON (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
NOT_RUN=77
RECIPE=1  # bump when the way the root filesystem or the venv is made changes: both keys change
SUITE=bookworm
DEBS=python3,python3-venv,ca-certificates,libglib2.0-0
CACHE=${ARM64_CACHE:-/var/cache/edge-runtime-arm64}
MIRROR=${ARM64_MIRROR:-http://deb.debian.org/debian}
TOLERANCE=${ARM64_TOLERANCE:-1e-4}
# Device-side tests: the agent, the client, the bench, the device build (CPU features, TensorRT build
# path against the fake tensorrt), the staging of outputs. Their models come from tests/tiny_models.py.
TESTS=(tests/agent tests/client tests/bench tests/build tests/test_staging.py)
START=$SECONDS
MOUNTS=()
RUN=""

say() { printf '[arm64 %4ds] %s\n' $((SECONDS - START)) "$*"; }
not_run() { say "NOT RUN: $*"; exit $NOT_RUN; }
fail() { say "FAILED: $*"; exit 1; }
indent() { sed -u 's/^/    /'; }
# A long step runs in the background and is waited for: on a signal bash runs its traps only after the
# foreground command ends, but it interrupts `wait` at once (then cleanup stops what runs in the chroot).
step() { "$@" & wait $!; }

# ---- mounts: recorded as made, undone in reverse order whatever happens ------------------------------
mnt() { mount "$@"; MOUNTS+=("${*: -1}"); }
unmount_recorded() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" || say "could not unmount ${MOUNTS[i]}"
  done
  MOUNTS=()
}
mounted_under() { awk -v d="$1/" 'index($5 "/", d) == 1 {print $5}' /proc/self/mountinfo; }
stop_chroot_processes() {  # processes this run started inside the chroot (a hung agent, a stuck test)
  local proc
  for proc in /proc/[0-9]*; do
    if [[ $(readlink "$proc/root" 2>/dev/null) == "$RUN/root" ]]; then kill -9 "${proc#/proc/}" 2>/dev/null || true; fi
  done
}
cleanup() {
  local status=$?
  if [[ -n $RUN ]]; then
    stop_chroot_processes
    unmount_recorded
    if [[ -n $(mounted_under "$RUN") ]]; then
      say "mounts remain under $RUN, so it is left in place: $(mounted_under "$RUN" | tr '\n' ' ')"
    else
      rm -rf --one-file-system "$RUN"
    fi
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Mount ROOT at $RUN/root read-only with /proc, /dev, a private /dev/shm, $RUN/tmp as /tmp, VENV at
# /opt/venv (read-only unless $3 is rw) and, when given, $4 at /work.
enter() {
  local root=$1 venv=$2 venv_mode=$3 work=${4:-} m=$RUN/root
  mkdir -p "$m" "$RUN/tmp/home"
  chmod 1777 "$RUN/tmp"
  mnt --bind "$root" "$m"
  mount -o remount,bind,ro "$m"
  mnt -t proc proc "$m/proc"
  mnt --bind /dev "$m/dev"
  mnt -t tmpfs -o mode=1777,size=1g shm "$m/dev/shm"
  mnt --bind "$RUN/tmp" "$m/tmp"
  mnt --bind "$venv" "$m/opt/venv"
  [[ $venv_mode == rw ]] || mount -o remount,bind,ro "$m/opt/venv"
  if [[ -n $work ]]; then mnt --bind "$work" "$m/work"; fi
}
# Run a command in the chroot, in /work, with a clean environment.
in_arm64() {
  env -i HOME=/tmp/home PATH=/opt/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TMPDIR=/tmp \
    PYTHONPATH=/work PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_CONFIG_FILE=/dev/null \
    PIP_DISABLE_PIP_VERSION_CHECK=1 chroot "$RUN/root" /bin/sh -c 'cd /work 2>/dev/null; exec "$@"' sh "$@"
}

# ---- can this machine run aarch64 code at all? -------------------------------------------------------
install_host_tools() {
  local missing=()
  command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
  command -v update-binfmts >/dev/null || missing+=(binfmt-support)
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  ((${#missing[@]})) || return 0
  if [[ ${ARM64_INSTALL:-1} != 1 ]] || ! command -v apt-get >/dev/null; then
    not_run "missing host packages: ${missing[*]} (install them: apt-get install ${missing[*]})"
  fi
  say "installing host packages: ${missing[*]}"
  local log=$RUN/apt.log
  if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}" >"$log" 2>&1; then
    apt-get update -q >>"$log" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}" >>"$log" 2>&1 \
      || not_run "could not install ${missing[*]}: $(tail -n 1 "$log")"
  fi
}
enable_binfmt() {
  local dir=/proc/sys/fs/binfmt_misc out
  if [[ ! -e $dir/register ]]; then
    out=$(mount -t binfmt_misc binfmt_misc "$dir" 2>&1) \
      || not_run "binfmt_misc is not mounted and cannot be mounted ($out): the kernel lacks it or this container may not mount it"
  fi
  if [[ ! -e $dir/qemu-aarch64 ]] || ! grep -q '^enabled' "$dir/qemu-aarch64"; then
    out=$(update-binfmts --enable qemu-aarch64 2>&1) || not_run "cannot register qemu-aarch64 with binfmt_misc: $out"
  fi
  grep -q '^flags:.*F' "$dir/qemu-aarch64" \
    || not_run "qemu-aarch64 is registered without the F (fix binary) flag, so it cannot start inside a chroot ($(grep '^flags' "$dir/qemu-aarch64"))"
}
check_host() {
  [[ $(uname -s) == Linux ]] || not_run "needs Linux (binfmt_misc, chroot); this is $(uname -s)"
  [[ $(uname -m) == x86_64 ]] \
    || not_run "emulates aarch64 on an x86-64 host and compares the two; this host is $(uname -m) (on aarch64 run scripts/test.sh natively)"
  [[ $(id -u) == 0 ]] || not_run "needs root for mmdebstrap, chroot and mounts (run it as root or with sudo)"
  install_host_tools
  enable_binfmt
  say "host ready: $(qemu-aarch64-static --version | head -n 1), binfmt_misc qemu-aarch64 enabled (flags $(sed -n 's/^flags: //p' /proc/sys/fs/binfmt_misc/qemu-aarch64))"
}

# ---- the cached root filesystem and venv -------------------------------------------------------------
remove_partial() {  # a build interrupted earlier: undo any mounts it left, then delete it
  local path=$1 left
  [[ -e $path ]] || return 0
  for left in $(mounted_under "$path" | sort -r); do umount -l "$left" || true; done
  rm -rf --one-file-system "$path"
}
prune_cache() {  # keep the current entries and the two most recently used others of each kind
  local kind old
  for kind in base venv; do
    for old in $(ls -1dt "$CACHE/$kind"-*/.used 2>/dev/null | grep -v -e "/base-$BASE_KEY/" -e "/venv-$VENV_KEY/" | tail -n +3); do
      say "pruning the unused cache entry ${old%/.used}"
      rm -rf --one-file-system "${old%/.used}"
    done
  done
}
mmdebstrap_base() {
  mmdebstrap --arch=arm64 --variant=apt --include="$DEBS" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='mkdir -p "$1/opt/venv" "$1/work"' \
    "$SUITE" "$BASE.partial" "$MIRROR" 2>&1 | indent
}
build_base() {
  if [[ -f $BASE/.complete ]]; then say "reusing the root filesystem $BASE"; return; fi
  remove_partial "$BASE.partial"
  rm -rf --one-file-system "$BASE"
  say "building the arm64 root filesystem ($SUITE: $DEBS) into $BASE.partial (minutes: dpkg runs emulated)"
  step mmdebstrap_base || fail "mmdebstrap could not build the root filesystem"
  touch "$BASE.partial/.complete"
  mv "$BASE.partial" "$BASE"
  say "root filesystem built: $(du -sh "$BASE" | cut -f1)"
}
build_venv() {  # the venv made by the root filesystem's python3; wheels unpacked and compiled natively here
  if [[ -f $VENV/.complete ]]; then say "reusing the venv $VENV"; return; fi
  remove_partial "$VENV.partial"
  rm -rf --one-file-system "$VENV"
  mkdir -p "$VENV.partial"
  enter "$BASE" "$VENV.partial" rw
  in_arm64 python3 -m venv --without-pip /opt/venv || fail "python3 -m venv failed in the root filesystem"
  unmount_recorded
  local pyver platforms=() v site
  pyver=$(readlink "$BASE/usr/bin/python3" | sed 's/^python//')  # e.g. 3.11
  site=$VENV.partial/lib/python$pyver/site-packages
  for v in $(seq 17 40); do platforms+=(--platform "manylinux_2_${v}_aarch64"); done
  say "installing aarch64 wheels for CPython $pyver: $(tr '\n' ' ' <"$RUN/tmp/requirements.txt")"
  "$HOST_PY" -m pip install -q --disable-pip-version-check --no-compile --no-warn-conflicts --only-binary=:all: "${platforms[@]}" \
    --platform manylinux2014_aarch64 --python-version "$pyver" --implementation cp --target "$site" \
    -r "$RUN/tmp/requirements.txt" 2>&1 | { grep -v 'is ignored: it is neither' || true; } | indent \
    || fail "no complete set of aarch64 wheels (nothing is compiled here; see pip's message above)"
  # Bytecode does not depend on the architecture: compile here when this Python is the same minor version.
  if [[ $("$HOST_PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])') == "$pyver" ]]; then
    "$HOST_PY" -m compileall -q -j 0 "$site" >/dev/null 2>&1 || true
  else
    enter "$BASE" "$VENV.partial" rw
    in_arm64 /opt/venv/bin/python -m compileall -q "/opt/venv/lib/python$pyver/site-packages" >/dev/null 2>&1 || true
    unmount_recorded
  fi
  "$HOST_PY" -m pip list --disable-pip-version-check --path "$site" --format=freeze >"$VENV.partial/edge-runtime-freeze.txt"
  touch "$VENV.partial/.complete"
  mv "$VENV.partial" "$VENV"
  say "venv built: $(du -sh "$VENV" | cut -f1), $(wc -l <"$VENV/edge-runtime-freeze.txt") packages"
}
copy_project() {  # tracked and untracked-but-not-ignored files; the cached root filesystem stays untouched
  mkdir -p "$RUN/work"
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z -co --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$RUN/work"
  else
    cp -a edge_runtime tests scripts pyproject.toml "$RUN/work/"
  fi
}

run_tests() {
  in_arm64 python -m pytest -q -p no:cacheprovider --durations=5 "${TESTS[@]}" 2>&1 | tee "$RUN/pytest.log" | indent
}
detect_on_aarch64() {  # the agent's log and ONNX Runtime's warnings go to a file, shown if it fails
  in_arm64 python scripts/arm64_detect.py run /tmp/e2e /tmp/e2e/aarch64.npz 2>"$RUN/detect-aarch64.log" | indent \
    || { tail -n 30 "$RUN/detect-aarch64.log" | indent; return 1; }
}

# ---- the run ----------------------------------------------------------------------------------------
RUN=$(mktemp -d /tmp/edge-runtime-arm64.XXXXXX)
mkdir -p "$RUN/tmp"
say "aarch64 device checks for $REPO (work folder $RUN)"
check_host
HOST_PY=${HOST_PYTHON:-$REPO/.venv/bin/python}
[[ -x $HOST_PY ]] || fail "no host Python at $HOST_PY (run scripts/setup.sh, or set HOST_PYTHON)"
"$HOST_PY" scripts/arm64_requirements.py >"$RUN/tmp/requirements.txt"
BASE_KEY=$(printf '%s\n' "$RECIPE" "$SUITE" "$DEBS" | sha256sum | cut -c1-16)
VENV_KEY=$(printf '%s\n' "$RECIPE" "$BASE_KEY" | cat - "$RUN/tmp/requirements.txt" | sha256sum | cut -c1-16)
BASE=$CACHE/base-$BASE_KEY
VENV=$CACHE/venv-$VENV_KEY
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
  say "another run holds $CACHE/.lock; waiting for it"
  flock -w 3600 9 || fail "$CACHE/.lock still held after an hour"
fi
build_base
arch=$(chroot "$BASE" /usr/bin/uname -m 2>&1) || not_run "aarch64 programs do not start here: $arch"
[[ $arch == aarch64 ]] || not_run "the root filesystem reports machine '$arch', not aarch64"
build_venv
touch "$BASE/.used" "$VENV/.used"
prune_cache
copy_project
enter "$BASE" "$VENV" ro "$RUN/work"
say "inside: $(in_arm64 python -c 'import importlib.metadata as m, platform
print(platform.machine(), "Python", platform.python_version(), *("%s %s" % (n, m.version(n)) for n in
      ("numpy", "opencv-python-headless", "onnxruntime", "grpcio")))')"

say "device-side tests under emulation: ${TESTS[*]}"
step run_tests || fail "device-side tests failed under aarch64 emulation"
say "tests under emulation: $(grep -E '[0-9]+ passed' "$RUN/pytest.log" | tail -n 1 | tr -d '=')"

say "detection end to end: models and images prepared on this host"
"$HOST_PY" scripts/arm64_detect.py prepare "$RUN/tmp/e2e" | indent
say "detection on aarch64 (emulated): agent process on a Unix socket, inline and shared memory"
say "(ONNX Runtime's cpuinfo library cannot read /sys, left out on purpose; it warns, in the agent's log)"
step detect_on_aarch64 || fail "the detection under emulation failed"
say "detection on x86-64: the same models, images and releases"
"$HOST_PY" scripts/arm64_detect.py run "$RUN/tmp/e2e" "$RUN/tmp/e2e/x86_64.npz" 2>&1 | { grep -v ' INFO ' || true; } | indent \
  || fail "the detection on x86-64 failed"
say "aarch64 against x86-64 (tolerance $TOLERANCE)"
"$HOST_PY" scripts/arm64_detect.py compare --tolerance "$TOLERANCE" "$RUN/tmp/e2e/x86_64.npz" "$RUN/tmp/e2e/aarch64.npz" \
  | indent || fail "aarch64 and x86-64 detections differ beyond the tolerance"
say "PASSED: aarch64 device checks in $((SECONDS - START)) s"
