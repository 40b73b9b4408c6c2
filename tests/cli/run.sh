#!/usr/bin/env bash
# Command-line tests: exit codes and the one-line messages for bad values,
# --help against the README, `serve` start line and clean exit, `doctor`
# verdicts. Uses ANYCLAUDE_BIN (default build/anyclaude).
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${ANYCLAUDE_BIN:-build/anyclaude}
pass=0; fail=0
T=$(mktemp -d); trap 'rm -rf "$T"; kill $(jobs -p) 2>/dev/null' EXIT
export HOME="$T/home" XDG_CONFIG_HOME="$T/config" XDG_STATE_HOME="$T/state"
mkdir -p "$HOME"
unset ANYCLAUDE_MODE MLX_LM_URL LMSTUDIO_URL LLAMACPP_URL OPENAI_BASE_URL ANYCLAUDE_PORT ANYCLAUDE_DEBUG

ok() { pass=$((pass+1)); echo "ok   $1"; }
ko() { fail=$((fail+1)); echo "FAIL $1"; shift; printf '     %s\n' "$@"; }

# expect_error NAME WANT_SUBSTRING CMD...: exit 2, exactly one line on stderr containing WANT
expect_error() {
  local name=$1 want=$2; shift 2
  local out rc
  out=$("$@" 2>&1 >/dev/null); rc=$?
  local lines; lines=$(printf '%s' "$out" | grep -c '')
  if [ "$rc" = 2 ] && [ "$lines" = 1 ] && [[ "$out" == *"$want"* ]]; then ok "$name"
  else ko "$name" "rc=$rc lines=$lines" "got: $out" "want: $want"; fi
}

expect_error "unknown mode (env)" 'ANYCLAUDE_MODE: unknown mode "ollama"; accepted: mlx-lm, lmstudio, llamacpp, openai' \
  env ANYCLAUDE_MODE=ollama "$BIN" serve
expect_error "unknown mode (flag)" '--mode: unknown mode "vllm"; accepted:' "$BIN" serve --mode vllm
expect_error "malformed URL" 'MLX_LM_URL: malformed backend URL "localhost:8081"; expected http(s)://host[:port][/path]' \
  env MLX_LM_URL=localhost:8081 "$BIN" serve
expect_error "bad port" '--port: bad port "abc"; expected 0 (any free port) to 65535' "$BIN" serve --port abc
expect_error "bad debug" 'ANYCLAUDE_DEBUG: bad debug level "7"; expected 0, 1, 2 or 3' env ANYCLAUDE_DEBUG=7 "$BIN" serve
expect_error "bad max tokens" 'ANYCLAUDE_MAX_OUTPUT_TOKENS: bad max output tokens "lots"' env ANYCLAUDE_MAX_OUTPUT_TOKENS=lots "$BIN" serve
expect_error "unreadable config" "config file $T/nope.json: No such file or directory; pass a readable JSON file with --config" \
  "$BIN" serve --config "$T/nope.json"
echo '{"mode": llamacpp}' > "$T/bad.json"
expect_error "config not JSON" "config file $T/bad.json: not a JSON object" "$BIN" serve --config "$T/bad.json"
expect_error "openai needs backend" 'mode openai needs a backend URL: pass --backend URL or set OPENAI_BASE_URL' \
  "$BIN" serve --mode openai
expect_error "unknown serve option" 'unknown option "--bogus" for serve; see anyclaude --help' "$BIN" serve --bogus
expect_error "missing value" '--port needs a value; see anyclaude --help' "$BIN" serve --port
expect_error "exposed without token" 'refusing to listen on 0.0.0.0 without a token' "$BIN" serve --host 0.0.0.0
expect_error "bad slots" '--slots: bad slot count "many"' "$BIN" serve --slots many
expect_error "bad context window" '--context-window: bad context window "32k"; expected tokens, 1024 to 100000000' \
  "$BIN" serve --context-window 32k
echo '{"backends":{"a":{"mode":"llamacpp","contextWindow":"big"}},"routes":[{"when":"default","to":"a"}]}' > "$T/cw.json"
expect_error "bad contextWindow" '"backends.a.contextWindow": expected tokens, 1024 to 100000000' "$BIN" serve --config "$T/cw.json"

# statusline: one line from a gateway, nothing (and exit 0) without one
out=$(echo '{"session_id":"0000-1"}' | env ANTHROPIC_BASE_URL=http://127.0.0.1:9 "$BIN" statusline 2>&1); rc=$?
if [ "$rc" = 0 ] && [ -z "$out" ]; then ok "statusline without a gateway"; else ko "statusline without a gateway" "rc=$rc out=$out"; fi
out=$(env -u ANTHROPIC_BASE_URL "$BIN" statusline </dev/null 2>&1); rc=$?
if [ "$rc" = 0 ] && [ -z "$out" ]; then ok "statusline without ANTHROPIC_BASE_URL"; else ko "statusline without ANTHROPIC_BASE_URL" "rc=$rc out=$out"; fi
expect_error "unknown mode names auto" '--mode: unknown mode "atuo"; accepted: mlx-lm, lmstudio, llamacpp, openai, anthropic, claude, auto' \
  "$BIN" serve --mode atuo
expect_error "auto with a backend" '--mode auto finds a server on a local port; with --backend http://127.0.0.1:9/v1 name its mode too' \
  "$BIN" serve --mode auto --backend http://127.0.0.1:9/v1
expect_error "bad discover ports" 'ANYCLAUDE_DISCOVER_PORTS: bad port list "12x"; expected ports separated by commas' \
  env ANYCLAUDE_DISCOVER_PORTS=12x "$BIN" serve --mode auto

# --mode auto with nothing on its ports: exit 1, one line naming the ports
out=$(ANYCLAUDE_DISCOVER_PORTS=9 "$BIN" serve --mode auto 2>&1 >/dev/null); rc=$?
if [ $rc = 1 ] && [ "$(printf '%s' "$out" | grep -c '')" = 1 ] &&
   [[ "$out" == "anyclaude: mode auto: no model server answers on localhost ports 9 ("*"start one, or pass --mode and --backend" ]]; then
  ok "auto: nothing answers"; else ko "auto: nothing answers" "rc=$rc" "$out"; fi
# a port that accepts but never answers does not hold the probe up (deadline 1.5 s)
python3 -c 'import socket,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(50); print(s.getsockname()[1], flush=True); time.sleep(60)' >"$T/hang.port" & hpid=$!
for _ in $(seq 50); do [ -s "$T/hang.port" ] && break; sleep 0.1; done
out=$(ANYCLAUDE_DISCOVER_PORTS="$(cat "$T/hang.port")" timeout 30 "$BIN" serve --mode auto 2>&1 >/dev/null); rc=$?
kill $hpid 2>/dev/null
if [ $rc = 1 ] && [[ "$out" == *"no model server answers"* ]]; then ok "auto: a silent port is given up on"
else ko "auto: a silent port is given up on" "rc=$rc (124: hung)" "$out"; fi
# no mode given, the default backend down, nothing on the probe ports: doctor says so
out=$(ANYCLAUDE_DISCOVER_PORTS=9 MLX_LM_URL=http://127.0.0.1:9/v1 "$BIN" doctor --claude /bin/true 2>&1); rc=$?
if [ $rc = 1 ] && grep -q '^\[ -- \] other model servers: none answers on localhost ports 9$' <<<"$out"; then
  ok "doctor: no other server"; else ko "doctor: no other server" "rc=$rc" "$out"; fi
# the launcher, no mode, backend down, nothing elsewhere: a warning, then claude (here true) runs
out=$(ANYCLAUDE_DISCOVER_PORTS=9 MLX_LM_URL=http://127.0.0.1:9/v1 "$BIN" --claude /bin/true -p hi 2>&1); rc=$?
if [ $rc = 0 ] && [ "$out" = "anyclaude: warning: nothing answers at http://127.0.0.1:9/v1 (mode mlx-lm; no --mode given), nor on localhost ports 9; start your model server (anyclaude doctor helps)" ]; then
  ok "launcher: nothing answers anywhere"; else ko "launcher: nothing answers anywhere" "rc=$rc" "$out"; fi
# the user turned auto mode's server-side check off: the launcher says what that costs a local model
out=$(CLAUDE_CODE_AUTO_MODE_SERVER=0 "$BIN" --mode llamacpp --backend http://127.0.0.1:9/v1 --context-window 32768 --claude /bin/true -p hi 2>&1); rc=$?
if [ $rc = 0 ] && grep -q '^anyclaude: CLAUDE_CODE_AUTO_MODE_SERVER="0" turns off auto mode.s server-side safety check, .*32768-token window' <<<"$out"; then
  ok "launcher: CLAUDE_CODE_AUTO_MODE_SERVER=0 with a local model warns"; else ko "launcher: CLAUDE_CODE_AUTO_MODE_SERVER=0 with a local model warns" "rc=$rc" "$out"; fi
out=$(CLAUDE_CODE_AUTO_MODE_SERVER=1 "$BIN" --mode llamacpp --backend http://127.0.0.1:9/v1 --claude /bin/true -p hi 2>&1)
if ! grep -q 'AUTO_MODE_SERVER' <<<"$out"; then ok "launcher: CLAUDE_CODE_AUTO_MODE_SERVER=1 is quiet"; else ko "launcher: CLAUDE_CODE_AUTO_MODE_SERVER=1 is quiet" "$out"; fi
out=$("$BIN" doctor --mode mlx-lm --backend http://127.0.0.1:9/v1 --claude /bin/true 2>&1)
if ! grep -q 'other model servers' <<<"$out"; then ok "doctor: a chosen mode is not second-guessed"
else ko "doctor: a chosen mode is not second-guessed" "$out"; fi
echo '{"backends": {"c": {"mode": "claude"}}, "routes": [{"when": "web", "to": "c"}, {"when": "default", "to": "c"}]}' > "$T/when.json"
expect_error "unknown route class" 'unknown class "web"; accepted: background, thinking, longContext, subagent, serverTools, vision, default' \
  "$BIN" serve --config "$T/when.json"
expect_error "bad vision" '--vision: bad value "maybe"; expected on, off or auto' "$BIN" serve --vision maybe

# --help names every option and variable the README documents, and back
help=$("$BIN" --help)
missing=""
for opt in $(grep -o -- '--[a-z][a-z-]*' README.md | sort -u); do
  # claude's, llama-server's and the benches' own flags the README cites
  case "$opt" in --allowedTools|--output-format|--continue|--jinja|--parallel|--kv-unified|--settings|--test-concurrency|--data|--help|--version|--slot-save-path|--cache-ram|--metrics|--prompt-cache-size|--mmproj|--max-body-|--no-*|--quick|--baseline|--rt|--node-backend|--resume|--slot-prompt-similarity|--prefix|--force|--dry-run|--build-only|--repository) continue;; esac  # the last five: install-claude.sh, deps.sh, brew
  grep -q -- "$opt" <<<"$help" || missing="$missing $opt"
done
for opt in $(grep -o -- '^  --[a-z-]*' <<<"$help" | tr -d ' ' | sort -u); do
  grep -q -- "\`$opt" README.md || missing="$missing (README lacks $opt)"
done
for var in $(grep -o 'ANYCLAUDE_[A-Z_]*\|MLX_LM_[A-Z_]*\|LMSTUDIO_[A-Z_]*\|LLAMACPP_[A-Z_]*\|OPENAI_[A-Z_]*' <<<"$help" | sort -u); do
  grep -q "$var" README.md || missing="$missing (README lacks $var)"
done
if [ -z "$missing" ]; then ok "--help and README agree"; else ko "--help and README agree" "$missing"; fi
# the man page names no option --help lacks
missing=""
for opt in $(grep -o -- '\\-\\-[a-z][a-z-]*' docs/anyclaude.1 | sed 's/\\//g' | sort -u); do
  grep -q -- "$opt" <<<"$help" || missing="$missing $opt"
done
if [ -z "$missing" ]; then ok "man page and --help agree"; else ko "man page and --help agree" "$missing"; fi
"$BIN" --version | grep -Eq '^anyclaude [0-9]+\.[0-9]+\.[0-9]+$' && ok "--version" || ko "--version" "$("$BIN" --version)"

# serve: one start line naming URL, mode and backend; SIGTERM exits 0
"$BIN" serve --port 0 --mode lmstudio --warm-start off 2>"$T/serve.err" &
pid=$!
for _ in $(seq 50); do grep -q listening "$T/serve.err" && break; sleep 0.1; done
line=$(head -1 "$T/serve.err")
kill -TERM $pid; wait $pid; rc=$?
if [[ "$line" =~ ^anyclaude\ [0-9.]+\ listening\ on\ http://127\.0\.0\.1:[0-9]+\ mode=lmstudio\ backend=http://localhost:1234/v1$ ]] && [ $rc = 0 ]; then
  ok "serve start line and clean exit"; else ko "serve start line and clean exit" "line: $line" "rc: $rc"; fi

# doctor with nothing running: exits 1 with a fix line for the backend
out=$("$BIN" doctor --mode llamacpp --backend http://127.0.0.1:9/v1 --claude /bin/true 2>&1); rc=$?
if [ $rc = 1 ] && grep -q '\[FAIL\] backend answers' <<<"$out" && grep -q 'fix: start llama-server --jinja' <<<"$out"; then
  ok "doctor: backend down"; else ko "doctor: backend down" "rc=$rc" "$out"; fi
out=$("$BIN" doctor --mode llamacpp --backend http://127.0.0.1:9/v1 --claude "$T/none" 2>&1); rc=$?
if [ $rc = 1 ] && grep -q '\[FAIL\] claude' <<<"$out" && grep -q 'fix: ' <<<"$out"; then
  ok "doctor: claude missing"; else ko "doctor: claude missing" "rc=$rc" "$out"; fi

# doctor with routes: a verdict per backend a route uses and per route; an
# unused backend is named as such; a backend up (a tiny HTTP server answering
# /v1/models) makes its route pass even when the pool's other member is down
cat >"$T/models.py" <<'PY'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = json.dumps({"object": "list", "data": [{"id": "m1", "object": "model"}]}).encode()
        self.send_response(200 if self.path == "/v1/models" else 404)
        self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(b)))
        self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
python3 "$T/models.py" >"$T/models.port" & mpid=$!
for _ in $(seq 50); do [ -s "$T/models.port" ] && break; sleep 0.1; done
mport=$(cat "$T/models.port")
cat >"$T/routes.json" <<JSON
{"backends": {"up": {"mode": "openai", "url": "http://127.0.0.1:$mport/v1", "model": "m1"},
              "down": {"mode": "openai", "url": "http://127.0.0.1:9/v1"},
              "spare": {"mode": "openai", "url": "http://127.0.0.1:9/v1"}},
 "routes": [{"when": "background", "to": "down"},
            {"when": "default", "to": ["down", "up"]}]}
JSON
out=$("$BIN" doctor --config "$T/routes.json" --claude /bin/true 2>&1 | grep -v 'round trip\|^       note'); rc=$?
if grep -q '^anyclaude doctor: 3 backends, 2 routes' <<<"$out" &&
   grep -q '\[FAIL\] backend down answers' <<<"$out" &&
   grep -q '\[ ok \] backend up answers' <<<"$out" &&
   grep -q '\[ -- \] backend spare: no route uses it' <<<"$out" &&
   grep -q '\[FAIL\] route 1 background: to down (down)' <<<"$out" &&
   grep -q '\[ ok \] route 2 default: to down (down), up (ok)' <<<"$out"; then
  ok "doctor: routes"; else ko "doctor: routes" "$out"; fi
# serve with routes: the start line names the routes and backends
"$BIN" serve --port 0 --config "$T/routes.json" 2>"$T/serve2.err" &
pid=$!
for _ in $(seq 50); do grep -q listening "$T/serve2.err" && break; sleep 0.1; done
line=$(head -1 "$T/serve2.err")
kill -TERM $pid; wait $pid; rc=$?
kill $mpid 2>/dev/null
if [[ "$line" == *" routes=2 backends=up=openai:http://127.0.0.1:$mport/v1,down=openai:http://127.0.0.1:9/v1,spare=openai:http://127.0.0.1:9/v1" ]] && [ $rc = 0 ]; then
  ok "serve start line with routes"; else ko "serve start line with routes" "line: $line" "rc: $rc"; fi

# the Homebrew formula (no Mac here: checked by brew audit's rules, read):
# desc under 80 characters, no leading article or own name, no final period;
# https homepage; a test block; its dependencies are what scripts/deps.sh
# installs with brew (pkg-config is now pkgconf; curl comes with macOS)
F=packaging/homebrew/anyclaude.rb
desc=$(sed -n 's/^  desc "\(.*\)"$/\1/p' "$F")
deps=$(sed -n 's/^  depends_on "\([^"]*\)".*/\1/p; s/^  uses_from_macos "\([^"]*\)".*/\1/p' "$F" | sed 's/^pkgconf$/pkg-config/' | sort | tr '\n' ' ')
want=$(sed -n 's/^ *brew install \(.*\)$/\1/p' scripts/deps.sh | tr ' ' '\n' | sort | tr '\n' ' ')
if [ -n "$desc" ] && [ ${#desc} -lt 80 ] && ! [[ "$desc" =~ ^(A|An|The|anyclaude)\  ]] && [[ "$desc" != *. ]] &&
   grep -q '^  homepage "https://' "$F" && grep -q '^  test do$' "$F" && grep -q 'system "make", "install", "PREFIX=#{prefix}"' "$F" &&
   [ "$deps" = "$want" ]; then ok "homebrew formula"
else ko "homebrew formula" "desc: $desc (${#desc})" "deps: $deps" "deps.sh: $want"; fi
expect_error "bad drain timeout" 'ANYCLAUDE_DRAIN_TIMEOUT: bad drain timeout "soon"; expected 0 to 86400 seconds' \
  env ANYCLAUDE_DRAIN_TIMEOUT=soon "$BIN" serve

# no user config: the system-wide one (/etc/anyclaude/config.json, here
# ANYCLAUDE_SYSTEM_CONFIG) is read; a user config wins over it
echo '{"mode": "llamacpp", "backend": "http://127.0.0.1:9/v1"}' >"$T/system.json"
ANYCLAUDE_SYSTEM_CONFIG="$T/system.json" "$BIN" serve --port 0 --warm-start off 2>"$T/serve3.err" &
pid=$!
for _ in $(seq 50); do grep -q listening "$T/serve3.err" && break; sleep 0.1; done
line=$(head -1 "$T/serve3.err"); kill -TERM $pid; wait $pid
mkdir -p "$XDG_CONFIG_HOME/anyclaude" && echo '{"mode": "lmstudio"}' >"$XDG_CONFIG_HOME/anyclaude/config.json"
ANYCLAUDE_SYSTEM_CONFIG="$T/system.json" "$BIN" serve --port 0 --warm-start off 2>"$T/serve4.err" &
pid=$!
for _ in $(seq 50); do grep -q listening "$T/serve4.err" && break; sleep 0.1; done
line2=$(head -1 "$T/serve4.err"); kill -TERM $pid; wait $pid
rm -f "$XDG_CONFIG_HOME/anyclaude/config.json"
if [[ "$line" == *"mode=llamacpp backend=http://127.0.0.1:9/v1" ]] && [[ "$line2" == *"mode=lmstudio backend=http://localhost:1234/v1" ]]; then
  ok "system config when no user config"; else ko "system config when no user config" "$line" "$line2"; fi

# the service files: systemd-analyze verify passes on the unit (ExecStart
# pointed at this build), the launchd plist parses and runs `anyclaude serve`
if command -v systemd-analyze >/dev/null; then
  sed "s|/usr/local/bin/anyclaude|$(realpath "$BIN")|" packaging/anyclaude.service >"$T/anyclaude.service"
  out=$(systemd-analyze verify "$T/anyclaude.service" 2>&1); rc=$?
  if [ $rc = 0 ] && [ -z "$out" ]; then ok "systemd-analyze verify packaging/anyclaude.service"
  else ko "systemd-analyze verify packaging/anyclaude.service" "rc=$rc" "$out"; fi
else
  ko "systemd-analyze verify packaging/anyclaude.service" "systemd-analyze missing (apt-get install systemd)"
fi
out=$(python3 -c 'import plistlib,sys; d=plistlib.load(open(sys.argv[1],"rb")); print(d["Label"], *d["ProgramArguments"])' packaging/com.anyclaude.serve.plist 2>&1)
if [ "$out" = "com.anyclaude.serve /usr/local/bin/anyclaude serve" ]; then ok "launchd plist"; else ko "launchd plist" "$out"; fi

# the launcher without claude: one line with what to do
expect_error_1() { local out rc; out=$("$@" 2>&1 >/dev/null); rc=$?; echo "$rc|$out"; }
r=$(PATH=/usr/bin:/bin expect_error_1 "$BIN" -p hi)
if [[ "$r" == "1|anyclaude: claude not found on PATH nor in ~/.local/bin; install Claude Code (scripts/install-claude.sh in anyclaude's source), or pass --claude PATH" ]]; then
  ok "launcher: claude not found"; else ko "launcher: claude not found" "$r"; fi

# the quick start's command, with the pinned claude on PATH (no global install)
out=$(PATH="$PWD/tests/node_modules/.bin:$PATH" make -s run ARGS=--version 2>&1); rc=$?
if [ $rc = 0 ] && grep -Eq '^anyclaude [0-9]+\.[0-9]+\.[0-9]+$' <<<"$out"; then ok "make run"; else ko "make run" "rc=$rc" "$out"; fi

echo "cli: $pass passed, $fail failed"
[ $fail = 0 ]
