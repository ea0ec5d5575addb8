import CAVX512
import Foundation

/// Multi-head scaled dot-product attention on packed heads.
///
///   q, k, v, o: [N, L, C] with head h in channels h*d ..< (h+1)*d, C = heads * d
///   forward   P = softmax(Q_h K_h^T * scale) row-wise;  O_h = P V_h
///   backward  dV_h = P^T dO_h;  dP = dO_h V_h^T;  dS = P * (dP - rowsum(dO_h * O_h))
///             dQ_h = dS K_h * scale;  dK_h = dS^T Q_h * scale
/// The forward keeps only each row's log-sum-exp; backward recomputes P from it, so memory
/// stays O(N L C) instead of O(N heads L^2).
///
/// The U-Net's heads are 8 wide (d = 8): a BLAS call per head spends more time packing than
/// multiplying, and the L^2 softmax dominates. For d = 8 (and L % 8 == 0) a fused kernel does
/// the whole head in registers and L1: one head row of q/k/v is exactly one 8-lane vector,
/// K and V are copied once per head into contiguous (and transposed, for scores) scratch,
/// scores go 8 columns per step, P V, dV, dK and dQ go 8 query rows per pass over the keys
/// (one FMA per (row, key) and 9 loads per 8 FMAs). Other shapes take the general path
/// (sgemm per head). On a CPU with AVX-512 (and L % 16 == 0) the d = 8 heads go to C
/// versions with 16-lane vectors across keys or queries instead (Sources/CAVX512), which
/// spend half an FMA per score each way; these Swift kernels stay the reference and the path
/// everywhere else.
///
/// `precision: .bf16` (a bf16 run) sends the d = 8, L % 16 == 0 heads on a CPU with
/// AVX512-BF16 to bf16 versions of the C kernels (attention_bf16.c: PyTorch autocast's
/// arithmetic, bf16 operands and fp32 sums, about half the instructions); everything else,
/// fp32 runs included, takes the paths above unchanged.
public enum ScaledDotProductAttention {
    /// Writes o and the per-row log-sum-exp lse [N, heads, L] of the scaled scores.
    public static func forward(n: Int, length L: Int, heads: Int, headDim d: Int,
                               q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                               o: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>) {
        let C = heads * d
        forward(n: n, length: L, heads: heads, headDim: d, q: q, k: k, v: v, ld: C, o: o, ldo: C, lse: lse)
    }

    /// Writes dq, dk, dv (overwritten) from dO and the forward's inputs, output and lse.
    public static func backward(n: Int, length L: Int, heads: Int, headDim d: Int,
                                q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                o: UnsafePointer<Float>, lse: UnsafePointer<Float>, dout: UnsafePointer<Float>,
                                dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                                dv: UnsafeMutablePointer<Float>) {
        let C = heads * d
        backward(n: n, length: L, heads: heads, headDim: d, q: q, k: k, v: v, ld: C, o: o, dout: dout, ldo: C,
                 lse: lse, dq: dq, dk: dk, dv: dv, ldd: C)
    }

    /// Heads handled by one task: enough that a task is ~64K score entries, so small L
    /// (16 at 4x4) does not drown in hand-out overhead.
    package static func headsPerTask(_ L: Int, _ heads: Int) -> Int {
        max(1, min(heads, (1 << 16) / max(L * L, 1)))
    }

    /// Strided form: row r of q/k/v starts at r * ld (q, k, v may be slices of one fused
    /// [N, L, 3C] projection), rows of o at r * ldo.
    package static func forward(n: Int, length L: Int, heads: Int, headDim d: Int,
                        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ld: Int,
                        o: UnsafeMutablePointer<Float>, ldo: Int, lse: UnsafeMutablePointer<Float>,
                        kernel: KernelPath = .best, precision: ConvolutionPrecision = .fp32) {
        let scale = 1 / Float(d).squareRoot()
        guard d == 8 && L % 8 == 0 else {
            Parallel.forEach(n * heads) { task in
                let b = task / heads, h = task % heads
                generalForward(L: L, d: d, scale: scale, q: q + b * L * ld + h * d, k: k + b * L * ld + h * d,
                               v: v + b * L * ld + h * d, ld: ld, o: o + b * L * ldo + h * d, ldo: ldo,
                               lse: lse + task * L)
            }
            return
        }
        let avx512 = kernel.runsAVX512(when: L % 16 == 0)
        let bf16 = avx512 && runsBF16(precision)
        eachHead(n: n, length: L, heads: heads, scratch: bf16 ? bf16ForwardScratch(L) : forwardScratch(L)) { b, h, scratch in
            let off = b * L * ld + h * 8
            if bf16 {
                avx512bf16_attention_head8_forward(Int32(L), scale, q + off, k + off, v + off, ld,
                                                   o + b * L * ldo + h * 8, ldo, lse + (b * heads + h) * L, scratch, 0)
            } else if avx512 {
                avx512_attention_head8_forward(Int32(L), scale, q + off, k + off, v + off, ld,
                                               o + b * L * ldo + h * 8, ldo, lse + (b * heads + h) * L, scratch)
            } else {
                head8Forward(L: L, scale: scale, q: q + off, k: k + off, v: v + off, ld: ld,
                             o: o + b * L * ldo + h * 8, ldo: ldo, lse: lse + (b * heads + h) * L, scratch: scratch)
            }
        }
    }

    package static func backward(n: Int, length L: Int, heads: Int, headDim d: Int,
                         q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ld: Int,
                         o: UnsafePointer<Float>, dout: UnsafePointer<Float>, ldo: Int, lse: UnsafePointer<Float>,
                         dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                         dv: UnsafeMutablePointer<Float>, ldd: Int, kernel: KernelPath = .best,
                         precision: ConvolutionPrecision = .fp32) {
        let scale = 1 / Float(d).squareRoot()
        guard d == 8 && L % 8 == 0 else {
            Parallel.forEach(n * heads) { task in
                let b = task / heads, h = task % heads
                let off = b * L * ld + h * d, offO = b * L * ldo + h * d, offD = b * L * ldd + h * d
                generalBackward(L: L, d: d, scale: scale, q: q + off, k: k + off, v: v + off, ld: ld,
                                o: o + offO, dout: dout + offO, ldo: ldo, lse: lse + task * L,
                                dq: dq + offD, dk: dk + offD, dv: dv + offD, ldd: ldd)
            }
            return
        }
        let avx512 = kernel.runsAVX512(when: L % 16 == 0)
        let bf16 = avx512 && runsBF16(precision)
        eachHead(n: n, length: L, heads: heads, scratch: bf16 ? bf16BackwardScratch(L) : backwardScratch(L)) { b, h, scratch in
            let off = b * L * ld + h * 8, offO = b * L * ldo + h * 8, offD = b * L * ldd + h * 8
            if bf16 {
                avx512bf16_attention_head8_backward(Int32(L), scale, q + off, k + off, v + off, ld, o + offO,
                                                    dout + offO, ldo, lse + (b * heads + h) * L,
                                                    dq + offD, dk + offD, dv + offD, ldd, scratch, 0)
            } else if avx512 {
                avx512_attention_head8_backward(Int32(L), scale, q + off, k + off, v + off, ld, o + offO,
                                                dout + offO, ldo, lse + (b * heads + h) * L,
                                                dq + offD, dk + offD, dv + offD, ldd, scratch)
            } else {
                head8Backward(L: L, scale: scale, q: q + off, k: k + off, v: v + off, ld: ld,
                              o: o + offO, dout: dout + offO, ldo: ldo, lse: lse + (b * heads + h) * L,
                              dq: dq + offD, dk: dk + offD, dv: dv + offD, ldd: ldd, scratch: scratch)
            }
        }
    }

    /// Where a bf16 run can hold q, k, v and o in bf16 for attention: the heads take the bf16
    /// kernels, which round them to bf16 where they pack them anyway and read bf16 rows as
    /// they are (d = 8, L % 16 == 0, the AVX-512 path on a CPU with AVX512-BF16).
    package static func holdsBF16(length L: Int, headDim d: Int, precision: ConvolutionPrecision,
                                  kernel: KernelPath = .best) -> Bool {
        d == 8 && L % 16 == 0 && kernel == .avx512 && runsBF16(precision)
    }

    /// `forward` with q, k, v (rows `ld` apart) and o (rows `ldo` apart) in bf16, only where
    /// `holdsBF16`: the same results, o rounded to bf16 as the backward's packing rounds it.
    package static func forward(n: Int, length L: Int, heads: Int, bf16 q: UnsafePointer<UInt16>, k: UnsafePointer<UInt16>,
                                v: UnsafePointer<UInt16>, ld: Int, o: UnsafeMutablePointer<UInt16>, ldo: Int,
                                lse: UnsafeMutablePointer<Float>) {
        precondition(holdsBF16(length: L, headDim: 8, precision: .bf16), "bf16 attention operands off the bf16 kernels")
        let scale = 1 / Float(8).squareRoot()
        eachHead(n: n, length: L, heads: heads, scratch: bf16ForwardScratch(L)) { b, h, scratch in
            let off = b * L * ld + h * 8
            avx512bf16_attention_head8_forward(Int32(L), scale, q + off, k + off, v + off, ld,
                                               o + b * L * ldo + h * 8, ldo, lse + (b * heads + h) * L, scratch, 1)
        }
    }

    /// `backward` with q, k, v and o in bf16 as `forward(n:length:heads:bf16:...)` holds them.
    package static func backward(n: Int, length L: Int, heads: Int, bf16 q: UnsafePointer<UInt16>, k: UnsafePointer<UInt16>,
                                 v: UnsafePointer<UInt16>, ld: Int, o: UnsafePointer<UInt16>, dout: UnsafePointer<Float>,
                                 ldo: Int, lse: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>,
                                 dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>, ldd: Int) {
        precondition(holdsBF16(length: L, headDim: 8, precision: .bf16), "bf16 attention operands off the bf16 kernels")
        let scale = 1 / Float(8).squareRoot()
        eachHead(n: n, length: L, heads: heads, scratch: bf16BackwardScratch(L)) { b, h, scratch in
            let off = b * L * ld + h * 8, offO = b * L * ldo + h * 8, offD = b * L * ldd + h * 8
            avx512bf16_attention_head8_backward(Int32(L), scale, q + off, k + off, v + off, ld, o + offO,
                                                dout + offO, ldo, lse + (b * heads + h) * L,
                                                dq + offD, dk + offD, dv + offD, ldd, scratch, 1)
        }
    }

    /// The d = 8 heads' work: `body(image, head, scratch)` for every head, `headsPerTask` heads
    /// a task, each task with `scratch` floats of its own.
    private static func eachHead(n: Int, length L: Int, heads: Int, scratch floats: Int,
                                 _ body: (Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        let hpt = headsPerTask(L, heads), groups = (heads + hpt - 1) / hpt
        Parallel.forEach(n * groups) { task in
            let b = task / groups, h0 = (task % groups) * hpt
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: floats)
            defer { scratch.deallocate() }
            for h in h0..<min(heads, h0 + hpt) { body(b, h, scratch) }
        }
    }

    // MARK: - d = 8 kernels

    /// kT[c * L + j] = k[j, c] (columns of K as rows, for 8 scores per vector op).
    @inline(__always)
    package static func transpose8(_ src: UnsafePointer<Float>, ld: Int, L: Int, into dst: UnsafeMutablePointer<Float>) {
        for j in 0..<L {
            let row = src + j * ld
            for c in 0..<8 { dst[c * L + j] = row[c] }
        }
    }

    /// Scores s[j] = <qs, k_j> for j in 0..<L, with qs given as 8 broadcast lanes; returns
    /// the running maximum. Two accumulators per step to halve the FMA dependency chain.
    /// Out of line for the same reason as `expShifted`.
    @inline(never)
    package static func scores(_ qb: (Float8, Float8, Float8, Float8, Float8, Float8, Float8, Float8),
                       kT: UnsafePointer<Float>, L: Int, into s: UnsafeMutablePointer<Float>) -> Float8 {
        var mx = Float8(repeating: -.infinity)
        var j = 0
        while j < L {
            let p = kT + j
            var a = qb.0 * load8(p)
            var c = qb.1 * load8(p + L)
            a = a.addingProduct(qb.2, load8(p + 2 * L)); c = c.addingProduct(qb.3, load8(p + 3 * L))
            a = a.addingProduct(qb.4, load8(p + 4 * L)); c = c.addingProduct(qb.5, load8(p + 5 * L))
            a = a.addingProduct(qb.6, load8(p + 6 * L)); c = c.addingProduct(qb.7, load8(p + 7 * L))
            let sv = a + c
            store8(sv, s + j)
            mx = vmax(mx, sv)
            j += 8
        }
        return mx
    }

    /// row[j] = e^(row[j] - m) for j in 0..<L (L % 8 == 0); returns the sum.
    /// Kept out of line: inlined into the row loops, LLVM re-vectorised it into 128-bit
    /// pieces with shuffles (seen in perf annotate), at half the speed.
    @inline(never)
    package static func expShifted(_ row: UnsafeMutablePointer<Float>, L: Int, by m: Float) -> Float {
        let mv = Float8(repeating: m)
        var sum0 = Float8(), sum1 = Float8()
        var j = 0
        // Two independent vectors per step: the exp is a ~15-deep dependency chain.
        while j + 16 <= L {
            let e0 = FastMath.expNonPositive(load8(row + j) - mv)
            let e1 = FastMath.expNonPositive(load8(row + j + 8) - mv)
            store8(e0, row + j); store8(e1, row + j + 8)
            sum0 += e0; sum1 += e1
            j += 16
        }
        if j < L {
            let e = FastMath.expNonPositive(load8(row + j) - mv)
            store8(e, row + j)
            sum0 += e
        }
        return hsum(sum0 + sum1)
    }

    @inline(__always)
    package static func broadcast8(_ p: UnsafePointer<Float>, _ scale: Float)
        -> (Float8, Float8, Float8, Float8, Float8, Float8, Float8, Float8) {
        (Float8(repeating: p[0] * scale), Float8(repeating: p[1] * scale), Float8(repeating: p[2] * scale),
         Float8(repeating: p[3] * scale), Float8(repeating: p[4] * scale), Float8(repeating: p[5] * scale),
         Float8(repeating: p[6] * scale), Float8(repeating: p[7] * scale))
    }

    /// Scratch floats per task for the d = 8 kernels.
    /// (The AVX-512 kernels need 24 L + 16 and 36 L + 16.)
    package static func forwardScratch(_ L: Int) -> Int { 24 * L + 16 }
    package static func backwardScratch(_ L: Int) -> Int { 64 * L }
    /// The bf16 C kernels' (avx512_kernels.h), 16 floats for aligning the start included.
    package static func bf16ForwardScratch(_ L: Int) -> Int { 24 * L + 16 }
    package static func bf16BackwardScratch(_ L: Int) -> Int { 32 * L + 16 }

    /// True when a bf16 run's d = 8 heads (already on the AVX-512 path) take the bf16 kernels.
    package static func runsBF16(_ precision: ConvolutionPrecision) -> Bool {
        precision == .bf16 && KernelPath.avx512BF16Available
    }

    /// Eight Float8 values, one per row of a block (held in registers by the loops below).
    package typealias Rows8 = (Float8, Float8, Float8, Float8, Float8, Float8, Float8, Float8)

    @inline(__always)
    static func loadRows8(_ p: UnsafePointer<Float>, stride: Int, scale: Float = 1) -> Rows8 {
        let s = Float8(repeating: scale)
        return (load8(p) * s, load8(p + stride) * s, load8(p + 2 * stride) * s, load8(p + 3 * stride) * s,
                load8(p + 4 * stride) * s, load8(p + 5 * stride) * s, load8(p + 6 * stride) * s,
                load8(p + 7 * stride) * s)
    }

    /// out_r = sum over j < L of w[r * L + j] * m[j] (m: L packed rows of 8), r < 8: one pass
    /// over m for 8 weight rows, 8 independent accumulators.
    @inline(never)
    package static func weightedRows8(_ w: UnsafePointer<Float>, L: Int, m: UnsafePointer<Float>) -> Rows8 {
        var a0 = Float8(), a1 = Float8(), a2 = Float8(), a3 = Float8()
        var a4 = Float8(), a5 = Float8(), a6 = Float8(), a7 = Float8()
        for j in 0..<L {
            let mj = load8(m + j * 8)
            a0 = a0.addingProduct(Float8(repeating: w[j]), mj)
            a1 = a1.addingProduct(Float8(repeating: w[L + j]), mj)
            a2 = a2.addingProduct(Float8(repeating: w[2 * L + j]), mj)
            a3 = a3.addingProduct(Float8(repeating: w[3 * L + j]), mj)
            a4 = a4.addingProduct(Float8(repeating: w[4 * L + j]), mj)
            a5 = a5.addingProduct(Float8(repeating: w[5 * L + j]), mj)
            a6 = a6.addingProduct(Float8(repeating: w[6 * L + j]), mj)
            a7 = a7.addingProduct(Float8(repeating: w[7 * L + j]), mj)
        }
        return (a0, a1, a2, a3, a4, a5, a6, a7)
    }

    /// acc[j] += sum over r < 8 of w[r * L + j] * x_r (acc: L packed rows of 8): the
    /// transposed product, rank-8 update of dV or dK from one block of query rows.
    @inline(never)
    static func accumulateRows8(into acc: UnsafeMutablePointer<Float>, L: Int, w: UnsafePointer<Float>, _ x: Rows8) {
        for j in 0..<L {
            var a = load8(acc + j * 8)
            a = a.addingProduct(Float8(repeating: w[j]), x.0)
            a = a.addingProduct(Float8(repeating: w[L + j]), x.1)
            a = a.addingProduct(Float8(repeating: w[2 * L + j]), x.2)
            a = a.addingProduct(Float8(repeating: w[3 * L + j]), x.3)
            a = a.addingProduct(Float8(repeating: w[4 * L + j]), x.4)
            a = a.addingProduct(Float8(repeating: w[5 * L + j]), x.5)
            a = a.addingProduct(Float8(repeating: w[6 * L + j]), x.6)
            a = a.addingProduct(Float8(repeating: w[7 * L + j]), x.7)
            store8(a, acc + j * 8)
        }
    }

    @inline(__always)
    static func storeRows8(_ x: Rows8, _ p: UnsafeMutablePointer<Float>, stride: Int, scale: Float8) {
        store8(x.0 * scale[0], p); store8(x.1 * scale[1], p + stride)
        store8(x.2 * scale[2], p + 2 * stride); store8(x.3 * scale[3], p + 3 * stride)
        store8(x.4 * scale[4], p + 4 * stride); store8(x.5 * scale[5], p + 5 * stride)
        store8(x.6 * scale[6], p + 6 * stride); store8(x.7 * scale[7], p + 7 * stride)
    }

    /// One head, d = 8: q/k/v rows at stride ld, o rows at stride ldo.
    /// Query rows go 8 at a time: their probabilities sit in `s` (8 rows of L) and one pass
    /// over V serves all eight.
    package static func head8Forward(L: Int, scale: Float, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                             v: UnsafePointer<Float>, ld: Int, o: UnsafeMutablePointer<Float>, ldo: Int,
                             lse: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let kT = scratch, vP = scratch + 8 * L, s = scratch + 16 * L
        transpose8(k, ld: ld, L: L, into: kT)
        for j in 0..<L { store8(load8(v + j * ld), vP + j * 8) }
        var i0 = 0
        while i0 < L {
            var inv = Float8()
            for r in 0..<8 {
                let i = i0 + r, row = s + r * L
                let m = hmax(scores(broadcast8(q + i * ld, scale), kT: kT, L: L, into: row))
                let total = expShifted(row, L: L, by: m)
                inv[r] = 1 / total
                lse[i] = m + logf(total)
            }
            storeRows8(weightedRows8(s, L: L, m: vP), o + i0 * ldo, stride: ldo, scale: inv)
            i0 += 8
        }
    }

    /// One head's backward, d = 8. Per block of 8 query rows: P (recomputed from lse) and
    /// dS = P (dP - D) for the 8 rows, then rank-8 updates of dV (P^T dO) and dK (dS^T Q s)
    /// held in packed scratch (written out at the end), and the 8 rows of dQ = dS K s.
    package static func head8Backward(L: Int, scale: Float, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                              v: UnsafePointer<Float>, ld: Int, o: UnsafePointer<Float>, dout: UnsafePointer<Float>,
                              ldo: Int, lse: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>,
                              dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>, ldd: Int,
                              scratch: UnsafeMutablePointer<Float>) {
        let kT = scratch, vT = scratch + 8 * L, kP = scratch + 16 * L, qS = scratch + 24 * L
        let dvA = scratch + 32 * L, dkA = scratch + 40 * L, P = scratch + 48 * L, dS = scratch + 56 * L
        transpose8(k, ld: ld, L: L, into: kT)
        transpose8(v, ld: ld, L: L, into: vT)
        let sv = Float8(repeating: scale)
        for j in 0..<L {
            store8(load8(k + j * ld), kP + j * 8)
            store8(load8(q + j * ld) * sv, qS + j * 8)
            store8(Float8(), dvA + j * 8)
            store8(Float8(), dkA + j * 8)
        }
        var i0 = 0
        while i0 < L {
            for r in 0..<8 {
                let i = i0 + r, prow = P + r * L, dsrow = dS + r * L
                _ = scores(broadcast8(qS + i * 8, 1), kT: kT, L: L, into: prow)
                _ = expShifted(prow, L: L, by: lse[i])
                let doi = dout + i * ldo
                _ = scores(broadcast8(doi, 1), kT: vT, L: L, into: dsrow)
                let D = Float8(repeating: hsum(load8(doi) * load8(o + i * ldo)))
                var j = 0
                while j < L { store8(load8(prow + j) * (load8(dsrow + j) - D), dsrow + j); j += 8 }
            }
            accumulateRows8(into: dvA, L: L, w: P, loadRows8(dout + i0 * ldo, stride: ldo))
            accumulateRows8(into: dkA, L: L, w: dS, loadRows8(qS + i0 * 8, stride: 8))
            storeRows8(weightedRows8(dS, L: L, m: kP), dq + i0 * ldd, stride: ldd, scale: sv)
            i0 += 8
        }
        for j in 0..<L {
            store8(load8(dvA + j * 8), dv + j * ldd)
            store8(load8(dkA + j * 8), dk + j * ldd)
        }
    }

    // MARK: - general head width (sgemm per head)

    package static func generalForward(L: Int, d: Int, scale: Float, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                               v: UnsafePointer<Float>, ld: Int, o: UnsafeMutablePointer<Float>, ldo: Int,
                               lse: UnsafeMutablePointer<Float>) {
        let s = UnsafeMutablePointer<Float>.allocate(capacity: L * L)
        defer { s.deallocate() }
        BLAS.sgemm(transB: true, m: L, n: L, k: d, alpha: scale, a: q, lda: ld, b: k, ldb: ld, c: s, ldc: L)
        for i in 0..<L {
            let row = s + i * L
            var m = -Float.infinity
            for j in 0..<L { m = max(m, row[j]) }
            var sum: Float = 0
            for j in 0..<L { let e = FastMath.exp(row[j] - m); row[j] = e; sum += e }
            let inv = 1 / sum
            for j in 0..<L { row[j] *= inv }
            lse[i] = m + logf(sum)
        }
        BLAS.sgemm(m: L, n: d, k: L, a: s, lda: L, b: v, ldb: ld, c: o, ldc: ldo)
    }

    package static func generalBackward(L: Int, d: Int, scale: Float, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                                v: UnsafePointer<Float>, ld: Int, o: UnsafePointer<Float>, dout: UnsafePointer<Float>,
                                ldo: Int, lse: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>,
                                dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>, ldd: Int) {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: 2 * L * L)
        defer { p.deallocate() }
        let dp = p + L * L
        // Recompute P from the saved log-sum-exp.
        BLAS.sgemm(transB: true, m: L, n: L, k: d, alpha: scale, a: q, lda: ld, b: k, ldb: ld, c: p, ldc: L)
        for i in 0..<L {
            let row = p + i * L, m = lse[i]
            for j in 0..<L { row[j] = FastMath.exp(row[j] - m) }
        }
        // dV_h = P^T dO_h
        BLAS.sgemm(transA: true, m: L, n: d, k: L, a: p, lda: L, b: dout, ldb: ldo, c: dv, ldc: ldd)
        // dP = dO_h V_h^T
        BLAS.sgemm(transB: true, m: L, n: L, k: d, a: dout, lda: ldo, b: v, ldb: ld, c: dp, ldc: L)
        // dS = P * (dP - rowdot), rowdot_i = dO_i . O_i
        for i in 0..<L {
            var rowdot: Float = 0
            let doi = dout + i * ldo, oi = o + i * ldo
            for c in 0..<d { rowdot += doi[c] * oi[c] }
            let pr = p + i * L, dpr = dp + i * L
            for j in 0..<L { dpr[j] = pr[j] * (dpr[j] - rowdot) }
        }
        BLAS.sgemm(m: L, n: d, k: L, alpha: scale, a: dp, lda: L, b: k, ldb: ld, c: dq, ldc: ldd)
        BLAS.sgemm(transA: true, m: L, n: d, k: L, alpha: scale, a: dp, lda: L, b: q, ldb: ld, c: dk, ldc: ldd)
    }
}
