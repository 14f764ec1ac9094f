#!/usr/bin/env python3
"""Build the seed inputs of the fuzz targets from ../shared/golden.

    fuzz/make_seeds.py GOLDEN_DIR OUT_DIR

writes OUT_DIR/<target>/<name> for fuzz_uh, fuzz_metadata, fuzz_index,
fuzz_red, fuzz_red_roundtrip, fuzz_records, fuzz_session and fuzz_tar: small files
cut from the golden sessions (headers, metadata, indices, single RED
blocks, a record file, one-segment sessions) plus a few hand-mutated
ones, and synthetic sample sources for the RED round trip.  The committed corpus
(fuzz/corpus/) is these seeds after fuzzing, minimized with -merge=1; see
fuzz/README.md.
"""
import os
import struct
import sys

G, OUT = sys.argv[1], sys.argv[2]


def rd(rel):
    with open(os.path.join(G, rel), 'rb') as f:
        return f.read()


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def seg(session, ch, n=0, root='sessions'):
    base = '%s-%06d' % (ch, n)
    return '%s/%s.mefd/%s.timd/%s.segd/%s' % (root, session, ch, base, base)


def index_entries(tidx):
    out = []
    for i in range(1024, len(tidx), 56):
        off, = struct.unpack_from('<q', tidx, i)
        nbytes, = struct.unpack_from('<I', tidx, i + 28)
        out.append((off, nbytes))
    return out


def blocks(session, ch, n=0, root='sessions'):
    s = seg(session, ch, n, root)
    tdat = rd(s + '.tdat')
    return [tdat[o:o + b] for o, b in index_entries(rd(s + '.tidx'))]


def flip(data, at, mask=1):
    b = bytearray(data)
    b[at] ^= mask
    return bytes(b)


A = seg('a_single_256hz', 'ch01')
D = seg('d_encrypted', 'ch01')
RDAT = 'mef3io_golden/with_annotations.mefd/ch1.timd/ch1.rdat'

# universal headers
put('fuzz_uh', 'a_tmet', rd(A + '.tmet')[:1024])
put('fuzz_uh', 'a_tdat', rd(A + '.tdat')[:1024])
put('fuzz_uh', 'c_tidx', rd(seg('c_discontinuities', 'ch02', 1) + '.tidx')[:1024])
put('fuzz_uh', 'd_tmet', rd(D + '.tmet')[:1024])
put('fuzz_uh', 'rdat', rd(RDAT)[:1024])
put('fuzz_uh', 'big_endian', flip(rd(A + '.tmet')[:1024], 15, 1))
put('fuzz_uh', 'version_2', flip(rd(A + '.tmet')[:1024], 13, 1))

# metadata
put('fuzz_metadata', 'a', rd(A + '.tmet'))
put('fuzz_metadata', 'd_encrypted', rd(D + '.tmet'))
put('fuzz_metadata', 'b_ch08', rd(seg('b_multi_8ch', 'ch08') + '.tmet'))
put('fuzz_metadata', 'enc_both', rd(seg('enc_both', 'ch1', 0, 'mef3io_golden') + '.tmet'))
put('fuzz_metadata', 'cut', rd(A + '.tmet')[:10000])

# indices
put('fuzz_index', 'a', rd(A + '.tidx'))
put('fuzz_index', 'c_ch01', rd(seg('c_discontinuities', 'ch01') + '.tidx'))
put('fuzz_index', 'd2_ch02', rd(seg('d2_encrypted_blocks', 'ch02') + '.tidx'))
put('fuzz_index', 'mef3io_seg1', rd(seg('multi_segment', 'ch1', 1, 'mef3io_golden') + '.tidx'))
put('fuzz_index', 'cut', rd(A + '.tidx')[:-10])

# RED blocks
ab = blocks('a_single_256hz', 'ch01')
put('fuzz_red', 'a_first', ab[0])
put('fuzz_red', 'a_last', ab[-1])
put('fuzz_red', 'a_three', ab[3] + ab[4] + ab[5])
put('fuzz_red', 'b_ch02', blocks('b_multi_8ch', 'ch02')[7])
for ch, k, name in [('ch01', 2, 'f_steps'), ('ch02', 3, 'f_extremes'),
                    ('ch02', -1, 'f_one_sample'), ('ch03', 4, 'f_random'),
                    ('ch04', 5, 'f_wrap'), ('ch05', 0, 'f_nan')]:
    put('fuzz_red', name, blocks('f_escapes_extremes', ch)[k])
put('fuzz_red', 'd2_level1', blocks('d2_encrypted_blocks', 'ch01')[1])
put('fuzz_red', 'd2_level2', blocks('d2_encrypted_blocks', 'ch02')[1])
put('fuzz_red', 'mef3io_plain', blocks('plain_single', 'ch1', 0, 'mef3io_golden')[0])
put('fuzz_red', 'flipped', flip(ab[1], 400, 0x10))

# records
rdat = rd(RDAT)
put('fuzz_records', 'with_annotations', rdat)


def record(rtype, body, enc=0, t=-1577836800200000):
    body = body + b'\x7e' * (-len(body) % 16)
    h = rtype + b'\x00' + bytes([1, 0, enc & 0xff]) + struct.pack('<Iq', len(body), t)
    return struct.pack('<I', 0) + h + body  # CRC 0: not checked


def rfile(recs):
    uh = bytearray(rdat[:1024])
    struct.pack_into('<I', uh, 0, 0)          # header CRC: no entry
    struct.pack_into('<I', uh, 4, 0)          # body CRC: no entry
    struct.pack_into('<q', uh, 32, len(recs))
    return bytes(uh) + b''.join(recs)


text = b'seizure onset, left temporal\x00'
put('fuzz_records', 'types', rfile([
    record(b'EDFA', struct.pack('<q', 1500000) + text),
    record(b'Seiz', struct.pack('<qqqii', -1577836800300000, -1577836800900000,
                                600000, 4, 2) + bytes(256) + text + bytes(1024 - len(text))),
    record(b'Curs', bytes(32) + b'cursor A' + bytes(120)),
    record(b'Epoc', bytes(16) + struct.pack('<qq', -1577836801000000, 1000000)
           + bytes(32) + b'sleep stage 2' + bytes(115)),
    record(b'SyLg', b'system log line\x00'),
    record(b'Xyzw', b'unknown type body'),
    record(b'Note', bytes(32), enc=1),
    record(b'Note', bytes(16), enc=2),
]))


def session(flags, segdir, rdat_rel=None):
    parts = [rd(segdir + ext) for ext in ('.tmet', '.tidx')]
    parts.append(rd(rdat_rel) if rdat_rel else b'')
    tdat = rd(segdir + '.tdat')
    return bytes([flags]) + struct.pack('<III', *map(len, parts)) + b''.join(parts) + tdat


put('fuzz_session', 'a', session(0, A))
put('fuzz_session', 'd_l2', session(4, D))
put('fuzz_session', 'd_l1_nocrc', session(8 | 2, D))
put('fuzz_session', 'd2_l1', session(8, seg('d2_encrypted_blocks', 'ch02')))
put('fuzz_session', 'annotations',
    session(1, seg('with_annotations', 'ch1', 0, 'mef3io_golden'), RDAT))
put('fuzz_session', 'c_seg1', session(0, seg('c_discontinuities', 'ch02', 1)))

# RED round trips: a control byte (kind | discontinuity << 3 | level << 4)
# and the samples' source; see fuzz_red_roundtrip.c.  Synthetic and
# deterministic; the raw-kind seed is a golden block's bytes.
import random
rng = random.Random(13)
put('fuzz_red_roundtrip', 'raw_golden', bytes([0x30]) + ab[0][:4000])
put('fuzz_red_roundtrip', 'raw_random',
    bytes([0x38]) + bytes(rng.randrange(256) for _ in range(2048)))
put('fuzz_red_roundtrip', 'walk',
    bytes([0x01]) + bytes(rng.randrange(-20, 21) & 0xff for _ in range(1500)))
put('fuzz_red_roundtrip', 'walk_level1',
    bytes([0x19]) + bytes(rng.randrange(-5, 6) & 0xff for _ in range(300)))
put('fuzz_red_roundtrip', 'boundary',
    bytes([0x22]) + b''.join(struct.pack('<h', rng.choice((127, -127, 128, -128, 300, -32768)))
                             for _ in range(700)))
put('fuzz_red_roundtrip', 'extremes', bytes([0x33]) + bytes(range(16)) * 20)
put('fuzz_red_roundtrip', 'equal_nan',
    bytes([0x34]) + struct.pack('<iH', -2**31, 4999))
put('fuzz_red_roundtrip', 'equal_one', bytes([0x24]) + struct.pack('<iH', 7, 0))
put('fuzz_red_roundtrip', 'mix',
    bytes([0x0d]) + bytes(rng.randrange(256) for _ in range(3000)))
put('fuzz_red_roundtrip', 'one_sample', bytes([0x30]) + struct.pack('<i', 2**31 - 1))
put('fuzz_red_roundtrip', 'empty', bytes([0x30]))

# fuzz_tar: sessions packed as uncompressed tars (byte 0: flags), and cut
# or damaged archives.
import io
import tarfile


def tar_of(session):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.USTAR_FORMAT) as t:
        t.add(os.path.join(G, 'sessions', session), arcname='s.mefd')
    return buf.getvalue()


single, enc = tar_of('a_single_256hz.mefd'), tar_of('d_encrypted.mefd')
put('fuzz_tar', 'single', bytes([0]) + single)
put('fuzz_tar', 'encrypted_l1', bytes([1]) + enc)
put('fuzz_tar', 'encrypted_l2', bytes([2]) + enc)
put('fuzz_tar', 'encrypted_none', bytes([0]) + enc)
put('fuzz_tar', 'cut_half', bytes([0]) + single[:len(single) // 2])
put('fuzz_tar', 'cut_header', bytes([0]) + single[:700])
def tar_sum(h, at=0):
    """Rewrite the checksum of the tar header at `at` for its contents."""
    h[at + 148:at + 156] = b' ' * 8
    h[at + 148:at + 156] = b'%06o\0 ' % sum(h[at:at + 512])


huge = bytearray(single)
huge[124:136] = b'77777777777\0'  # the first member's size: absurd
tar_sum(huge)
put('fuzz_tar', 'huge_member', bytes([0]) + bytes(huge))
badsum = bytearray(single)
badsum[148:156] = b'0000000\0'  # a header checksum that does not add up
put('fuzz_tar', 'bad_checksum', bytes([4]) + bytes(badsum))
put('fuzz_tar', 'empty', bytes([0]))
put('fuzz_tar', 'zeros', bytes(10241))
