#!/usr/bin/env python3
"""Write a small random-weight GGUF (v3, `llama` architecture) that llama-server loads.

The tokenizer (every tokenizer.* key/value) is copied from a vocab-only GGUF
(llama.cpp's models/ggml-vocab-qwen2.gguf) and the chat template is set from a
Jinja file (models/templates/Qwen3-Coder.jinja). Weights are F16 values from a
seeded block of Gaussian noise, read at seeded offsets: deterministic and fast.
Stdlib only.

Random weights pick random tokens, and ~1% of a byte-level BPE vocab are
fragments of a UTF-8 sequence: strung together they make invalid UTF-8, which
llama-server's chat-output parser rejects (HTTP 500 "does not match the
expected peg-native format"). So the model carries a "bias channel": residual
dimension 0 holds the same constant for every token (its embedding value; no
layer writes to it), and output.weight's column 0 gives those fragment tokens
(and <|im_start|> and the [PAD...] tokens) a large negative logit. The model
never emits them; everything else stays random.

  make_gguf.py --vocab V.gguf --template T.jinja --out M.gguf \
      [--embd 64] [--layers 2] [--heads N] [--ctx 32768] [--seed 1]
"""
import argparse
import os
import random
import struct
import sys

GGUF_MAGIC = b"GGUF"
ALIGN = 32
# GGUF value types
T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 = range(13)
SCALAR = {T_U8: "<B", T_I8: "<b", T_U16: "<H", T_I16: "<h", T_U32: "<I", T_I32: "<i",
          T_F32: "<f", T_BOOL: "<?", T_U64: "<Q", T_I64: "<q", T_F64: "<d"}
GGML_F32, GGML_F16 = 0, 1


# ---------------------------------------------------------------- reading
class Reader:
    def __init__(self, data):
        self.d = data
        self.p = 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.p)[0]
        self.p += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = bytes(self.d[self.p:self.p + n])
        self.p += n
        return s

    def skip_value(self, t):
        """Skip one value of type t; return it decoded only for scalars/strings."""
        if t in SCALAR:
            return self.take(SCALAR[t])
        if t == T_STR:
            return self.string()
        if t == T_ARR:
            et = self.take("<I")
            n = self.take("<Q")
            if et in SCALAR:
                self.p += n * struct.calcsize(SCALAR[et])
            else:
                for _ in range(n):
                    self.skip_value(et)
            return ("array", et, n)
        raise ValueError("unknown GGUF value type %d" % t)


def read_kvs(path):
    """Return [(key, type, raw_value_bytes, decoded)] of a GGUF file's key/values."""
    with open(path, "rb") as f:
        data = memoryview(f.read())
    r = Reader(data)
    if bytes(data[:4]) != GGUF_MAGIC:
        sys.exit("%s: not a GGUF file" % path)
    r.p = 4
    version = r.take("<I")
    if version not in (2, 3):
        sys.exit("%s: GGUF version %d unsupported" % (path, version))
    r.take("<Q")  # tensor count
    n_kv = r.take("<Q")
    out = []
    for _ in range(n_kv):
        key = r.string().decode()
        t = r.take("<I")
        start = r.p
        dec = r.skip_value(t)
        out.append((key, t, bytes(data[start:r.p]), dec))
    return out


def gpt2_byte_decoder():
    """GPT-2 byte-level BPE: token character -> byte."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def suppressed_tokens(vocab_kvs):
    """Ids the model must never emit: NORMAL tokens that are not valid UTF-8 on
    their own, and special tokens other than EOS/<|im_end|>-like end tokens."""
    raw = {k: r for k, t, r, d in vocab_kvs}
    r = Reader(memoryview(raw["tokenizer.ggml.tokens"]))
    r.take("<I")
    toks = [r.string() for _ in range(r.take("<Q"))]
    types = [1] * len(toks)
    if "tokenizer.ggml.token_type" in raw:
        tr = Reader(memoryview(raw["tokenizer.ggml.token_type"]))
        et, n = tr.take("<I"), tr.take("<Q")
        types = list(struct.unpack_from("<%d%s" % (n, SCALAR[et][1]), tr.d, tr.p))
    keep = set()
    for k in ("tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"):
        if k in raw:
            keep.add(struct.unpack("<I", raw[k])[0])
    byte_level = raw.get("tokenizer.ggml.model") == gstr("gpt2")
    dec = gpt2_byte_decoder()
    bad = []
    for i, (t, ty) in enumerate(zip(toks, types)):
        s = t.decode("utf-8", "replace")
        if ty != 1:  # not NORMAL
            if i not in keep and s not in ("<|im_end|>", "<|eot_id|>", "<|end|>"):
                bad.append(i)
            continue
        if byte_level:
            try:
                bytes(dec[c] for c in s).decode("utf-8")
            except (KeyError, UnicodeDecodeError):
                bad.append(i)
    return bad


# ---------------------------------------------------------------- writing
def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def kv(key, t, value):
    if t == T_STR:
        raw = gstr(value)
    else:
        raw = struct.pack(SCALAR[t], value)
    return gstr(key) + struct.pack("<I", t) + raw


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--template", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--embd", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=0, help="default: embd/32 (head size 32)")
    ap.add_argument("--kv-heads", type=int, default=0, help="default: same as --heads")
    ap.add_argument("--ff", type=int, default=0, help="feed-forward width; default 4*embd")
    ap.add_argument("--ctx", type=int, default=32768)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--name", default="")
    a = ap.parse_args()

    embd, layers = a.embd, a.layers
    heads = a.heads or max(1, embd // 32)
    kv_heads = a.kv_heads or heads
    ff = a.ff or 4 * embd
    if embd % heads or heads % kv_heads or (embd // heads) % 2:
        sys.exit("make_gguf: embd must split into heads of even size, heads into kv-heads")
    head_dim = embd // heads
    n_embd_kv = head_dim * kv_heads

    vocab_kvs = [x for x in read_kvs(a.vocab) if x[0].startswith("tokenizer.")
                 and x[0] != "tokenizer.chat_template"]
    toks = [x for x in vocab_kvs if x[0] == "tokenizer.ggml.tokens"]
    if not toks:
        sys.exit("%s: no tokenizer.ggml.tokens" % a.vocab)
    n_vocab = toks[0][3][2]
    bad = suppressed_tokens(vocab_kvs)
    with open(a.template, "rb") as f:
        template = f.read()

    name = a.name or "anyclaude-random-e%d-l%d-s%d" % (embd, layers, a.seed)
    kvs = [
        kv("general.architecture", T_STR, "llama"),
        kv("general.name", T_STR, name),
        kv("general.alignment", T_U32, ALIGN),
        kv("general.file_type", T_U32, 1),  # mostly F16
        kv("llama.context_length", T_U32, a.ctx),
        kv("llama.embedding_length", T_U32, embd),
        kv("llama.block_count", T_U32, layers),
        kv("llama.feed_forward_length", T_U32, ff),
        kv("llama.attention.head_count", T_U32, heads),
        kv("llama.attention.head_count_kv", T_U32, kv_heads),
        kv("llama.attention.layer_norm_rms_epsilon", T_F32, 1e-6),
        kv("llama.rope.dimension_count", T_U32, head_dim),
        kv("llama.rope.freq_base", T_F32, 1000000.0),
        kv("llama.vocab_size", T_U32, n_vocab),
    ]
    for key, t, raw, _ in vocab_kvs:
        kvs.append(gstr(key) + struct.pack("<I", t) + raw)
    kvs.append(kv("tokenizer.chat_template", T_STR, template))

    # (name, dims innermost-first, type, kind)
    # kind: "norm" = ones; "w" = noise; "embd": noise with column 0 = the bias
    # channel's constant; "out0": noise with row 0 (output dim 0) zeroed;
    # "logits": noise with column 0 = 0, or -BIG for suppressed tokens.
    tensors = [("token_embd.weight", [embd, n_vocab], GGML_F16, "embd")]
    for i in range(layers):
        b = "blk.%d." % i
        tensors += [
            (b + "attn_norm.weight", [embd], GGML_F32, "norm"),
            (b + "attn_q.weight", [embd, embd], GGML_F16, "w"),
            (b + "attn_k.weight", [embd, n_embd_kv], GGML_F16, "w"),
            (b + "attn_v.weight", [embd, n_embd_kv], GGML_F16, "w"),
            (b + "attn_output.weight", [embd, embd], GGML_F16, "out0"),
            (b + "ffn_norm.weight", [embd], GGML_F32, "norm"),
            (b + "ffn_gate.weight", [embd, ff], GGML_F16, "w"),
            (b + "ffn_up.weight", [embd, ff], GGML_F16, "w"),
            (b + "ffn_down.weight", [ff, embd], GGML_F16, "out0"),
        ]
    tensors += [("output_norm.weight", [embd], GGML_F32, "norm"),
                ("output.weight", [embd, n_vocab], GGML_F16, "logits")]

    def nbytes(dims, t):
        n = 1
        for d in dims:
            n *= d
        return n * (4 if t == GGML_F32 else 2)

    pad = lambda n: (ALIGN - n % ALIGN) % ALIGN
    infos, off = [], 0
    for tname, dims, t, _ in tensors:
        infos.append(gstr(tname) + struct.pack("<I", len(dims))
                     + b"".join(struct.pack("<Q", d) for d in dims)
                     + struct.pack("<IQ", t, off))
        off += nbytes(dims, t)
        off += pad(off)

    rng = random.Random(a.seed)
    # One block of N(0, 1/embd) values, a prime number of them so that rows of
    # any power-of-two width fall at different phases of it; each tensor is
    # read from it cyclically, starting at a seeded offset.
    n_block = 65521
    scale = 1.0 / (embd ** 0.5)
    block = struct.pack("<%de" % n_block, *[rng.gauss(0.0, scale) for _ in range(n_block)])
    block2 = memoryview(block + block)
    bl = len(block)  # bytes; even, F16 aligned

    tmp = a.out + ".tmp%d" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(GGUF_MAGIC + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
        for x in kvs:
            f.write(x)
        for x in infos:
            f.write(x)
        f.write(b"\0" * pad(f.tell()))
        for tname, dims, t, kind in tensors:
            n = nbytes(dims, t)
            if kind == "norm":
                f.write(struct.pack("<f", 1.0) * (n // 4))
                f.write(b"\0" * pad(n))
                continue
            buf = bytearray(n)
            pos, at = rng.randrange(n_block) * 2, 0
            while at < n:
                take = min(n - at, bl)
                buf[at:at + take] = block2[pos:pos + take]
                at += take
                pos = (pos + take) % bl
            row = dims[0] * 2  # bytes per row (F16)
            rows = n // row
            if kind == "embd":  # column 0: the bias channel's constant
                c = struct.pack("<e", scale * embd ** 0.5)
                buf[0::row] = c[:1] * rows
                buf[1::row] = c[1:] * rows
            elif kind == "out0":  # nothing writes to residual dimension 0
                buf[0:row] = bytes(row)
            elif kind == "logits":  # column 0: 0, or -BIG for suppressed tokens
                buf[0::row] = bytes(rows)
                buf[1::row] = bytes(rows)
                big = struct.pack("<e", -8.0)
                for t in bad:
                    buf[t * row:t * row + 2] = big
            f.write(buf)
            f.write(b"\0" * pad(n))
    os.replace(tmp, a.out)
    print("%s: llama e%d l%d h%d/%d ff%d vocab %d (%d suppressed), %.1f MB" % (
        a.out, embd, layers, heads, kv_heads, ff, n_vocab, len(bad), os.path.getsize(a.out) / 1e6))


if __name__ == "__main__":
    main()
