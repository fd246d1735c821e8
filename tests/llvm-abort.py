#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""llvm-abort.py OUT.bc [DATALAYOUT]: writes a minimal, well-formed LLVM
bitcode module (written bit by bit here) whose data layout string makes
LLVM 14's bitcode reader call report_fatal_error, which aborts the process
that reads it. Found by tests/fuzz (fuzz-bitcode, 13 executions); the
daemon must refuse such a file (EINVAL) and stay up."""
import sys

class W:
    def __init__(s): s.bits=[]; 
    def emit(s, v, n):
        for i in range(n): s.bits.append((v>>i)&1)
    def vbr(s, v, n):
        th=1<<(n-1)
        while v>=th:
            s.emit((v&(th-1))|th, n); v >>= n-1
        s.emit(v, n)
    def align32(s):
        while len(s.bits)%32: s.bits.append(0)
    def tobytes(s):
        b=bytearray()
        for i in range(0,len(s.bits),8):
            v=0
            for j,bit in enumerate(s.bits[i:i+8]): v|=bit<<j
            b.append(v)
        return bytes(b)
w=W()
for c in b'BC': w.emit(c,8)
w.emit(0x0,4); w.emit(0xC,4); w.emit(0xE,4); w.emit(0xD,4)
# ENTER_SUBBLOCK module (id 8), abbrev width 3
w.emit(1,2); w.vbr(8,8); w.vbr(3,4); w.align32()
lenpos=len(w.bits); w.emit(0,32)
start=len(w.bits)
def rec(code, ops):
    w.emit(3,3); w.vbr(code,6); w.vbr(len(ops),6)
    for o in ops: w.vbr(o,6)
rec(1,[2])                      # MODULE_CODE_VERSION 2
dl=(sys.argv[2] if len(sys.argv) > 2 else 'e-p:64:64:64:64:64-i64:1000000000000').encode()
rec(3,list(dl))                 # MODULE_CODE_DATALAYOUT
rec(2,list(b'x86_64-unknown-linux-gnu'))  # TRIPLE
w.emit(0,3); w.align32()        # END_BLOCK
n=(len(w.bits)-start)//32
for i in range(32): w.bits[lenpos+i]=(n>>i)&1
open(sys.argv[1],'wb').write(w.tobytes())
