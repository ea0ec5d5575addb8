import Foundation

/// Multi-head scaled dot-product attention on packed heads.
///
///   q, k, v, o: [N, L, C] with head h in channels h*d ..< (h+1)*d, C = heads * d
///   forward   P = softmax(Q_h K_h^T * scale) row-wise;  O_h = P V_h
///   backward  dV_h = P^T dO_h;  dP = dO_h V_h^T;  dS = P * (dP - rowsum(dO_h * O_h))
///             dQ_h = dS K_h * scale;  dK_h = dS^T Q_h * scale
/// The forward keeps only each row's log-sum-exp; backward recomputes P from it, so memory
/// stays O(N L C) instead of O(N heads L^2).
public enum ScaledDotProductAttention {
    /// Writes o and the per-row log-sum-exp lse [N, heads, L] of the scaled scores.
    public static func forward(n: Int, length L: Int, heads: Int, headDim d: Int,
                               q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                               o: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>) {
        let C = heads * d, scale = 1 / Float(d).squareRoot()
        Parallel.forEach(n * heads) { task in
            let b = task / heads, h = task % heads
            let base = b * L * C + h * d
            let s = UnsafeMutablePointer<Float>.allocate(capacity: L * L)
            defer { s.deallocate() }
            BLAS.sgemm(transB: true, m: L, n: L, k: d, alpha: scale, a: q + base, lda: C, b: k + base, ldb: C,
                       c: s, ldc: L)
            for i in 0..<L {
                let row = s + i * L
                var m = -Float.infinity
                for j in 0..<L { m = max(m, row[j]) }
                var sum: Float = 0
                for j in 0..<L { let e = expf(row[j] - m); row[j] = e; sum += e }
                let inv = 1 / sum
                for j in 0..<L { row[j] *= inv }
                lse[task * L + i] = m + logf(sum)
            }
            BLAS.sgemm(m: L, n: d, k: L, a: s, lda: L, b: v + base, ldb: C, c: o + base, ldc: C)
        }
    }

    /// Writes dq, dk, dv (overwritten) from dO and the forward's inputs, output and lse.
    public static func backward(n: Int, length L: Int, heads: Int, headDim d: Int,
                                q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                o: UnsafePointer<Float>, lse: UnsafePointer<Float>, dout: UnsafePointer<Float>,
                                dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                                dv: UnsafeMutablePointer<Float>) {
        let C = heads * d, scale = 1 / Float(d).squareRoot()
        Parallel.forEach(n * heads) { task in
            let b = task / heads, h = task % heads
            let base = b * L * C + h * d
            let p = UnsafeMutablePointer<Float>.allocate(capacity: 2 * L * L)
            defer { p.deallocate() }
            let dp = p + L * L
            // Recompute P from the saved log-sum-exp.
            BLAS.sgemm(transB: true, m: L, n: L, k: d, alpha: scale, a: q + base, lda: C, b: k + base, ldb: C,
                       c: p, ldc: L)
            for i in 0..<L {
                let row = p + i * L, m = lse[task * L + i]
                for j in 0..<L { row[j] = expf(row[j] - m) }
            }
            // dV_h = P^T dO_h
            BLAS.sgemm(transA: true, m: L, n: d, k: L, a: p, lda: L, b: dout + base, ldb: C, c: dv + base, ldc: C)
            // dP = dO_h V_h^T
            BLAS.sgemm(transB: true, m: L, n: L, k: d, a: dout + base, lda: C, b: v + base, ldb: C, c: dp, ldc: L)
            // dS = P * (dP - rowdot), rowdot_i = dO_i . O_i
            for i in 0..<L {
                var rowdot: Float = 0
                let doi = dout + base + i * C, oi = o + base + i * C
                for c in 0..<d { rowdot += doi[c] * oi[c] }
                let pr = p + i * L, dpr = dp + i * L
                for j in 0..<L { dpr[j] = pr[j] * (dpr[j] - rowdot) }
            }
            BLAS.sgemm(m: L, n: d, k: L, alpha: scale, a: dp, lda: L, b: k + base, ldb: C, c: dq + base, ldc: C)
            BLAS.sgemm(transA: true, m: L, n: d, k: L, alpha: scale, a: dp, lda: L, b: q + base, ldb: C,
                       c: dk + base, ldc: C)
        }
    }
}
