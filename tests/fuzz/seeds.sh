#!/usr/bin/env bash
# Seed corpora for the fuzz targets from the golden tests.
#   bash tests/fuzz/seeds.sh [OUTDIR]     (default build/fuzz/corpus)
# Writes OUTDIR/<target>/ for request, sse, stream, backend_error, toolcall,
# toolargs. Targets that read a parameter header (see each fuzz_*.c) get
# the golden file with a header prepended; libFuzzer's own finds are kept
# (files are only added or overwritten, never removed). Nothing is written
# into the repository.
set -euo pipefail
cd "$(dirname "$0")/../.."
G=tests/golden
OUT=${1:-build/fuzz/corpus}
mkdir -p "$OUT"/{request,sse,stream,backend_error,toolcall,toolargs,passthru,h1,discover,window,jparse,slotfiles}

# seed TARGET NAME HEADER_PRINTF_FORMAT FILE|-   (- reads stdin)
seed() {
  local t=$1 name=$2 hdr=$3 src=$4
  { printf "$hdr"; if [ "$src" = - ]; then cat; else cat "$src"; fi; } > "$OUT/$t/$name"
}

# request: the Anthropic bodies as they are (and the OpenAI outputs, which
# are JSON of another shape worth mutating too)
for f in "$G"/request/*.json; do cp "$f" "$OUT/request/seed_$(basename "$f")"; done
# jparse: JSON text as it is (request bodies and their translations)
for f in "$G"/request/*.json; do cp "$f" "$OUT/jparse/seed_$(basename "$f")"; done

# slotfiles: a checkpoint index as written now, and one from before
# conversations were recorded (five fields)
printf '0 00000000000000ab 0000000000005eed 7093 1764700000 1234567890abcdef\n1 00000000000000ab 0000000000005eed 7100 1764700100 fedcba0987654321\n' > "$OUT/slotfiles/seed_index"
printf '0 00000000000000ab 0000000000005eed 7093 1764700000\n' > "$OUT/slotfiles/seed_old_index"

# h1: 2-byte header (cut), then the bytes of one connection (tests/golden/h1,
# the framing corpus the differential test also uses)
for f in "$G"/h1/*.http; do seed h1 "seed_$(basename "$f" .http)" '\x20\x00' "$f"; done

# window: 1-byte header (which answer), then a recorded backend answer
i=0
for f in "$G"/window/*.json; do
  for h in '\x00' '\x01' '\x02' '\x03' '\x04'; do seed window "seed_$((i++))_$(basename "$f" .json)" "$h" "$f"; done
done

# passthru: 2-byte header (cut), then an Anthropic request (the golden
# bodies) or an Anthropic stream (the translator's golden outputs)
for f in "$G"/request/*.json; do seed passthru "seed_req_$(basename "$f" .json)" '\x40\x00' "$f"; done
for f in "$G"/stream/*.out; do seed passthru "seed_out_$(basename "$f" .out)" '\x33\x01' "$f"; done
# and a routes config (docs/routing.md's example)
python3 - "$OUT/passthru/seed_routes" <<'PY' 2>/dev/null || true
import re, sys
doc = open('docs/routing.md', encoding='utf-8').read()
m = re.search(r'```json\n(.*?)```', doc, re.S)
if m:
    open(sys.argv[1], 'wb').write(b'\x10\x00' + m.group(1).encode())
PY

# discover: 3-byte header (port, 404 mask), then the recorded answers of each
# tests/golden/discover case joined by NUL bytes (a missing file: 404)
python3 - "$G/discover" "$OUT/discover" <<'PY' 2>/dev/null || true
import os, sys
src, out = sys.argv[1], sys.argv[2]
names = ['v1_models', 'props', 'api_version', 'api_v0_models', 'version']
for case in sorted(os.listdir(src)):
    d = os.path.join(src, case)
    port = int(open(os.path.join(d, 'port')).read().strip() or 1)
    mask, parts = 0, []
    for i, n in enumerate(names):
        f = os.path.join(d, n + '.json')
        if os.path.exists(f):
            parts.append(open(f, 'rb').read())
        else:
            mask |= 1 << i
            parts.append(b'Not Found')
    hdr = bytes([port & 255, port >> 8, mask])
    open(os.path.join(out, 'seed_' + case), 'wb').write(hdr + b'\0'.join(parts))
PY

# sse: 4-byte header (cut 64, max 4096, seed 1), then the upstream stream
for f in "$G"/stream/*.sse; do
  b=$(basename "$f" .sse)
  seed sse "seed_$b" '\x40\x00\xff\x01' "$f"
  seed sse "seed_small_$b" '\x07\x00\x08\x05' "$f"   # max 144: the bound is hit
done

# stream: 6-byte header (seed, max_line 64K, max_tool_args 64K, flags, cut)
for f in "$G"/stream/*.sse; do
  b=$(basename "$f" .sse)
  seed stream "seed_$b" '\x07\x00\x00\x00\x40\x00' "$f"
  seed stream "seed_tools_$b" '\x03\x00\x04\x01\x13\x01' "$f"  # tools, max_tool_args 32
done
# model text with tool calls written into it (the toolcall goldens) as an
# OpenAI stream in 7-byte content deltas, with tool_recovery on (flags 0x11)
if command -v python3 >/dev/null; then
  python3 - "$G/toolcall" "$OUT/stream" <<'PY'
import json, os, sys
src, out = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(src)):
    if not name.endswith('.txt'):
        continue
    text = open(os.path.join(src, name), encoding='utf-8', errors='replace').read()
    ev = []
    for i in range(0, len(text), 7):
        d = {"choices": [{"index": 0, "delta": {"content": text[i:i + 7]}}]}
        ev.append("data: " + json.dumps(d, separators=(',', ':')) + "\n\n")
    ev.append('data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n')
    ev.append("data: [DONE]\n\n")
    with open(os.path.join(out, "seed_text_" + name[:-4]), "wb") as f:
        f.write(b"\x05\x00\x00\x11\x40\x00" + "".join(ev).encode())
PY
fi
for f in "$G"/response/*.json; do
  case $f in *.out.json) continue;; esac
  seed stream "seed_resp_$(basename "$f" .json)" '\x07\x00\x00\x08\x40\x00' "$f"
done

# backend_error: 6-byte header (status int32 LE, flags, msg size), body
i=0
for st in '\x90\x01\x00\x00' '\xf4\x01\x00\x00' '\xf7\x01\x00\x00' '\x91\x01\x00\x00' '\xad\x01\x00\x00' '\x11\x02\x00\x00'; do
  for f in "$G"/response/error_*.json; do
    seed backend_error "seed_${i}_$(basename "$f" .json)" "$st\x00\xff" "$f"
  done
  i=$((i+1))
done
bodies=(
  '{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":40112,"n_ctx":32768}}'
  '{"object":"error","message":"This model'"'"'s maximum context length is 32768 tokens. However, you requested 40000 tokens (39000 in the messages, 1000 in the completion).","type":"BadRequestError","param":null,"code":400}'
  '{"error":"Trying to keep the first 40112 tokens when context the overflows. However, the model is loaded with context length of only 32768 tokens, which is not enough."}'
  '{"error":{"message":"context_length_exceeded","type":"invalid_request_error"}}'
  '{"detail":"Model is loading"}'
  'Service Unavailable'
  ''
)
i=0
for body in "${bodies[@]}"; do
  printf '%s' "$body" | seed backend_error "seed_body_$i" '\x90\x01\x00\x00\x00\xff' -
  printf '%s' "$body" | seed backend_error "seed_body_small_$i" '\x90\x01\x00\x00\x00\x20' -
  i=$((i+1))
done

# toolcall: 6-byte header (mode/flags from NAME.opts and NAME.tools.json,
# default max_buffer, lead_max, seed, cut), then the content text
for f in "$G"/toolcall/*.txt; do
  b=$(basename "$f" .txt)
  m=0
  if [ -f "$G/toolcall/$b.opts" ]; then
    o=$(cat "$G/toolcall/$b.opts")
    case $o in *nothink*) m=3;; *open*) m=1;; *lead*) m=2;; esac
  fi
  [ -f "$G/toolcall/$b.tools.json" ] && grep -q '^\[\]' "$G/toolcall/$b.tools.json" && m=$((m|4))
  seed toolcall "seed_$b" "\\x0$m\\x00\\x00\\x11\\x20\\x00" "$f"
  seed toolcall "seed_small_$b" "\\x0$m\\x0c\\x30\\x05\\x07\\x00" "$f"   # max_buffer 96
done

# toolargs: 4-byte header (schema, out max, property schema, 0), then args:
# the arguments of the recovered calls in the golden toolcall outputs, and
# damaged arguments of the kinds toolargs.h says it repairs
i=0
for f in "$G"/toolcall/*.out; do
  { grep '^tool ' "$f" || true; } | cut -d' ' -f3- | while IFS= read -r a; do
    printf '%s' "$a" | seed toolargs "seed_$(basename "$f" .out)_$RANDOM" '\x00\x00\x00\x00' -
  done
done
args=(
  '{"command": "ls", "timeout": "30",}'
  '{"command": "ls"'
  "{'command': 'ls', 'run_in_background': True}"
  '{command: ls}'
  '// comment
{"command": /* c */ "ls"}'
  '"{\"command\":\"ls\"}"'
  '"\"{\\\"command\\\":\\\"ls\\\"}\""'
  '{"todos": "[{\"content\":\"a\",\"priority\":\"2\"}]"}'
  '{"edits": [{"old_string": 1, "replace_all": "true"}], "file_path": 5}'
  '{"n": "7", "o": "{\"a\":1}", "s": "true", "f": "false", "a": ["1","2.5"], "deep": {"x": {"y": "3"}}}'
  '{"command": "a
b	c\q"} trailing'
  '[1,2]'
  '   '
  ''
  '{"a":None,"b":NaN,"c":Infinity}'
)
i=0
for a in "${args[@]}"; do
  for s in 0 1 2 3 4; do
    printf '%s' "$a" | seed toolargs "seed_args_${i}_$s" "\\x0$s\\x00\\x0$((i % 9))\\x00" -
  done
  i=$((i+1))
done
# reproducers of reported bugs (tests/fuzz/crashes/TARGET-*) stay in the
# corpora, so every run replays them
for f in tests/fuzz/crashes/*; do
  [ -f "$f" ] || continue
  t=$(basename "$f"); t=${t%%-*}
  [ -d "$OUT/$t" ] && cp "$f" "$OUT/$t/regress_$(basename "$f")"
done
for t in request sse stream backend_error toolcall toolargs passthru; do
  printf '%s: %s files\n' "$t" "$(ls "$OUT/$t" | wc -l)"
done
