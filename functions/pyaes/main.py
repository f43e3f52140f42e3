"""FunctionBench pyaes: encrypts `size_kb` KiB of seeded pseudo-random bytes with
AES-128 in CTR mode using a small pure-Python AES implementation contained in this
file (S-box derived from GF(2^8) inverses, 32-bit T-tables, no external library),
decrypts the result again and checks the round trip; before that it checks the
cipher against the FIPS-197 appendix C.1 vector (key 000102..0f, plaintext
00112233..ff -> 69c4e0d86a7b0430d8cdb78070b4c55a). Arguments (ints, or strings as
the CLI sends them): `size_kb`, default 8 (1 .. 65536); `seed`, default 42 (picks
the key, nonce and data). Returns Ilúvatar's body with cold/start/end/latency plus
self_check, round_trip_ok, the sha256 of the ciphertext and the throughput in KB/s.
"""
import hashlib
import random
import time

cold = True


def _int_arg(args, key, default, lo, hi):
    """args[key] as an int in [lo, hi]; accepts ints, integral floats and strings."""
    value = args.get(key, default)
    number = None
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            pass
    if number is None:
        raise ValueError(f"argument {key!r} must be an integer, got {value!r}")
    if not lo <= number <= hi:
        raise ValueError(f"argument {key!r} must be between {lo} and {hi}, got {number}")
    return number


# ---- AES-128 (FIPS-197), encryption direction only (CTR needs no inverse) ----

def _xtime(a):
    a <<= 1
    return (a ^ 0x11B) if a & 0x100 else a


def _make_sbox():
    # multiplicative inverses from exp/log tables of the generator 3
    exp, log = [0] * 255, [0] * 256
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        x ^= _xtime(x)  # x * 3
    sbox = []
    for x in range(256):
        b = exp[(255 - log[x]) % 255] if x else 0
        s = b
        for shift in range(1, 5):  # affine transform: b ^ rotl(b,1..4) ^ 0x63
            s ^= ((b << shift) | (b >> (8 - shift))) & 0xFF
        sbox.append(s ^ 0x63)
    return sbox


SBOX = _make_sbox()
TE0 = [(_xtime(s) << 24) | (s << 16) | (s << 8) | (_xtime(s) ^ s) for s in SBOX]
TE1 = [((t >> 8) | (t << 24)) & 0xFFFFFFFF for t in TE0]
TE2 = [((t >> 16) | (t << 16)) & 0xFFFFFFFF for t in TE0]
TE3 = [((t >> 24) | (t << 8)) & 0xFFFFFFFF for t in TE0]


def expand_key(key):
    """AES-128 key schedule: 44 32-bit round-key words."""
    if len(key) != 16:
        raise ValueError("AES-128 needs a 16-byte key")
    w = [int.from_bytes(key[i:i + 4], "big") for i in range(0, 16, 4)]
    rcon = 1
    for i in range(4, 44):
        t = w[i - 1]
        if i % 4 == 0:
            t = ((t << 8) | (t >> 24)) & 0xFFFFFFFF  # RotWord
            t = ((SBOX[t >> 24] << 24) | (SBOX[(t >> 16) & 255] << 16)
                 | (SBOX[(t >> 8) & 255] << 8) | SBOX[t & 255])  # SubWord
            t ^= rcon << 24
            rcon = _xtime(rcon)
        w.append(w[i - 4] ^ t)
    return w


def encrypt_block(rk, block):
    """Encrypts one 16-byte block with round keys rk; returns 16 bytes."""
    s = int.from_bytes(block, "big")
    s0 = (s >> 96) ^ rk[0]
    s1 = ((s >> 64) & 0xFFFFFFFF) ^ rk[1]
    s2 = ((s >> 32) & 0xFFFFFFFF) ^ rk[2]
    s3 = (s & 0xFFFFFFFF) ^ rk[3]
    t0_, t1_, t2_, t3_ = TE0, TE1, TE2, TE3
    for r in range(4, 40, 4):
        n0 = t0_[s0 >> 24] ^ t1_[(s1 >> 16) & 255] ^ t2_[(s2 >> 8) & 255] ^ t3_[s3 & 255] ^ rk[r]
        n1 = t0_[s1 >> 24] ^ t1_[(s2 >> 16) & 255] ^ t2_[(s3 >> 8) & 255] ^ t3_[s0 & 255] ^ rk[r + 1]
        n2 = t0_[s2 >> 24] ^ t1_[(s3 >> 16) & 255] ^ t2_[(s0 >> 8) & 255] ^ t3_[s1 & 255] ^ rk[r + 2]
        n3 = t0_[s3 >> 24] ^ t1_[(s0 >> 16) & 255] ^ t2_[(s1 >> 8) & 255] ^ t3_[s2 & 255] ^ rk[r + 3]
        s0, s1, s2, s3 = n0, n1, n2, n3
    sb = SBOX
    out = []
    for i, (a, b, c, d) in enumerate(((s0, s1, s2, s3), (s1, s2, s3, s0),
                                      (s2, s3, s0, s1), (s3, s0, s1, s2))):
        out.append(((sb[a >> 24] << 24) | (sb[(b >> 16) & 255] << 16)
                    | (sb[(c >> 8) & 255] << 8) | sb[d & 255]) ^ rk[40 + i])
    return b"".join(v.to_bytes(4, "big") for v in out)


def ctr_crypt(key, nonce, data):
    """AES-128-CTR: counter block = 8-byte nonce || 8-byte big-endian block index.
    Encryption and decryption are the same operation."""
    if len(nonce) != 8:
        raise ValueError("CTR nonce must be 8 bytes")
    rk = expand_key(key)
    blocks = (len(data) + 15) // 16
    stream = b"".join(encrypt_block(rk, nonce + i.to_bytes(8, "big")) for i in range(blocks))
    n = len(data)
    x = int.from_bytes(data, "big") ^ int.from_bytes(stream[:n], "big")
    return x.to_bytes(n, "big")


def self_check():
    key = bytes(range(16))
    plain = bytes.fromhex("00112233445566778899aabbccddeeff")
    return encrypt_block(expand_key(key), plain).hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"


def main(args):
    global cold
    start = time.time()
    was_cold = cold
    cold = False
    args = args or {}
    size_kb = _int_arg(args, "size_kb", 8, 1, 65536)
    seed = _int_arg(args, "seed", 42, -2**63, 2**63 - 1)
    ok_vector = self_check()
    rng = random.Random(seed)
    key = rng.randbytes(16)
    nonce = rng.randbytes(8)
    plain = rng.randbytes(size_kb * 1024)
    t0 = time.perf_counter()
    cipher = ctr_crypt(key, nonce, plain)
    crypt_s = time.perf_counter() - t0
    ok_round = ctr_crypt(key, nonce, cipher) == plain and cipher != plain
    end = time.time()
    return {"body": {"size_kb": size_kb, "self_check": ok_vector, "round_trip_ok": ok_round,
                     "ciphertext_sha256": hashlib.sha256(cipher).hexdigest(),
                     "kb_per_s": size_kb / crypt_s if crypt_s > 0 else None,
                     "cold": was_cold, "start": start, "end": end, "latency": end - start}}
