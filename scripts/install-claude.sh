#!/usr/bin/env bash
# Installs Claude Code's native binary for this platform from its npm
# platform package (@anthropic-ai/claude-code-linux-x64, -linux-arm64,
# -darwin-arm64, -darwin-x64, -linux-x64-musl, -linux-arm64-musl), so the
# version is the current one whatever Node.js this machine has: the main
# package declares engines.node >=22, and `npm install -g` on an older Node
# quietly picks an old release. The binary runs without Node.
#
#   scripts/install-claude.sh [--prefix DIR] [--version X.Y.Z] [--force] [--dry-run]
#
#   --prefix DIR     install under DIR (default ~/.local): the binary goes to
#                    DIR/lib/claude-code/VERSION/claude, DIR/bin/claude links to it
#   --version X.Y.Z  that release (default: the one @anthropic-ai/claude-code's
#                    `latest` names for this platform)
#   --force          replace an existing DIR/bin/claude without asking
#   --dry-run        print the package and version it would install, and stop
#
# npm fetches the package (from its cache when it has it) and checks it
# against the registry's sha512 integrity; this script checks that sum again
# on the tarball, and that the binary reports the version it announced.
# An existing DIR/bin/claude is replaced only after a yes on the terminal, or
# with --force; without a terminal the script refuses. Needs npm (any version
# of Node that runs npm), and tar.
set -euo pipefail

PREFIX="$HOME/.local"
VERSION=""
FORCE=0
DRY=0
die() { echo "install-claude: $*" >&2; exit 1; }
say() { echo "install-claude: $*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX="$2"; shift 2 ;;
    --prefix=*) PREFIX="${1#*=}"; shift ;;
    --version) [ $# -ge 2 ] || die "--version needs X.Y.Z"; VERSION="$2"; shift 2 ;;
    --version=*) VERSION="${1#*=}"; shift ;;
    --force|--yes|-y) FORCE=1; shift ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument \"$1\"; see --help" ;;
  esac
done
[ -n "$PREFIX" ] || die "--prefix is empty"
case "$PREFIX" in /*) ;; *) PREFIX="$PWD/$PREFIX" ;; esac
if [ -n "$VERSION" ] && ! [[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  die "bad --version \"$VERSION\"; expected X.Y.Z, e.g. 2.1.332"
fi
command -v npm >/dev/null || die "npm is needed to fetch Claude Code (apt install npm, brew install node)"

# --- which package ------------------------------------------------------------
os=$(uname -s); arch=$(uname -m)
case "$os" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) die "no Claude Code native binary for $os; see https://docs.claude.com/en/docs/claude-code" ;;
esac
case "$arch" in
  x86_64|amd64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) die "no Claude Code native binary for $arch" ;;
esac
libc=""
if [ "$os" = linux ]; then
  if ls /lib/ld-musl-* >/dev/null 2>&1 || (ldd --version 2>&1 | grep -qi musl); then libc="-musl"; fi
fi
PKG="@anthropic-ai/claude-code-$os-$arch$libc"

if [ -z "$VERSION" ]; then
  VERSION=$(npm view --silent "@anthropic-ai/claude-code@latest" "optionalDependencies.$PKG" 2>/dev/null || true)
  [ -n "$VERSION" ] || VERSION=$(npm view --silent "@anthropic-ai/claude-code@latest" version 2>/dev/null || true)
  [[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    die "cannot ask the npm registry for the current version (npm view @anthropic-ai/claude-code); check the network or pass --version"
fi
say "Claude Code $VERSION for $os-$arch${libc:+ (musl)}: $PKG@$VERSION"
if [ "$DRY" = 1 ]; then echo "$PKG@$VERSION"; exit 0; fi

BIN="$PREFIX/bin/claude"
DEST="$PREFIX/lib/claude-code/$VERSION"

# --- an existing claude -------------------------------------------------------
if [ -e "$BIN" ] || [ -L "$BIN" ]; then
  if [ "$(readlink "$BIN" 2>/dev/null)" = "$DEST/claude" ] && [ -x "$DEST/claude" ]; then
    say "Claude Code $VERSION is already installed: $BIN"
    echo "$VERSION"
    exit 0
  fi
  old=$("$BIN" --version 2>/dev/null | head -1 || true)
  if [ "$FORCE" != 1 ]; then
    if [ -t 0 ] && [ -t 2 ]; then
      printf 'install-claude: %s exists (%s). Replace it with Claude Code %s? [y/N] ' \
        "$BIN" "${old:-version unknown}" "$VERSION" >&2
      read -r answer || answer=""
      case "$answer" in y|Y|yes|YES) ;; *) die "left $BIN as it is" ;; esac
    else
      die "$BIN exists (${old:-version unknown}); not replacing it without a terminal to ask on. Pass --force to replace it, or --prefix DIR to install elsewhere"
    fi
  fi
fi

# --- fetch, verify, install ---------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/install-claude.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
say "fetching $PKG@$VERSION with npm (verified against the registry's sha512)"
# npm pack checks the tarball against the integrity the registry publishes
# and fails on a mismatch; engines/os fields play no part in a pack.
(cd "$TMP" && npm pack --silent --prefer-offline "$PKG@$VERSION" >"$TMP/pack.out") ||
  die "npm pack $PKG@$VERSION failed (no such version? no network and not in npm's cache?)"
TGZ="$TMP/$(tail -1 "$TMP/pack.out")"
[ -f "$TGZ" ] || die "npm pack did not leave a tarball ($(cat "$TMP/pack.out"))"
want=$(npm view --silent --prefer-offline "$PKG@$VERSION" dist.integrity 2>/dev/null || true)
# npm runs on node, so node is here to hash with
got=$(node -e 'const h = require("crypto").createHash("sha512");
  require("fs").createReadStream(process.argv[1]).on("data", (d) => h.update(d))
    .on("end", () => process.stdout.write("sha512-" + h.digest("base64")));' "$TGZ")
[ -n "$want" ] || die "the registry gave no integrity for $PKG@$VERSION"
[ "$got" = "$want" ] || die "checksum mismatch for $PKG@$VERSION: registry $want, tarball $got"
tar -xzf "$TGZ" -C "$TMP" package/claude package/package.json ||
  die "$PKG@$VERSION has no package/claude"
pv=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$TMP/package/package.json" | head -1)
[ "$pv" = "$VERSION" ] || die "the package says version $pv, not $VERSION"
chmod 755 "$TMP/package/claude"
rv=$(DISABLE_AUTOUPDATER=1 "$TMP/package/claude" --version 2>/dev/null | head -1 || true)
case "$rv" in
  "$VERSION "*|"$VERSION") ;;
  *) die "the binary reports \"$rv\", not $VERSION: not installing it" ;;
esac
mkdir -p "$DEST" "$PREFIX/bin"
mv -f "$TMP/package/claude" "$DEST/claude.new"
mv -f "$DEST/claude.new" "$DEST/claude"
ln -sfn "$DEST/claude" "$BIN.new"
mv -f "$BIN.new" "$BIN" 2>/dev/null || { rm -f "$BIN"; mv -f "$BIN.new" "$BIN"; }
say "installed Claude Code $VERSION ($got): $BIN -> $DEST/claude"
case ":$PATH:" in
  *":$PREFIX/bin:"*)
    first=$(command -v claude || true)
    [ "$first" = "$BIN" ] || say "note: $first comes first on PATH; run $BIN, or put $PREFIX/bin earlier in PATH" ;;
  *) say "note: $PREFIX/bin is not on PATH; add it (e.g. export PATH=\"$PREFIX/bin:\$PATH\" in your shell profile)" ;;
esac
echo "$VERSION"
