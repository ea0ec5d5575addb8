/// Small vector loops shared by the kernels: copies, fills and row-wise adds in 8-float
/// steps (inlined; memcpy calls for runs of 16-48 floats were a visible cost in im2col).
package enum Vectorized {
    @inline(__always)
    package static func copy(_ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count { store8(load8(src + i), dst + i); i += 8 }
        while i < count { dst[i] = src[i]; i += 1 }
    }

    @inline(__always)
    package static func zero(_ dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count { store8(Float8(), dst + i); i += 8 }
        while i < count { dst[i] = 0; i += 1 }
    }

    /// dst[i] += src[i]
    @inline(__always)
    package static func add(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count { store8(load8(dst + i) + load8(src + i), dst + i); i += 8 }
        while i < count { dst[i] += src[i]; i += 1 }
    }

    /// dst[i] = a[i] + b[i]
    @inline(__always)
    package static func sum(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>,
                    count: Int) {
        var i = 0
        while i + 8 <= count { store8(load8(a + i) + load8(b + i), dst + i); i += 8 }
        while i < count { dst[i] = a[i] + b[i]; i += 1 }
    }

    /// a += b over `count` floats, in parallel chunks.
    package static func addInPlace(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
        Parallel.forRanges(count, minChunk: 1 << 15) { r in
            add(b + r.lowerBound, into: a + r.lowerBound, count: r.count)
        }
    }

    /// The start of each output row of a GEMM: rows r in `rows` of y ([*, n]) are set to
    /// bias (+ rowBias(r), + residual[r]) so the product can be added with beta = 1, which
    /// spares OpenBLAS its own zeroing pass and the separate bias/residual passes.
    /// `rowBias` gives a per-row vector (the per-image time embedding) or nil.
    @inline(__always)
    package static func initRows(_ y: UnsafeMutablePointer<Float>, n: Int, rows: Range<Int>, bias: UnsafePointer<Float>?,
                         rowBias: (Int) -> UnsafePointer<Float>?, residual: UnsafePointer<Float>?) {
        for r in rows {
            let out = y + r * n
            let extra = rowBias(r)
            switch (bias, extra, residual) {
            case let (b?, e?, res?):
                let rr = res + r * n
                var i = 0
                while i + 8 <= n { store8(load8(b + i) + load8(e + i) + load8(rr + i), out + i); i += 8 }
                while i < n { out[i] = b[i] + e[i] + rr[i]; i += 1 }
            case let (b?, e?, nil): sum(b, e, into: out, count: n)
            case let (b?, nil, res?): sum(b, res + r * n, into: out, count: n)
            case let (nil, e?, res?): sum(e, res + r * n, into: out, count: n)
            case let (b?, nil, nil): copy(b, to: out, count: n)
            case let (nil, e?, nil): copy(e, to: out, count: n)
            case let (nil, nil, res?): copy(res + r * n, to: out, count: n)
            case (nil, nil, nil): zero(out, count: n)
            }
        }
    }
}
