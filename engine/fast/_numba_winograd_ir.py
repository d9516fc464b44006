"""The vector steps of the Numba backend's Winograd convolution (_numba_winograd.py), written
as LLVM IR: the input and output transforms and the small matrix products between them.

Winograd's F(2x2, 5x5) computes a 2x2 tile of a 5x5 convolution's outputs from the 6x6 window
under it in three steps: the window transformed, V = BT d BT^T; a product per channel and
position, summed over the channels, M = sum_c V_c * U_c, where U = G w G^T is the filter
transformed (_numba_layout.arrange_winograd); and the 2x2 outputs, AT M AT^T. The products
are 36 per tile and channel pair where the direct sum takes 100. BT, G and AT come from the
points 0, 1, -1, 1/2, -1/2 and infinity (POINTS): in pairs of opposite points the transforms
share their terms, 12 operations for BT's 6 rows and 8 for AT's 2.

Each function here works on 16 values side by side (16 channels, or 16 filters), one vector
register on AVX-512. They are intrinsics, not Numba code, for three reasons:
- Numba compiles with LLVM's SLP vectoriser off, so straight-line code over a window's 36
  values would stay scalar; here every load, operation and store is a vector.
- Their adds carry no fast-math flags and their multiply-adds are llvm.fmuladd: LLVM cannot
  reorder them, so a kernel compiled with and without the ReLU gives the same bits
  (tests/test_net.py asks a conv+ReLU in one pass for the bits of the two layers).
- The matrix product's window stride is a constant (`vs`, a literal), so each of its 16
  tiles' values is one load at a fixed offset: computed from a stride known only at run
  time, the 16 addresses needed more registers than x86 has and spilled (the product ran
  at 170 GFLOP/s in cache instead of 224).

Numba's cache notices edits only in the file of the function it compiled: after editing this
file, delete engine/fast/__pycache__/_numba_winograd*.nbi/.nbc (see config.py).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

H = 0.5  # the points: 0, 1, -1, H, -H and infinity
POINTS = (0.0, 1.0, -1.0, H, -H)


def _k(vt, c):
    return ir.Constant(vt, [float(c)] * vt.count)


def _fmuladd(builder, vt, a, b, c):
    """a * b + c, fused where the CPU has FMA (llvm.fmuladd; see _numba_intrinsics._fma4x4)."""
    name = "llvm.fmuladd.v%df%d" % (vt.count, 64 if isinstance(vt.element, ir.DoubleType) else 32)
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt] * 3), name)
    return builder.call(fn, [a, b, c])


def _bt_rows(builder, vt, d):
    """BT d for 6 vectors d: BT's rows are (h2 = H*H)
        h2  0      -(1+h2)  0       1  0
        0   -h2    -h2      1       1  0
        0   h2     -h2      -1      1  0
        0   -H     -1       H       1  0
        0   H      -1       -H      1  0
        0   h2     0        -(1+h2) 0  1
    in 12 operations, in the order written."""
    h2 = H * H
    v0 = _fmuladd(builder, vt, _k(vt, h2), d[0], _fmuladd(builder, vt, _k(vt, -(1 + h2)), d[2], d[4]))
    a = _fmuladd(builder, vt, _k(vt, -h2), d[2], d[4])
    b = _fmuladd(builder, vt, _k(vt, -h2), d[1], d[3])
    a2 = builder.fsub(d[4], d[2])
    b2 = builder.fsub(d[3], d[1])
    v5 = _fmuladd(builder, vt, _k(vt, h2), d[1], _fmuladd(builder, vt, _k(vt, -(1 + h2)), d[3], d[5]))
    v3 = _fmuladd(builder, vt, _k(vt, H), b2, a2)
    v4 = _fmuladd(builder, vt, _k(vt, -H), b2, a2)
    return [v0, builder.fadd(a, b), builder.fsub(a, b), v3, v4, v5]


def _at_rows(builder, vt, m):
    """AT m for 6 vectors m: AT's rows are 1 1 1 1 1 0 and 0 1 -1 H -H 1, in 8 operations."""
    s1 = builder.fadd(m[1], m[2])
    d1 = builder.fsub(m[1], m[2])
    s2 = builder.fadd(m[3], m[4])
    d2 = builder.fsub(m[3], m[4])
    y0 = builder.fadd(builder.fadd(m[0], s1), s2)
    y1 = builder.fadd(_fmuladd(builder, vt, _k(vt, H), d2, d1), m[5])
    return [y0, y1]


def _vload(builder, p, vt, align):
    return builder.load(builder.bitcast(p, vt.as_pointer()), align=align)


def _vstore(builder, v, p, vt, align):
    builder.store(v, builder.bitcast(p, vt.as_pointer()), align=align)


def _window(builder, base, rstep, cstep, vt, align, rows, size=6):
    """rows applied along each of the `size` rows of the size x size vectors at
    base + i*rstep + j*cstep: r[i] = rows(row i)."""
    i64 = ir.IntType(64)
    r = []
    for i in range(size):
        row = builder.mul(rstep, ir.Constant(i64, i))
        xs = [
            _vload(builder, builder.gep(base, [builder.add(row, builder.mul(cstep, ir.Constant(i64, j)))]), vt, align)
            for j in range(size)
        ]
        r.append(rows(builder, vt, xs))
    return r


def _to_6x6(body, name):
    """An intrinsic (src, rstep, cstep, dst, dstep, width) whose body(builder, vt, align, src,
    rstep, cstep, store) computes 6x6 vectors and hands each to store(a, b, value), which
    stores it at dst + (6a + b)*dstep, as soon as it is made (all 36 kept until the end
    spill registers); its vectors are runs of `width` values (a literal, 16 or 4)."""

    def generate(typingctx, src, rstep, cstep, dst, dstep, width):
        if not (isinstance(src, types.CPointer) and src == dst and isinstance(width, types.IntegerLiteral)):
            return None
        n = width.literal_value

        def codegen(context, builder, signature, args):
            ps, rs, cs, pd, ds, _ = args
            vt = ir.VectorType(context.get_value_type(signature.args[0].dtype), n)
            align = context.get_abi_sizeof(vt.element)

            def store(a, b, value):
                off = builder.mul(ds, ir.Constant(ir.IntType(64), 6 * a + b))
                _vstore(builder, value, builder.gep(pd, [off]), vt, align)

            body(builder, vt, align, ps, rs, cs, store)
            return context.get_dummy_value()

        return types.void(src, rstep, cstep, dst, dstep, width), codegen

    generate.__name__ = generate.__qualname__ = name
    return intrinsic(generate)


def _window_transformed(builder, vt, align, src, rstep, cstep, store):
    """V = BT d BT^T of the 6x6 window d whose value (i, j) is the run at src + i*rstep +
    j*cstep: BT along each row, then along each column, each column stored when made."""
    r = _window(builder, src, rstep, cstep, vt, align, _bt_rows)
    for b in range(6):
        for a, value in enumerate(_bt_rows(builder, vt, [r[i][b] for i in range(6)])):
            store(a, b, value)


_bt2d = _to_6x6(_window_transformed, "_bt2d")  # V of a tile's window, per position (6a + b)


def _splat(builder, b, n):
    v1 = ir.VectorType(ir.IntType(1), n)
    x = builder.insert_element(ir.Constant(v1, None), b, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(x, ir.Constant(v1, None), ir.Constant(ir.VectorType(ir.IntType(32), n), [0] * n))


@intrinsic
def _out2d(typingctx, src, rstep, cstep, dst, drow, dcol, bias, relu, quad):
    """The 2x2 outputs Y = AT M AT^T of the 6x6 M whose value (i, j) is the 16 values at
    src + i*rstep + j*cstep, plus the bias, through a ReLU if relu (NaN passes, as in
    _numba_act.relu_chunk), Y[a, e] stored at dst + a*drow + e*dcol: 16 filters, or (quad, a
    literal) 4 filters whose lanes 4f..4f+3 are partial sums (_gemm4x4), added first."""
    if not (isinstance(src, types.CPointer) and src == dst == bias and isinstance(quad, types.BooleanLiteral)):
        return None
    q = quad.literal_value

    def codegen(context, builder, signature, args):
        ps, rs, cs, pd, dr, dc, pb, rl = args[:8]
        scalar = context.get_value_type(signature.args[0].dtype)
        v16, vo = ir.VectorType(scalar, 16), ir.VectorType(scalar, 4 if q else 16)
        align = context.get_abi_sizeof(scalar)
        i64 = ir.IntType(64)
        r = _window(builder, ps, rs, cs, v16, align, _at_rows)
        bv = _vload(builder, pb, vo, align)
        zero = ir.Constant(vo, None)
        on = _splat(builder, builder.icmp_unsigned("!=", rl, ir.Constant(rl.type, 0)), vo.count)
        lanes = ir.VectorType(ir.IntType(32), 4)
        for e in range(2):
            col = _at_rows(builder, v16, [r[i][e] for i in range(6)])
            for a in range(2):
                y = col[a]
                if q:  # the 4 partial sums of each filter, in a fixed order (as _sum4x4)
                    p = [
                        builder.shuffle_vector(
                            y, ir.Constant(v16, ir.Undefined), ir.Constant(lanes, [4 * f + c for f in range(4)])
                        )
                        for c in range(4)
                    ]
                    y = builder.fadd(builder.fadd(p[0], p[1]), builder.fadd(p[2], p[3]))
                y = builder.fadd(y, bv)
                y = builder.select(builder.and_(builder.fcmp_ordered("<", y, zero), on), zero, y)
                off = builder.add(builder.mul(dr, ir.Constant(i64, a)), builder.mul(dc, ir.Constant(i64, e)))
                _vstore(builder, y, builder.gep(pd, [off]), vo, align)
        return context.get_dummy_value()

    return types.void(src, rstep, cstep, dst, drow, dcol, bias, relu, quad), codegen


def _product(quad):
    """The intrinsic of one position's product for NT tiles (a literal): M[t] (16 values at
    M + t*ms) = sum over k < K of the tile's value(s) times a row of U, the tiles' values at
    V + t*vs (vs a literal). quad: 4 filters x 4 values a row of U (4f + c), each tile's 4
    values k*4..k*4+3 repeated across the vector, as _numba_conv._fwd4; else 16 filters, one
    value k of the tile broadcast."""

    def generate(typingctx, V, vs, U, K, M, ms, nt):
        if not (isinstance(V, types.CPointer) and V == U == M):
            return None
        if not (isinstance(vs, types.IntegerLiteral) and isinstance(nt, types.IntegerLiteral)):
            return None
        stride, NT = vs.literal_value, nt.literal_value

        def codegen(context, builder, signature, args):
            pv, _, pu, kv, pm, msv, _ = args
            scalar = context.get_value_type(signature.args[0].dtype)
            v16, v4 = ir.VectorType(scalar, 16), ir.VectorType(scalar, 4)
            align = context.get_abi_sizeof(scalar)
            i64, i32 = ir.IntType(64), ir.IntType(32)
            # allocas that LLVM promotes to registers: the NT sums stay in registers over the loop
            acc = [cgutils.alloca_once_value(builder, ir.Constant(v16, None)) for _ in range(NT)]
            with cgutils.for_range(builder, kv) as loop:
                k = loop.index
                w = _vload(builder, builder.gep(pu, [builder.mul(k, ir.Constant(i64, 16))]), v16, align)
                kk = builder.mul(k, ir.Constant(i64, 4 if quad else 1))
                for t in range(NT):
                    p = builder.gep(pv, [builder.add(ir.Constant(i64, stride * t), kk)])
                    if quad:
                        x = _vload(builder, p, v4, align)
                        mask = ir.Constant(ir.VectorType(i32, 16), [lane % 4 for lane in range(16)])
                        x = builder.shuffle_vector(x, ir.Constant(v4, ir.Undefined), mask)
                    else:
                        x = builder.insert_element(
                            ir.Constant(v16, ir.Undefined), builder.load(p, align=align), ir.Constant(i32, 0)
                        )
                        x = builder.shuffle_vector(
                            x, ir.Constant(v16, ir.Undefined), ir.Constant(ir.VectorType(i32, 16), [0] * 16)
                        )
                    builder.store(_fmuladd(builder, v16, x, w, builder.load(acc[t])), acc[t])
            for t in range(NT):
                off = builder.mul(msv, ir.Constant(i64, t))
                _vstore(builder, builder.load(acc[t]), builder.gep(pm, [off]), v16, align)
            return context.get_dummy_value()

        return types.void(V, vs, U, K, M, ms, nt), codegen

    generate.__name__ = generate.__qualname__ = "_gemm4x4" if quad else "_gemm16"
    return generate


_gemm16 = intrinsic(_product(False))
_gemm4x4 = intrinsic(_product(True))


@intrinsic
def _address(typingctx, a):
    """The address of an array's first value (to align scratch arrays to a cache line)."""

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.ptrtoint(ary.data, ir.IntType(64))

    return types.int64(a), codegen


# -- the weight gradient -----------------------------------------------------------------------
# Winograd's dw, the transpose of its forward: dU = sum over tiles of V * D per position, with
# D = A dy A^T the tile's 2x2 output gradient spread over the 6x6 (A = AT^T), then
# dw = G^T dU G (_numba_layout.gather_winograd_dw).


def _a_rows(builder, vt, y):
    """A y for 2 vectors y: A's rows are AT's columns, (1 0) (1 1) (1 -1) (1 H) (1 -H) (0 1)."""
    return [
        y[0],
        builder.fadd(y[0], y[1]),
        builder.fsub(y[0], y[1]),
        _fmuladd(builder, vt, _k(vt, H), y[1], y[0]),
        _fmuladd(builder, vt, _k(vt, -H), y[1], y[0]),
        y[1],
    ]


def _gradient_spread(builder, vt, align, src, rstep, cstep, store):
    """D = A y A^T of the 2x2 y whose value (i, e) is the run at src + i*rstep + e*cstep."""
    y = _window(builder, src, rstep, cstep, vt, align, lambda builder, vt, xs: xs, size=2)
    z = [_a_rows(builder, vt, [y[0][e], y[1][e]]) for e in range(2)]  # z[e][a]
    for a in range(6):
        for b, value in enumerate(_a_rows(builder, vt, [z[0][a], z[1][a]])):
            store(a, b, value)


_dt2d = _to_6x6(_gradient_spread, "_dt2d")  # D of a tile's output gradient, per position


@intrinsic
def _dw_product(typingctx, V, vs, D, ds, nt, acc, astep, nf, width):
    """acc[f] += sum over nt tiles t of D[t*ds + f] * V[t*vs ...] for f < nf: each acc[f] the
    run of `width` values (16 or 4 channels) at acc + f*astep, its sums in registers over the
    tiles. nf and width are literals. 16 channels: a vector per filter, each D value
    broadcast. 4 channels: 4 filters x 4 channels a vector (lane 4f + c, as _gemm4x4's), the
    tile's 4 values repeated across it and each of its 4 D values over 4 lanes: an operation
    per 4 filters where one per filter did a quarter of a vector's work."""
    if not (isinstance(V, types.CPointer) and V == D == acc):
        return None
    if not (isinstance(nf, types.IntegerLiteral) and isinstance(width, types.IntegerLiteral)):
        return None
    NF, n = nf.literal_value, width.literal_value
    packed = n == 4 and NF % 4 == 0

    def codegen(context, builder, signature, args):
        pv, vsv, pd, dsv, ntv, pa, ast = args[:7]
        scalar = context.get_value_type(signature.args[0].dtype)
        vt = ir.VectorType(scalar, n)
        align = context.get_abi_sizeof(scalar)
        i64, i32 = ir.IntType(64), ir.IntType(32)
        ptrs = [builder.gep(pa, [builder.mul(ast, ir.Constant(i64, f))]) for f in range(NF)]
        if packed:
            v16 = ir.VectorType(scalar, 16)

            def lanes(mask):
                return ir.Constant(ir.VectorType(i32, len(mask)), mask)

            def joined(vs4):  # four vectors of 4 -> one of 16, vector f in lanes 4f..4f+3
                lo = builder.shuffle_vector(vs4[0], vs4[1], lanes(list(range(8))))
                hi = builder.shuffle_vector(vs4[2], vs4[3], lanes(list(range(8))))
                return builder.shuffle_vector(lo, hi, lanes(list(range(16))))

            groups = range(NF // 4)
            sums = [
                cgutils.alloca_once_value(
                    builder, joined([_vload(builder, p, vt, align) for p in ptrs[4 * g : 4 * g + 4]])
                )
                for g in groups
            ]
            with cgutils.for_range(builder, ntv) as loop:
                t = loop.index
                v = _vload(builder, builder.gep(pv, [builder.mul(t, vsv)]), vt, align)
                v = builder.shuffle_vector(v, ir.Constant(vt, ir.Undefined), lanes([k % 4 for k in range(16)]))
                drow = builder.gep(pd, [builder.mul(t, dsv)])
                for g in groups:
                    d = _vload(builder, builder.gep(drow, [ir.Constant(i64, 4 * g)]), vt, align)
                    d = builder.shuffle_vector(d, ir.Constant(vt, ir.Undefined), lanes([k // 4 for k in range(16)]))
                    builder.store(_fmuladd(builder, v16, d, v, builder.load(sums[g])), sums[g])
            for g in groups:
                total = builder.load(sums[g])
                for f in range(4):
                    part = builder.shuffle_vector(
                        total, ir.Constant(v16, ir.Undefined), lanes(list(range(4 * f, 4 * f + 4)))
                    )
                    _vstore(builder, part, ptrs[4 * g + f], vt, align)
            return context.get_dummy_value()
        sums = [cgutils.alloca_once_value(builder, _vload(builder, p, vt, align)) for p in ptrs]
        with cgutils.for_range(builder, ntv) as loop:
            t = loop.index
            v = _vload(builder, builder.gep(pv, [builder.mul(t, vsv)]), vt, align)
            drow = builder.gep(pd, [builder.mul(t, dsv)])
            for f in range(NF):
                d = builder.load(builder.gep(drow, [ir.Constant(i64, f)]), align=align)
                d = builder.insert_element(ir.Constant(vt, ir.Undefined), d, ir.Constant(i32, 0))
                d = builder.shuffle_vector(
                    d, ir.Constant(vt, ir.Undefined), ir.Constant(ir.VectorType(i32, n), [0] * n)
                )
                builder.store(_fmuladd(builder, vt, d, v, builder.load(sums[f])), sums[f])
        for f in range(NF):
            _vstore(builder, builder.load(sums[f]), ptrs[f], vt, align)
        return context.get_dummy_value()

    return types.void(V, vs, D, ds, nt, acc, astep, nf, width), codegen
