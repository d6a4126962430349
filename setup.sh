#!/usr/bin/env bash
# setup.sh — install everything Costroom needs to build, run and be tested, on a fresh machine.
#
#   ./setup.sh [--postgres]   # idempotent; seconds when everything is already there
#
# What it installs, and why this route (facts measured on our offline Debian bookworm machines):
#   1. A Rust toolchain with the wasm32-unknown-unknown standard library.
#      - If the active rustup toolchain already has the wasm32 target (an ordinary developer
#        machine that ran `rustup target add wasm32-unknown-unknown`), that one is used.
#      - Otherwise (offline Debian: `rustup target add` cannot reach its host), Debian's
#        rustc-web 1.96 is installed from apt, linked into rustup as toolchain `web`, and the
#        wasm32 std is built once from Debian's own std source (rust-web-src). std must come from
#        the same compiler version: rustup's 1.95 with Debian's 1.96 source fails to build.
#      The chosen toolchain is written to target/.costroom-toolchain for the Makefile.
#   2. wasm-bindgen-cli at exactly the `wasm-bindgen` version in Cargo.lock (they must match).
#   3. wasm-opt from npm's binaryen (>= 116) for release builds. Debian's binaryen 108 breaks
#      wasm-bindgen modules at hydration, so it is refused.
#   4. Debian's chromium (browser tests), the end2end npm packages (playwright, no browser
#      download), and ECharts from the npm registry into public/vendor (self-hosted, no CDN).
#   5. With --postgres (used by `make test`): a PostgreSQL server for the contract tests. It
#      uses the one answering on 127.0.0.1:5432 if there is one, otherwise installs and starts
#      Debian's postgresql; the working URL is written to target/.costroom-pg-url.
#
# Only package registries are used (apt, crates.io, npm). Every failure names its step.
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$PWD

WASM_OPT_NPM_VERSION="${WASM_OPT_NPM_VERSION:-132.0.0}"
ECHARTS_VERSION="${ECHARTS_VERSION:-6.1.0}"
T0=$(date +%s)
STEP="start"
log() { printf '[setup %3ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
die() { printf '[setup] ERROR in step "%s": %s\n' "$STEP" "$*" >&2; exit 1; }
trap 'rc=$?; printf "[setup] ERROR: step \"%s\" failed (exit %s, line %s)\n" "$STEP" "$rc" "$LINENO" >&2; exit $rc' ERR

WITH_POSTGRES=0
for arg in "$@"; do
  case "$arg" in
    --postgres) WITH_POSTGRES=1 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) die "unknown argument: $arg (try --help)" ;;
  esac
done

CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export PATH="$CARGO_HOME/bin:$PATH"
SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
APT_UPDATED=0
apt_install() {
  local missing=() p
  for p in "$@"; do is_installed "$p" || missing+=("$p"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  command -v apt-get >/dev/null || die "need Debian packages ${missing[*]} but apt-get is not available; install them by hand"
  if [[ $APT_UPDATED -eq 0 ]]; then
    log "apt-get update"
    "${SUDO[@]}" apt-get update -q >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# ------------------------------------------------------------------ 1. Rust + wasm32 std
STEP="rust toolchain"
mkdir -p target
TOOLCHAIN=""
if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  TOOLCHAIN=$(rustup show active-toolchain | awk '{print $1}')
  log "using rustup toolchain $TOOLCHAIN (has wasm32-unknown-unknown)"
else
  apt_install rustc-web cargo-web rust-web-src libstd-rust-web-dev rust-web-llvm rust-web-clippy rustfmt-web
  # rust-web-llvm ships /usr/bin/rust-lld -> lld-N (the wasm linker) without depending on lld-N.
  LLD=$(readlink /usr/bin/rust-lld || true)
  [[ "$LLD" =~ ^lld-[0-9]+$ ]] || die "/usr/bin/rust-lld is not a link to lld-N (got '$LLD')"
  apt_install "$LLD"
  WEB_VV=$(/usr/bin/rustc -vV)
  if command -v rustup >/dev/null; then
    rustup toolchain list | grep -q '^web\b' || { log "rustup toolchain link web /usr"; rustup toolchain link web /usr; }
    TOOLCHAIN=web
  fi

  STEP="wasm32 std"
  SYSROOT=$(/usr/bin/rustc --print sysroot)
  WASM_DIR="$SYSROOT/lib/rustlib/wasm32-unknown-unknown"
  STAMP="$WASM_DIR/.built-by-costroom-setup"
  clean_env=(env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS -u CARGO_BUILD_TARGET -u CARGO_TARGET_DIR
             -u RUSTUP_TOOLCHAIN -u RUSTC_WRAPPER PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
  wasm_std_works() {
    local d rc; d=$(mktemp -d)
    printf '#[no_mangle]\npub extern "C" fn probe(a: i32) -> i32 { vec![a; 3].iter().sum() }\n' >"$d/p.rs"
    "${clean_env[@]}" /usr/bin/rustc --edition 2021 --target wasm32-unknown-unknown --crate-type cdylib \
      -o "$d/p.wasm" "$d/p.rs" >"$d/log" 2>&1 && rc=0 || rc=$?
    rm -rf "$d"; return $rc
  }
  if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WEB_VV" ]] && wasm_std_works; then
    log "wasm32 std present for $(/usr/bin/rustc -V)"
  else
    log "building the wasm32 std from Debian's rust-web-src (about a minute)"
    work=$(mktemp -d); mkdir -p "$work/src"
    printf '[package]\nname = "wasm-std-builder"\nversion = "0.0.0"\nedition = "2021"\n[profile.release]\ndebug = 0\n' >"$work/Cargo.toml"
    echo '#![no_std]' >"$work/src/lib.rs"
    # RUSTC_BOOTSTRAP only for this one build: build scripts of project crates probe for
    # nightly features and misbehave when it is set. embed-bitcode so release `lto = true` works.
    (cd "$work" && "${clean_env[@]}" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 RUSTFLAGS=-Cembed-bitcode=yes \
      /usr/bin/cargo build -q --release --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort,test \
      --target-dir "$work/target") || die "building the wasm32 std failed"
    "${SUDO[@]}" rm -rf "$WASM_DIR.new"; "${SUDO[@]}" mkdir -p "$WASM_DIR.new/lib"
    find "$work/target/wasm32-unknown-unknown/release/deps" -maxdepth 1 -name 'lib*.rlib' \
      ! -name 'libwasm_std_builder-*' -exec "${SUDO[@]}" cp {} "$WASM_DIR.new/lib/" \;
    "${SUDO[@]}" rm -rf "$WASM_DIR"; "${SUDO[@]}" mv "$WASM_DIR.new" "$WASM_DIR"; rm -rf "$work"
    wasm_std_works || die "the freshly built wasm32 std does not link a probe crate"
    printf '%s\n' "$WEB_VV" | "${SUDO[@]}" tee "$STAMP" >/dev/null
    log "wasm32 std installed into $WASM_DIR/lib"
  fi
fi
echo "$TOOLCHAIN" >target/.costroom-toolchain
CARGO=(cargo)
[[ -n "$TOOLCHAIN" ]] && CARGO=(cargo "+$TOOLCHAIN")
log "rust: $("${CARGO[@]}" --version)"

# ------------------------------------------------------------------ 2. wasm-bindgen-cli
STEP="wasm-bindgen-cli"
WBG=$(awk '$0=="name = \"wasm-bindgen\"" {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
[[ -n "$WBG" ]] || die "no wasm-bindgen package in Cargo.lock"
if [[ "$(wasm-bindgen --version 2>/dev/null || true)" == "wasm-bindgen $WBG"* ]]; then
  log "wasm-bindgen $WBG present"
else
  log "cargo install wasm-bindgen-cli $WBG (compiles from source, about 6 minutes on 2 cores)"
  # --locked first; 0.2.130's own lockfile pins a webpki-roots release the registry no longer
  # serves, so fall back to a fresh resolution.
  (cd / && "${CARGO[@]}" install -q wasm-bindgen-cli --version "=$WBG" --locked) \
    || (cd / && "${CARGO[@]}" install -q wasm-bindgen-cli --version "=$WBG") \
    || die "cargo install wasm-bindgen-cli $WBG failed"
fi

# ------------------------------------------------------------------ 3. node tools
STEP="node and npm"
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
STEP="wasm-opt (npm binaryen $WASM_OPT_NPM_VERSION)"
WASM_OPT_PREFIX="$ROOT/target/tools"
if [[ "$("$WASM_OPT_PREFIX/bin/wasm-opt" --version 2>/dev/null || true)" == *"version ${WASM_OPT_NPM_VERSION%%.*}"* ]]; then
  log "wasm-opt (binaryen ${WASM_OPT_NPM_VERSION%%.*}) present"
else
  log "npm install binaryen@$WASM_OPT_NPM_VERSION into target/tools"
  npm install -q -g --prefix "$WASM_OPT_PREFIX" --no-audit --no-fund "binaryen@$WASM_OPT_NPM_VERSION" >/dev/null
fi

STEP="asset compression"
# the build leaves .br and .gz beside the site's static files (served precompressed)
apt_install brotli

STEP="chromium"
apt_install chromium chromium-driver
[[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium missing after install"

STEP="end2end npm packages"
if [[ -f end2end/node_modules/.package-lock.json && end2end/node_modules/.package-lock.json -nt end2end/package-lock.json ]]; then
  log "end2end node_modules up to date"
else
  log "npm ci in end2end (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: Debian's chromium is used)"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci -q --no-audit --no-fund >/dev/null)
fi

STEP="echarts $ECHARTS_VERSION"
VENDOR=public/vendor/echarts.min.js
if [[ -f $VENDOR ]] && head -c 400 "$VENDOR" | grep -q "Apache" && [[ -f public/vendor/.echarts-$ECHARTS_VERSION ]]; then
  log "echarts $ECHARTS_VERSION present"
else
  log "npm pack echarts@$ECHARTS_VERSION -> $VENDOR"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack -q "echarts@$ECHARTS_VERSION" >/dev/null && tar -xzf "echarts-$ECHARTS_VERSION.tgz" package/dist/echarts.min.js package/LICENSE)
  mkdir -p public/vendor
  rm -f public/vendor/.echarts-*
  cp "$tmp/package/dist/echarts.min.js" "$VENDOR"
  cp "$tmp/package/LICENSE" public/vendor/ECHARTS-LICENSE
  touch "public/vendor/.echarts-$ECHARTS_VERSION"
  rm -rf "$tmp"
fi

if [[ $WITH_POSTGRES -eq 1 ]]; then
  STEP="postgresql"
  apt_install postgresql-client
  # trust auth (this project's machines) or the password this script sets on its own install
  CANDIDATES=("postgres://postgres@127.0.0.1:5432/postgres" "postgres://postgres:costroom@127.0.0.1:5432/postgres")
  [[ -n "${COSTROOM_TEST_PG_URL:-}" ]] && CANDIDATES=("$COSTROOM_TEST_PG_URL" "${CANDIDATES[@]}")
  pg_url() { local u; for u in "${CANDIDATES[@]}"; do
      PGCONNECT_TIMEOUT=3 psql "$u" -Atqc 'select 1' >/dev/null 2>&1 && { echo "$u"; return 0; }; done; return 1; }
  if ! URL=$(pg_url); then
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
      apt_install postgresql
      VER=$(ls /etc/postgresql | sort -V | tail -1)
      [[ -n "$VER" ]] || die "postgresql installed but no cluster under /etc/postgresql"
      log "starting PostgreSQL $VER"
      "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$VER" main start || die "pg_ctlcluster $VER main start failed"
      for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
      "${SUDO[@]}" su postgres -c "psql -qc \"alter user postgres password 'costroom'\"" >/dev/null \
        || die "could not set the postgres user's password"
    fi
    URL=$(pg_url) || die "PostgreSQL answers on 127.0.0.1:5432 but none of the known URLs connects; set COSTROOM_TEST_PG_URL"
  fi
  # databases left by failed test runs (tests drop their own when they pass)
  for d in $(psql "$URL" -Atqc "select datname from pg_database where datname like 'costroom_test_%'"); do
    psql "$URL" -qc "drop database if exists $d" >/dev/null || true
  done
  echo "$URL" >target/.costroom-pg-url
  log "PostgreSQL for tests: ${URL/:costroom@/:***@}"
fi

STEP="done"
log "ready: toolchain '${TOOLCHAIN:-default}', $(wasm-bindgen --version), wasm-opt $("$WASM_OPT_PREFIX/bin/wasm-opt" --version | awk '{print $3}'), $(/usr/bin/chromium --version 2>/dev/null | head -1)"
